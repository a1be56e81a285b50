// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
// AUTH2 username password] [KEYS key [key ...]]: the keys' values go to another server
// (Redis or Trestle) as RESTOREs of their DUMP payloads with their remaining TTLs, and are
// deleted here once it took them (unless COPY). The shell makes the connection
// (`.migrate`), so the node goes on serving meanwhile.
//
// Redis blocks its thread for the whole transfer, so nothing changes a key between its
// DUMP and its DEL. Here the DEL is proposed watching each key's value as it was dumped:
// a key written meanwhile is kept (the target then holds the value before that write, and
// MIGRATE still answers OK: the copy it was asked for was made). Each MIGRATE opens its
// own connection (Redis caches one per target for 10 seconds).
import Core
import Engine
import Keyspace
import Wire

extension Node {
    /// Most transfers under way at once; more are refused until one ends.
    static let migrationsMax = 64

    struct MigrateRequest {
        var host: String
        var port: Int
        var database: Int
        var timeoutMilliseconds: Int
        var copy = false
        var replace = false
        /// AUTH and its arguments (password, or username and password), when given.
        var auth: [Bytes]?
        var keys: [Bytes]
    }

    /// MIGRATE's arguments as Redis reads them: options first (a syntax error names none
    /// of the others), then the timeout and the database as integers; a timeout of 0 or
    /// less is 1000 ms. A port that is not a number fails at connect time, as in Redis.
    static func parseMigrate(_ arguments: [Bytes]) throws(CommandError) -> MigrateRequest {
        var copy = false, replace = false
        var auth: [Bytes]?
        var keys = [arguments[3]]
        var index = 6
        while index < arguments.count {
            let more = arguments.count - 1 - index
            switch String(decoding: arguments[index], as: UTF8.self).lowercased() {
            case "copy": copy = true
            case "replace": replace = true
            case "auth":
                guard more >= 1 else { throw .syntax }
                auth = [Array("AUTH".utf8), arguments[index + 1]]
                index += 1
            case "auth2":
                guard more >= 2 else { throw .syntax }
                auth = [Array("AUTH".utf8), arguments[index + 1], arguments[index + 2]]
                index += 2
            case "keys":
                guard arguments[3].isEmpty else {
                    throw .message("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
                }
                keys = Array(arguments[(index + 1)...])
                index = arguments.count
            default: throw .syntax
            }
            index += 1
        }
        guard let timeout = Numbers.parseInteger(arguments[5]), let database = Numbers.parseInteger(arguments[4]) else {
            throw .notInteger
        }
        let port = Int(String(decoding: arguments[2], as: UTF8.self)).flatMap { (1...65_535).contains($0) ? $0 : nil } ?? 0
        return MigrateRequest(host: String(decoding: arguments[1], as: UTF8.self), port: port, database: Int(clamping: database),
                              timeoutMilliseconds: timeout <= 0 ? 1_000 : Int(clamping: timeout), copy: copy, replace: replace,
                              auth: auth, keys: keys)
    }

    func migrate(_ arguments: [Bytes], session: Session, reply: @escaping ReplySink) {
        let request: MigrateRequest
        do {
            request = try Self.parseMigrate(arguments)
        } catch {
            return reply(error.reply)
        }
        guard let first = request.keys.first else { return reply(.simple("NOKEY")) }
        let slot = HashSlot.of(key: first)
        if !configuration.standalone, request.keys.contains(where: { HashSlot.of(key: $0) != slot }) {
            return reply(Redirect.crossSlot.reply)
        }
        switch locate(slot) {
        case .here(let replica):
            let database = session.database
            readApplied(replica, slot: slot, reply: reply) { [self] engine, now in
                let found = Self.dumped(request.keys, from: engine, database: database, now: now)
                guard !found.isEmpty else { return reply(.simple("NOKEY")) }
                transfer(request, found, replica: replica, database: database, session: session, reply: reply)
            }
        case .elsewhere(_, let node, _):
            reply(Redirect.moved(slot: slot, to: node).reply)
        case .down(let redirect):
            reply(redirect.reply)
        }
    }

    /// Each present key's DUMP payload, remaining TTL (0: none; at least 1 ms) and the
    /// digest of its value, in the order asked.
    static func dumped(_ keys: [Bytes], from engine: Engine, database: Int, now: Int64)
        -> [(key: Bytes, ttl: Int64, payload: Bytes, digest: UInt64)] {
        engine.inDatabase(database) {
            keys.compactMap { key in
                guard let entry = engine.keyspace.peek(key, now: now) else { return nil }
                let ttl = entry.expireAt.map { max(1, $0 &- now) } ?? 0
                return (key, ttl, DumpPayload.encode(entry.value), engine.watchDigest(key, now: now))
            }
        }
    }

    private func transfer(_ request: MigrateRequest, _ found: [(key: Bytes, ttl: Int64, payload: Bytes, digest: UInt64)],
                          replica: Replica, database: Int, session: Session, reply: @escaping ReplySink) {
        guard migrationWaiters.count < Self.migrationsMax else {
            return reply(.error("ERR too many MIGRATE transfers under way (at most \(Self.migrationsMax)); retry"))
        }
        var commands: [[Bytes]] = []
        if let auth = request.auth { commands.append(auth) }
        commands.append([Array("SELECT".utf8), Array(String(request.database).utf8)])
        for item in found {
            var restore = [Array("RESTORE".utf8), item.key, Array(String(item.ttl).utf8), item.payload]
            if request.replace { restore.append(Array("REPLACE".utf8)) }
            commands.append(restore)
        }
        let job = MigrationJob(id: nextMigrationJob, host: request.host, port: request.port,
                               timeoutMilliseconds: request.timeoutMilliseconds, commands: commands)
        nextMigrationJob += 1
        let preamble = commands.count - found.count
        migrationWaiters[job.id] = { [self] outcome in
            switch outcome {
            case .connectFailed:
                reply(.error("IOERR error or timeout connecting to the client"))
            case .ioFailed:
                reply(.error("IOERR error or timeout reading to target instance"))
            case .replies(let replies):
                guard replies.count == commands.count else { return reply(.error("IOERR error or timeout reading to target instance")) }
                if let refusal = replies.prefix(preamble).first(where: \.isError) { return reply(Self.targetError(refusal)) }
                let restored = zip(found, replies.dropFirst(preamble)).filter { !$0.1.isError }.map(\.0)
                let answer = replies.dropFirst(preamble).first(where: \.isError).map(Self.targetError) ?? .ok
                guard !request.copy, !restored.isEmpty else { return reply(answer) }
                let watches = restored.map { WatchedValue(key: $0.key, digest: $0.digest) }
                proposeWrite(replica, commands: [[Array("DEL".utf8)] + restored.map(\.key)], transaction: true, watches: watches,
                             database: database, version: session.protocolVersion) { _ in reply(answer) }
            }
        }
        emit(.migrate(job))
    }

    /// The target's error, as Redis reports it to MIGRATE's caller.
    static func targetError(_ reply: RESPValue) -> RESPValue {
        guard case .error(let text) = reply else { return reply }
        return .error("ERR Target instance replied with error: \(text)")
    }
}
