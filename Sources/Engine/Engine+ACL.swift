// ACL SETUSER/GETUSER/DELUSER/USERS/LIST/WHOAMI/CAT/LOG/DRYRUN/GENPASS/HELP, and the
// permission check of the request prologue. Users live on this node (see AccessControl).
import Core
import Keyspace
import Wire

extension Engine {
    /// Whether `session`'s user may run this request; a refusal is logged in ACL LOG.
    /// Sessions of the node itself (forwarded requests, scripts) are not restricted.
    public func permissionDenial(_ spec: CommandSpec, _ arguments: [Bytes], _ session: Session, now: Int64) -> CommandError? {
        loggedDenial(spec, arguments, session, context: session.inTransaction ? "multi" : "toplevel", now: now)
            .map { $0.denial.error(user: $0.user) }
    }

    /// EXEC's check of a queued command, as Redis checks each again when EXEC runs it: nil
    /// when the session's user may still run it; otherwise the refusal (logged in ACL LOG
    /// in the context `multi`) that takes the command's place in EXEC's reply.
    public func execDenial(_ spec: CommandSpec, _ arguments: [Bytes], _ session: Session, now: Int64) -> CommandError? {
        loggedDenial(spec, arguments, session, context: "multi", now: now)?.denial.changedSinceQueued
    }

    /// ACL's refusal of the request for the session's user, counted and logged in ACL LOG
    /// under `context`; nil when it is allowed.
    private func loggedDenial(_ spec: CommandSpec, _ arguments: [Bytes], _ session: Session, context: String,
                              now: Int64) -> (denial: AccessControl.Denial, user: String)? {
        guard let user = session.user, !spec.allowedWithoutAuth,
              let denial = acl.denial(user: user, spec: spec, arguments: arguments) else { return nil }
        let logged = denial.logged
        stats.countACLDenial(logged.reason)
        acl.record(reason: logged.reason, context: context, object: logged.object,
                   username: user, clientInfo: clientLine(session, now: now), now: now, keeping: settings.aclLogMaxLength)
        return (denial, user)
    }

    /// Whether ACL lets `session`'s user run this request (nothing is logged; the
    /// prologue's `permissionDenial` logs the refusal). The default user without rules (most
    /// requests) reads one flag: calling a method of `acl` copies it, users and log too.
    public func permits(_ spec: CommandSpec, _ arguments: [Bytes], _ session: Session) -> Bool {
        guard let user = session.user else { return true }
        if acl.defaultUnrestricted, user == "default" { return true }
        return acl.denial(user: user, spec: spec, arguments: arguments) == nil
    }

    /// Whether `user` is limited by its rules (anything but all commands, keys and
    /// channels), answered in place: reading `acl` from another module copies it.
    public func restricts(_ user: String) -> Bool { acl.restricts(user) }

    /// Logs a call a script of `session` made that ACL refused (context `lua`).
    public func recordScriptDenial(_ denial: AccessControl.Denial, user: String, _ session: Session, now: Int64) {
        let logged = denial.logged
        stats.countACLDenial(logged.reason)
        acl.record(reason: logged.reason, context: "lua", object: logged.object, username: user,
                   clientInfo: clientLine(session, now: now), now: now, keeping: settings.aclLogMaxLength)
    }

    /// Enforces the cluster directory's users (see AccessControl.adopt); a `default` user
    /// the directory does not hold follows this node's requirepass.
    public func adoptACLUsers(_ lines: [String: String]) {
        if lines["default"] == nil { acl.setDefaultPassword(settings.requirePassword) }
        acl.adopt(lines)
    }

