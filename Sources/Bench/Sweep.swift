// Rate sweep: raises the offered (open-loop) rate step by step against one target, records
// latency, throughput and the server's CPU and RSS at each step, and derives the breaking
// point (the highest rate whose p99 stays under the SLO with at most `errorRateMax`
// failures), the knee of the latency curve, and cost (CPU-seconds per million operations
// and operations per second per core). Analysis is pure and tested on its own.
import Foundation

/// One step of a rate sweep.
public struct SweepStep: Codable, Sendable {
    public var offeredRate: Double
    public var result: PhaseResult
    public var serverCPUSeconds: Double?
    public var serverRSSBytes: Double?

    public init(offeredRate: Double, result: PhaseResult, serverCPUSeconds: Double?, serverRSSBytes: Double?) {
        self.offeredRate = offeredRate
        self.result = result
        self.serverCPUSeconds = serverCPUSeconds
        self.serverRSSBytes = serverRSSBytes
    }

    /// Server CPU seconds per million successful operations.
    public var cpuSecondsPerMillionOps: Double? {
        guard let cpu = serverCPUSeconds, result.latency.count > 0 else { return nil }
        return cpu / Double(result.latency.count) * 1e6
    }

    /// Successful operations per second per fully used core.
    public var opsPerSecondPerCore: Double? {
        guard let cpu = serverCPUSeconds, cpu > 0 else { return nil }
        return Double(result.latency.count) / cpu
    }

    /// Cores the server used during the step.
    public var serverCores: Double? {
        serverCPUSeconds.map { $0 / max(result.elapsedSeconds, 1e-9) }
    }

    var failureRate: Double {
        let failures = result.latency.errors + result.latency.timeouts
        return Double(failures) / Double(max(result.issued, 1))
    }
}

/// The outcome of a rate sweep against one target.
public struct SweepReport: Codable, Sendable {
    public var target: String
    public var sloMilliseconds: Double
    public var steps: [SweepStep]
    public var breakingPointRate: Double?
    public var breakingPointThroughput: Double?
    public var kneeRate: Double?
    public var probe: String
    /// Ops/s per core and CPU-seconds per million ops at the breaking point.
    public var opsPerSecondPerCore: Double?
    public var cpuSecondsPerMillionOps: Double?
    public var clientCPUBound: Bool
}

public enum SweepAnalysis {
    /// Failures (errors + timeouts) a step may have and still count as within the SLO.
    public static let errorRateMax = 0.001
    /// A step whose achieved throughput is below this fraction of the offered rate did not
    /// keep up, whatever its p99.
    public static let throughputFractionMin = 0.95

    /// Whether a step meets the SLO.
    public static func withinSLO(_ step: SweepStep, sloMilliseconds: Double) -> Bool {
        step.result.latency.p99Milliseconds <= sloMilliseconds
            && step.failureRate <= errorRateMax
            && step.result.throughput >= step.offeredRate * throughputFractionMin
    }

    /// The index of the highest-rate step within the SLO such that every lower step also
    /// met it; nil if even the first step failed.
    public static func breakingPoint(_ steps: [SweepStep], sloMilliseconds: Double) -> Int? {
        var best: Int?
        for (index, step) in steps.enumerated() {
            guard withinSLO(step, sloMilliseconds: sloMilliseconds) else { break }
            best = index
        }
        return best
    }

    /// The knee of p99 against offered rate (Kneedle): normalise both axes to [0, 1] and
    /// take the point farthest below the chord from the first to the last point. Latency is
    /// taken in log scale so one huge overloaded step does not flatten the rest.
    public static func knee(_ points: [(x: Double, y: Double)]) -> Int? {
        guard points.count >= 3 else { return nil }
        let xs = points.map(\.x)
        let ys = points.map { log10(max($0.y, 1e-3)) }
        guard let xMin = xs.min(), let xMax = xs.max(), let yMin = ys.min(), let yMax = ys.max(),
              xMax > xMin, yMax > yMin else { return nil }
        var best: (index: Int, gap: Double)?
        for index in points.indices {
            let x = (xs[index] - xMin) / (xMax - xMin)
            let y = (ys[index] - yMin) / (yMax - yMin)
            let chordY = (ys[0] - yMin) / (yMax - yMin)
                + ((ys[points.count - 1] - ys[0]) / (yMax - yMin)) * (x - (xs[0] - xMin) / (xMax - xMin))
            let gap = chordY - y
            if gap > (best?.gap ?? 0) { best = (index, gap) }
        }
        return best?.index
    }

    /// The rates of a geometric sweep from `start` to at most `max`, at most `sweepStepsMax`.
    public static func rates(start: Double, max: Double, factor: Double) -> [Double] {
        var rates: [Double] = []
        var rate = start
        while rate <= max * 1.0001 && rates.count < BenchLimits.sweepStepsMax {
            rates.append(rate.rounded())
            rate *= factor
        }
        return rates
    }

    public static func report(target: String, steps: [SweepStep], sloMilliseconds: Double, probe: String) -> SweepReport {
        let breaking = breakingPoint(steps, sloMilliseconds: sloMilliseconds)
        let knee = knee(steps.map { ($0.offeredRate, $0.result.latency.p99Milliseconds) })
        let best = breaking.map { steps[$0] }
        let clientBound = steps.contains { $0.result.clientCPUSeconds >= 0.9 * $0.result.elapsedSeconds }
        return SweepReport(target: target, sloMilliseconds: sloMilliseconds, steps: steps,
                           breakingPointRate: best?.offeredRate, breakingPointThroughput: best?.result.throughput,
                           kneeRate: knee.map { steps[$0].offeredRate }, probe: probe,
                           opsPerSecondPerCore: best?.opsPerSecondPerCore,
                           cpuSecondsPerMillionOps: best?.cpuSecondsPerMillionOps, clientCPUBound: clientBound)
    }
}

/// Runs a rate sweep with an open client.
public struct SweepRunner: Sendable {
    public var rates: [Double]
    public var stepSeconds: Double
    public var sloMilliseconds: Double
    /// Stop after this many consecutive steps over the SLO.
    public var failedStepsToStop = 2

    public init(rates: [Double], stepSeconds: Double, sloMilliseconds: Double) {
        self.rates = rates
        self.stepSeconds = stepSeconds
        self.sloMilliseconds = sloMilliseconds
    }

    public func run(target: String, client: LoadClient, probe: ServerProbe,
                    log: @Sendable (String) -> Void) async throws -> SweepReport {
        var steps: [SweepStep] = []
        var failedInARow = 0
        for rate in rates {
            let before = await probe.sample()
            let (result, _) = try await client.run(PhasePlan(rate: rate, durationSeconds: stepSeconds))
            let after = await probe.sample()
            let cpu = before?.cpuSeconds.flatMap { start in after?.cpuSeconds.map { $0 - start } }
            let step = SweepStep(offeredRate: rate, result: result, serverCPUSeconds: cpu, serverRSSBytes: after?.rssBytes)
            steps.append(step)
            log(SummaryTable.sweepLine(step, sloMilliseconds: sloMilliseconds))
            failedInARow = SweepAnalysis.withinSLO(step, sloMilliseconds: sloMilliseconds) ? 0 : failedInARow + 1
            if failedInARow >= failedStepsToStop { break }
        }
        return SweepAnalysis.report(target: target, steps: steps, sloMilliseconds: sloMilliseconds, probe: probe.sourceName)
    }
}
