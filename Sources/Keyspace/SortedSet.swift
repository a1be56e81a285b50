// The sorted-set value: a member -> score dictionary for lookups and a ScoreTree for order,
// rank and ranges. The dictionary is only ever looked up, never iterated to decide a write,
// so the value (and every reply) depends only on the pairs it holds.
//
// Invariants:
// - `scores` and `tree` hold exactly the same (member, score) pairs.
// - No score is NaN (the parsers refuse it and the increments check it).
// - Two sorted sets are equal when they hold the same pairs; the tree's shape may differ.

#if canImport(Glibc)
import Glibc
#endif

/// One end of a score interval (ZRANGEBYSCORE's "(1.5" is `ScoreBound(value: 1.5, exclusive: true)`).
public struct ScoreBound: Equatable, Sendable {
    public var value: Double
    public var exclusive: Bool
    public init(value: Double, exclusive: Bool) { self.value = value; self.exclusive = exclusive }
}

/// One end of a lexicographic interval ("-", "+", "[member", "(member").
public enum LexBound: Equatable, Sendable {
    case negativeInfinity, positiveInfinity
    case inclusive(Bytes)
    case exclusive(Bytes)

    /// Redis's sdscmplex order of bounds: "-" below every member, "+" above; the
    /// inclusive/exclusive flag does not take part.
    static func precedes(_ lhs: LexBound, _ rhs: LexBound) -> Bool {
        func rank(_ bound: LexBound) -> (Int, Bytes) {
            switch bound {
            case .negativeInfinity: return (0, [])
            case .inclusive(let bytes), .exclusive(let bytes): return (1, bytes)
            case .positiveInfinity: return (2, [])
            }
        }
        let (left, right) = (rank(lhs), rank(rhs))
        return left.0 != right.0 ? left.0 < right.0 : left.1.lexicographicallyPrecedes(right.1)
    }

    /// Whether a range from `minimum` to `maximum` can hold nothing (Redis's early exit:
    /// min above max, or equal with either end exclusive; "-" and "+" count as exclusive).
    static func isEmptyRange(_ minimum: LexBound, _ maximum: LexBound) -> Bool {
        if precedes(maximum, minimum) { return true }
        if precedes(minimum, maximum) { return false }
        if case .inclusive = minimum, case .inclusive = maximum { return false }
        return true
    }

    /// Whether `member` is at or above this bound taken as a minimum.
    func admitsAsMinimum(_ member: Bytes) -> Bool {
        switch self {
        case .negativeInfinity: return true
        case .positiveInfinity: return false
        case .inclusive(let bound): return !member.lexicographicallyPrecedes(bound)
        case .exclusive(let bound): return bound.lexicographicallyPrecedes(member)
        }
    }

    /// Whether `member` is at or below this bound taken as a maximum.
    func admitsAsMaximum(_ member: Bytes) -> Bool {
        switch self {
        case .negativeInfinity: return false
        case .positiveInfinity: return true
        case .inclusive(let bound): return !bound.lexicographicallyPrecedes(member)
        case .exclusive(let bound): return member.lexicographicallyPrecedes(bound)
        }
    }
}

/// A member with its score, as replies list them.
public struct ScoredMember: Equatable, Sendable {
    public var member: Bytes
    public var score: Double
    public init(member: Bytes, score: Double) { self.member = member; self.score = score }
}

/// A sorted set's member as its lookup dictionary's key: the member's array itself (shared
/// with the tree), hashed in one call and compared by its bytes.
public struct SharedMember: Hashable, Sendable {
    public let bytes: Bytes

    @inline(__always) init(_ bytes: Bytes) { self.bytes = bytes }

    @inline(__always) public static func == (lhs: SharedMember, rhs: SharedMember) -> Bool {
        sameBytes(lhs.bytes, rhs.bytes)
    }

    @inline(__always) public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

public struct SortedSet: Equatable, Sendable {
    /// Keyed by `SharedMember`, not `Key`: the tree holds each member's array, and the
    /// dictionary's key shares it (a `Key` would copy a short member inline: 24 more bytes
    /// a member, more with the dictionary's empty buckets).
    private var scores: [SharedMember: Double] = [:]
    private var tree = ScoreTree()

    public init() {}

    /// The number of members.
    public var count: Int { scores.count }
    public var isEmpty: Bool { scores.isEmpty }

    public static func == (lhs: SortedSet, rhs: SortedSet) -> Bool { lhs.scores == rhs.scores }

    /// The score of `member`, nil if absent.
    public func score(of member: Bytes) -> Double? { scores[SharedMember(member)] }

    /// The members in no particular order, lazily (a few of them for an estimate).
    public var unorderedMembers: LazyMapSequence<Dictionary<SharedMember, Double>.Keys, Bytes> { scores.keys.lazy.map(\.bytes) }

    /// Sets `member`'s score (not NaN); returns whether the member is new. An equal score
    /// (0 and -0 included, as Redis compares them) leaves the member untouched.
    /// A negative zero is stored as zero, as Redis's small (listpack) sorted sets store it.
    @discardableResult
    public mutating func set(_ member: Bytes, score newScore: Double) -> Bool {
        assert(!newScore.isNaN, "a sorted set never holds NaN")
        let score = newScore == 0 ? 0 : newScore
        let key = SharedMember(member)
        if let old = scores[key] {
            guard old != score else { return false }
            scores[key] = score
            tree.remove(score: old, member: member)
            tree.insert(score: score, member: member)
            return false
        }
        scores[key] = score
        tree.insert(score: score, member: member)
        return true
    }

