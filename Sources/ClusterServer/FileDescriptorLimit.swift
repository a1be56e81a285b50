// The process's open-file limit and the clients it leaves room for, as Redis's
// adjustOpenFilesLimit: every client connection is a file descriptor, so at start the soft
// RLIMIT_NOFILE is raised to cover `maxclients` plus a reserve. When the hard limit does not
// allow that (and the process may not raise it), `maxclients` is lowered to what fits and
// the node says so, instead of letting connections past the limit hang unaccepted.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum FileDescriptorLimit {
    /// Descriptors kept for everything that is not a client connection: the listeners,
    /// peer links, log segments, snapshot files, the event loop's own (Redis keeps 32; a
    /// cluster node holds more).
    static let reserveCount = 96

    /// What `adjust(forClients:)` found and did.
    struct Outcome: Equatable {
        /// The soft limit in force afterwards.
        var descriptors: Int
        /// The clients that fit: `wanted`, or fewer when the limit could not be raised.
        var clients: Int
    }

    /// Most descriptors the soft limit is raised to when the hard limit allows more than
    /// the clients need: room for CONFIG SET maxclients to grow later.
    static let headroomMax = 1 << 20

    /// Raises the soft RLIMIT_NOFILE (never lowers it) toward `wanted + reserveCount`, or
    /// the hard limit when that is higher (at most `headroomMax`): up to the hard limit, or
    /// past it where the process is allowed to raise that too.
    static func adjust(forClients wanted: Int) -> Outcome {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return Outcome(descriptors: 0, clients: wanted) }
        let (needed, overflow) = wanted.addingReportingOverflow(reserveCount)
        let target = overflow ? rlim_t.max : max(rlim_t(needed), min(limit.rlim_max, rlim_t(headroomMax)))
        if limit.rlim_cur < target {
            var raised = rlimit(rlim_cur: target, rlim_max: max(target, limit.rlim_max))
            if setrlimit(resource, &raised) != 0 {
                raised = rlimit(rlim_cur: min(target, limit.rlim_max), rlim_max: limit.rlim_max)
                _ = setrlimit(resource, &raised)
            }
            _ = getrlimit(resource, &limit)
        }
        let descriptors = limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
        return Outcome(descriptors: descriptors, clients: max(1, min(wanted, descriptors - reserveCount)))
    }

    #if canImport(Glibc)
    private static let resource = __rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue))
    #else
    private static let resource = RLIMIT_NOFILE
    #endif
}
