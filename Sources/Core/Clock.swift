// Time enters the deterministic core only through these types. The server passes the
// real wall clock; the simulator passes simulated time.

/// Milliseconds since the Unix epoch. Redis expresses absolute expiry in this unit.
public struct UnixMillis: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public static func < (lhs: UnixMillis, rhs: UnixMillis) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "\(rawValue)ms" }
}

/// A source of wall-clock time. Implementations outside the core read the system clock.
public protocol WallClock: Sendable {
    func now() -> UnixMillis
}

/// A clock that returns a fixed, settable time: for tests and simulation.
public final class ManualClock: WallClock, @unchecked Sendable {
    private var current: UnixMillis
    public init(_ start: UnixMillis = UnixMillis(1_700_000_000_000)) { current = start }
    public func now() -> UnixMillis { current }
    public func set(_ time: UnixMillis) { current = time }
    public func advance(milliseconds: Int64) { current = UnixMillis(current.rawValue + milliseconds) }
}

/// Time that never runs backwards, from any fixed origin (the shell's monotonic clock, or
/// simulated time). The node runtime derives Raft ticks, and so leases, from it.
public protocol MonotonicClock: Sendable {
    func monotonicMilliseconds() -> Int64
    /// The same clock in microseconds (what command durations are measured in).
    func monotonicMicroseconds() -> Int64
}

extension MonotonicClock {
    /// A clock that knows only milliseconds (the simulator's) reports them scaled.
    public func monotonicMicroseconds() -> Int64 { monotonicMilliseconds() * 1000 }
}
