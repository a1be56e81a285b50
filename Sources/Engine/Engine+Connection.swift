// Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT.
import Keyspace
import Wire

extension Engine {
    /// The Redis version HELLO and INFO report. 7.4 because client libraries gate features
    /// on it (redis-py's client-side cache needs 7.4 and CLIENT TRACKING); the commands
    /// follow Redis 7.2, and INFO's `trestle_version` says what the server really is.
    public static let compatibleRedisVersion = "7.4.0"

    func runConnectionCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> Outcome {
        switch id {
        case .ping:
            guard arguments.count <= 2 else { throw .wrongArity(command: "ping") }
            return Outcome(reply: arguments.count == 2 ? .bulk(arguments[1]) : .simple("PONG"))
        case .echo: return Outcome(reply: .bulk(arguments[1]))
        case .hello: return Outcome(reply: try hello(arguments, session))
        case .auth:
            guard arguments.count <= 3 else { throw .syntax }
            try authenticate(session, user: arguments.count == 3 ? arguments[1] : nil, password: arguments[arguments.count - 1], command: arguments[0])
            return Outcome(reply: .ok)
        case .select: return Outcome(reply: try selectCommand(arguments, session))
        case .quit: return Outcome(reply: .ok, close: true)
        case .reset:
            endTransaction(session)
            session.name = []
            session.protocolVersion = .resp2
            session.authenticated = acl.defaultNeedsNoPassword
            session.user = "default"
            session.database = 0
            session.replyMode = .on
            session.noTouch = false  // as Redis's clearClientConnectionState; the library name stays
            return Outcome(reply: .simple("RESET"))
        case .client: return try client(arguments, session, now: now)
        default: throw .syntax
        }
    }

    /// AUTH [username] password: the user must exist, be on, and have the password (or
    /// `nopass`). A failure is recorded in ACL LOG, its object the command's name as the
    /// client spelled it (AUTH or HELLO), as Redis records it.
    private func authenticate(_ session: Session, user: Bytes?, password: Bytes, command: Bytes) throws(CommandError) {
        let name = user.map { String(decoding: $0, as: UTF8.self) } ?? "default"
        if user == nil, acl.users["default"]?.noPassword == true { throw .noPasswordConfigured }
        guard acl.authenticate(name, password: password) else {
            stats.countACLDenial("auth")
            acl.record(reason: "auth", context: session.inTransaction ? "multi" : "toplevel", object: Arguments.string(command), username: name,
                       clientInfo: clientLine(session, now: session.lastInteraction), now: session.lastInteraction,
                       keeping: settings.aclLogMaxLength)
            throw .wrongPassword
        }
        session.user = name
        session.authenticated = true
    }

    /// A replica's client of its master (REPLICAOF): authenticated as the default user
    /// without a password, as Redis trusts its master's stream.
    public func authenticateAsMaster(_ session: Session) {
        session.user = "default"
        session.authenticated = true
    }

    static func constantTimeEqual(_ a: Bytes, _ b: Bytes) -> Bool {
        var difference = a.count ^ b.count
        for index in 0..<max(a.count, b.count) {
            difference |= Int((index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0))
        }
        return difference == 0
    }

