// The public face of the load generator: settings, results, and an async client that runs
// phases against one target. One `MultiThreadedEventLoopGroup` with a single thread drives
// every connection (the machine's other core belongs to the server under test). Settings
// validate themselves; every run is bounded by duration or request count and goes to a
// loopback address only.
import Foundation
import NIOCore
import NIOPosix

public enum BenchError: Error, CustomStringConvertible, Sendable {
    case invalid(String)
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalid(let text): return text
        case .unavailable(let text): return text
        }
    }
}

/// What to send, where, and how hard. Defaults match `trestle bench` without options.
public struct LoadSettings: Sendable {
    public var target = BenchAddress(host: "127.0.0.1", port: 6379)
    public var workload = Workload.preset("A") ?? Workload(name: "get", weights: [(.get, 1)], distribution: .uniform)
    public var keyspace = 100_000
    public var valueBytes = 64
    public var clients = 50
    public var pipeline = 1
    public var seed: UInt64 = 1
    public var keyPrefix = "bench:"
    /// Print a live progress line (only honoured when stdout is a terminal).
    public var progress = false

    public init() {}

    public func validate() throws(BenchError) {
        guard target.isLoopback else { throw .invalid("target \(target) is not a loopback address; bench only sends to 127.0.0.1") }
        guard (1...BenchLimits.keyspaceMax).contains(keyspace) else { throw .invalid("--keyspace must be 1...\(BenchLimits.keyspaceMax)") }
        guard (0...BenchLimits.valueBytesMax).contains(valueBytes) else { throw .invalid("--value-size must be 0...\(BenchLimits.valueBytesMax)") }
        guard (1...BenchLimits.connectionsMax).contains(clients) else { throw .invalid("--clients must be 1...\(BenchLimits.connectionsMax)") }
        guard (1...BenchLimits.pipelineDepthMax).contains(pipeline) else { throw .invalid("--pipeline must be 1...\(BenchLimits.pipelineDepthMax)") }
    }
}

/// How one measured phase issues requests and when it stops.
public struct PhasePlan: Sendable {
    /// nil: closed loop (each connection keeps `pipeline` requests in flight); else the
    /// offered rate in operations per second across all connections.
    public var rate: Double?
    public var durationSeconds: Double?
    public var requests: Int?

    public init(rate: Double? = nil, durationSeconds: Double? = nil, requests: Int? = nil) {
        self.rate = rate
        self.durationSeconds = durationSeconds
        self.requests = requests
    }

    public func validate() throws(BenchError) {
        guard durationSeconds != nil || requests != nil else { throw .invalid("give --duration or --requests") }
        if let durationSeconds, !(durationSeconds > 0 && durationSeconds <= BenchLimits.durationSecondsMax) {
            throw .invalid("--duration must be in (0, \(BenchLimits.durationSecondsMax)] seconds")
        }
        if let requests, !(1...BenchLimits.requestsMax).contains(requests) { throw .invalid("--requests out of range") }
        if let rate, !(rate > 0 && rate <= BenchLimits.rateOpsPerSecondMax) { throw .invalid("--rate out of range") }
    }
}

/// The measurements of one phase.
public struct PhaseResult: Codable, Sendable {
    public var mode: String
    public var offeredRate: Double?
    public var elapsedSeconds: Double
    public var issued: Int
    /// Successful operations per second.
    public var throughput: Double
    public var latency: LatencySummary
    /// CPU seconds the benchmark process itself used (to spot a client-bound run).
    public var clientCPUSeconds: Double
    public var connections: Int
}

/// Runs phases against one target over a fixed set of connections.
public final class LoadClient: Sendable {
    public let settings: LoadSettings
    private let group: MultiThreadedEventLoopGroup
    private let pool: LoadPool

    public init(settings: LoadSettings) throws(BenchError) {
        try settings.validate()
        self.settings = settings
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let reporter = settings.progress && ProgressReporter.stdoutIsTerminal ? ProgressReporter() : nil
        pool = LoadPool(loop: loop, settings: settings, progress: reporter)
    }

    /// Opens `count` more connections (in batches so the listen backlog keeps up) and
    /// returns how many failed to connect.
    public func connect(count: Int, batch: Int = 256) async throws -> Int {
        try await pool.loop.flatSubmit { self.pool.connect(count: count, batch: batch) }.get()
    }

    public var liveConnections: Int {
        get async throws { try await pool.loop.submit { self.pool.liveConnectionCount }.get() }
    }

    /// Sends one PING on every connection; returns the number that answered +PONG.
    public func pingAll() async throws -> (answered: Int, failed: Int) {
        let outcome = try await pool.loop.flatSubmit {
            self.pool.startPhase(mode: .onePerConnection, durationSeconds: 30, requestLimit: nil)
        }.get()
        return (outcome.recorder.successes, outcome.recorder.errors + outcome.recorder.timeouts)
    }

    /// Runs one measured phase and returns its result and raw recorder (for merging).
    public func run(_ plan: PhasePlan) async throws -> (PhaseResult, LatencyRecorder) {
        try plan.validate()
        let cpuBefore = ProcessStats.selfCPUSeconds()
        let mode: PhaseMode = plan.rate.map { .openLoop(ratePerSecond: $0) } ?? .closedLoop
        let outcome = try await pool.loop.flatSubmit {
            self.pool.startPhase(mode: mode, durationSeconds: plan.durationSeconds, requestLimit: plan.requests)
        }.get()
        let live = try await liveConnections
        let result = PhaseResult(
            mode: plan.rate == nil ? "closed-loop" : "open-loop", offeredRate: plan.rate,
            elapsedSeconds: outcome.elapsedSeconds, issued: outcome.issued,
            throughput: Double(outcome.recorder.successes) / max(outcome.elapsedSeconds, 1e-9),
            latency: outcome.recorder.summary, clientCPUSeconds: ProcessStats.selfCPUSeconds() - cpuBefore,
            connections: live)
        return (result, outcome.recorder)
    }

    /// Closes every connection and stops the event loop thread.
    public func shutdown() async {
        _ = try? await pool.loop.submit { self.pool.closeAll() }.get()
        try? await group.shutdownGracefully()
    }
}
