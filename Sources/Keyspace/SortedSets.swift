// Sorted-set commands over SortedSet values. Argument parsing happens in the engine.
//
// Invariants:
// - A stored sorted set is never empty: removing the last member deletes the key.
// - Every result is a function of the pairs held and the command: ranges walk the tree in
//   (score, member) order, the combining commands (ZUNIONSTORE, ...) walk their sources in
//   that order, and pops take the ends. Nothing depends on hash seeds, so replicas agree.
// - Read-only random picks (ZRANDMEMBER) take the engine's generator; they change nothing.
import Collections
import Core

/// What ZADD does with members that exist or not, and how it compares scores.
public struct ZAddOptions: Equatable, Sendable {
    public enum Condition: Sendable { case always, onlyNew, onlyExisting }
    public enum Comparison: Sendable { case any, greater, less }
    public var condition: Condition = .always
    public var comparison: Comparison = .any
    /// INCR: add the score to the current one (one pair only).
    public var increment = false
    public init() {}
}

/// What ZADD did: counts for its integer reply, the new score for INCR.
public struct ZAddResult: Equatable, Sendable {
    public var added = 0
    public var updated = 0
    /// The score of the last pair that was not skipped (INCR's reply); nil if it was.
    public var score: Double? = nil
}

/// Which members a range command selects, in the order it walks them.
public enum ZRangeSelection: Equatable, Sendable {
    /// Ranks `start...end`, negative counting from the end, as ZRANGE interprets them
    /// (reverse ranks when the query is reversed).
    case rank(start: Int64, end: Int64)
    /// Scores between the bounds; `offset` members skipped (negative: none returned) then
    /// at most `limit` (negative: no limit).
    case score(ScoreBound, ScoreBound, offset: Int64, limit: Int64)
    case lex(LexBound, LexBound, offset: Int64, limit: Int64)
}

/// How ZUNIONSTORE and ZINTERSTORE combine the scores of a member found in several sources.
public enum ScoreAggregate: Sendable { case sum, min, max }

extension Keyspace {
    // MARK: - Access

    /// The sorted set under `key`; nil if absent; `wrongType` for another type.
    mutating func sortedSetValue(_ key: Bytes, now: Int64) throws(KeyspaceError) -> SortedSet? {
        guard let entry = lookup(key, now: now) else { return nil }
        guard case .zset(let sortedSet) = entry.value else { throw .wrongType }
        return sortedSet
    }

    /// The sorted set under `key` for a read-only pass (the GEO searches); nil if absent,
    /// `wrongType` for another type.
    public mutating func sortedSetForReading(_ key: Bytes, now: Int64) throws(KeyspaceError) -> SortedSet? {
        try sortedSetValue(key, now: now)
    }

    /// Whether a sorted set is stored under `key` (false if absent); `wrongType` otherwise.
    public mutating func isSortedSet(_ key: Bytes, now: Int64) throws(KeyspaceError) -> Bool {
        try sortedSetValue(key, now: now) != nil
    }

    /// Applies `body` to the sorted set under `key` (created empty if absent and `create`),
    /// deleting the key if it became empty; records a modification only when `body` sets
    /// `changed`. Nil without calling `body` when absent and not `create`.
    private mutating func modifySortedSet<Result>(_ key: Bytes, now: Int64, create: Bool,
                                                  _ body: (inout SortedSet, inout Bool) throws(KeyspaceError) -> Result) throws(KeyspaceError) -> Result? {
        var stored = try sortedSetValue(key, now: now)
        let existing = stored != nil
        guard existing || create else { return nil }
        // Take the value out so `sortedSet` holds the only reference: no copy on mutation.
        var sortedSet = stored.take() ?? SortedSet()
        if existing { replaceValueUntracked(key, .zset(SortedSet())) }
        var changed = false
        let result: Result
        do {
            result = try body(&sortedSet, &changed)
        } catch {
            if existing { replaceValueUntracked(key, .zset(sortedSet)) }
            throw error
        }
        if !changed {
            if existing { replaceValueUntracked(key, .zset(sortedSet)) }
        } else if sortedSet.isEmpty {
            if existing { delete(key, now: now) }
        } else if !existing {
            store(key, Entry(value: .zset(sortedSet)))
        } else {
            replaceValue(key, .zset(sortedSet))
        }
        return result
    }