    /// HELLO [protover [AUTH username password] [SETNAME clientname]]
    private func hello(_ arguments: [Bytes], _ session: Session) throws(CommandError) -> RESPValue {
        var version = session.protocolVersion
        var index = 1
        if arguments.count >= 2 {
            guard let requested = Numbers.parseInteger(arguments[1]) else {
                throw .message("ERR Protocol version is not an integer or out of range")
            }
            guard let parsed = ProtocolVersion(rawValue: Int(requested)) else { throw .message("NOPROTO unsupported protocol version") }
            version = parsed
            index = 2
        }
        // As Redis: every option is read first (the last AUTH and the last SETNAME count),
        // then the client authenticates, and only then is it named.
        var newName: Bytes? = nil
        var credentials: (user: Bytes, password: Bytes)? = nil
        while index < arguments.count {
            if Arguments.isKeyword(arguments[index], "auth"), index + 2 < arguments.count {
                credentials = (arguments[index + 1], arguments[index + 2])
                index += 3
            } else if Arguments.isKeyword(arguments[index], "setname"), index + 1 < arguments.count {
                try Self.validateClientName(arguments[index + 1])
                newName = arguments[index + 1]
                index += 2
            } else {
                throw .message("ERR Syntax error in HELLO option '\(Arguments.string(arguments[index]))'")
            }
        }
        if let credentials { try authenticate(session, user: credentials.user, password: credentials.password, command: arguments[0]) }
        guard session.authenticated else {
            throw .message("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
        }
        if let newName { session.name = newName }
        session.protocolVersion = version
        return .map([
            RESPPair("server", .bulk("redis")),
            RESPPair("version", .bulk(Self.compatibleRedisVersion)),
            RESPPair("proto", .integer(Int64(version.rawValue))),
            RESPPair("id", .integer(Int64(session.id.rawValue))),
            RESPPair("mode", .bulk(settings.clusterEnabled ? "cluster" : "standalone")),
            RESPPair("role", .bulk("master")),
            RESPPair("modules", .array([])),
        ])
    }

    static func validateClientName(_ name: Bytes) throws(CommandError) {
        guard name.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw .message("ERR Client names cannot contain spaces, newlines or special characters.")
        }
    }

    // MARK: - CLIENT

