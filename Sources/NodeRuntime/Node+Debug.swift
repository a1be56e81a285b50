// DEBUG: the subcommands Redis's own test suite and client libraries' tests lean on, for
// connections from loopback only (Redis's `enable-debug-command local`; nothing here can
// crash or stall the node). Differences from Redis: SLEEP delays only the caller's reply
// (the node keeps serving everyone else), RELOAD answers at once (every acknowledged
// write is already in the fsynced log and nothing needs reloading; its options answer
// as Redis's reload would, and values show their natural encodings afterwards, as after
// Redis's load), DIGEST is Trestle's
// own function of the data (equal data, equal digest; an empty dataset all zeros).
import Cluster
import Core
import Engine
import Keyspace
import Wire

extension Node {
    static let debugNotAllowed = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it "
        + "from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."

    /// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: nothing needs reloading (see the file's
    /// comment), but the options answer as Redis's reload would: an unknown one is refused,
    /// and NOFLUSH without MERGE fails while function libraries exist (Redis loads the file's
    /// libraries beside the same ones still in memory, which it refuses).
    static func debugReload(options: [String], holdsFunctions: Bool) -> RESPValue {
        var merge = false, noflush = false
        for option in options {
            switch option.uppercased() {
            case "MERGE": merge = true
            case "NOFLUSH": noflush = true
            case "NOSAVE": break
            default: return .error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
            }
        }
        if noflush, !merge, holdsFunctions { return .error("ERR Error trying to load the RDB dump, check server logs.") }
        return .ok
    }

    func debugCommand(_ arguments: [Bytes], session: Session, reply: @escaping ReplySink) -> Outcome? {
        guard Self.isLoopback(session.address) else { return Outcome(reply: .error(Self.debugNotAllowed)) }
        let sub = String(decoding: arguments[1], as: UTF8.self).lowercased()
        let text = arguments.dropFirst(2).map { String(decoding: $0, as: UTF8.self) }
        switch (sub, text.count) {
        case ("help", 0): return Outcome(reply: .array(Self.debugHelp.map { .simple($0) }))
        case ("sleep", 1):
            let milliseconds = Engine.debugSleepMilliseconds(text[0])
            guard milliseconds > 0 else { return Outcome(reply: .ok) }
            holding(reply, milliseconds: milliseconds)(.ok)
            return nil
        case ("reload", _):
            let answer = Self.debugReload(options: text, holdsFunctions: !front.libraries.isEmpty)
            // What a reload shows: values in their natural encodings (lists converted back,
            // strings changed in place no longer raw).
            if answer == .ok { for replica in replicas.values { replica.data?.engine.forgetEncodingHistory() } }
            return Outcome(reply: answer)
        case ("loadaof", 0), ("change-repl-id", 0), ("jmap", 0): return Outcome(reply: .ok)
        case ("pause-cron", 1), ("quicklist-packed-threshold", 1), ("dict-resizing", 1), ("replybuffer", 2),
             ("mark-internal-client", _):
            // Knobs of Redis's internals that Trestle does not have: accepted, no effect.
            return Outcome(reply: .ok)
        case ("set-disable-deny-scripts", 1):
            guard let flag = Int(text[0]) else { return Outcome(reply: CommandError.notInteger.reply) }
            front.settings.scriptsMayCallNoscriptCommands = flag != 0
            front.hooks.settingsChanged(front.settings)
            return Outcome(reply: .ok)
        case ("object", 1):
            guard let shard = map?.shardID(forSlot: HashSlot.of(key: arguments[2])), let data = replicas[shard]?.data,
                  let text = data.engine.debugObjectText(arguments[2], database: session.database, now: max(now(), data.lastRecordTime)) else {
                return Outcome(reply: .error("ERR no such key"))
            }
            return Outcome(reply: .simple(text))
        case ("htstats-key", 1), ("htstats-key", 2):
            guard let shard = map?.shardID(forSlot: HashSlot.of(key: arguments[2])), let data = replicas[shard]?.data else {
                return Outcome(reply: .error("ERR no such key"))
            }
            switch data.engine.debugHashTableStats(arguments[2], database: session.database) {
            case .success(let text): return Outcome(reply: .verbatim(format: "txt", text: text))
            case .failure(let error): return Outcome(reply: error.reply)
            }
        case ("error", 1):
            // The text as an error reply (clients test their error mapping with it); a line
            // break would end the reply early, so it becomes a space, as Redis does.
            return Outcome(reply: .error(String(text[0].map { $0 == "\r" || $0 == "\n" ? " " : $0 })))
        case ("log", 1):
            logger.warning("DEBUG LOG: \(text[0])")
            return Outcome(reply: .ok)
        case ("set-active-expire", 1):
            guard let flag = Int(text[0]) else { return Outcome(reply: CommandError.notInteger.reply) }
            activeExpiry = flag != 0
            return Outcome(reply: .ok)
        case ("digest", 0): return Outcome(reply: .simple(Self.digestText(datasetDigest())))
        case ("digest-value", _):
            return Outcome(reply: .array(arguments.dropFirst(2).map { .simple(Self.digestText(keyDigest($0, database: session.database))) }))
        case ("protocol", 1): return Outcome(reply: protocolSample(text[0], session: session))
        case ("populate", _): return debugPopulate(arguments, session: session, reply: reply)
        default:
            return Outcome(reply: Self.subcommandError("debug", arguments[1], known: true))
        }
    }