    // MARK: - Reading

    /// ZCARD: 0 for an absent key.
    public mutating func sortedSetCardinality(_ key: Bytes, now: Int64) throws(KeyspaceError) -> Int {
        try sortedSetValue(key, now: now)?.count ?? 0
    }

    /// ZSCORE / ZMSCORE: each member's score, nil where absent (all nil for an absent key).
    public mutating func sortedSetScores(_ key: Bytes, _ members: [Bytes], now: Int64) throws(KeyspaceError) -> [Double?] {
        let sortedSet = try sortedSetValue(key, now: now)
        return members.map { sortedSet?.score(of: $0) }
    }

    /// ZRANK / ZREVRANK: the member's rank (descending with `reverse`) and score; nil if the
    /// key or the member is absent.
    public mutating func sortedSetRank(_ key: Bytes, _ member: Bytes, reverse: Bool, now: Int64) throws(KeyspaceError) -> (rank: Int, score: Double)? {
        guard let sortedSet = try sortedSetValue(key, now: now), let found = sortedSet.rank(of: member) else { return nil }
        return (reverse ? sortedSet.count - 1 - found.rank : found.rank, found.score)
    }

    /// ZCOUNT: how many scores lie between the bounds.
    public mutating func sortedSetCount(_ key: Bytes, from minimum: ScoreBound, to maximum: ScoreBound, now: Int64) throws(KeyspaceError) -> Int {
        try sortedSetValue(key, now: now)?.ranks(scoresFrom: minimum, to: maximum).count ?? 0
    }

    /// ZLEXCOUNT: how many members lie between the bounds (as Redis walks them when the
    /// scores differ, see `SortedSet.walkByLex`).
    public mutating func sortedSetLexCount(_ key: Bytes, from minimum: LexBound, to maximum: LexBound, now: Int64) throws(KeyspaceError) -> Int {
        guard let sortedSet = try sortedSetValue(key, now: now) else { return 0 }
        guard sortedSet.hasUniformScores else {
            return sortedSet.walkByLex(from: minimum, to: maximum, reverse: false, offset: 0, limit: -1).count
        }
        return sortedSet.ranks(membersFrom: minimum, to: maximum).count
    }

    /// ZRANGE and its variants: the selected members in walking order; empty for an absent key.
    public mutating func sortedSetRange(_ key: Bytes, _ selection: ZRangeSelection, reverse: Bool, now: Int64) throws(KeyspaceError) -> [ScoredMember] {
        guard let sortedSet = try sortedSetValue(key, now: now) else { return [] }
        return Self.select(selection, reverse: reverse, in: sortedSet)
    }

    /// ZSCAN's source: every member in ascending order; nil if absent.
    public mutating func sortedSetMembers(_ key: Bytes, now: Int64) throws(KeyspaceError) -> [ScoredMember]? {
        try sortedSetValue(key, now: now)?.all
    }