    private func client(_ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> Outcome {
        let subcommand = Arguments.lowercased(arguments[1])
        switch (subcommand, arguments.count) {
        case ("id", 2): return Outcome(reply: .integer(Int64(session.id.rawValue)))
        case ("getname", 2): return Outcome(reply: session.name.isEmpty ? .null : .bulk(session.name))
        case ("setname", 3):
            try Self.validateClientName(arguments[2])
            session.name = arguments[2]
            return Outcome(reply: .ok)
        case ("setinfo", 4):
            let attribute = Arguments.lowercased(arguments[2])
            guard attribute == "lib-name" || attribute == "lib-ver" else {
                throw .message("ERR Unrecognized option '\(Arguments.string(arguments[2]))'")
            }
            // As Redis's validateClientAttr: printable ASCII without spaces.
            if arguments[3].contains(where: { $0 < 33 || $0 > 126 }) {
                throw .message("ERR \(attribute) cannot contain spaces, newlines or special characters.")
            }
            if attribute == "lib-name" { session.libraryName = arguments[3] } else { session.libraryVersion = arguments[3] }
            return Outcome(reply: .ok)
        case ("no-evict", 3), ("no-touch", 3):
            // NO-EVICT changes nothing (Trestle evicts keys, never clients).
            let mode = Arguments.lowercased(arguments[2])
            guard mode == "on" || mode == "off" else { throw .syntax }
            if Arguments.lowercased(arguments[1]) == "no-touch" { session.noTouch = mode == "on" }
            return Outcome(reply: .ok)
        case ("info", 2):
            return Outcome(reply: .verbatim(format: "txt", text: clientLine(session, now: now, queryBytes: Self.encodedLength(arguments)) + "\n"))
        case ("reply", 3):
            // The node writes no reply while the mode is off, nor this command's unless ON.
            switch Arguments.lowercased(arguments[2]) {
            case "on": session.replyMode = .on
            case "off": session.replyMode = .off
            case "skip": session.replyMode = .skipNext
            default: throw .syntax
            }
            return Outcome(reply: .ok)
        case ("list", _): return Outcome(reply: .verbatim(format: "txt", text: try clientList(arguments, caller: session, now: now)))
        case ("kill", _): return try clientKill(arguments, session, now: now)
        case ("tracking", 3...): return Outcome(reply: try clientTracking(arguments, session))
        case ("caching", 3): return Outcome(reply: try clientCaching(arguments, session))
        case ("getredir", 2): return Outcome(reply: clientGetRedirect(session))
        case ("trackinginfo", 2): return Outcome(reply: clientTrackingInfo(session))
        case ("help", 2):
            return Outcome(reply: .array([
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ID", "    Return the ID of the current connection.",
                "GETNAME", "    Return the name of the current connection.",
                "SETNAME <name>", "    Assign the name <name> to the current connection.",
                "SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
                "INFO", "    Return information about the current client connection.",
                "LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]", "    Return information about client connections.",
                "KILL <ip:port> | KILL <option> <value> [<option> <value> ...]", "    Kill connections. Options: ID, ADDR, LADDR, SKIPME (yes|no), TYPE, USER, MAXAGE.",
                "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
                "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
                "PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
                "UNPAUSE", "    Stop the current client pause, resuming traffic.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
                "NO-TOUCH (ON|OFF)", "    Will not touch LRU/LFU stats when this mode is on.",
                "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]] [OPTIN] [OPTOUT] [NOLOOP]",
                "    Control server assisted client side caching.",
                "CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
                "GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
                "TRACKINGINFO", "    Return information about the current client's tracking status.",
                "HELP", "    Print this help.",
            ].map { RESPValue.simple($0) }))
        default:
            if ["id", "getname", "setname", "setinfo", "info", "help", "no-evict", "no-touch", "tracking", "caching", "getredir", "reply",
                "trackinginfo", "pause", "unpause", "unblock"].contains(subcommand) {
                throw .message("ERR wrong number of arguments for 'client|\(subcommand)' command")
            }
            throw .unknownSubcommand(command: "client", subcommand: Arguments.string(arguments[1]))
        }
    }

    /// One CLIENT LIST line. `queryBytes`: the caller's own request, still in its query
    /// buffer while it runs (Redis's qbuf); Trestle holds no other client's unparsed bytes
    /// in a way it counts, so theirs is 0.
    public func clientLine(_ session: Session, now: Int64, queryBytes: Int = 0) -> String {
        let age = (now - session.createdAt) / 1000
        let idle = (now - session.lastInteraction) / 1000
        let multi = session.queued.map { String($0.count) } ?? "-1"
        return "id=\(session.id) addr=\(session.address) laddr=\(session.localAddress) fd=-1 name=\(Arguments.string(session.name)) "
            + "age=\(age) idle=\(idle) flags=\(clientFlags(session)) db=\(session.database) "
            + "sub=\(session.channels.count) psub=\(session.patterns.count) ssub=\(session.shardChannels.count) multi=\(multi) "
            + "watch=\(session.watched.count) qbuf=\(queryBytes) qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 "
            + "events=r cmd=\(session.lastCommand) user=\(session.user ?? "default") redir=-1 resp=\(session.protocolVersion.rawValue) "
            + "lib-name=\(Arguments.string(session.libraryName)) lib-ver=\(Arguments.string(session.libraryVersion))"
    }

    /// CLIENT LIST's flags, in Redis's order: P pub/sub, x MULTI, b blocked, t tracking,
    /// R tracking redirect broken, B broadcast tracking, d a watched key changed, r
    /// READONLY, T NO-TOUCH; N when none.
    func clientFlags(_ session: Session) -> String {
        var flags = ""
        if session.isSubscribed { flags += "P" }
        if session.queued != nil { flags += "x" }
        if hooks.isBlocked(session.id) { flags += "b" }
        if let tracking = session.tracking {
            flags += "t"
            if tracking.redirectBroken { flags += "R" }
            if tracking.broadcast { flags += "B" }
        }
        if session.watchDirty || session.clusterWatchTouched { flags += "d" }
        if session.readOnlyReplicaReads { flags += "r" }
        if session.noTouch { flags += "T" }
        return flags.isEmpty ? "N" : flags
    }

    /// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
    private func clientList(_ arguments: [Bytes], caller: Session, now: Int64) throws(CommandError) -> String {
        // A killed client is gone for its killer at once, as in Redis (its socket closes next).
        var selected = sessions.values.filter { !$0.killed }.sorted { $0.id < $1.id }
        if arguments.count > 2 {
            if Arguments.isKeyword(arguments[2], "type"), arguments.count == 4 {
                let type = Arguments.lowercased(arguments[3])
                guard let kind = ClientKind(type) else { throw .message("ERR Unknown client type '\(Arguments.string(arguments[3]))'") }
                selected = selected.filter { kind.includes($0) }
            } else if Arguments.isKeyword(arguments[2], "id"), arguments.count >= 4 {
                var ids: Set<UInt64> = []
                for raw in arguments.dropFirst(3) {
                    guard let value = Numbers.parseInteger(raw), value > 0 else { throw .message("ERR Invalid client ID") }
                    ids.insert(UInt64(value))
                }
                selected = selected.filter { ids.contains($0.id.rawValue) }
            } else {
                throw .syntax
            }
        }
        let callerBytes = Self.encodedLength(arguments)
        return selected.map { clientLine($0, now: now, queryBytes: $0.id == caller.id ? callerBytes : 0) + "\n" }.joined()
    }

    /// CLIENT KILL ip:port, or CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no] [USER name] [TYPE type]
    /// [MAXAGE seconds] (connections older than that).
    private func clientKill(_ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> Outcome {
        // With no filter at all every other client would match: Redis refuses it.
        guard arguments.count >= 3 else { throw .wrongArity(command: "client|kill") }
        if arguments.count == 3 {
            let address = Arguments.string(arguments[2])
            guard let victim = sessions.values.first(where: { $0.address == address }) else { throw .message("ERR No such client") }
            victim.killed = true
            var outcome = Outcome(reply: .ok)
            outcome.killed = [victim.id]
            return outcome
        }
        guard arguments.count % 2 == 0 else { throw .syntax }
        var id: UInt64? = nil, address: String? = nil, localAddress: String? = nil, skipMe = true, user: String? = nil
        var maximumAge: Int64? = nil, kind: ClientKind? = nil
        for index in stride(from: 2, to: arguments.count, by: 2) {
            let value = arguments[index + 1]
            switch Arguments.lowercased(arguments[index]) {
            case "id":
                guard let parsed = Numbers.parseInteger(value), parsed > 0 else { throw .message("ERR client-id should be greater than 0") }
                id = UInt64(parsed)
            case "addr": address = Arguments.string(value)
            case "laddr": localAddress = Arguments.string(value)
            case "user":
                user = Arguments.string(value)
                guard acl.users[Arguments.string(value)] != nil else { throw .message("ERR No such user '\(Arguments.string(value))'") }
            case "maxage":
                guard let seconds = Numbers.parseInteger(value), seconds <= Int64.max / 1000 else { throw .notInteger }
                guard seconds > 0 else { throw .message("ERR maxage should be greater than 0") }
                maximumAge = seconds * 1000
            case "type":
                guard let parsed = ClientKind(Arguments.lowercased(value)) else { throw .message("ERR Unknown client type '\(Arguments.string(value))'") }
                kind = parsed
            case "skipme":
                if Arguments.isKeyword(value, "yes") { skipMe = true }
                else if Arguments.isKeyword(value, "no") { skipMe = false }
                else { throw .syntax }
            default: throw .syntax
            }
        }
        let victims = sessions.values.filter { candidate in
            if skipMe, candidate.id == session.id { return false }
            if let id, candidate.id.rawValue != id { return false }
            if let address, candidate.address != address { return false }
            if let localAddress, candidate.localAddress != localAddress { return false }
            if let user, (candidate.user ?? "default") != user { return false }
            if let maximumAge, now - candidate.createdAt <= maximumAge { return false }
            if let kind, !kind.includes(candidate) { return false }
            if candidate.killed { return false }
            return true
        }
        for victim in victims { victim.killed = true }
        var outcome = Outcome(reply: .integer(victims.count))
        outcome.killed = victims.map(\.id)
        return outcome
    }
}

/// CLIENT LIST and CLIENT KILL's TYPE: Trestle's clients are normal or subscribed (pub/sub);
/// it has no Redis master or replica connections, so those types match nobody.
enum ClientKind {
    case normal, pubsub, replication

    init?(_ name: String) {
        switch name {
        case "normal": self = .normal
        case "pubsub": self = .pubsub
        case "master", "replica", "slave": self = .replication
        default: return nil
        }
    }

    func includes(_ session: Session) -> Bool {
        switch self {
        case .normal: return !session.isSubscribed
        case .pubsub: return session.isSubscribed
        case .replication: return false
        }
    }
}

extension Engine {
    /// The bytes of `arguments` as a RESP request (an array of bulk strings).
    static func encodedLength(_ arguments: [Bytes]) -> Int {
        arguments.reduce(3 + String(arguments.count).utf8.count) { $0 + 5 + String($1.count).utf8.count + $1.count }
    }
}