    /// Removes `member`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ member: Bytes) -> Bool {
        guard let old = scores.removeValue(forKey: SharedMember(member)) else { return false }
        tree.remove(score: old, member: member)
        return true
    }

    /// The 0-based ascending rank of `member` and its score; nil if absent.
    public func rank(of member: Bytes) -> (rank: Int, score: Double)? {
        guard let score = scores[SharedMember(member)] else { return nil }
        return (tree.rank(score: score, member: member), score)
    }

    /// The member at ascending `rank`, nil outside 0..<count.
    public func element(at rank: Int) -> ScoredMember? {
        tree.element(at: rank).map { ScoredMember(member: $0.member, score: $0.score) }
    }

    /// The members at the ascending ranks `ranks`, in ascending order or, with `reverse`,
    /// descending. Ranks outside 0..<count are skipped. O(log n + ranks.count).
    public func elements(_ ranks: Range<Int>, reverse: Bool = false) -> [ScoredMember] {
        let clamped = ranks.clamped(to: 0..<count)
        guard !clamped.isEmpty else { return [] }
        var result: [ScoredMember] = []
        result.reserveCapacity(clamped.count)
        tree.forEach(fromRank: reverse ? clamped.upperBound - 1 : clamped.lowerBound, limit: clamped.count, descending: reverse) {
            result.append(ScoredMember(member: $1, score: $0))
        }
        return result
    }

    /// Every member in ascending order.
    public var all: [ScoredMember] {
        var result: [ScoredMember] = []
        result.reserveCapacity(count)
        tree.forEach { score, member in result.append(ScoredMember(member: member, score: score)) }
        return result
    }

    /// The ascending ranks of the members whose scores lie between `minimum` and `maximum`.
    public func ranks(scoresFrom minimum: ScoreBound, to maximum: ScoreBound) -> Range<Int> {
        let lower = tree.countPrefix { score, _ in score < minimum.value || (minimum.exclusive && score == minimum.value) }
        let upper = tree.countPrefix { score, _ in score < maximum.value || (!maximum.exclusive && score == maximum.value) }
        return lower < upper ? lower..<upper : lower..<lower
    }

    /// Whether every member has the same score (the lowest equals the highest), the only
    /// case where a range by bytes is a contiguous run of the order.
    public var hasUniformScores: Bool {
        guard let first = tree.element(at: 0), let last = tree.element(at: count - 1) else { return true }
        return first.score == last.score
    }

    /// The ascending ranks of the members between `minimum` and `maximum` by bytes, found in
    /// O(log n). Exact only when `hasUniformScores` (see `walkByLex` otherwise).
    public func ranks(membersFrom minimum: LexBound, to maximum: LexBound) -> Range<Int> {
        let lower = tree.countPrefix { _, member in !minimum.admitsAsMinimum(member) }
        let upper = tree.countPrefix { _, member in maximum.admitsAsMaximum(member) }
        return lower < upper ? lower..<upper : lower..<lower
    }

    /// The members a range by bytes selects when scores differ, walked as Redis walks its
    /// small (listpack) sorted sets, in O(n): nothing if the range is empty, if the highest
    /// member is below `minimum` or the lowest above `maximum`; else from the first member
    /// at or above `minimum` (the last at or below `maximum` when `reverse`), which must
    /// itself be in range, skip `offset` members (negative: nothing), then take up to
    /// `limit` (negative: no limit) while they stay on the near side of the far bound.
    public func walkByLex(from minimum: LexBound, to maximum: LexBound, reverse: Bool, offset: Int64, limit: Int64) -> [ScoredMember] {
        let members = all
        guard let first = members.first, let last = members.last, !LexBound.isEmptyRange(minimum, maximum),
              minimum.admitsAsMinimum(last.member), maximum.admitsAsMaximum(first.member), offset >= 0 else { return [] }
        let start: Int
        if reverse {
            guard let found = members.lastIndex(where: { maximum.admitsAsMaximum($0.member) }),
                  minimum.admitsAsMinimum(members[found].member) else { return [] }
            start = found
        } else {
            guard let found = members.firstIndex(where: { minimum.admitsAsMinimum($0.member) }),
                  maximum.admitsAsMaximum(members[found].member) else { return [] }
            start = found
        }
        guard offset < Int64(members.count) else { return [] }
        var index = reverse ? start - Int(offset) : start + Int(offset)
        var result: [ScoredMember] = []
        while index >= 0, index < members.count, limit < 0 || Int64(result.count) < limit {
            let member = members[index].member
            guard reverse ? minimum.admitsAsMinimum(member) : maximum.admitsAsMaximum(member) else { break }
            result.append(members[index])
            index += reverse ? -1 : 1
        }
        return result
    }

    /// Checks the structure's invariants (for tests).
    func isValid() -> Bool {
        guard tree.isValid(), tree.count == scores.count else { return false }
        var consistent = true
        tree.forEach { score, member in if scores[SharedMember(member)] != score { consistent = false } }
        return consistent
    }
}
