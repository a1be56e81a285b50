// Plain-text output: one line per sweep step or connections level while a run goes, and the
// summary tables at the end. Everything it prints comes from the result structs, so the
// text, the JSON and the HTML report always agree.
import Foundation

/// Everything one `trestle bench` invocation measured; what `--json` writes.
public struct BenchResults: Codable, Sendable {
    public var tool = "trestle bench"
    public var command: String
    public var startedAt: String
    public var machine: String
    public var runs: [RunReport] = []
    public var sweeps: [SweepReport] = []
    public var connectionSweeps: [ConnectionSweepReport] = []

    public init(command: String, startedAt: Date = Date()) {
        self.command = command
        self.startedAt = ISO8601DateFormatter().string(from: startedAt)
        machine = "\(ProcessInfo.processInfo.activeProcessorCount) cores, "
            + "\(ProcessInfo.processInfo.physicalMemory / (1 << 30)) GiB"
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}

/// One plain run (`trestle bench run`).
public struct RunReport: Codable, Sendable {
    public var target: String
    public var workload: String
    public var clients: Int
    public var pipeline: Int
    public var result: PhaseResult

    public init(target: String, workload: String, clients: Int, pipeline: Int, result: PhaseResult) {
        self.target = target
        self.workload = workload
        self.clients = clients
        self.pipeline = pipeline
        self.result = result
    }
}

public enum SummaryTable {
    static func ms(_ value: Double) -> String { String(format: "%.3f", value) }
    static func rate(_ value: Double?) -> String { value.map { String(format: "%.0f", $0) } ?? "-" }

    static func sweepLine(_ step: SweepStep, sloMilliseconds: Double) -> String {
        let latency = step.result.latency
        let verdict = SweepAnalysis.withinSLO(step, sloMilliseconds: sloMilliseconds) ? "ok" : "OVER"
        return String(format: "  offered %9.0f/s  achieved %9.0f/s  p50 %8.3f  p99 %9.3f ms  errors %d  timeouts %d  server %@ cores  %@",
                      step.offeredRate, step.result.throughput, latency.p50Milliseconds, latency.p99Milliseconds,
                      latency.errors, latency.timeouts, step.serverCores.map { String(format: "%.2f", $0) } ?? "-", verdict)
    }

    static func connectionLine(_ level: ConnectionLevel) -> String {
        let rss = level.serverRSSBytes.map { String(format: "%.1f MiB", $0 / 1_048_576) } ?? "-"
        let per = level.bytesPerConnection.map { String(format: "%.0f B", $0) } ?? "-"
        let p99 = level.result.map { ms($0.latency.p99Milliseconds) } ?? "-"
        return "  connections \(level.connections)  server RSS \(rss)  per connection \(per)  p99 \(p99) ms  "
            + "connect failures \(level.connectFailures)  unserved \(level.pingFailures)"
    }

    public static func render(_ results: BenchResults) -> String {
        var lines: [String] = []
        let names = results.runs.map(\.target) + results.sweeps.map(\.target)
        let nameWidth = max(17, (names.map(\.count).max() ?? 0) + 1)
        if !results.runs.isEmpty {
            lines.append(pad("target", nameWidth) + " " + pad("workload", 30) + "     ops/s     p50 ms     p99 ms   p99.9 ms     max ms  errors timeouts")
            for run in results.runs {
                let l = run.result.latency
                lines.append(pad(run.target, nameWidth) + " " + pad(run.workload, 30) + String(format: " %9.0f %10.3f %10.3f %10.3f %10.3f %7d %8d",
                             run.result.throughput, l.p50Milliseconds, l.p99Milliseconds, l.p999Milliseconds, l.maxMilliseconds, l.errors, l.timeouts))
                for (kind, count) in l.errorKinds.sorted(by: { $0.key < $1.key }) { lines.append("    error \(kind): \(count)") }
            }
        }
        if !results.sweeps.isEmpty {
            lines.append(pad("target", nameWidth) + " SLO p99   breaking point (offered / achieved ops/s)   knee ops/s   ops/s per core   CPU-s per 1M ops")
            for sweep in results.sweeps {
                let breaking = "\(rate(sweep.breakingPointRate)) / \(rate(sweep.breakingPointThroughput))"
                lines.append(pad(sweep.target, nameWidth) + " " + pad("\(formatShort(sweep.sloMilliseconds)) ms", 9) + " " + pad(breaking, 43)
                             + " " + pad(rate(sweep.kneeRate), 12) + " " + pad(rate(sweep.opsPerSecondPerCore), 16) + " "
                             + (sweep.cpuSecondsPerMillionOps.map { String(format: "%.2f", $0) } ?? "-"))
                if sweep.clientCPUBound { lines.append("    note: the client used a full core in some step; higher steps may be client-bound") }
            }
        }
        for sweep in results.connectionSweeps {
            lines.append("\(sweep.target): connections at \(rate(sweep.rate)) ops/s (RLIMIT_NOFILE \(sweep.fileDescriptorLimit))")
            lines.append("  connections   server RSS MiB   bytes/conn   p99 ms   failures")
            for level in sweep.levels {
                let rss = level.serverRSSBytes.map { String(format: "%.1f", $0 / 1_048_576) } ?? "-"
                let per = level.bytesPerConnection.map { String(format: "%.0f", $0) } ?? "-"
                let p99 = level.result.map { ms($0.latency.p99Milliseconds) } ?? "-"
                let failures = level.connectFailures + level.pingFailures + (level.result.map { $0.latency.errors + $0.latency.timeouts } ?? 0)
                lines.append("  " + pad("\(level.connections)", 13) + " " + pad(rss, 16) + " " + pad(per, 12) + " " + pad(p99, 8) + " \(failures)")
            }
            if let limited = sweep.limitedBy { lines.append("  stopped: \(limited)") }
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
