// Sorted-set commands over several keys (ZUNION, ZINTER, ZDIFF, their STORE forms and
// ZINTERCARD: Redis's zunionInterDiffGenericCommand), ZMPOP, and ZRANDMEMBER. Redis's
// order of checks is kept: the key count, every source's type, then the options.
// Results come out in ascending (score, member) order, as Redis replies them.
import Keyspace
import Wire

extension Engine {
    func runSortedSetAlgebraCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        switch id {
        case .zunion: return try combination(arguments, .union, countIndex: 1, session, now: now)
        case .zinter: return try combination(arguments, .intersection, countIndex: 1, session, now: now)
        case .zdiff: return try combination(arguments, .difference, countIndex: 1, session, now: now)
        case .zunionstore: return try combination(arguments, .union, countIndex: 2, session, now: now)
        case .zinterstore: return try combination(arguments, .intersection, countIndex: 2, session, now: now)
        case .zdiffstore: return try combination(arguments, .difference, countIndex: 2, session, now: now)
        case .zintercard: return try combination(arguments, .intersection, countIndex: 1, cardinalityOnly: true, session, now: now)
        case .zmpop: return try sortedSetMultiPop(arguments, now: now)
        case .zrandmember: return try sortedSetRandomMembers(arguments, session, now: now)
        default: throw CommandError.syntax
        }
    }

    /// Z(UNION|INTER|DIFF)[STORE] [destination] numkeys key [key ...] [WEIGHTS w ...]
    /// [AGGREGATE SUM|MIN|MAX] [WITHSCORES], and ZINTERCARD numkeys key [key ...] [LIMIT n].
    /// A destination precedes the count when `countIndex` is 2.
    private func combination(_ arguments: [Bytes], _ combination: SortedSetCombination, countIndex: Int,
                             cardinalityOnly: Bool = false, _ session: Session, now: Int64) throws -> RESPValue {
        let store = countIndex == 2
        let requested = try Arguments.integer(arguments[countIndex])
        guard requested >= 1 else {
            throw CommandError.message("ERR at least 1 input key is needed for '\(Arguments.lowercased(arguments[0]))' command")
        }
        guard requested <= Int64(arguments.count - countIndex - 1) else { throw CommandError.syntax }
        let keyCount = Int(requested)
        let firstKey = countIndex + 1
        let sources = try keyspace.sortedSetSources(Array(arguments[firstKey..<(firstKey + keyCount)]), now: now)
        var weights = Array(repeating: 1.0, count: keyCount)
        var aggregate = ScoreAggregate.sum
        var withScores = false
        var limit = 0
        var index = firstKey + keyCount
        while index < arguments.count {
            let option = arguments[index]
            let remaining = arguments.count - index
            let weighable = combination != .difference && !cardinalityOnly
            if weighable, remaining >= keyCount + 1, Arguments.isKeyword(option, "weights") {
                for source in 0..<keyCount {
                    guard let weight = Numbers.parseDouble(arguments[index + 1 + source]) else {
                        throw CommandError.message("ERR weight value is not a float")
                    }
                    weights[source] = weight
                }
                index += keyCount + 1
            } else if weighable, remaining >= 2, Arguments.isKeyword(option, "aggregate") {
                let name = arguments[index + 1]
                if Arguments.isKeyword(name, "sum") { aggregate = .sum }
                else if Arguments.isKeyword(name, "min") { aggregate = .min }
                else if Arguments.isKeyword(name, "max") { aggregate = .max }
                else { throw CommandError.syntax }
                index += 2
            } else if !store, !cardinalityOnly, Arguments.isKeyword(option, "withscores") {
                withScores = true
                index += 1
            } else if cardinalityOnly, remaining >= 2, Arguments.isKeyword(option, "limit") {
                limit = try Self.positiveCount(arguments[index + 1], message: "ERR LIMIT can't be negative")
                index += 2
            } else {
                throw CommandError.syntax
            }
        }
        let result = Keyspace.combine(sources, weights: weights, combination, aggregate: aggregate, limit: limit)
        if cardinalityOnly { return .integer(result.count) }
        if store { return .integer(keyspace.sortedSetStore(result.all, into: arguments[1], now: now)) }
        return Self.scoredReply(result.all, withScores: withScores, nested: session.protocolVersion == .resp3)
    }

    /// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: pops from the first key that
    /// holds a sorted set (every key before it is type-checked); the reply is
    /// [key, [[member, score], ...]] in both protocols, or a null array.
    private func sortedSetMultiPop(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let keyCount = try Self.keyCount(arguments[1])
        guard keyCount < arguments.count - 2 else { throw CommandError.syntax }
        let keys = Array(arguments[2..<(2 + keyCount)])
        let direction = arguments[2 + keyCount]
        let highest: Bool
        if Arguments.isKeyword(direction, "min") { highest = false }
        else if Arguments.isKeyword(direction, "max") { highest = true }
        else { throw CommandError.syntax }
        var count: Int? = nil
        var index = 3 + keyCount
        while index < arguments.count {
            guard count == nil, Arguments.isKeyword(arguments[index], "count"), index + 1 < arguments.count else {
                throw CommandError.syntax
            }
            guard let value = Numbers.parseInteger(arguments[index + 1]), value >= 1, let exact = Int(exactly: value) else {
                throw CommandError.message("ERR count should be greater than 0")
            }
            count = exact
            index += 2
        }
        for key in keys {
            guard let popped = try keyspace.sortedSetPop(key, count: count ?? 1, highest: highest, now: now) else { continue }
            return .array([.bulk(key), Self.scoredReply(popped, withScores: true, nested: true)])
        }
        return .nullArray
    }

    /// ZRANDMEMBER key [count [WITHSCORES]], with the engine's generator (a read changes
    /// nothing, so replicas need not agree on it). The count is read before the key.
    private func sortedSetRandomMembers(_ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        guard arguments.count >= 3 else {
            return .bulkOrNull(try keyspace.sortedSetRandomMembers(arguments[1], count: 1, now: now, using: &random).first?.member)
        }
        let requested = try Arguments.integer(arguments[2])
        guard requested >= -Int64.max, let count = Int(exactly: requested) else {
            throw CommandError.valueOutOfRangeBetween(minimum: -Int64.max, maximum: Int64.max)
        }
        guard arguments.count <= 4, arguments.count == 3 || Arguments.isKeyword(arguments[3], "withscores") else {
            throw CommandError.syntax
        }
        let withScores = arguments.count == 4
        if withScores, requested < -Int64.max / 2 || requested > Int64.max / 2 { throw CommandError.valueOutOfRange }
        let picked = try keyspace.sortedSetRandomMembers(arguments[1], count: count, now: now, using: &random)
        return Self.scoredReply(picked, withScores: withScores, nested: session.protocolVersion == .resp3)
    }
}
