// Per-command and per-error counters of the requests this node's clients sent, as Redis's
// INFO commandstats and errorstats show them, and as the admin port's
// trestle_commands_total and trestle_command_errors_total.
//
// Differences from Redis (README): `usec` is measured on the node's monotonic clock from a
// request's start to its reply, so a write's includes replication and fsync (Redis:
// execution time), and commands inside MULTI count as EXEC. Commands called by scripts
// count as Redis counts them, with no time of their own (the script's time is the
// script's). Each command also keeps a
// latency histogram in power-of-two microsecond buckets for LATENCY HISTOGRAM, and, while
// `latency-tracking` is on, an HDR histogram of its calls' latencies for INFO latencystats.
import Engine
import Foundation
import Histogram
import Keyspace
import Wire

struct CommandStats {
    struct Counts {
        var calls = 0
        var microseconds: Int64 = 0
        var rejected = 0
        var failed = 0
        /// Calls by duration: bucket i holds those of at most 2^i µs (and more than 2^(i-1)).
        var buckets = [Int](repeating: 0, count: CommandStats.bucketCount)
        /// Latencies of the calls made while `latency-tracking` was on (made at the first).
        var latencies: Histogram<UInt32>?

        /// A rejected call counts only as rejected (Redis's rejected_calls), with no time:
        /// it did not run; a failed one as a call and a failure.
        mutating func add(rejected wasRejected: Bool, failed wasFailed: Bool, microseconds elapsed: Int64, tracksLatency: Bool) {
            if wasRejected {
                rejected += 1
            } else {
                calls += 1
                microseconds &+= elapsed
                buckets[CommandStats.bucket(of: elapsed)] += 1
                if tracksLatency {
                    if latencies == nil {
                        latencies = Histogram(highestTrackableValue: CommandStats.trackedMicrosecondsMax, numberOfSignificantValueDigits: .two)
                    }
                    _ = latencies?.record(UInt64(min(max(elapsed, 1), Int64(CommandStats.trackedMicrosecondsMax))))
                }
            }
            if wasFailed { failed += 1 }
        }
    }

    /// Longest latency INFO latencystats tells apart (an hour); longer calls count as this.
    static let trackedMicrosecondsMax: UInt64 = 3_600_000_000

    /// Histogram buckets per command: up to 2^39 µs (about six days); longer calls land in the last.
    static let bucketCount = 40

    /// The bucket of a duration: the smallest i with 2^i >= microseconds.
    static func bucket(of microseconds: Int64) -> Int {
        guard microseconds > 1 else { return 0 }
        return min(bucketCount - 1, 64 - (microseconds - 1).leadingZeroBitCount)
    }

    /// Most distinct error codes counted (Redis's errorstats bound); later new codes are
    /// not counted by code, only in total.
    static let errorCodesMax = 128

    /// Counts of commands without subcommands, indexed by `CommandID.ordinal` (no hash of
    /// the name per request), with the name they are shown under.
    private var plain = [(name: String, counts: Counts)?](repeating: nil, count: CommandID.allCases.count)
    /// Counts of subcommands (`config|get`), of container commands called without a known
    /// subcommand, and of commands without an id, by name.
    private var named: [String: Counts] = [:]
    private(set) var errors: [String: Int] = [:]
    /// Every error reply counted, whatever its code (INFO's total_error_replies).
    private(set) var errorReplies = 0

    /// Every command's counts by name (INFO, metrics and LATENCY HISTOGRAM read them; the
    /// request path does not).
    var commands: [String: Counts] {
        var all = named
        for case let (name, counts)? in plain { all[name] = counts }
        return all
    }

    /// Errors Redis gives before a command runs (its rejected_calls). EXECABORT only for
    /// an EXEC rejected itself ("... because of: <its error>"): EXEC that finds a queuing
    /// error ("... because of previous errors") ran, and failed.
    static let rejectionPrefixes = ["ERR wrong number of arguments", "NOAUTH", "NOPERM", "MOVED", "ASK ", "CROSSSLOT",
                                    "CLUSTERDOWN", "TRYAGAIN", "LOADING", "READONLY", "BUSY", "MISCONF", "OOM",
                                    "EXECABORT Transaction discarded because of:"]

