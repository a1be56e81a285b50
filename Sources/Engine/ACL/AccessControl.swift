// A node's ACL: its users (the `default` user always exists), the checks every client
// request passes, and the ACL LOG of refusals. Redis's semantics and error texts.
import Core
import Keyspace
import Wire

public struct AccessControl: Sendable {
    public private(set) var users: [String: ACLUser] = ["default": ACLUser.makeDefault()] {
        didSet {
            unrestricted = Self.unrestrictedNames(users)
            defaultUnrestricted = unrestricted.contains("default")
            revision &+= 1
        }
    }
    /// Changes with every change of `users` (a node compares it to notice one).
    public private(set) var revision: UInt64 = 0
    /// Users every command, key and channel is open to (the default user, usually): their
    /// requests need no checks, and most requests are theirs.
    private var unrestricted: Set<String> = ["default"]
    /// `unrestricted.contains("default")`: most requests are the default user's, and a
    /// comparison with its short name costs less than hashing it.
    public private(set) var defaultUnrestricted = true
    public private(set) var log: [LogEntry] = []
    private var nextEntryID = 0

    /// Most entries ACL LOG keeps by default (Redis's acllog-max-len default).
    public static let logEntriesMax = 128

    public struct LogEntry: Sendable {
        public var count: Int
        public var reason: String
        public var context: String
        public var object: String
        public var username: String
        public var clientInfo: String
        public var entryID: Int
        public var created: Int64
        public var updated: Int64
    }

    /// Why a request was refused.
    public enum Denial: Sendable {
        case command(String)
        case key(Bytes)
        case channel(Bytes)

        /// The error reply (Redis 7.2's texts).
        public func error(user: String) -> CommandError {
            switch self {
            case .command(let name): return .message("NOPERM User \(user) has no permissions to run the '\(name)' command")
            case .key: return .message("NOPERM No permissions to access a key")
            case .channel: return .message("NOPERM No permissions to access a channel")
            }
        }

        /// Why EXEC refuses a queued command its user may no longer run (Redis's texts).
        public var changedSinceQueued: CommandError {
            let reason: String
            switch self {
            case .command: reason = "no permission to execute the command or subcommand"
            case .key: reason = "no permission to touch the specified keys"
            case .channel: reason = "no permission to access one of the channels used as arguments"
            }
            return .message("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. "
                            + "This command is no longer allowed for the following reason: \(reason)")
        }

        /// ACL DRYRUN's explanation.
        public var explanation: String {
            switch self {
            case .command(let name): return "This user has no permissions to run the '\(name)' command"
            case .key(let key): return "This user has no permissions to access the '\(String(decoding: key, as: UTF8.self))' key"
            case .channel(let channel): return "This user has no permissions to access the '\(String(decoding: channel, as: UTF8.self))' channel"
            }
        }

        /// ACL LOG's reason and object.
        public var logged: (reason: String, object: String) {
            switch self {
            case .command(let name): return ("command", name)
            case .key(let key): return ("key", String(decoding: key, as: UTF8.self))
            case .channel(let channel): return ("channel", String(decoding: channel, as: UTF8.self))
            }
        }
    }

    public init() {}

    // MARK: - Users

    public mutating func setUser(_ name: String, rules: [Bytes]) throws(CommandError) {
        // Redis's check: an ACL line or file could not hold such a name.
        guard !name.utf8.contains(where: { $0 == 0x20 || $0 == 0 }) else {
            throw .message("ERR Usernames can't contain spaces or null characters")
        }
        var user = users[name] ?? ACLUser(name: name)
        for rule in rules {
            do { try user.apply(rule) } catch {
                throw .message("ERR Error in ACL SETUSER modifier '\(String(decoding: rule, as: UTF8.self))': \(error.reason)")
            }
        }
        users[name] = user
    }

    /// The ACL line `name` would have after `rules` (the user is not changed).
    public func line(of name: String, afterApplying rules: [Bytes]) throws(CommandError) -> String {
        var copy = self
        try copy.setUser(name, rules: rules)
        return copy.users[name]?.description ?? ""
    }

    /// Replaces every user with those of `lines` (ACL file lines by user name), keeping
    /// this node's `default` user unless `lines` has one. A line that does not parse
    /// leaves its user with no permissions (off), never with more.
    public mutating func adopt(_ lines: [String: String]) {
        var fresh: [String: ACLUser] = ["default": users["default"] ?? ACLUser.makeDefault()]
        for (name, line) in lines {
            var user = ACLUser(name: name)
            let words = line.split(separator: " ").map { Array($0.utf8) }
            guard words.count >= 2, words[0] == Array("user".utf8), words[1] == Array(name.utf8) else {
                fresh[name] = user
                continue
            }
            do {
                for word in words.dropFirst(2) { try user.apply(word) }
            } catch {
                user = ACLUser(name: name)
            }
            fresh[name] = user
        }
        users = fresh
    }