    /// `reply`, given `milliseconds` later than it is called (DEBUG SLEEP's: the node goes
    /// on serving everyone else). At once when too many replies are held already.
    func holding(_ reply: @escaping ReplySink, milliseconds: Int64) -> ReplySink {
        guard milliseconds > 0 else { return reply }
        return { [self] value in
            guard deferredRoutes.count < Self.deferredRoutesMax else { return reply(value) }
            deferredRoutes.append(DeferredRoute(due: now() + milliseconds, retry: { reply(value) }))
        }
    }

    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address.hasPrefix("::1") || address.hasPrefix("[::1]") || address.hasPrefix("/")
            || address.hasPrefix("::ffff:127.") || address.isEmpty
    }

    /// The keys of the shards this node leads, order-independently combined.
    private func datasetDigest() -> UInt64 {
        var digest: UInt64 = 0
        for replica in replicas.values where replica.isLeader {
            guard let engine = replica.data?.engine else { continue }
            let time = max(now(), replica.data?.lastRecordTime ?? 0)
            for (index, keyspace) in engine.databaseImage.databases where keyspace.keyCount > 0 {
                for key in keyspace.keys(matching: Array("*".utf8), now: time) {
                    // Database 0's keys mix as they always did; the others with their number.
                    let value = engine.watchDigest(key, database: index, now: time)
                    digest ^= Self.mix(index == 0 ? value : value ^ UInt64(index) &* 0x9E3779B97F4A7C15, key: key)
                }
            }
        }
        return digest
    }

    /// One key's digest, from whichever shard replica here holds its slot (0: absent).
    private func keyDigest(_ key: Bytes, database: Int) -> UInt64 {
        guard let shard = map?.shardID(forSlot: HashSlot.of(key: key)), let data = replicas[shard]?.data else { return 0 }
        // The value's digest alone, as Redis: a copy under another name digests the same.
        return data.engine.watchDigest(key, database: database, now: max(now(), data.lastRecordTime))
    }

    private static func mix(_ digest: UInt64, key: Bytes) -> UInt64 {
        var value = digest
        for byte in key { value = (value ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return value
    }

    /// 40 hex digits as Redis prints a digest; all zeros for 0 (no data).
    static func digestText(_ digest: UInt64) -> String {
        guard digest != 0 else { return String(repeating: "0", count: 40) }
        return SHA1.hex(SHA1.digest((0..<8).map { UInt8(truncatingIfNeeded: digest >> ($0 * 8)) }))
    }

    /// DEBUG PROTOCOL <type>: one reply of each RESP3 type, as Redis sends them.
    private func protocolSample(_ name: String, session: Session) -> RESPValue {
        let resp3 = session.protocolVersion == .resp3
        guard name.lowercased() == "push" else { return Engine.debugProtocolSample(name.lowercased(), resp3: resp3) }
        guard resp3 else { return .error("ERR RESP2 is not supported by this command") }
        emit(.push(session.id, .push([.bulk("server-cpu-usage"), .integer(42)]), .resp3))
        return .bulk("Some real reply following the push reply")
    }

    static let debugHelp = [
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANGE-REPL-ID", "    Accepted; Trestle has no Redis replication ID.",
        "DIGEST", "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]", "    Output a hex signature of the values of all the specified keys.",
        "ERROR <string>", "    Return a Redis protocol error with <string> as message.",
        "HTSTATS-KEY <key> [full]",
        "    Show the hash table figures of a set, hash or sorted set stored as one.",
        "JMAP", "    Accepted; nothing to do.",
        "LOADAOF", "    Answered at once, as RELOAD.",
        "LOG <message>", "    Write <message> to the server log.",
        "OBJECT <key>", "    Show low-level info about the <key> and associated value (Redis's format;",
        "    the address, refcount and LRU fields are fixed in Trestle).",
        "PAUSE-CRON, QUICKLIST-PACKED-THRESHOLD, DICT-RESIZING, REPLYBUFFER,",
        "MARK-INTERNAL-CLIENT",
        "    Accepted with no effect: they tune Redis internals Trestle does not have.",
        "SET-DISABLE-DENY-SCRIPTS <0|1>",
        "    Let scripts call commands flagged noscript (of them, DEBUG PROTOCOL is served).",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named key:<num>. If <prefix> is specified then",
        "    it is used instead of the 'key' prefix. With <size>, each value is that many",
        "    bytes. Keys that exist are left as they are. A standalone server only; the",
        "    keys go through the log like any write.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type. <type> can be: string,",
        "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
        "    true, false.",
        "RELOAD [option ...]", "    Answered at once: every acknowledged write is already in the fsynced log.",
        "SET-ACTIVE-EXPIRE <0|1>", "    Setting it to 0 disables expiring keys in the background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "SLEEP <seconds>", "    Delay this connection's reply for <seconds> (the node goes on serving others).",
        "HELP", "    Prints this help.",
    ]
}