    /// Replaces every user with those of an ACL file's `text` (`user NAME RULES...` lines;
    /// blank lines and `#` comments skipped); a missing `default` user keeps requirepass.
    /// On an error nothing changes; the error names the file and line, as Redis does.
    public func loadACLFile(_ text: String, path: String) throws(CommandError) {
        var fresh = AccessControl()
        fresh.setDefaultPassword(settings.requirePassword)
        var seen: Set<String> = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let first = words.first, !first.hasPrefix("#") else { continue }
            guard first == "user", words.count >= 2 else {
                throw .message("ERR \(path):\(number + 1): should start with user keyword")
            }
            let name = String(words[1])
            guard seen.insert(name).inserted else { throw .message("ERR \(path):\(number + 1): Duplicate user '\(name)' found") }
            do {
                try fresh.setUser(name, rules: [Array("reset".utf8)] + words.dropFirst(2).map { Array($0.utf8) })
            } catch {
                throw .message("ERR \(path):\(number + 1): \(error.text.hasPrefix("ERR ") ? String(error.text.dropFirst(4)) : error.text)")
            }
        }
        acl = fresh
    }

    func runACL(_ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        let sub = Arguments.lowercased(arguments[1])
        let text = arguments.dropFirst(2).map { String(decoding: $0, as: UTF8.self) }
        switch (sub, text.count) {
        case ("setuser", 1...):
            try acl.setUser(text[0], rules: Array(arguments.dropFirst(3)))
            return .ok
        case ("getuser", 1):
            guard let user = acl.users[text[0]] else { return .null }
            return .map([
                RESPPair("flags", .array(user.flags.map { .bulk($0) })),
                RESPPair("passwords", .array(user.passwords.map { .bulk($0) })),
                RESPPair("commands", .bulk(user.commandsDescription)),
                RESPPair("keys", .bulk(user.keysDescription)),
                RESPPair("channels", .bulk(user.channelsDescription)),
                RESPPair("selectors", .array([])),
            ])
        case ("deluser", 1...):
            return .integer(try acl.deleteUsers(text))
        case ("users", 0):
            return .array(acl.users.keys.sorted().map { .bulk($0) })
        case ("list", 0):
            return .array(acl.users.keys.sorted().compactMap { acl.users[$0] }.map { .bulk($0.description) })
        case ("whoami", 0):
            return .bulk(session.user ?? "default")
        case ("cat", 0):
            return .array(ACLCategories.all.map { .bulk($0) })
        case ("cat", 1):
            let category = text[0].lowercased()
            guard ACLCategories.all.contains(category) else { throw .message("ERR Unknown category '\(text[0])'") }
            return .array(ACLCategories.commands(in: category).map { .bulk($0) })
        case ("log", 0), ("log", 1):
            return try aclLog(text.first, now: now)
        case ("dryrun", 2...):
            guard acl.users[text[0]] != nil else { throw .message("ERR User '\(text[0])' not found") }
            let command = Array(arguments.dropFirst(3))
            guard let spec = CommandTable.lookup(command[0]) else { throw .message("ERR Command '\(text[1])' not found") }
            guard spec.accepts(argumentCount: command.count) else { throw .wrongArity(command: spec.name) }
            if let denial = acl.denial(user: text[0], spec: spec, arguments: command) { return .bulk(denial.explanation) }
            return .ok
        case ("genpass", 0), ("genpass", 1):
            let bits = try text.first.map { value throws(CommandError) -> Int in
                guard let bits = Int(value), (1...4096).contains(bits) else {
                    throw .message("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
                }
                return bits
            } ?? 256
            var hex = ""
            while hex.count * 4 < bits { hex += String(format: "%016llx", random.next()) }
            return .bulk(String(hex.prefix((bits + 3) / 4)))
        case ("load", 0), ("save", 0):
            throw .message("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
        case ("help", 0):
            return .array(Self.aclHelp.map { .simple($0) })
        case ("cat", _):
            // Redis's own check in ACL CAT (its arity lets any count through).
            throw .message("ERR unknown subcommand or wrong number of arguments for '\(Arguments.string(arguments[1]))'. Try ACL HELP.")
        default:
            throw .unknownSubcommand(command: "acl", subcommand: Arguments.string(arguments[1]))
        }
    }

    private func aclLog(_ argument: String?, now: Int64) throws(CommandError) -> RESPValue {
        if let argument, argument.lowercased() == "reset" {
            acl.resetLog()
            return .ok
        }
        var count = 10
        if let argument {
            guard let parsed = Int(argument), parsed >= 0 else { throw .message("ERR value is out of range, must be positive") }
            count = parsed
        }
        return .array(acl.log.prefix(count).map { entry in
            .map([
                RESPPair("count", .integer(entry.count)),
                RESPPair("reason", .bulk(entry.reason)),
                RESPPair("context", .bulk(entry.context)),
                RESPPair("object", .bulk(entry.object)),
                RESPPair("username", .bulk(entry.username)),
                RESPPair("age-seconds", .double(Double(now - entry.created) / 1000)),
                RESPPair("client-info", .bulk(entry.clientInfo)),
                RESPPair("entry-id", .integer(entry.entryID)),
                RESPPair("timestamp-created", .integer(Int(entry.created))),
                RESPPair("timestamp-last-updated", .integer(Int(entry.updated))),
            ])
        })
    }

    static let aclHelp = [
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ]
}
