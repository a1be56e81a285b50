// Newtypes of the durability layer: the position of a record in this process's append
// order, and the generation number that names log segments and snapshots.

/// The position of an appended record. The first record appended has sequence 1; zero
/// means "nothing yet". Sequences increase by exactly one per appended record.
public struct LogSequenceNumber: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let zero = LogSequenceNumber(0)
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var next: Self { Self(rawValue + 1) }
    public var description: String { "lsn\(rawValue)" }
}

/// Names a log segment and the snapshot taken at its start. Snapshot `g` holds the state
/// produced by every record in segments older than `g`; recovery loads it and replays
/// segments `g`, `g+1`, ... in order. Generation 0 is never used for a file.
public struct Generation: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let zero = Generation(0)
    public static let first = Generation(1)
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    /// Saturating: a generation near 2^64 comes only from a hostile file name.
    public var next: Self { Self(rawValue == .max ? .max : rawValue + 1) }
    public var description: String { "gen\(rawValue)" }
}

/// When an appended record is forced to stable storage.
public enum FsyncPolicy: String, Sendable, CaseIterable {
    /// Every batch is fsynced before its records are reported durable (the default).
    case always
    /// Batches are written at once and fsynced about once per second; records are reported
    /// durable after the write, so up to about a second of writes can be lost on power loss.
    case everysec
    /// Batches are written and never explicitly fsynced (the OS decides); records are
    /// reported durable after the write.
    case no
}
