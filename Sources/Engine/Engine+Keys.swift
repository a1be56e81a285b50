// Generic key commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, COPY, expiry and TTL.
import Core
import Keyspace
import Wire

extension Engine {
    func runKeyCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try runKeyCommandThrowing(id, arguments, now: now) }
    }

    private func runKeyCommandThrowing(_ id: CommandID, _ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let keys = arguments.dropFirst()
        switch id {
        case .del: return .integer(keys.reduce(0) { $0 + (keyspace.delete($1, now: now) ? 1 : 0) })
        case .unlink:
            return .integer(keys.reduce(0) { count, key in
                guard let entry = keyspace.peek(key, now: now), keyspace.delete(key, now: now) else { return count }
                if freeEffort(entry.value) > Self.lazyfreeEffortThreshold { stats.lazyfreedObjects += 1 }
                return count + 1
            })
        case .exists: return .integer(keys.reduce(0) { $0 + (keyspace.exists($1, now: now) ? 1 : 0) })
        case .touch: return .integer(keys.reduce(0) { $0 + (keyspace.lookup($1, now: now) != nil ? 1 : 0) })
        case .type: return .simple(keyspace.typeName(arguments[1], now: now))
        case .keys: return .array(keyspace.keys(matching: arguments[1], now: now).map(RESPValue.bulk))
        case .scan: return try scan(arguments, now: now)
        case .rename:
            _ = try keyspace.rename(arguments[1], to: arguments[2], onlyIfAbsent: false, now: now)
            return .ok
        case .renamenx:
            return .integer(try keyspace.rename(arguments[1], to: arguments[2], onlyIfAbsent: true, now: now) ? 1 : 0)
        case .randomkey:
            // As SCAN: the expired keys it met are the node's to remove (Redis's RANDOMKEY
            // deletes each one it draws).
            var met = scanMetExpired.database == selectedDatabase ? scanMetExpired.keys : []
            let key = keyspace.randomKey(now: now, using: &random) { key in
                if met.count < ExpiryLimits.keysPerCycleMax, !met.contains(key) { met.append(key) }
            }
            scanMetExpired = (selectedDatabase, met)
            return .bulkOrNull(key)
        case .copy: return try copy(arguments, now: now)
        case .move: return try move(arguments, now: now)
        case .swapdb: return try swapDatabases(arguments, now: now)
        case .expire, .pexpire, .expireat, .pexpireat: return try expire(id, arguments, now: now)
        case .ttl, .pttl:
            let ttl = keyspace.timeToLive(arguments[1], now: now)
            return .integer(ttl < 0 || id == .pttl ? ttl : Arguments.roundedSeconds(milliseconds: ttl))
        case .expiretime, .pexpiretime:
            // Redis rounds EXPIRETIME as it rounds TTL; an expiry may be up to Int64.max ms.
            let time = keyspace.expireTime(arguments[1], now: now)
            return .integer(time < 0 || id == .pexpiretime ? time : Arguments.roundedSeconds(milliseconds: time))
        case .persist: return .integer(keyspace.persist(arguments[1], now: now) ? 1 : 0)
        default: throw CommandError.syntax
        }
    }

    /// EXPIRE key time [NX | XX | GT | LT] and its millisecond / absolute variants.
    private func expire(_ id: CommandID, _ arguments: [Bytes], now: Int64) throws -> RESPValue {
        var nx = false, xx = false, gt = false, lt = false
        for option in arguments.dropFirst(3) {
            if Arguments.isKeyword(option, "nx") { nx = true }
            else if Arguments.isKeyword(option, "xx") { xx = true }
            else if Arguments.isKeyword(option, "gt") { gt = true }
            else if Arguments.isKeyword(option, "lt") { lt = true }
            else { throw CommandError.message("ERR Unsupported option \(Arguments.string(option))") }
        }
        if nx && (xx || gt || lt) { throw CommandError.message("ERR NX and XX, GT or LT options at the same time are not compatible") }
        if gt && lt { throw CommandError.message("ERR GT and LT options at the same time are not compatible") }
        let condition: ExpireCondition = nx ? .ifNoExpiry : xx ? .ifHasExpiry : .always
        let unit: Int64 = (id == .expire || id == .expireat) ? 1000 : 1
        let relative = id == .expire || id == .pexpire
        let time = try Arguments.expiry(arguments[2], unitMilliseconds: unit, relative: relative, now: now,
                                        command: id.rawValue, allowNonPositive: true)
        if xx, gt || lt {
            // XX combined with GT/LT: the key must have an expiry and satisfy the comparison.
            guard keyspace.expireTime(arguments[1], now: now) >= 0 else { return .integer(0) }
        }
        let effective: ExpireCondition = gt ? .ifGreater : lt ? .ifLess : condition
        return .integer(keyspace.setExpiry(arguments[1], at: time, condition: effective, now: now) ? 1 : 0)
    }

    /// COPY source destination [DB destination-db] [REPLACE]
    private func copy(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        var replace = false
        var database: Int? = nil
        var index = 3
        while index < arguments.count {
            if Arguments.isKeyword(arguments[index], "replace") {
                replace = true
            } else if Arguments.isKeyword(arguments[index], "db"), index + 1 < arguments.count {
                database = try databaseIndex(arguments[index + 1], clusterRefusal: "ERR Copying to another database is not allowed in cluster mode")
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        if let database, database != selectedDatabase {
            return .integer(copy(arguments[1], to: arguments[2], database: database, replace: replace, now: now) ? 1 : 0)
        }
        if arguments[1] == arguments[2] { throw CommandError.message("ERR source and destination objects are the same") }
        return .integer(keyspace.copy(arguments[1], to: arguments[2], replace: replace, now: now) ? 1 : 0)
    }

    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The cursor is the next hash
    /// slot to visit; each call visits whole slots (see Keyspace.scan).
    private func scan(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        guard let cursor = ScanOptions.cursor(arguments[1]) else { throw CommandError.message("ERR invalid cursor") }
        let options = try ScanOptions.parse(arguments, from: 2, allowType: true)
        var found: [RESPValue] = []
        // Added to what earlier SCANs met until the node takes them (a node-wide SCAN runs
        // several engine SCANs for one request).
        if scanMetExpired.database != selectedDatabase { scanMetExpired = (selectedDatabase, []) }
        var expired = scanMetExpired.keys
        scanMetExpired.keys = []
        let next = cursor >= UInt64(keyspace.partitionCount) ? 0 : keyspace.scan(cursor: Int(cursor), count: options.count, now: now, expired: { key in
            if expired.count < ExpiryLimits.keysPerCycleMax { expired.append(key) }
        }) { key, entry in
            if let pattern = options.pattern, !Glob.matches(pattern: pattern, key) { return }
            if let type = options.type, entry.value.typeName != type { return }
            found.append(.bulk(key))
        }
        scanMetExpired = (selectedDatabase, expired)
        return .array([.bulk(String(next)), .array(found)])
    }

    /// The keys the last SCAN in `database` met expired (none if it scanned another), and
    /// forgets them.
    public func takeScanMetExpired(database: Int) -> [Bytes] {
        defer { scanMetExpired = (0, []) }
        return peekScanMetExpired(database: database)
    }

    /// The keys the last SCAN or RANDOMKEY in `database` met expired, kept for the node.
    public func peekScanMetExpired(database: Int) -> [Bytes] {
        scanMetExpired.database == database ? scanMetExpired.keys : []
    }
}

/// The MATCH / COUNT / TYPE options shared by SCAN and HSCAN.
public struct ScanOptions {
    var pattern: Bytes? = nil
    var count = 10
    var type: String? = nil
    var noValues = false

    /// Parses a cursor as Redis does (strtoul): digits with an optional sign, a negative
    /// value wraps around; overflow and other text are invalid. An empty cursor is 0 (strtoul
    /// consumes nothing and stops at the end), a lone sign is invalid.
    public static func cursor(_ bytes: Bytes) -> UInt64? {
        if bytes.isEmpty { return 0 }
        var digits = bytes[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            if overflowA || overflowB { return nil }
            value = sum
        }
        return negative ? 0 &- value : value
    }

    /// The options' error reply, or nil when they parse (for a caller that scans by itself).
    public static func validate(_ arguments: [Bytes], from start: Int, allowType: Bool) -> RESPValue? {
        do {
            _ = try parse(arguments, from: start, allowType: allowType)
            return nil
        } catch {
            return error.reply
        }
    }

    static func parse(_ arguments: [Bytes], from start: Int, allowType: Bool) throws(CommandError) -> ScanOptions {
        var options = ScanOptions()
        var index = start
        while index < arguments.count {
            let option = arguments[index]
            let hasValue = index + 1 < arguments.count
            if Arguments.isKeyword(option, "match"), hasValue {
                options.pattern = arguments[index + 1] == [UInt8(ascii: "*")] ? nil : arguments[index + 1]
                index += 2
            } else if Arguments.isKeyword(option, "count"), hasValue {
                let count = try Arguments.integer(arguments[index + 1])
                guard count >= 1 else { throw .syntax }
                options.count = Int(min(count, Int64(Int32.max)))
                index += 2
            } else if allowType, Arguments.isKeyword(option, "type"), hasValue {
                options.type = Arguments.lowercased(arguments[index + 1])
                index += 2
            } else if !allowType, Arguments.isKeyword(option, "novalues") {
                options.noValues = true
                index += 1
            } else {
                throw .syntax
            }
        }
        return options
    }
}

extension Engine {
    /// Redis's LAZYFREE_THRESHOLD: a value that costs more allocations than this to free
    /// is freed in the background by UNLINK (INFO lazyfreed_objects counts them).
    static let lazyfreeEffortThreshold = 64

    /// Redis's lazyfreeGetFreeEffort: the allocations freeing `value` takes in Redis's
    /// encodings (1 for a compact one), Trestle freeing every value at once anyway.
    func freeEffort(_ value: Value) -> Int {
        switch (value, settings.encodingLimits.encodingName(value)) {
        case (.list(let list), "quicklist"): return list.chunkCount
        case (.set(let members), "hashtable"): return members.count
        case (.zset(let sorted), "skiplist"): return sorted.count
        case (.hash(let fields), "hashtable"): return fields.count
        case (.stream(let stream), _):
            // One allocation per listpack node, and per group its PEL (the first group's
            // size standing for all, as Redis estimates).
            return stream.nodes.count + stream.groups.count * (1 + (stream.groups.first?.pending.count ?? 0))
        default: return 1
        }
    }
}