    /// Counts one answered request of the command `spec` (nil: not a known command), sent
    /// as `request`: a container command's counts are its subcommand's.
    /// `countsError` false: the reply's error is not counted in errorstats (a script's
    /// call whose error the script's own reply carries, and is counted with).
    /// `ran`: the command is known to have run (its reply came once it had), so a script's
    /// error is its failure even when the script returned a rejection's text
    /// (`return redis.pcall('set', ...)` under OOM), as Redis counts it.
    /// `rejectedBeforeRunning`: whether an error came from the checks before the command
    /// ran, when the caller knows (a script's call); nil: judged from the error's code.
    mutating func record(_ spec: CommandSpec?, request: [Bytes], reply: RESPValue, microseconds: Int64, countsError: Bool = true,
                         ran: Bool = false, rejectedBeforeRunning: Bool? = nil, tracksLatency: Bool = false) {
        var code: String?
        if case .error(let text) = reply { code = String(text.prefix { $0 != " " }) }
        if countsError, let code {
            errorReplies += 1
            if errors[code] != nil || errors.count < Self.errorCodesMax { errors[code, default: 0] += 1 }
        }
        guard let spec else { return }
        var rejected = false
        if let code, case .error(let text) = reply {
            // An error a script raised while it ran (its text names the script) is the
            // script's failure, whatever its code: the script was not rejected.
            let scriptRan = Engine.scriptRuns.contains(spec.id ?? .ping) && (ran || text.contains(" script: "))
            rejected = rejectedBeforeRunning
                ?? ((Self.rejectionPrefixes.contains(where: { text.hasPrefix($0) }) || code == "ASK") && !scriptRan)
        }
        let failed = code != nil && !rejected
        let elapsed = max(0, microseconds)
        guard spec.subcommands.isEmpty, let id = spec.id else {
            // One hash of the name per request: the counts are updated in place.
            named[Node.statsName(spec, request), default: Counts()].add(rejected: rejected, failed: failed, microseconds: elapsed,
                                                                        tracksLatency: tracksLatency)
            return
        }
        let index = id.ordinal
        if plain[index] == nil { plain[index] = (spec.name, Counts()) }
        plain[index]?.counts.add(rejected: rejected, failed: failed, microseconds: elapsed, tracksLatency: tracksLatency)
    }

    /// INFO commandstats: `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..`.
    var commandFields: [(String, String)] {
        let commands = commands
        return commands.keys.sorted().map { name in
            let counts = commands[name]!  // `name` is one of the dictionary's own keys
            let usec = counts.microseconds
            let perCall = counts.calls > 0 ? Double(usec) / Double(counts.calls) : 0
            return ("cmdstat_\(name)", "calls=\(counts.calls),usec=\(usec),usec_per_call=\(String(format: "%.2f", perCall)),"
                        + "rejected_calls=\(counts.rejected),failed_calls=\(counts.failed)")
        }
    }

    /// INFO latencystats: `latency_percentiles_usec_<name>:p50=..,p99=..` for each command
    /// with tracked calls, at `percentiles`, in microseconds as Redis prints them.
    func latencyFields(percentiles: [Double]) -> [(String, String)] {
        let commands = commands
        return commands.keys.sorted().compactMap { name in
            guard let latencies = commands[name]?.latencies, latencies.totalCount > 0 else { return nil }
            let values = percentiles.map { percentile in
                "p\(Engine.percentileText(percentile))=\(String(format: "%.3f", Double(latencies.valueAtPercentile(percentile))))"
            }
            return ("latency_percentiles_usec_\(name)", values.joined(separator: ","))
        }
    }

    /// LATENCY HISTOGRAM: for `names` (every command called when empty; unknown names are
    /// left out, as Redis; a container command's name includes its subcommands), `calls` and the cumulative counts of the buckets from the first
    /// one used to the last one used, keyed by their bound in microseconds.
    func histogram(_ names: [String]) -> RESPValue {
        let commands = commands
        // A container's name stands for its subcommands too (`client` gives `client|id`...).
        let chosen = names.isEmpty ? commands.keys.sorted() : names.flatMap { name -> [String] in
            let lowered = name.lowercased()
            return [lowered] + commands.keys.filter { $0.hasPrefix(lowered + "|") }.sorted()
        }
        var seen = Set<String>()
        var pairs: [RESPPair] = []
        for name in chosen where seen.insert(name).inserted {
            guard let counts = commands[name], counts.calls > 0,
                  let first = counts.buckets.firstIndex(where: { $0 > 0 }), let last = counts.buckets.lastIndex(where: { $0 > 0 }) else { continue }
            var total = 0
            var buckets: [RESPPair] = []
            for index in 0...last {
                total += counts.buckets[index]
                if index >= first { buckets.append(RESPPair(.integer(Int64(1) << index), .integer(Int64(total)))) }
            }
            pairs.append(RESPPair(.bulk(name), .map([RESPPair("calls", .integer(Int64(counts.calls))), RESPPair("histogram_usec", .map(buckets))])))
        }
        return .map(pairs)
    }

    /// INFO errorstats: `errorstat_<CODE>:count=..`.
    var errorFields: [(String, String)] {
        errors.keys.sorted().map { ("errorstat_\($0)", "count=\(errors[$0]!)") }
    }
}