    /// The members `selection` picks from `sortedSet`, in the order the command walks them.
    static func select(_ selection: ZRangeSelection, reverse: Bool, in sortedSet: SortedSet) -> [ScoredMember] {
        let length = Int64(sortedSet.count)
        switch selection {
        case .rank(var start, var end):
            // As Redis: negative indexes count from the end, then clamp; no overflow since
            // adding a non-negative length to a negative number cannot leave Int64.
            if start < 0 { start += length }
            if end < 0 { end += length }
            if start < 0 { start = 0 }
            guard start <= end, start < length else { return [] }
            if end >= length { end = length - 1 }
            let lower = Int(start), upper = Int(end)
            if reverse { return sortedSet.elements((sortedSet.count - 1 - upper)..<(sortedSet.count - lower), reverse: true) }
            return sortedSet.elements(lower..<(upper + 1))
        case .score(let minimum, let maximum, let offset, let limit):
            return window(sortedSet.ranks(scoresFrom: minimum, to: maximum), reverse: reverse, offset: offset, limit: limit, in: sortedSet)
        case .lex(let minimum, let maximum, let offset, let limit):
            // Only with one score throughout is a byte range a run of the order; otherwise
            // (undefined in Redis's documentation) walk as Redis's small sorted sets do.
            guard sortedSet.hasUniformScores else {
                return sortedSet.walkByLex(from: minimum, to: maximum, reverse: reverse, offset: offset, limit: limit)
            }
            return window(sortedSet.ranks(membersFrom: minimum, to: maximum), reverse: reverse, offset: offset, limit: limit, in: sortedSet)
        }
    }

    /// LIMIT offset count over the ranks `ranks` walked in order (descending with `reverse`).
    private static func window(_ ranks: Range<Int>, reverse: Bool, offset: Int64, limit: Int64, in sortedSet: SortedSet) -> [ScoredMember] {
        // As Redis: a negative offset skips past the end (nothing is returned); a negative
        // limit means no limit.
        guard offset >= 0, offset < Int64(ranks.count) else { return [] }
        let available = ranks.count - Int(offset)
        let taken = limit < 0 ? available : Int(min(Int64(available), limit))
        if reverse {
            let upper = ranks.upperBound - Int(offset)
            return sortedSet.elements((upper - taken)..<upper, reverse: true)
        }
        let lower = ranks.lowerBound + Int(offset)
        return sortedSet.elements(lower..<(lower + taken))
    }

    // MARK: - Adding and removing

    /// ZADD / ZINCRBY: applies `pairs` (scores already parsed, none NaN) under `options`.
    /// Throws `scoreNotANumber` if an increment would make a score NaN, changing nothing.
    public mutating func sortedSetAdd(_ key: Bytes, _ pairs: [ScoredMember], options: ZAddOptions, now: Int64) throws(KeyspaceError) -> ZAddResult {
        try modifySortedSet(key, now: now, create: options.condition != .onlyExisting) { sortedSet, changed throws(KeyspaceError) in
            var result = ZAddResult()
            for pair in pairs {
                guard let current = sortedSet.score(of: pair.member) else {
                    guard options.condition != .onlyExisting else { continue }
                    sortedSet.set(pair.member, score: pair.score)
                    result.added += 1
                    result.score = pair.score
                    continue
                }
                guard options.condition != .onlyNew else { continue }
                var score = pair.score
                if options.increment {
                    score += current
                    guard !score.isNaN else { throw .scoreNotANumber }
                }
                if options.comparison == .less && score >= current { continue }
                if options.comparison == .greater && score <= current { continue }
                result.score = score
                if score != current {
                    sortedSet.set(pair.member, score: score)
                    result.updated += 1
                }
            }
            changed = result.added + result.updated > 0
            return result
        } ?? ZAddResult()
    }

    /// ZREM: returns how many members were removed.
    public mutating func sortedSetRemove(_ key: Bytes, _ members: [Bytes], now: Int64) throws(KeyspaceError) -> Int {
        try modifySortedSet(key, now: now, create: false) { sortedSet, changed in
            var removed = 0
            for member in members where sortedSet.remove(member) { removed += 1 }
            changed = removed > 0
            return removed
        } ?? 0
    }

