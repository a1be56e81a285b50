// Hash commands over the Keyspace's typed hash functions.
import Keyspace
import Wire

extension Engine {
    func runHashCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try runHashCommandThrowing(id, arguments, session, now: now) }
    }

    private func runHashCommandThrowing(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        let key = arguments[1]
        switch id {
        case .hset, .hmset:
            guard arguments.count % 2 == 0 else { throw CommandError.wrongArity(command: id.rawValue) }
            let pairs = stride(from: 2, to: arguments.count, by: 2).map { (arguments[$0], arguments[$0 + 1]) }
            let added = try keyspace.hashSet(key, pairs, now: now)
            return id == .hset ? .integer(added) : .ok
        case .hsetnx: return .integer(try keyspace.hashSetIfAbsent(key, arguments[2], arguments[3], now: now) ? 1 : 0)
        case .hget: return .bulkOrNull(try keyspace.hashGet(key, arguments[2], now: now))
        case .hmget:
            let fields = try keyspace.hash(key, now: now)
            return .array(arguments.dropFirst(2).map { .bulkOrNull(fields?[$0]) })
        case .hdel: return .integer(try keyspace.hashDelete(key, Array(arguments.dropFirst(2)), now: now))
        case .hgetdel:
            // Redis 8.0: HGETDEL key FIELDS numfields field...: the values (nil for a field
            // that is not there), then the fields go, and the hash with the last of them.
            let fields = try Self.fieldsArgument(arguments, from: 2)
            return .array(try keyspace.hashGetDelete(key, fields, now: now).map(RESPValue.bulkOrNull))
        case .hsetex: return try hashSetWithExpiry(arguments, now: now)
        case .hgetex: return try hashGetWithExpiry(arguments, now: now)
        case .hlen: return .integer(try keyspace.hash(key, now: now)?.count ?? 0)
        case .hexists: return .integer(try keyspace.hashGet(key, arguments[2], now: now) != nil ? 1 : 0)
        case .hkeys: return .array((try keyspace.hash(key, now: now) ?? [:]).keys.map(RESPValue.bulk))
        case .hvals: return .array((try keyspace.hash(key, now: now) ?? [:]).values.map(RESPValue.bulk))
        case .hgetall:
            let fields = try keyspace.hash(key, now: now) ?? [:]
            return .map(fields.map { RESPPair(.bulk($0.key), .bulk($0.value)) })
        case .hincrby:
            return .integer(try keyspace.hashIncrement(key, arguments[2], by: try Arguments.integer(arguments[3]), now: now))
        case .hincrbyfloat:
            // Redis's string2ld accepts "inf"; HINCRBYFLOAT refuses it before the key's type.
            let delta = try Arguments.longDouble(arguments[3])
            guard delta.isFinite else { throw CommandError.notFiniteArgument }
            return .bulk(try keyspace.hashIncrementFloat(key, arguments[2], by: delta, now: now))
        case .hstrlen: return .integer(try keyspace.hashGet(key, arguments[2], now: now)?.count ?? 0)
        case .hscan: return try hashScan(arguments, now: now)
        case .hrandfield: return try hashRandomField(arguments, session, now: now)
        case .hexpire, .hpexpire, .hexpireat, .hpexpireat: return try hashExpire(id, arguments, now: now)
        case .httl, .hpttl, .hexpiretime, .hpexpiretime:
            let fields = try Self.fieldsArgument(arguments, from: 2)
            return .array(try keyspace.hashFieldExpiries(key, fields, now: now).map { expiry -> RESPValue in
                guard let expiry else { return .integer(-2) }
                guard let time = expiry else { return .integer(-1) }
                switch id {
                case .httl: return .integer(Arguments.roundedSeconds(milliseconds: max(0, time - now)))
                case .hpttl: return .integer(max(0, time - now))
                case .hexpiretime: return .integer(Arguments.roundedSeconds(milliseconds: time))
                default: return .integer(time)
                }
            })
        case .hpersist:
            return .array(try keyspace.hashPersistFields(key, try Self.fieldsArgument(arguments, from: 2), now: now).map { .integer($0) })
        default: throw CommandError.syntax
        }
    }

    /// HEXPIRE|HPEXPIRE|HEXPIREAT|HPEXPIREAT key time [NX|XX|GT|LT] FIELDS numfields field...
    /// Checked in Redis 8.0's order: the key's type, the time (at most 2^46 - 1 ms, as
    /// HSETEX), the condition, then the fields.
    private func hashExpire(_ id: CommandID, _ arguments: [Bytes], now: Int64) throws -> RESPValue {
        _ = try keyspace.hash(arguments[1], now: now)  // WRONGTYPE first
        let time = try Self.fieldExpiryTime(FieldTimeOption(id), arguments[2], command: id.rawValue, now: now)
        var condition = FieldExpiryCondition.always
        switch Arguments.lowercased(arguments[3]) {
        case "nx": condition = .onlyWithout
        case "xx": condition = .onlyWith
        case "gt": condition = .greater
        case "lt": condition = .less
        default: break
        }
        let fieldsAt = condition == .always ? 3 : 4
        let fields = try Self.fieldsArgument(arguments, from: fieldsAt,
                                             countError: "ERR Parameter `numFields` should be greater than 0")
        let results = try keyspace.hashExpireFields(arguments[1], fields, at: time, condition: condition, now: now)
        // A time already past deletes the fields (2): Redis publishes `hdel` then, not `hexpire`.
        hashExpireDeletedFields = results.contains(2)
        return .array(results.map { .integer($0) })
    }

    /// `FIELDS numfields field...` from `index`, with Redis 7.4's errors.
    static func fieldsArgument(_ arguments: [Bytes], from index: Int,
                               countError: String = "ERR Number of fields must be a positive integer") throws -> [Bytes] {
        guard index + 1 < arguments.count, Arguments.isKeyword(arguments[index], "fields") else {
            throw CommandError.message("ERR Mandatory argument FIELDS is missing or not at the right position")
        }
        guard let count = Numbers.parseInteger(arguments[index + 1]), count > 0 else { throw CommandError.message(countError) }
        guard count == arguments.count - index - 2 else {
            throw CommandError.message("ERR The `numfields` parameter must match the number of arguments")
        }
        return Array(arguments[(index + 2)...])
    }

    /// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]. Every field is returned
    /// in one reply with cursor 0 whatever the cursor, as Redis does for small hashes. As
    /// Redis, the cursor is read first (strtoul: "-1" is valid), then the key (absent:
    /// an empty scan; another type: WRONGTYPE), then the options.
    private func hashScan(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        guard ScanOptions.cursor(arguments[2]) != nil else { throw CommandError.message("ERR invalid cursor") }
        guard let fields = try keyspace.hash(arguments[1], now: now) else { return .array([.bulk("0"), .array([])]) }
        let options = try ScanOptions.parse(arguments, from: 3, allowType: false)
        var items: [RESPValue] = []
        for (field, value) in fields {
            if let pattern = options.pattern, !Glob.matches(pattern: pattern, field) { continue }
            items.append(.bulk(field))
            if !options.noValues { items.append(.bulk(value)) }
        }
        return .array([.bulk("0"), .array(items)])
    }

    /// HRANDFIELD key [count [WITHVALUES]], checked in Redis's order: the count is an
    /// integer in -Int64.max...Int64.max (so its negation cannot overflow), then the syntax,
    /// then with WITHVALUES |count| <= Int64.max / 2 (the reply holds twice as many items).
    private func hashRandomField(_ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        var count: Int? = nil
        if arguments.count >= 3 {
            let requested = try Arguments.integer(arguments[2])
            guard requested >= -Int64.max else {
                throw CommandError.valueOutOfRangeBetween(minimum: -Int64.max, maximum: Int64.max)
            }
            guard arguments.count <= 4, arguments.count == 3 || Arguments.isKeyword(arguments[3], "withvalues") else {
                throw CommandError.syntax
            }
            if arguments.count == 4, requested < -Int64.max / 2 || requested > Int64.max / 2 {
                throw CommandError.valueOutOfRange
            }
            guard let exact = Int(exactly: requested) else { throw CommandError.valueOutOfRange }
            count = exact
        }
        let withValues = arguments.count == 4
        let picked = try keyspace.hashRandomFields(arguments[1], count: count, now: now, using: &random)
        guard count != nil else { return picked.first.map { .bulk($0.0) } ?? .null }
        if withValues, session.protocolVersion == .resp3 {
            return .array(picked.map { .array([.bulk($0.0), .bulk($0.1)]) })
        }
        return .array(picked.flatMap { withValues ? [RESPValue.bulk($0.0), .bulk($0.1)] : [.bulk($0.0)] })
    }
}
