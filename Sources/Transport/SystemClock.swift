// The real wall clock, for the edges of the system only (servers and cluster nodes).
import Core
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
