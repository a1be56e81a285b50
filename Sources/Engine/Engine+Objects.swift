// DUMP, RESTORE, OBJECT and MEMORY USAGE.
//
// DUMP payloads are Redis's (Keyspace/DumpPayload.swift): RESTORE takes a payload DUMP
// made on a Redis server and the other way round.
//
// OBJECT ENCODING names the encoding Redis 7.2 would use for a value of this shape under
// the configured limits (EncodingLimits); Trestle stores every value one way, so the name
// is what a client tuning for Redis expects, not a description of Trestle's memory.
import Core
import Keyspace
import Wire

extension Engine {
    func runObjectCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try runObjectCommandThrowing(id, arguments, now: now) }
    }

    private func runObjectCommandThrowing(_ id: CommandID, _ arguments: [Bytes], now: Int64) throws -> RESPValue {
        switch id {
        case .dump:
            guard let entry = keyspace.peek(arguments[1], now: now) else { return .null }
            return .bulk(Self.dumpPayload(entry.value))
        case .restore: return try restore(arguments, now: now)
        case .object: return try object(arguments, now: now)
        default: return try memory(arguments, now: now)
        }
    }

    static func dumpPayload(_ value: Value) -> Bytes { DumpPayload.encode(value) }

    static func restoredValue(_ payload: Bytes) throws(CommandError) -> Value {
        do {
            return try DumpPayload.decode(payload)
        } catch .versionOrChecksum {
            throw CommandError.message("ERR DUMP payload version or checksum are wrong")
        } catch {
            throw CommandError.message("ERR Bad data format")
        }
    }

    /// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
    private func restore(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        var replace = false, absolute = false
        var idle: Int64? = nil, frequency: Int64? = nil
        var index = 4
        while index < arguments.count {
            if Arguments.isKeyword(arguments[index], "replace") {
                replace = true
            } else if Arguments.isKeyword(arguments[index], "absttl") {
                absolute = true
            } else if Arguments.isKeyword(arguments[index], "idletime"), index + 1 < arguments.count {
                let seconds = try Arguments.integer(arguments[index + 1])
                guard seconds >= 0 else { throw CommandError.message("ERR Invalid IDLETIME value, must be >= 0") }
                idle = seconds
                index += 1
            } else if Arguments.isKeyword(arguments[index], "freq"), index + 1 < arguments.count {
                let counter = try Arguments.integer(arguments[index + 1])
                guard (0...255).contains(counter) else { throw CommandError.message("ERR Invalid FREQ value, must be >= 0 and <= 255") }
                frequency = counter
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        let ttl = try Arguments.integer(arguments[2])
        guard ttl >= 0 else { throw CommandError.message("ERR Invalid TTL value, must be >= 0") }
        if !replace, keyspace.exists(arguments[1], now: now) { throw CommandError.message("BUSYKEY Target key name already exists.") }
        let value = try Self.restoredValue(arguments[3])
        var expireAt: Int64? = nil
        if ttl > 0 {
            let (sum, overflow) = now.addingReportingOverflow(ttl)
            expireAt = absolute ? ttl : (overflow ? Int64.max : sum)
        }
        if let expireAt, expireAt <= now {
            // Already expired: as Redis, the key is not created (a replaced one is deleted).
            _ = keyspace.delete(arguments[1], now: now)
            return .ok
        }
        _ = keyspace.delete(arguments[1], now: now)
        var entry = Entry(value: value, expireAt: expireAt)
        // As Redis: IDLETIME counts under an LRU policy, FREQ under an LFU one.
        if keyspace.accessSettings.lfu, let frequency {
            entry.access = .frequency(frequency, now: now)
        } else if !keyspace.accessSettings.lfu, let idle {
            entry.access = .idle(seconds: idle, now: now)
        }
        keyspace.store(arguments[1], entry)
        return .ok
    }

    private func object(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let subcommand = Arguments.lowercased(arguments[1])
        if subcommand == "help" {
            return .array(["OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
                           "    associated with a <key>.", "FREQ <key>", "    Return the access frequency index of the <key>. The returned",
                           "    integer is proportional to the logarithm of the recent access frequency of the key.",
                           "IDLETIME <key>", "    Return the idle time of the <key>, that is the approximated number of",
                           "    seconds elapsed since the last access to the key.", "REFCOUNT <key>",
                           "    Return the number of references of the value associated with the specified", "    <key>.",
                           "HELP", "    Print this help."].map { RESPValue.simple($0) })
        }
        guard ["encoding", "freq", "idletime", "refcount"].contains(subcommand) else {
            throw CommandError.unknownSubcommand(command: "object", subcommand: Arguments.string(arguments[1]))
        }
        guard arguments.count == 3 else { throw CommandError.wrongArity(command: "object|\(subcommand)") }
        guard let entry = keyspace.peek(arguments[2], now: now) else { return .null }
        switch subcommand {
        case "encoding": return .bulk(settings.encodingLimits.encodingName(entry))
        case "refcount": return .integer(sharesInteger(entry.value) ? Self.sharedObjectRefcount : 1)
        // The access field (AccessClock.swift) holds one of the two, as the policy says.
        case "idletime" where !keyspace.accessSettings.lfu: return .integer(entry.access.idleSeconds(now: now))
        case "idletime":
            throw CommandError.message("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        case _ where keyspace.accessSettings.lfu: return .integer(Int64(entry.access.frequency(now: now, keyspace.accessSettings)))
        default:
            throw CommandError.message("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        }
    }

    /// Redis's OBJ_SHARED_REFCOUNT: what OBJECT REFCOUNT answers for a shared object.
    static let sharedObjectRefcount: Int64 = 2_147_483_647

    /// Whether Redis would store `value` as one of its shared integers (a string holding an
    /// integer 0...9999 in canonical form), which it does not under a maxmemory LRU or LFU
    /// policy (each key then needs its own access clock).
    private func sharesInteger(_ value: Value) -> Bool {
        guard case .string(let bytes) = value, !bytes.isEmpty, bytes.count <= 4,
              bytes.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              bytes.count == 1 || bytes[0] != UInt8(ascii: "0") else { return false }
        let policy = settings.maxMemoryPolicy
        return settings.maxMemoryBytes == 0 || !(policy.hasSuffix("lru") || policy.hasSuffix("lfu"))
    }

    /// DEBUG OBJECT's line for `key` in `database`, in Redis's format (nil: no such key).
    /// Trestle keeps no per-object address or reference count: those fields are fixed;
    /// `lru_seconds_idle` is the key's idle time (AccessClock.swift), the encoding is OBJECT
    /// ENCODING's and the serialized length that of a DUMP payload.
    public func debugObjectText(_ key: Bytes, database: Int, now: Int64) -> String? {
        inDatabase(database) {
            // As Redis: a key past its expiry that is still stored is found (no expiry check).
            guard let entry = keyspace.peek(key, now: .min) else { return nil }
            let encoding = settings.encodingLimits.encodingName(entry)
            let idle = keyspace.accessSettings.lfu ? 0 : entry.access.idleSeconds(now: now)
            var text = "Value at:0x7f0000000000 refcount:1 encoding:\(encoding) serializedlength:\(Self.dumpPayload(entry.value).count)"
                + " lru:\(((now / 1000) - idle) & ((1 << 24) - 1)) lru_seconds_idle:\(idle)"
            if case .list(let elements) = entry.value, encoding == "quicklist" {
                let bytes = elements.reduce(EncodingLimits.listpackHeaderBytes) { $0 + EncodingLimits.listpackEntryBytes($1) }
                let nodes = max(1, elements.chunkCount)
                let hundredths = (elements.count * 100 + nodes / 2) / nodes
                let fraction = hundredths % 100 < 10 ? "0\(hundredths % 100)" : "\(hundredths % 100)"
                text += " ql_nodes:\(nodes) ql_avg_node:\(hundredths / 100).\(fraction)"
                    + " ql_listpack_max:\(settings.encodingLimits.listMaxListpackSize) ql_compressed:0 ql_uncompressed_size:\(bytes)"
            }
            return text
        }
    }

    /// DEBUG HTSTATS-KEY key [full]: the figures of the key's hash table, in Redis's form,
    /// for a set, hash or sorted set stored as one (OBJECT ENCODING hashtable or skiplist).
    /// Trestle's tables are never mid-rehash; the size given is the power of two Redis's
    /// table would have for the element count (Trestle's own tables grow differently).
    public func debugHashTableStats(_ key: Bytes, database: Int) -> Result<String, CommandError> {
        inDatabase(database) {
            guard let entry = keyspace.peek(key, now: .min) else { return .failure(.message("ERR no such key")) }
            let encoding = settings.encodingLimits.encodingName(entry)
            let count: Int
            switch entry.value {
            case .set(let members) where encoding == "hashtable": count = members.count
            case .hash(let fields) where encoding == "hashtable": count = fields.count
            case .zset(let sortedSet) where encoding == "skiplist": count = sortedSet.count
            default:
                return .failure(.message("ERR The value stored at the specified key is not represented using an hash table"))
            }
            var size = Self.hashTableSizeMin
            while size < count, size <= Int.max / 2 { size *= 2 }
            return .success("[Dictionary HT]\nHash table 0 stats (main hash table):\n table size: \(size)\n number of elements: \(count)\n")
        }
    }

    /// The smallest table Redis's dict allocates.
    static let hashTableSizeMin = 4

    /// Longest DEBUG SLEEP honoured (a longer one sleeps this long).
    public static let debugSleepMillisecondsMax: Int64 = 3_600_000

    /// DEBUG SLEEP's seconds as milliseconds within [0, debugSleepMillisecondsMax]: text
    /// that is no number, negative or NaN sleeps 0, `inf` the most.
    public static func debugSleepMilliseconds(_ seconds: String) -> Int64 {
        guard let value = Double(seconds), !value.isNaN, value > 0 else { return 0 }
        return value * 1000 >= Double(debugSleepMillisecondsMax) ? debugSleepMillisecondsMax : Int64(value * 1000)
    }

    /// The milliseconds `command` sleeps when it is DEBUG SLEEP, nil otherwise.
    public static func debugSleepMilliseconds(of command: [Bytes]) -> Int64? {
        guard command.count == 3, CommandTable.lookup(command[0])?.id == .debug, Arguments.isKeyword(command[1], "sleep") else { return nil }
        return debugSleepMilliseconds(Arguments.string(command[2]))
    }

    /// DEBUG inside a transaction (the node answers it outside one): SLEEP answers OK
    /// without delaying the shard's log, OBJECT as outside; the rest are refused.
    func debugInTransaction(_ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        switch (Arguments.lowercased(arguments[1]), arguments.count) {
        case ("sleep", 3):
            sleptMilliseconds = min(Self.debugSleepMillisecondsMax, sleptMilliseconds + Self.debugSleepMilliseconds(Arguments.string(arguments[2])))
            return .ok
        case ("object", 3):
            guard let text = debugObjectText(arguments[2], database: session.database, now: now) else { throw .message("ERR no such key") }
            return .simple(text)
        default:
            throw .message("ERR DEBUG \(Arguments.string(arguments[1]).uppercased()) is not allowed inside a transaction on this server")
        }
    }

    /// MEMORY USAGE key [SAMPLES count]: the bytes of the key and its value plus a fixed
    /// overhead per element (an estimate; Trestle does not count its allocations per key).
    private func memory(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let subcommand = Arguments.lowercased(arguments[1])
        switch subcommand {
        case "usage":
            guard arguments.count == 3 || (arguments.count == 5 && Arguments.isKeyword(arguments[3], "samples")) else {
                throw CommandError.syntax
            }
            let samples = arguments.count == 5 ? try Arguments.integer(arguments[4]) : 5
            guard let entry = keyspace.peek(arguments[2], now: now) else { return .null }
            return .integer(Self.estimatedBytes(key: arguments[2], entry.value, samples: Int(clamping: max(0, samples))))
        case "help":
            return .array(["MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "DOCTOR",
                           "    Return memory problems reports.", "MALLOC-STATS", "    Return internal statistics report from the memory allocator.",
                           "PURGE", "    Attempt to purge dirty pages for reclamation by the allocator.", "STATS",
                           "    Return information about the memory usage of the server.", "USAGE <key> [SAMPLES <count>]",
                           "    Return memory in bytes used by <key> and its value. Nested values are", "    sampled up to <count> times (default: 5, 0 means sample all).",
                           "HELP", "    Prints this help."].map { RESPValue.simple($0) })
        case "stats", "doctor", "purge", "malloc-stats":
            throw CommandError.wrongArity(command: "memory|\(subcommand)")  // the node answers the right arity
        default:
            throw CommandError.unknownSubcommand(command: "memory", subcommand: Arguments.string(arguments[1]))
        }
    }

    /// MEMORY USAGE's estimate of a key: its bytes, its value's and fixed overheads; a
    /// collection's elements from `samples` of them scaled to the whole (0: every element),
    /// as Redis samples 5 by default.
    public static func estimatedBytes(key: Bytes, _ value: Value, samples: Int = 5) -> Int {
        let entryOverhead = 56, elementOverhead = 16
        func scaled(_ count: Int, _ sizes: some Sequence<Int>) -> Int {
            var total = 0, taken = 0
            for size in sizes {
                if samples > 0, taken == samples { break }
                total += size
                taken += 1
            }
            guard taken > 0, taken < count else { return total }
            return (total / taken).multipliedReportingOverflow(by: count).partialValue
        }
        var bytes = entryOverhead + key.count
        switch value {
        case .string(let string): bytes += string.count
        case .list(let elements): bytes += elements.packedBytes + elements.chunkCount * 48
        case .set(let members): bytes += scaled(members.count, members.lazy.map { $0.bytes.count + elementOverhead })
        case .hash(let fields): bytes += scaled(fields.count, fields.lazy.map { $0.key.count + $0.value.count + 2 * elementOverhead })
        case .zset(let sortedSet): bytes += scaled(sortedSet.count, sortedSet.unorderedMembers.lazy.map { $0.count + 8 + 3 * elementOverhead })
        case .stream(let stream):
            bytes += scaled(stream.entries.count, stream.entries.lazy.map { 16 + $0.fields.reduce(0) { $0 + $1.count + 8 } })
        }
        return bytes
    }
}
