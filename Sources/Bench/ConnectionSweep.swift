// Connections sweep (the C10K test): opens client connections level by level (1k, 5k, 10k,
// ...), checks every one is served (one PING each), reads the server's RSS to derive memory
// per connection, then measures p99 at a fixed modest rate spread over all connections.
// The file-descriptor limit is raised (setrlimit RLIMIT_NOFILE) as far as the levels need
// and the system allows; a level beyond it is reported as limited, never silently skipped.
import Foundation

/// One level of a connections sweep.
public struct ConnectionLevel: Codable, Sendable {
    public var connections: Int
    public var connectFailures: Int
    public var pingFailures: Int
    public var serverRSSBytes: Double?
    public var bytesPerConnection: Double?
    public var result: PhaseResult?
}

public struct ConnectionSweepReport: Codable, Sendable {
    public var target: String
    public var rate: Double
    public var baselineRSSBytes: Double?
    public var levels: [ConnectionLevel]
    public var fileDescriptorLimit: Int
    /// Why the sweep stopped before its last level, if it did.
    public var limitedBy: String?
}

public enum FileDescriptors {
    /// Descriptors kept free for everything that is not a benchmark connection.
    public static let reserveCount = 64

    /// Raises the soft (and if needed and allowed, hard) RLIMIT_NOFILE to `wanted`;
    /// returns the soft limit in force afterwards.
    public static func raiseLimit(to wanted: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return 0 }
        let target = rlim_t(wanted)
        if limit.rlim_cur >= target { return Int(limit.rlim_cur) }
        if limit.rlim_max < target {
            var raised = limit
            raised.rlim_max = target
            raised.rlim_cur = target
            if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { return wanted }
        }
        limit.rlim_cur = min(target, limit.rlim_max)
        _ = setrlimit(RLIMIT_NOFILE_VALUE, &limit)
        var now = rlimit()
        _ = getrlimit(RLIMIT_NOFILE_VALUE, &now)
        return Int(now.rlim_cur)
    }

    #if canImport(Glibc)
    static let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue))
    #else
    static let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
    #endif
}

public struct ConnectionSweepRunner: Sendable {
    public var levels: [Int]
    public var rate: Double
    public var stepSeconds: Double
    /// Seconds to let the server settle before reading its RSS.
    public var settleSeconds = 1.0

    public init(levels: [Int], rate: Double, stepSeconds: Double) {
        self.levels = levels
        self.rate = rate
        self.stepSeconds = stepSeconds
    }

    public func run(target: String, settings: LoadSettings, probe: ServerProbe,
                    log: @Sendable (String) -> Void) async throws -> ConnectionSweepReport {
        let highest = levels.max() ?? 0
        let fdLimit = FileDescriptors.raiseLimit(to: highest + FileDescriptors.reserveCount)
        var single = settings
        single.clients = 1
        let client = try LoadClient(settings: single)
        let baseline = await probe.sample()?.rssBytes
        var report = ConnectionSweepReport(target: target, rate: rate, baselineRSSBytes: baseline, levels: [],
                                           fileDescriptorLimit: fdLimit, limitedBy: nil)
        var opened = 0
        for level in levels.sorted() {
            if level + FileDescriptors.reserveCount > fdLimit {
                report.limitedBy = "RLIMIT_NOFILE \(fdLimit) is below \(level) connections + \(FileDescriptors.reserveCount) reserve"
                break
            }
            let failures = try await client.connect(count: level - opened)
            opened = level
            let pings = try await client.pingAll()
            try await Task.sleep(nanoseconds: UInt64(settleSeconds * 1e9))
            let rss = await probe.sample()?.rssBytes
            let (result, _) = try await client.run(PhasePlan(rate: rate, durationSeconds: stepSeconds))
            let perConnection = rss.flatMap { now in baseline.map { (now - $0) / Double(level) } }
            let entry = ConnectionLevel(connections: level, connectFailures: failures, pingFailures: pings.failed,
                                        serverRSSBytes: rss, bytesPerConnection: perConnection, result: result)
            report.levels.append(entry)
            log(SummaryTable.connectionLine(entry))
            if failures > 0 || pings.failed > 0 {
                report.limitedBy = "\(failures) connects failed and \(pings.failed) connections were not served at \(level)"
                break
            }
        }
        await client.shutdown()
        return report
    }
}
