// Identifiers and indexes as newtypes, so that a term is never passed where a log index
// was meant. No raw UInt64 crosses a module boundary.

/// A node of the cluster. Zero is reserved for "none".
public struct NodeID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let none = NodeID(0)
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "n\(rawValue)" }
}

/// A shard: one Raft group owning a set of hash slots.
public struct ShardID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: ShardID, rhs: ShardID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "s\(rawValue)" }
}

/// A Raft term. Terms only grow.
public struct Term: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let zero = Term(0)
    public static func < (lhs: Term, rhs: Term) -> Bool { lhs.rawValue < rhs.rawValue }
    /// Saturates at the largest term instead of trapping: a term that large can only come
    /// from a hostile peer or file, and must not take the process down.
    public var next: Term { Term(rawValue == .max ? .max : rawValue + 1) }
    public var description: String { "t\(rawValue)" }
}

/// A position in a replicated log; the first entry has index 1, zero means "before the log".
public struct LogIndex: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let zero = LogIndex(0)
    public static func < (lhs: LogIndex, rhs: LogIndex) -> Bool { lhs.rawValue < rhs.rawValue }
    /// Saturating, as `Term.next` (indexes near 2^64 come only from hostile input).
    public var next: LogIndex { LogIndex(rawValue == .max ? .max : rawValue + 1) }
    public var previous: LogIndex { LogIndex(rawValue == 0 ? 0 : rawValue - 1) }
    public func advanced(by count: UInt64) -> LogIndex {
        let (sum, overflowed) = rawValue.addingReportingOverflow(count)
        return LogIndex(overflowed ? .max : sum)
    }
    public var description: String { "i\(rawValue)" }
}

/// One of Redis Cluster's 16384 hash slots.
public struct HashSlot: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let count = 16384
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }
    public static func < (lhs: HashSlot, rhs: HashSlot) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "slot\(rawValue)" }
}
