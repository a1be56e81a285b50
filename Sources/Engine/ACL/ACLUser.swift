// One ACL user as Redis 7 models it: enabled or not, passwords (SHA-256 hex), the command
// rules applied in order, key patterns with read/write permissions, and channel patterns.
// Rules are Redis's ACL SETUSER words; errors carry Redis's texts.
import Core
import Crypto
import Keyspace
import Wire

public struct ACLUser: Sendable {
    public let name: String
    public var enabled = false
    public var noPassword = false
    /// SHA-256 digests of the passwords, lowercase hex, in the order they were added.
    public var passwords: [String] = []
    /// Command rules in order: "+@all", "-@dangerous", "+get", "-config|set".
    public var commandRules: [String] = []
    /// Key patterns with what they allow; `allKeys` is `~*`.
    public var keyPatterns: [KeyPattern] = []
    public var allKeys: Bool { keyPatterns.contains { $0.pattern == Array("*".utf8) && $0.read && $0.write } }
    public var channelPatterns: [Bytes] = []
    public var allChannels: Bool { channelPatterns.contains(Array("*".utf8)) }

    public struct KeyPattern: Sendable, Equatable {
        public var pattern: Bytes
        public var read: Bool
        public var write: Bool

        var description: String {
            let text = String(decoding: pattern, as: UTF8.self)
            switch (read, write) {
            case (true, true): return "~" + text
            case (true, false): return "%R~" + text
            default: return "%W~" + text
            }
        }
    }

    /// An error of one ACL SETUSER word: Redis's reason text.
    public struct RuleError: Error, Sendable {
        public let reason: String
    }

    public init(name: String) { self.name = name }

    /// The `default` user Redis starts with: everything allowed, no password.
    public static func makeDefault() -> ACLUser {
        var user = ACLUser(name: "default")
        user.enabled = true
        user.noPassword = true
        user.commandRules = ["+@all"]
        user.keyPatterns = [KeyPattern(pattern: Array("*".utf8), read: true, write: true)]
        user.channelPatterns = [Array("*".utf8)]
        return user
    }