    /// Removes users; returns how many existed.
    public mutating func deleteUsers(_ names: [String]) throws(CommandError) -> Int {
        guard !names.contains("default") else { throw .message("ERR The 'default' user cannot be removed") }
        return names.reduce(0) { count, name in users.removeValue(forKey: name) == nil ? count : count + 1 }
    }

    /// `requirepass`: the default user's one password, or none.
    public mutating func setDefaultPassword(_ password: String) {
        var user = users["default"] ?? ACLUser.makeDefault()
        user.passwords = []
        user.noPassword = password.isEmpty
        if !password.isEmpty { user.passwords = [ACLUser.hash(Array(password.utf8))] }
        users["default"] = user
    }

    /// Whether a new connection starts authenticated as `default` (on, no password).
    public var defaultNeedsNoPassword: Bool {
        guard let user = users["default"] else { return false }
        return user.enabled && user.noPassword
    }

    /// The user `name` if it exists, is on, and `password` is one of its passwords.
    public func authenticate(_ name: String, password: Bytes) -> Bool {
        guard let user = users[name], user.enabled else { return false }
        return user.checkPassword(password)
    }

    // MARK: - Checks

    /// Whether `user` is held to rules (not allowed every command, key and channel).
    public func restricts(_ user: String) -> Bool { !isUnrestricted(user) }

    private func isUnrestricted(_ user: String) -> Bool {
        user == "default" ? defaultUnrestricted : unrestricted.contains(user)
    }

    /// Why `user` may not run this request, if it may not: the command (or subcommand),
    /// then every key it names (write access for commands that write), then the channels
    /// of pub/sub commands.
    public func denial(user name: String, spec: CommandSpec, arguments: [Bytes]) -> Denial? {
        if isUnrestricted(name) { return nil }
        guard let user = users[name] else { return .command(spec.name) }
        let firstArgument = arguments.count < 2 ? nil : Arguments.lowercased(arguments[1])
        guard user.allows(spec, firstArgument: firstArgument) else {
            let subcommand = spec.subcommands.isEmpty ? nil : firstArgument
            return .command(subcommand.map { "\(spec.name)|\($0)" } ?? spec.name)
        }
        if !user.allKeys, !Self.namesShardChannels(spec) {
            for position in spec.keyPositions(in: arguments) where position < arguments.count {
                let key = arguments[position]
                if !user.allowsKey(key, read: !spec.isWrite || Self.readsToo(spec), write: spec.isWrite) { return .key(key) }
            }
        }
        if !user.allChannels, let channels = Self.channels(spec, arguments) {
            let isPattern = spec.name == "psubscribe"
            for channel in channels where !user.allowsChannel(channel, isPattern: isPattern) { return .channel(channel) }
        }
        return nil
    }

    static func unrestrictedNames(_ users: [String: ACLUser]) -> Set<String> {
        Set(users.values.filter { $0.commandRules.last == "+@all" && $0.allKeys && $0.allChannels }.map(\.name))
    }

    /// Write commands that also read their keys' values (a `%W~` key alone does not do).
    static func readsToo(_ spec: CommandSpec) -> Bool {
        !["set", "mset", "msetnx", "del", "unlink", "expire", "pexpire", "expireat", "pexpireat", "persist",
          "setex", "psetex", "setnx", "hset", "hmset", "lpush", "rpush", "sadd", "zadd", "xadd", "restore"].contains(spec.name)
    }

    /// SPUBLISH, SSUBSCRIBE and SUNSUBSCRIBE: their channels route like keys (key specs
    /// flagged NOT_KEY), but the user's channel rules apply to them, not its key rules.
    static func namesShardChannels(_ spec: CommandSpec) -> Bool {
        spec.name == "spublish" || spec.name == "ssubscribe" || spec.name == "sunsubscribe"
    }

    /// The channels a pub/sub command names (nil for other commands).
    static func channels(_ spec: CommandSpec, _ arguments: [Bytes]) -> [Bytes]? {
        switch spec.name {
        case "publish", "spublish": return arguments.count > 1 ? [arguments[1]] : []
        case "subscribe", "psubscribe", "ssubscribe": return Array(arguments.dropFirst())
        default: return nil
        }
    }

    // MARK: - Log

    /// Logs a refusal (an equal one counts again and moves to the front), then keeps the
    /// newest `keeping` entries (`acllog-max-len`; lowering it trims at the next refusal).
    public mutating func record(reason: String, context: String, object: String, username: String, clientInfo: String, now: Int64,
                                keeping: Int = AccessControl.logEntriesMax) {
        if let index = log.firstIndex(where: { $0.reason == reason && $0.context == context && $0.object == object && $0.username == username }) {
            log[index].count += 1
            log[index].updated = now
            log[index].clientInfo = clientInfo
            let entry = log.remove(at: index)
            log.insert(entry, at: 0)
            return
        }
        log.insert(LogEntry(count: 1, reason: reason, context: context, object: object, username: username,
                            clientInfo: clientInfo, entryID: nextEntryID, created: now, updated: now), at: 0)
        nextEntryID += 1
        if log.count > max(0, keeping) { log.removeLast(log.count - max(0, keeping)) }
    }

    public mutating func resetLog() { log = [] }
}
