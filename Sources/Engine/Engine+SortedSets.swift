// Sorted-set commands: argument parsing and reply shaping over the Keyspace's sorted-set
// functions. Arguments are checked in Redis's order (options and ranges before the key),
// so every error reply matches redis-server's. Scores go out as RESP doubles: RESP3
// doubles, bulk strings in RESP2, both printed by RESPEncoder.formatDouble. With scores,
// RESP3 replies pair each member with its score ([[member, score], ...]) where Redis 7
// does (ZRANGE WITHSCORES, ZPOPMIN with a count, ...); RESP2 replies are flat.
import Keyspace
import Wire

extension Engine {
    func runSortedSetCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try runSortedSetCommandThrowing(id, arguments, session, now: now) }
    }

    private func runSortedSetCommandThrowing(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        let key = arguments[1]
        switch id {
        case .zadd: return try add(arguments, now: now)
        case .zincrby:
            let increment = try Self.score(arguments[2])
            var options = ZAddOptions()
            options.increment = true
            let result = try keyspace.sortedSetAdd(key, [ScoredMember(member: arguments[3], score: increment)], options: options, now: now)
            return result.score.map(RESPValue.double) ?? .null
        case .zrem: return .integer(try keyspace.sortedSetRemove(key, Array(arguments.dropFirst(2)), now: now))
        case .zcard: return .integer(try keyspace.sortedSetCardinality(key, now: now))
        case .zscore: return try keyspace.sortedSetScores(key, [arguments[2]], now: now)[0].map(RESPValue.double) ?? .null
        case .zmscore:
            return .array(try keyspace.sortedSetScores(key, Array(arguments.dropFirst(2)), now: now).map { $0.map(RESPValue.double) ?? .null })
        case .zrank, .zrevrank: return try rank(arguments, reverse: id == .zrevrank, now: now)
        case .zcount:
            let (minimum, maximum) = try Self.scoreRange(arguments[2], arguments[3])
            return .integer(try keyspace.sortedSetCount(key, from: minimum, to: maximum, now: now))
        case .zlexcount:
            let (minimum, maximum) = try Self.lexRange(arguments[2], arguments[3])
            return .integer(try keyspace.sortedSetLexCount(key, from: minimum, to: maximum, now: now))
        case .zrange: return try range(arguments, keyIndex: 1, kind: nil, reverse: nil, session, now: now)
        case .zrangestore: return try range(arguments, keyIndex: 2, kind: nil, reverse: nil, session, now: now)
        case .zrevrange: return try range(arguments, keyIndex: 1, kind: .rank, reverse: true, session, now: now)
        case .zrangebyscore: return try range(arguments, keyIndex: 1, kind: .score, reverse: false, session, now: now)
        case .zrevrangebyscore: return try range(arguments, keyIndex: 1, kind: .score, reverse: true, session, now: now)
        case .zrangebylex: return try range(arguments, keyIndex: 1, kind: .lex, reverse: false, session, now: now)
        case .zrevrangebylex: return try range(arguments, keyIndex: 1, kind: .lex, reverse: true, session, now: now)
        case .zremrangebyrank:
            let selection = ZRangeSelection.rank(start: try Arguments.integer(arguments[2]), end: try Arguments.integer(arguments[3]))
            return .integer(try keyspace.sortedSetRemoveRange(key, selection, now: now))
        case .zremrangebyscore:
            let (minimum, maximum) = try Self.scoreRange(arguments[2], arguments[3])
            return .integer(try keyspace.sortedSetRemoveRange(key, .score(minimum, maximum, offset: 0, limit: -1), now: now))
        case .zremrangebylex:
            let (minimum, maximum) = try Self.lexRange(arguments[2], arguments[3])
            return .integer(try keyspace.sortedSetRemoveRange(key, .lex(minimum, maximum, offset: 0, limit: -1), now: now))
        case .zpopmin, .zpopmax: return try popMinMax(arguments, highest: id == .zpopmax, session, now: now)
        case .zscan: return try sortedSetScan(arguments, now: now)
        default: return try runSortedSetAlgebraCommand(id, arguments, session, now: now)
        }
    }

    // MARK: - Parsing

    /// A score argument (ZADD, ZINCRBY, WEIGHTS): Redis's string2d, "inf" allowed, NaN not.
    static func score(_ argument: Bytes) throws(CommandError) -> Double {
        guard let value = Numbers.parseDouble(argument) else { throw .notFloat }
        return value
    }

    /// A ZRANGEBYSCORE-style pair of bounds ("(" makes a bound exclusive).
    static func scoreRange(_ minimum: Bytes, _ maximum: Bytes) throws(CommandError) -> (ScoreBound, ScoreBound) {
        guard let low = scoreBound(minimum), let high = scoreBound(maximum) else {
            throw .message("ERR min or max is not a float")
        }
        return (low, high)
    }

    private static func scoreBound(_ argument: Bytes) -> ScoreBound? {
        if argument.first == UInt8(ascii: "(") {
            return Numbers.parseScoreBound(Array(argument.dropFirst())).map { ScoreBound(value: $0, exclusive: true) }
        }
        return Numbers.parseScoreBound(argument).map { ScoreBound(value: $0, exclusive: false) }
    }

    /// A ZRANGEBYLEX-style pair of bounds: "-", "+", "[member" or "(member".
    static func lexRange(_ minimum: Bytes, _ maximum: Bytes) throws(CommandError) -> (LexBound, LexBound) {
        guard let low = lexBound(minimum), let high = lexBound(maximum) else {
            throw .message("ERR min or max not valid string range item")
        }
        return (low, high)
    }

    private static func lexBound(_ argument: Bytes) -> LexBound? {
        switch argument.first {
        case UInt8(ascii: "+"): return argument.count == 1 ? .positiveInfinity : nil
        case UInt8(ascii: "-"): return argument.count == 1 ? .negativeInfinity : nil
        case UInt8(ascii: "["): return .inclusive(Array(argument.dropFirst()))
        case UInt8(ascii: "("): return .exclusive(Array(argument.dropFirst()))
        default: return nil
        }
    }

    /// Members with or without their scores; `nested` pairs each member with its score
    /// (RESP3), else the reply is flat.
    static func scoredReply(_ elements: [ScoredMember], withScores: Bool, nested: Bool) -> RESPValue {
        guard withScores else { return .array(elements.map { .bulk($0.member) }) }
        if nested {
            return .array(elements.map { .array([.bulk($0.member), .double($0.score)]) })
        }
        var flat: [RESPValue] = []
        flat.reserveCapacity(elements.count * 2)
        for element in elements { flat += [.bulk(element.member), .double(element.score)] }
        return .array(flat)
    }

    // MARK: - Commands

    /// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...], checked in
    /// Redis's order: pairs, conflicting options, INCR's single pair, every score, the key.
    private func add(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        var options = ZAddOptions()
        var onlyNew = false, onlyExisting = false, greater = false, less = false, reportChanged = false
        var index = 2
        while index < arguments.count {
            let option = arguments[index]
            if Arguments.isKeyword(option, "nx") { onlyNew = true }
            else if Arguments.isKeyword(option, "xx") { onlyExisting = true }
            else if Arguments.isKeyword(option, "gt") { greater = true }
            else if Arguments.isKeyword(option, "lt") { less = true }
            else if Arguments.isKeyword(option, "ch") { reportChanged = true }
            else if Arguments.isKeyword(option, "incr") { options.increment = true }
            else { break }
            index += 1
        }
        let remaining = arguments.count - index
        guard remaining > 0, remaining % 2 == 0 else { throw CommandError.syntax }
        if onlyNew && onlyExisting { throw CommandError.message("ERR XX and NX options at the same time are not compatible") }
        if (greater && onlyNew) || (less && onlyNew) || (greater && less) {
            throw CommandError.message("ERR GT, LT, and/or NX options at the same time are not compatible")
        }
        if options.increment && remaining > 2 { throw CommandError.message("ERR INCR option supports a single increment-element pair") }
        options.condition = onlyNew ? .onlyNew : onlyExisting ? .onlyExisting : .always
        options.comparison = greater ? .greater : less ? .less : .any
        var pairs: [ScoredMember] = []
        pairs.reserveCapacity(remaining / 2)
        for pairIndex in stride(from: index, to: arguments.count, by: 2) {
            pairs.append(ScoredMember(member: arguments[pairIndex + 1], score: try Self.score(arguments[pairIndex])))
        }
        let result = try keyspace.sortedSetAdd(arguments[1], pairs, options: options, now: now)
        if options.increment { return result.score.map(RESPValue.double) ?? .null }
        return .integer(reportChanged ? result.added + result.updated : result.added)
    }

    /// ZRANK / ZREVRANK key member [WITHSCORE]: the rank, or [rank, score]; nil (a null
    /// array with WITHSCORE) when the key or member is absent.
    private func rank(_ arguments: [Bytes], reverse: Bool, now: Int64) throws -> RESPValue {
        guard arguments.count <= 4 else { throw CommandError.wrongArity(command: reverse ? "zrevrank" : "zrank") }
        let withScore = arguments.count == 4
        if withScore, !Arguments.isKeyword(arguments[3], "withscore") { throw CommandError.syntax }
        guard let found = try keyspace.sortedSetRank(arguments[1], arguments[2], reverse: reverse, now: now) else {
            return withScore ? .nullArray : .null
        }
        return withScore ? .array([.integer(found.rank), .double(found.score)]) : .integer(found.rank)
    }

    enum RangeKind { case rank, score, lex }

    /// ZRANGE and every fixed-form variant (Redis's zrangeGenericCommand): `kind` and
    /// `reverse` are nil where the options may choose them. The key's arguments start at
    /// `keyIndex`; ZRANGESTORE (keyIndex 2) stores into `arguments[1]` and answers a count.
    private func range(_ arguments: [Bytes], keyIndex: Int, kind fixedKind: RangeKind?, reverse fixedReverse: Bool?,
                       _ session: Session, now: Int64) throws -> RESPValue {
        let store = keyIndex == 2
        var kind = fixedKind, reverse = fixedReverse
        var withScores = false
        var offset: Int64 = 0, limit: Int64 = -1, limited = false
        var index = keyIndex + 3
        while index < arguments.count {
            let option = arguments[index]
            let argumentsLeft = arguments.count - index - 1
            if !store, Arguments.isKeyword(option, "withscores") {
                withScores = true
            } else if Arguments.isKeyword(option, "limit"), argumentsLeft >= 2 {
                offset = try Arguments.integer(arguments[index + 1])
                limit = try Arguments.integer(arguments[index + 2])
                limited = true
                index += 2
            } else if reverse == nil, Arguments.isKeyword(option, "rev") {
                reverse = true
            } else if kind == nil, Arguments.isKeyword(option, "bylex") {
                kind = .lex
            } else if kind == nil, Arguments.isKeyword(option, "byscore") {
                kind = .score
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        let resolvedKind = kind ?? .rank, resolvedReverse = reverse ?? false
        if limited, resolvedKind == .rank {
            throw CommandError.message("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        }
        if withScores, resolvedKind == .lex {
            throw CommandError.message("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        }
        // Reversed score and lex ranges are given as max, min.
        var low = arguments[keyIndex + 1], high = arguments[keyIndex + 2]
        if resolvedReverse, resolvedKind != .rank { swap(&low, &high) }
        let selection: ZRangeSelection
        switch resolvedKind {
        case .rank: selection = .rank(start: try Arguments.integer(low), end: try Arguments.integer(high))
        case .score:
            let (minimum, maximum) = try Self.scoreRange(low, high)
            selection = .score(minimum, maximum, offset: offset, limit: limit)
        case .lex:
            let (minimum, maximum) = try Self.lexRange(low, high)
            selection = .lex(minimum, maximum, offset: offset, limit: limit)
        }
        let elements = try keyspace.sortedSetRange(arguments[keyIndex], selection, reverse: resolvedReverse, now: now)
        if store { return .integer(keyspace.sortedSetStore(elements, into: arguments[1], now: now)) }
        return Self.scoredReply(elements, withScores: withScores, nested: session.protocolVersion == .resp3)
    }

    /// ZPOPMIN / ZPOPMAX key [count]. Without a count the reply is flat [member, score]
    /// (empty for an absent key); with one, RESP3 pairs each member with its score.
    private func popMinMax(_ arguments: [Bytes], highest: Bool, _ session: Session, now: Int64) throws -> RESPValue {
        guard arguments.count <= 3 else { throw CommandError.syntax }
        var count: Int? = nil
        if arguments.count == 3 {
            count = try Self.positiveCount(arguments[2], message: "ERR value is out of range, must be positive")
        }
        guard try keyspace.isSortedSet(arguments[1], now: now), count != 0 else { return .array([]) }
        let popped = try keyspace.sortedSetPop(arguments[1], count: count ?? 1, highest: highest, now: now) ?? []
        let nested = count != nil && session.protocolVersion == .resp3
        return Self.scoredReply(popped, withScores: true, nested: nested)
    }

    /// A score as Redis's d2string writes it (ZSCAN shows scores this way): an integral
    /// value within ±Int64.max/2 as an integer, anything else as a reply double.
    static func storedScoreText(_ score: Double) -> String {
        let bound = Double(Int64.max / 2)
        if score >= -bound, score <= bound, score == score.rounded(.towardZero), score != 0 || score.sign == .plus {
            return String(Int64(score))
        }
        return RESPEncoder.formatDouble(score)
    }

    /// ZSCAN key cursor [MATCH pattern] [COUNT count]. As SSCAN: every member in one reply
    /// with cursor 0, each followed by its score as a bulk string.
    private func sortedSetScan(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        guard ScanOptions.cursor(arguments[2]) != nil else { throw CommandError.message("ERR invalid cursor") }
        guard let members = try keyspace.sortedSetMembers(arguments[1], now: now) else { return .array([.bulk("0"), .array([])]) }
        let options = try ScanOptions.parse(arguments, from: 3, allowType: false)
        if options.noValues { throw CommandError.syntax }
        var items: [RESPValue] = []
        for element in members {
            if let pattern = options.pattern, !Glob.matches(pattern: pattern, element.member) { continue }
            items.append(.bulk(element.member))
            items.append(.bulk(Self.storedScoreText(element.score)))
        }
        return .array([.bulk("0"), .array(items)])
    }
}
