// Sorted-set commands over SortedSet values. Argument parsing happens in the engine.
//
// Invariants:
// - A stored sorted set is never empty: removing the last member deletes the key.
// - Every result is a function of the pairs held and the command: ranges walk the tree in
//   (score, member) order, the combining commands (ZUNIONSTORE, ...) walk their sources in
//   that order, and pops take the ends. Nothing depends on hash seeds, so replicas agree.
// - Read-only random picks (ZRANDMEMBER) take the engine's generator; they change nothing.
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

    /// ZLEXCOUNT: how many members lie between the bounds.
    public mutating func sortedSetLexCount(_ key: Bytes, from minimum: LexBound, to maximum: LexBound, now: Int64) throws(KeyspaceError) -> Int {
        try sortedSetValue(key, now: now)?.ranks(membersFrom: minimum, to: maximum).count ?? 0
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