    /// ZREMRANGEBYRANK / BYSCORE / BYLEX: removes the selected members; returns how many.
    public mutating func sortedSetRemoveRange(_ key: Bytes, _ selection: ZRangeSelection, now: Int64) throws(KeyspaceError) -> Int {
        try modifySortedSet(key, now: now, create: false) { sortedSet, changed in
            let selected = Self.select(selection, reverse: false, in: sortedSet)
            for element in selected { sortedSet.remove(element.member) }
            changed = !selected.isEmpty
            return selected.count
        } ?? 0
    }

    /// ZPOPMIN / ZPOPMAX: removes up to `count` members from the low (or, with `highest`,
    /// the high) end, returned in popping order. Nil for an absent key. `count` >= 0.
    public mutating func sortedSetPop(_ key: Bytes, count: Int, highest: Bool, now: Int64) throws(KeyspaceError) -> [ScoredMember]? {
        assert(count >= 0, "pop count must be non-negative")
        return try modifySortedSet(key, now: now, create: false) { sortedSet, changed in
            let taken = min(count, sortedSet.count)
            let popped = highest ? sortedSet.elements((sortedSet.count - taken)..<sortedSet.count, reverse: true)
                                 : sortedSet.elements(0..<taken)
            for element in popped { sortedSet.remove(element.member) }
            changed = !popped.isEmpty
            return popped
        }
    }

    /// Stores `elements` as the sorted set at `destination` (replacing any value and its
    /// expiry), or deletes `destination` when there are none. Returns the count stored.
    public mutating func sortedSetStore(_ elements: [ScoredMember], into destination: Bytes, now: Int64) -> Int {
        guard !elements.isEmpty else {
            delete(destination, now: now)
            return 0
        }
        var sortedSet = SortedSet()
        for element in elements { sortedSet.set(element.member, score: element.score) }
        store(destination, Entry(value: .zset(sortedSet)))
        return sortedSet.count
    }
}

// MARK: - Several keys: union, intersection, difference

/// How ZUNION, ZINTER and ZDIFF (and their STORE forms) combine their sources.
public enum SortedSetCombination: Sendable { case union, intersection, difference }

/// One source of a combination: a sorted set, or a plain set whose members score 1.
public enum SortedSetSource: Sendable {
    case sorted(SortedSet)
    case plain(OrderedSet<Key>)

    public var count: Int {
        switch self {
        case .sorted(let sortedSet): return sortedSet.count
        case .plain(let members): return members.count
        }
    }

    func score(of member: Bytes) -> Double? {
        switch self {
        case .sorted(let sortedSet): return sortedSet.score(of: member)
        case .plain(let members): return members.contains(Key(member)) ? 1 : nil
        }
    }

    /// Every member with its score: ascending for a sorted set, stored order for a set.
    var elements: [ScoredMember] {
        switch self {
        case .sorted(let sortedSet): return sortedSet.all
        case .plain(let members): return members.map { ScoredMember(member: $0.bytes, score: 1) }
        }
    }
}

extension Keyspace {
    /// The sources at `keys`, each type-checked in order (a sorted set or a set, else
    /// `wrongType`); nil for an absent key.
    public mutating func sortedSetSources(_ keys: [Bytes], now: Int64) throws(KeyspaceError) -> [SortedSetSource?] {
        var sources: [SortedSetSource?] = []
        sources.reserveCapacity(keys.count)
        for key in keys {
            guard let entry = lookup(key, now: now) else { sources.append(nil); continue }
            switch entry.value {
            case .zset(let sortedSet): sources.append(.sorted(sortedSet))
            case .set(let members): sources.append(.plain(members))
            default: throw .wrongType
            }
        }
        return sources
    }

    /// Adds `value` into `target` as Redis's zunionInterAggregate does (a NaN sum is 0).
    static func aggregate(_ target: Double, _ value: Double, _ aggregate: ScoreAggregate) -> Double {
        switch aggregate {
        case .sum:
            let sum = target + value
            return sum.isNaN ? 0 : sum
        case .min: return value < target ? value : target
        case .max: return value > target ? value : target
        }
    }

