// The sorted-set value: a member -> score dictionary for lookups and a ScoreTree for order,
// rank and ranges. The dictionary is only ever looked up, never iterated to decide a write,
// so the value (and every reply) depends only on the pairs it holds.
//
// Invariants:
// - `scores` and `tree` hold exactly the same (member, score) pairs.
// - No score is NaN (the parsers refuse it and the increments check it).
// - Two sorted sets are equal when they hold the same pairs; the tree's shape may differ.

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

public struct SortedSet: Equatable, Sendable {
    private var scores: [Key: Double] = [:]
    private var tree = ScoreTree()

    public init() {}

    /// The number of members.
    public var count: Int { scores.count }
    public var isEmpty: Bool { scores.isEmpty }

    public static func == (lhs: SortedSet, rhs: SortedSet) -> Bool { lhs.scores == rhs.scores }

    /// The score of `member`, nil if absent.
    public func score(of member: Bytes) -> Double? { scores[Key(member)] }

    /// Sets `member`'s score (not NaN); returns whether the member is new. An equal score
    /// (0 and -0 included, as Redis compares them) leaves the member untouched.
    /// A negative zero is stored as zero, as Redis's small (listpack) sorted sets store it.
    @discardableResult
    public mutating func set(_ member: Bytes, score newScore: Double) -> Bool {
        assert(!newScore.isNaN, "a sorted set never holds NaN")
        let score = newScore == 0 ? 0 : newScore
        let key = Key(member)
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
        guard let old = scores.removeValue(forKey: Key(member)) else { return false }
        tree.remove(score: old, member: member)
        return true
    }

    /// The 0-based ascending rank of `member` and its score; nil if absent.
    public func rank(of member: Bytes) -> (rank: Int, score: Double)? {
        guard let score = scores[Key(member)] else { return nil }
        return (tree.rank(score: score, member: member), score)
    }

    /// The member at ascending `rank`, nil outside 0..<count.
    public func element(at rank: Int) -> ScoredMember? {
        tree.element(at: rank).map { ScoredMember(member: $0.member, score: $0.score) }
    }

    /// The members at the ascending ranks `ranks`, in ascending order or, with `reverse`,
    /// descending. Ranks outside 0..<count are skipped.
    public func elements(_ ranks: Range<Int>, reverse: Bool = false) -> [ScoredMember] {
        let clamped = ranks.clamped(to: 0..<count)
        var result: [ScoredMember] = []
        result.reserveCapacity(clamped.count)
        if reverse {
            for rank in clamped.reversed() { if let element = element(at: rank) { result.append(element) } }
        } else {
            for rank in clamped { if let element = element(at: rank) { result.append(element) } }
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

    /// The ascending ranks of the members between `minimum` and `maximum` by bytes. As in
    /// Redis, meaningful only when every score is equal.
    public func ranks(membersFrom minimum: LexBound, to maximum: LexBound) -> Range<Int> {
        let lower = tree.countPrefix { _, member in !minimum.admitsAsMinimum(member) }
        let upper = tree.countPrefix { _, member in maximum.admitsAsMaximum(member) }
        return lower < upper ? lower..<upper : lower..<lower
    }

    /// Checks the structure's invariants (for tests).
    func isValid() -> Bool {
        guard tree.isValid(), tree.count == scores.count else { return false }
        var consistent = true
        tree.forEach { score, member in if scores[Key(member)] != score { consistent = false } }
        return consistent
    }
}
