// The real wall clock for a cluster node (the edge of the system).
import Core
#if canImport(Glibc)
import Glibc
#endif

struct NodeClock: WallClock {
    func now() -> UnixMillis {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UnixMillis(Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}
