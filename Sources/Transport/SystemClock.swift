// The real wall clock, for the edges of the system only (servers and cluster nodes).
import Core
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

public struct SystemClock: WallClock {
    public init() {}
    public func now() -> UnixMillis {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UnixMillis(Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}

/// The process's monotonic clock (CLOCK_MONOTONIC through NIO): never jumps with the wall
/// clock; counts on through SIGSTOP, so a resumed node sees the time it lost.
public struct SystemMonotonicClock: MonotonicClock {
    private let origin = NIODeadline.now()
    public init() {}
    public func monotonicMilliseconds() -> Int64 { (NIODeadline.now() - origin).nanoseconds / 1_000_000 }
    public func monotonicMicroseconds() -> Int64 { (NIODeadline.now() - origin).nanoseconds / 1000 }
}