    public static func hash(_ password: Bytes) -> String {
        SHA256.hash(data: password).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Rules

    /// Applies one ACL SETUSER word.
    public mutating func apply(_ rule: Bytes) throws(RuleError) {
        let text = String(decoding: rule, as: UTF8.self)
        let lowered = text.lowercased()
        switch lowered {
        case "on": enabled = true
        case "off": enabled = false
        case "nopass": noPassword = true; passwords = []
        case "resetpass": noPassword = false; passwords = []
        case "allkeys": keyPatterns = [KeyPattern(pattern: Array("*".utf8), read: true, write: true)]
        case "resetkeys": keyPatterns = []
        case "allchannels": channelPatterns = [Array("*".utf8)]
        case "resetchannels": channelPatterns = []
        case "allcommands": commandRules = ["+@all"]
        case "nocommands": commandRules = ["-@all"]
        case "reset":
            self = ACLUser(name: name)
        case "clearselectors", "sanitize-payload", "skip-sanitize-payload": break
        default: try applyPrefixed(rule, text)
        }
    }

    private mutating func applyPrefixed(_ rule: Bytes, _ text: String) throws(RuleError) {
        guard let first = rule.first else { throw RuleError(reason: "Syntax error") }
        let rest = Array(rule.dropFirst())
        switch first {
        case UInt8(ascii: ">"):
            noPassword = false
            let digest = Self.hash(rest)
            if !passwords.contains(digest) { passwords.append(digest) }
        case UInt8(ascii: "<"):
            let digest = Self.hash(rest)
            guard passwords.contains(digest) else { throw RuleError(reason: "The password you are trying to remove from the user does not exist") }
            passwords.removeAll { $0 == digest }
        case UInt8(ascii: "#"), UInt8(ascii: "!"):
            let digest = String(decoding: rest, as: UTF8.self)
            guard digest.utf8.count == 64, digest.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                throw RuleError(reason: "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
            }
            if first == UInt8(ascii: "#") {
                noPassword = false
                if !passwords.contains(digest) { passwords.append(digest) }
            } else {
                guard passwords.contains(digest) else { throw RuleError(reason: "The password you are trying to remove from the user does not exist") }
                passwords.removeAll { $0 == digest }
            }
        case UInt8(ascii: "~"):
            try addKeyPattern(KeyPattern(pattern: rest, read: true, write: true))
        case UInt8(ascii: "%"):
            guard let tilde = rest.firstIndex(of: UInt8(ascii: "~")) else { throw RuleError(reason: "Syntax error") }
            let permissions = rest[..<tilde].map { Character(Unicode.Scalar($0)).uppercased() }.joined()
            guard !permissions.isEmpty, permissions.allSatisfy({ $0 == "R" || $0 == "W" }) else { throw RuleError(reason: "Syntax error") }
            try addKeyPattern(KeyPattern(pattern: Array(rest[(tilde + 1)...]), read: permissions.contains("R"), write: permissions.contains("W")))
        case UInt8(ascii: "&"):
            guard !allChannels else {
                throw RuleError(reason: "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")
            }
            if rest == Array("*".utf8) { channelPatterns = [rest] } else if !channelPatterns.contains(rest) { channelPatterns.append(rest) }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            try addCommandRule(allow: first == UInt8(ascii: "+"), String(decoding: rest, as: UTF8.self).lowercased())
        default:
            throw RuleError(reason: "Syntax error")
        }
    }

    private mutating func addKeyPattern(_ pattern: KeyPattern) throws(RuleError) {
        guard !allKeys else {
            throw RuleError(reason: "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")
        }
        if pattern.pattern == Array("*".utf8), pattern.read, pattern.write { keyPatterns = [pattern]; return }
        if !keyPatterns.contains(pattern) { keyPatterns.append(pattern) }
    }

    private mutating func addCommandRule(allow: Bool, _ name: String) throws(RuleError) {
        let sign = allow ? "+" : "-"
        if name.hasPrefix("@") {
            let category = String(name.dropFirst())
            guard category == "all" || ACLCategories.all.contains(category) else {
                throw RuleError(reason: "Unknown command or category name in ACL")
            }
            if category == "all" { commandRules = [sign + name]; return }
            // As Redis: the category's earlier rule goes (this one overrides it anyway).
            commandRules.removeAll { $0.dropFirst() == Substring(name) }
            commandRules.append(sign + name)
            return
        }
        let unknown = RuleError(reason: "Unknown command or category name in ACL")
        if let bar = name.lastIndex(of: "|") {
            // Redis's ACLSetSelector: split at the last bar. A real subcommand
            // (`config|get`) may be allowed or denied; a first argument of a command that
            // has no subcommands (`select|0`, `debug|object`) may only be allowed.
            let head = String(name[..<bar]), argument = String(name[name.index(after: bar)...])
            guard allow else {
                // Redis looks the whole name up: only a real subcommand may be denied.
                guard Self.subcommandExists(name) else { throw unknown }
                return replaceRules(for: name, with: sign)
            }
            if head.contains("|") {
                throw Self.subcommandExists(head) ? RuleError(reason: "Allowing first-arg of a subcommand is not supported") : unknown
            }
            guard let spec = CommandTable.lookup(Array(head.utf8)) else { throw unknown }
            guard !argument.isEmpty else { throw RuleError(reason: "Syntax error") }
            if !spec.subcommands.isEmpty, !Self.subcommandExists(name) { throw unknown }
            return replaceRules(for: name, with: sign)
        }
        guard CommandTable.lookup(Array(name.utf8)) != nil else { throw unknown }
        replaceRules(for: name, with: sign)
    }

    /// Whether `name` (`container|sub`, lowercase) is a subcommand Redis has.
    private static func subcommandExists(_ name: String) -> Bool {
        guard let bar = name.firstIndex(of: "|"), let spec = CommandTable.lookup(Array(name[..<bar].utf8)) else { return false }
        return spec.subcommands.contains { $0.name == name }
    }

    /// A later rule for the same command replaces earlier ones (and a whole command's rule
    /// replaces those of its subcommands and first arguments).
    private mutating func replaceRules(for name: String, with sign: String) {
        let whole = !name.contains("|")
        commandRules.removeAll { rule in
            let target = rule.dropFirst()
            return target == Substring(name) || (whole && target.hasPrefix(name + "|"))
        }
        commandRules.append(sign + name)
    }

    // MARK: - Checks

    /// Whether the user may run `spec` given its first argument (lowercased; nil when it
    /// has none): a container's subcommand, or what a first-argument rule (`+select|0`)
    /// names.
    public func allows(_ spec: CommandSpec, firstArgument: String?) -> Bool {
        // The last rule that matches decides, and `+@all` matches every command: the
        // common case (the default user) needs neither the categories nor the names.
        if commandRules.last == "+@all" { return true }
        let full = firstArgument.map { "\(spec.name)|\($0)" }
        let categories = ACLCategories.of(spec.subcommands.first { $0.name == full } ?? spec)
        var allowed = false
        for rule in commandRules {
            let allow = rule.hasPrefix("+")
            let target = rule.dropFirst()
            if target.hasPrefix("@") {
                let category = String(target.dropFirst())
                if category == "all" || categories.contains(category) { allowed = allow }
            } else if target == Substring(spec.name) || (full != nil && target == Substring(full!)) {
                allowed = allow
            }
        }
        return allowed
    }

    /// Whether the user may access `key` for reading and/or writing.
    public func allowsKey(_ key: Bytes, read: Bool, write: Bool) -> Bool {
        keyPatterns.contains { pattern in
            (!read || pattern.read) && (!write || pattern.write) && Glob.matches(pattern: pattern.pattern, key, ignoringCase: false)
        }
    }

    /// Whether the user may publish or subscribe to `channel` (a pattern subscription must
    /// match one of the user's patterns literally, as Redis checks it).
    public func allowsChannel(_ channel: Bytes, isPattern: Bool) -> Bool {
        channelPatterns.contains { pattern in
            pattern == Array("*".utf8) || (isPattern ? pattern == channel : Glob.matches(pattern: pattern, channel, ignoringCase: false))
        }
    }

    public func checkPassword(_ password: Bytes) -> Bool {
        if noPassword { return true }
        let digest = Array(Self.hash(password).utf8)
        return passwords.contains { Engine.constantTimeEqual(Array($0.utf8), digest) }
    }

    // MARK: - Descriptions

    public var flags: [String] { [enabled ? "on" : "off"] + (noPassword ? ["nopass"] : []) }
    /// The rules as Redis describes them: from `+@all` or `-@all` (a new user starts from
    /// `-@all`), then the other rules in order.
    public var commandsDescription: String {
        guard let first = commandRules.first else { return "-@all" }
        let start = first == "+@all" || first == "-@all" ? [] : ["-@all"]
        return (start + commandRules).joined(separator: " ")
    }
    public var keysDescription: String { keyPatterns.map(\.description).joined(separator: " ") }
    public var channelsDescription: String {
        channelPatterns.map { "&" + String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }

    /// The line ACL LIST prints (and an ACL file holds).
    public var description: String {
        var words = ["user", name] + flags + passwords.map { "#" + $0 }
        if !keyPatterns.isEmpty { words.append(keysDescription) }
        if allChannels { words.append("&*") } else { words.append("resetchannels"); if !channelPatterns.isEmpty { words.append(channelsDescription) } }
        words.append(commandsDescription)
        return words.joined(separator: " ")
    }
}
