// Every bound of the load generator, in one place. A benchmark run must stop by itself and
// stay on this machine: runs end by duration or request count, connections and in-flight
// requests are capped, and traffic goes to loopback addresses only.

/// Named limits of `trestle bench`. Units are the last word of each name.
public enum BenchLimits {
    /// Most client connections one run may open (the connections sweep goes this far).
    public static let connectionsMax = 100_000
    /// Most requests one connection keeps in flight (pipeline depth).
    public static let pipelineDepthMax = 1_024
    /// Requests queued on the client for one connection in open-loop mode before new ones
    /// are counted as overload errors instead of being queued.
    public static let backlogPerConnectionMax = 100_000
    /// Longest run of one phase.
    public static let durationSecondsMax = 3_600.0
    /// Most requests of one phase.
    public static let requestsMax = 1_000_000_000
    /// Highest offered rate in open-loop mode.
    public static let rateOpsPerSecondMax = 10_000_000.0
    /// Redirects (-MOVED / -ASK) one request may follow before it counts as an error.
    public static let redirectsPerRequestMax = 5
    /// Largest value written by SET.
    public static let valueBytesMax = 16 * 1024 * 1024
    /// Largest keyspace (number of distinct keys).
    public static let keyspaceMax = 1_000_000_000
    /// Steps of one rate sweep.
    public static let sweepStepsMax = 64
    /// Highest latency the histograms track (60 s in microseconds); slower replies are
    /// clamped to it and still counted.
    public static let latencyMicrosecondsMax: UInt64 = 60_000_000
    /// A request still unanswered this long after the end of a phase counts as a timeout.
    public static let drainSecondsMax = 2.0
    /// Smallest interval between two open-loop send ticks.
    public static let sendTickMicrosecondsMin: Int64 = 100
}