    /// A source's score times its weight, 0 where that is NaN (0 × inf), as Redis does.
    static func weighted(_ score: Double, _ weight: Double) -> Double {
        let product = score * weight
        return product.isNaN ? 0 : product
    }

    /// The combination of `sources` (weights parallel to them, ignored by a difference) as
    /// a sorted set. As Redis, a union or an intersection walks the sources from the
    /// smallest (ties in argument order), the intersection only the smallest's members;
    /// the difference keeps the first source's members and scores. With `limit` > 0 an
    /// intersection stops after that many members (ZINTERCARD).
    public static func combine(_ sources: [SortedSetSource?], weights: [Double], _ combination: SortedSetCombination,
                               aggregate: ScoreAggregate, limit: Int = 0) -> SortedSet {
        assert(weights.count == sources.count, "one weight per source")
        var result = SortedSet()
        switch combination {
        case .difference:
            guard let first = sources.first, let first else { return result }
            let others = sources.dropFirst().compactMap { $0 }
            for element in first.elements where !others.contains(where: { $0.score(of: element.member) != nil }) {
                result.set(element.member, score: element.score)
            }
        case .union:
            let order = sources.indices.sorted { (sources[$0]?.count ?? 0, $0) < (sources[$1]?.count ?? 0, $1) }
            for index in order {
                guard let source = sources[index] else { continue }
                for element in source.elements {
                    let value = weighted(element.score, weights[index])
                    if let current = result.score(of: element.member) {
                        result.set(element.member, score: Self.aggregate(current, value, aggregate))
                    } else {
                        result.set(element.member, score: value)
                    }
                }
            }
        case .intersection:
            var present: [(source: SortedSetSource, weight: Double)] = []
            for (index, source) in sources.enumerated() {
                guard let source, source.count > 0 else { return result }
                present.append((source, weights[index]))
            }
            let order = present.indices.sorted { (present[$0].source.count, $0) < (present[$1].source.count, $1) }
            guard let smallest = order.first else { return result }
            for element in present[smallest].source.elements {
                var score = weighted(element.score, present[smallest].weight)
                var everywhere = true
                for index in order.dropFirst() {
                    guard let other = present[index].source.score(of: element.member) else { everywhere = false; break }
                    score = Self.aggregate(score, weighted(other, present[index].weight), aggregate)
                }
                guard everywhere else { continue }
                result.set(element.member, score: score)
                if limit > 0, result.count >= limit { break }
            }
        }
        return result
    }

    // MARK: - Random members

    /// ZRANDMEMBER: `count` >= 0 gives distinct members (all, in ascending order, when
    /// `count` reaches the size); a negative count gives |count| members that may repeat,
    /// at most `KeyspaceLimits.randomFieldsRepeatedMax`. Empty for an absent key.
    public mutating func sortedSetRandomMembers(_ key: Bytes, count: Int, now: Int64, using random: inout SeededRandom) throws(KeyspaceError) -> [ScoredMember] {
        guard let sortedSet = try sortedSetValue(key, now: now), !sortedSet.isEmpty else { return [] }
        let last = sortedSet.count - 1
        if count >= 0 {
            if count >= sortedSet.count { return sortedSet.all }
            // A partial Fisher-Yates over ranks: O(count) draws, nothing copied.
            var swapped: [Int: Int] = [:]
            var picked: [ScoredMember] = []
            picked.reserveCapacity(count)
            for step in 0..<count {
                let chosen = random.int(in: step...last)
                let rank = swapped[chosen] ?? chosen
                swapped[chosen] = swapped[step] ?? step
                if let element = sortedSet.element(at: rank) { picked.append(element) }
            }
            return picked
        }
        guard count.magnitude <= UInt(KeyspaceLimits.randomFieldsRepeatedMax) else { throw .countOutOfRange }
        return (0..<Int(count.magnitude)).compactMap { _ in sortedSet.element(at: random.int(in: 0...last)) }
    }
}
