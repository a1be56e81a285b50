// Set commands: argument parsing and reply shaping over the Keyspace's set functions.
// Replies that Redis sends as sets (SMEMBERS, SINTER, SPOP with a count, ...) are RESP3
// sets; SRANDMEMBER's may repeat members, so it is an array, as in Redis.
import Keyspace
import Wire

extension Engine {
    func runSetCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try runSetCommandThrowing(id, arguments, now: now) }
    }

    private func runSetCommandThrowing(_ id: CommandID, _ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let key = arguments[1]
        switch id {
        case .sadd: return .integer(try keyspace.setAdd(key, Array(arguments.dropFirst(2)), now: now))
        case .srem: return .integer(try keyspace.setRemove(key, Array(arguments.dropFirst(2)), now: now))
        case .smembers: return .set(inRedisOrder(try keyspace.setMembers(key, now: now) ?? []).map(RESPValue.bulk))
        case .sismember: return .integer(try keyspace.setContains(key, [arguments[2]], now: now)[0] ? 1 : 0)
        case .smismember:
            return .array(try keyspace.setContains(key, Array(arguments.dropFirst(2)), now: now).map { .integer($0 ? 1 : 0) })
        case .scard: return .integer(try keyspace.setCardinality(key, now: now))
        case .spop: return try pop(arguments, now: now)
        case .srandmember: return try randomMembers(arguments, now: now)
        case .smove: return .integer(try keyspace.setMove(key, arguments[2], arguments[3], now: now) ? 1 : 0)
        case .sinter, .sunion, .sdiff:
            let keys = Array(arguments.dropFirst())
            return .set(inRedisOrder(try keyspace.setCombination(Self.combination(id), of: keys, now: now)).map(RESPValue.bulk))
        case .sinterstore, .sunionstore, .sdiffstore:
            let keys = Array(arguments.dropFirst(2))
            return .integer(try keyspace.setStore(Self.combination(id), of: keys, into: key, now: now))
        case .sintercard: return try intersectionCount(arguments, now: now)
        case .sscan: return try setScan(arguments, now: now)
        default: throw CommandError.syntax
        }
    }

    /// Members as Redis lists them: a set Redis would hold as an intset (only integers, at
    /// most `set-max-intset-entries`) in ascending numeric order, any other in its stored
    /// order (insertion order while small, as a Redis listpack set).
    func inRedisOrder(_ members: [Bytes]) -> [Bytes] {
        guard members.count > 1, members.count <= settings.encodingLimits.setMaxIntsetEntries else { return members }
        var numbered: [(Int64, Bytes)] = []
        numbered.reserveCapacity(members.count)
        for member in members {
            guard EncodingLimits.isIntsetMember(member), let value = Numbers.parseInteger(member) else { return members }
            numbered.append((value, member))
        }
        return numbered.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func combination(_ id: CommandID) -> SetCombination {
        switch id {
        case .sinter, .sinterstore: return .intersection
        case .sunion, .sunionstore: return .union
        default: return .difference
        }
    }

    /// SPOP key [count]. The count is read first; without one the reply is a member or
    /// nil, with one a set (empty for an absent key or count 0).
    private func pop(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        guard arguments.count <= 3 else { throw CommandError.syntax }
        guard arguments.count == 3 else {
            return .bulkOrNull(try keyspace.setPop(arguments[1], count: 1, now: now)?.first)
        }
        let count = try Self.positiveCount(arguments[2], message: "ERR value is out of range, must be positive")
        return .set((try keyspace.setPop(arguments[1], count: count, now: now) ?? []).map(RESPValue.bulk))
    }

    /// SRANDMEMBER key [count], with the engine's generator (a read changes nothing, so
    /// replicas need not agree on it). The count must lie in -Int64.max...Int64.max.
    private func randomMembers(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        guard arguments.count <= 3 else { throw CommandError.syntax }
        guard arguments.count == 3 else {
            return .bulkOrNull(try keyspace.setRandomMembers(arguments[1], count: 1, now: now, using: &random).first)
        }
        let requested = try Arguments.integer(arguments[2])
        guard requested >= -Int64.max, let count = Int(exactly: requested) else {
            throw CommandError.valueOutOfRangeBetween(minimum: -Int64.max, maximum: Int64.max)
        }
        return .array(try keyspace.setRandomMembers(arguments[1], count: count, now: now, using: &random).map(RESPValue.bulk))
    }

    /// SINTERCARD numkeys key [key ...] [LIMIT limit].
    private func intersectionCount(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let keyCount = try Self.keyCount(arguments[1])
        guard keyCount <= arguments.count - 2 else {
            throw CommandError.message("ERR Number of keys can't be greater than number of args")
        }
        var limit = 0
        var index = 2 + keyCount
        while index < arguments.count {
            guard Arguments.isKeyword(arguments[index], "limit"), index + 1 < arguments.count else { throw CommandError.syntax }
            limit = try Self.positiveCount(arguments[index + 1], message: "ERR LIMIT can't be negative")
            index += 2
        }
        let keys = Array(arguments[2..<(2 + keyCount)])
        return .integer(try keyspace.setIntersectionCount(keys, limit: limit, now: now))
    }

    /// SSCAN key cursor [MATCH pattern] [COUNT count]. As HSCAN: every member in one reply
    /// with cursor 0; the cursor is read first, then the key, then the options.
    private func setScan(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        guard ScanOptions.cursor(arguments[2]) != nil else { throw CommandError.message("ERR invalid cursor") }
        guard let members = try keyspace.setMembers(arguments[1], now: now) else { return .array([.bulk("0"), .array([])]) }
        let options = try ScanOptions.parse(arguments, from: 3, allowType: false)
        if options.noValues { throw CommandError.syntax }
        var items: [RESPValue] = []
        for member in inRedisOrder(members) {
            if let pattern = options.pattern, !Glob.matches(pattern: pattern, member) { continue }
            items.append(.bulk(member))
        }
        return .array([.bulk("0"), .array(items)])
    }
}
