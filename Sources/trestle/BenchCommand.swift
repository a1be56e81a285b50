// `trestle bench`: the scalability lab. Thin subcommands over the Bench module: `run` (one
// measured phase, closed or open loop), `sweep` (raise the offered rate to the breaking
// point at a p99 SLO, with cost), `connections` (the C10K test) and `scaleout` (runs
// scripts/bench-scaleout: throughput as capped nodes are added). Works against Trestle and
// any RESP server on this machine; every target must be a loopback address. Results print
// as a table and optionally as JSON and HTML.
import ArgumentParser
import Bench
import Foundation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure response time under load, breaking points, connections and cost.",
        subcommands: [BenchRun.self, BenchSweep.self, BenchConnections.self, BenchScaleout.self, BenchMove.self, BenchReport.self],
        defaultSubcommand: BenchRun.self)
}

/// A server to measure: a name for the report, its address, and optionally its PID.
struct BenchTarget {
    var name: String
    var address: BenchAddress
    var pid: Int32?

    /// Parses `NAME=HOST:PORT[@PID]` or `HOST:PORT[@PID]`.
    static func parse(_ text: String) -> BenchTarget? {
        var rest = text
        var name: String?
        if let equals = rest.firstIndex(of: "=") {
            name = String(rest[..<equals])
            rest = String(rest[rest.index(after: equals)...])
        }
        var pid: Int32?
        if let at = rest.lastIndex(of: "@") {
            guard let number = Int32(rest[rest.index(after: at)...]) else { return nil }
            pid = number
            rest = String(rest[..<at])
        }
        guard let address = BenchAddress.parse(rest) else { return nil }
        return BenchTarget(name: name ?? address.description, address: address, pid: pid)
    }

    var probe: ServerProbe { pid.map { .process(pid: $0) } ?? .info(address) }
}

struct TargetOptions: ParsableArguments {
    @Option(help: "Server host (loopback only).") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 6379
    @Option(help: "PID of a local server: CPU and RSS come from /proc/PID (else from INFO).") var serverPid: Int32?
    @Option(name: .customLong("target"), help: "NAME=HOST:PORT[@PID]; repeat to compare servers side by side in one run.")
    var targets: [String] = []

    func resolved() throws -> [BenchTarget] {
        if targets.isEmpty {
            let address = BenchAddress(host: host, port: port)
            return [BenchTarget(name: address.description, address: address, pid: serverPid)]
        }
        return try targets.map { text in
            guard let target = BenchTarget.parse(text) else { throw ValidationError("bad --target \(text); expected NAME=HOST:PORT[@PID]") }
            return target
        }
    }
}

struct WorkloadOptions: ParsableArguments {
    @Option(help: "YCSB workload: A (50/50 read/update), B (95/5), C (read only), D (read latest), F (read-modify-write).")
    var workload = "A"
    @Option(help: "Custom mix instead of a workload, e.g. get=0.9,set=0.1 (kinds: get, set, rmw, insert, ping).")
    var mix: String?
    @Option(help: "Key distribution: uniform, zipfian, zipfian(0.99), hotspot, hotspot(0.2,0.8), latest (default: the workload's).")
    var distribution: String?
    @Option(help: "Distinct keys.") var keyspace = 100_000
    @Option(help: "Value size in bytes.") var valueSize = 64
    @Option(help: "Client connections.") var clients = 50
    @Option(help: "Requests in flight per connection.") var pipeline = 1
    @Option(help: "Seed of the key sequence.") var seed: UInt64 = 1
    @Option(help: "Prefix of every key.") var keyPrefix = "bench:"
    @Flag(help: "No live progress line.") var noProgress = false

    func settings(for address: BenchAddress) throws -> LoadSettings {
        var settings = LoadSettings()
        settings.target = address
        guard var workload = Workload.preset(self.workload) else { throw ValidationError("unknown --workload \(self.workload)") }
        if let distribution {
            guard let parsed = KeyDistribution.parse(distribution) else { throw ValidationError("bad --distribution \(distribution)") }
            workload.distribution = parsed
        }
        if let mix {
            guard let custom = Workload.parseMix(mix, distribution: workload.distribution) else { throw ValidationError("bad --mix \(mix)") }
            workload = custom
        }
        settings.workload = workload
        settings.keyspace = keyspace
        settings.valueBytes = valueSize
        settings.clients = clients
        settings.pipeline = pipeline
        settings.seed = seed
        settings.keyPrefix = keyPrefix
        settings.progress = !noProgress
        do { try settings.validate() } catch { throw ValidationError(error.description) }
        return settings
    }
}

struct OutputOptions: ParsableArguments {
    @Option(help: "Write all results as JSON to this file.") var json: String?
    @Option(help: "Write a self-contained HTML report with charts to this file.") var html: String?

    func write(_ results: BenchResults) throws {
        print(SummaryTable.render(results))
        if let json {
            try results.json().write(to: URL(fileURLWithPath: json))
            print("JSON: \(json)")
        }
        if let html {
            try Data(HTMLReport.render(results).utf8).write(to: URL(fileURLWithPath: html))
            print("HTML: \(html)")
        }
    }
}

func commandLine() -> String { CommandLine.arguments.joined(separator: " ") }

struct BenchRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "One measured phase per target (the default).")
    @OptionGroup var target: TargetOptions
    @OptionGroup var load: WorkloadOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Seconds to run (default 10 unless --requests is given).") var duration: Double?
    @Option(help: "Stop after this many operations.") var requests: Int?
    @Option(help: "Open loop: offered rate in ops/s across all connections (default: closed loop).") var rate: Double?

    func run() async throws {
        var results = BenchResults(command: commandLine())
        for target in try target.resolved() {
            let settings = try load.settings(for: target.address)
            let client = try LoadClient(settings: settings)
            let failed = try await client.connect(count: settings.clients)
            if failed > 0 { print("\(target.name): \(failed) of \(settings.clients) connections failed") }
            let plan = PhasePlan(rate: rate, durationSeconds: duration ?? (requests == nil ? 10 : nil), requests: requests)
            do {
                let (result, _) = try await client.run(plan)
                results.runs.append(RunReport(target: target.name, workload: settings.workload.description,
                                              clients: settings.clients, pipeline: settings.pipeline, result: result))
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
        try output.write(results)
        if results.runs.contains(where: { $0.result.latency.count == 0 }) { throw ExitCode(1) }
    }
}

struct BenchSweep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sweep", abstract: "Raise the offered rate to the breaking point at a p99 SLO.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var load: WorkloadOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "p99 SLO in milliseconds.") var slo = 10.0
    @Option(help: "First offered rate, ops/s.") var startRate = 5_000.0
    @Option(help: "Highest offered rate, ops/s.") var maxRate = 400_000.0
    @Option(help: "Each step multiplies the rate by this.") var factor = 1.5
    @Option(help: "Explicit rates instead of start/max/factor, e.g. 1000,2000,4000.") var rates: String?
    @Option(help: "Seconds per step.") var stepDuration = 5.0

    func run() async throws {
        let list = try rateList()
        var results = BenchResults(command: commandLine())
        for target in try target.resolved() {
            let settings = try load.settings(for: target.address)
            print("sweep \(target.name): \(settings.workload), \(settings.clients) clients, pipeline \(settings.pipeline)")
            let client = try LoadClient(settings: settings)
            _ = try await client.connect(count: settings.clients)
            let runner = SweepRunner(rates: list, stepSeconds: stepDuration, sloMilliseconds: slo)
            let report = try await runner.run(target: target.name, client: client, probe: target.probe) { print($0) }
            await client.shutdown()
            results.sweeps.append(report)
        }
        try output.write(results)
    }

    func rateList() throws -> [Double] {
        guard slo > 0, stepDuration > 0, stepDuration <= 600 else { throw ValidationError("--slo and --step-duration must be positive") }
        if let rates {
            let list = rates.split(separator: ",").compactMap { Double($0) }
            guard !list.isEmpty, list.count <= BenchLimits.sweepStepsMax, list.allSatisfy({ $0 > 0 }) else { throw ValidationError("bad --rates") }
            return list.sorted()
        }
        guard startRate > 0, maxRate >= startRate, factor > 1 else { throw ValidationError("need 0 < --start-rate <= --max-rate and --factor > 1") }
        return SweepAnalysis.rates(start: startRate, max: maxRate, factor: factor)
    }
}

struct BenchConnections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connections", abstract: "How many connections a node holds: memory per connection and p99 (C10K).")
    @OptionGroup var target: TargetOptions
    @OptionGroup var load: WorkloadOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Connection counts to reach, e.g. 1000,5000,10000.") var levels = "1000,5000,10000"
    @Option(help: "Fixed offered rate, ops/s, spread over all connections.") var rate = 2_000.0
    @Option(help: "Seconds of measurement per level.") var stepDuration = 5.0

    func run() async throws {
        let list = levels.split(separator: ",").compactMap { Int($0) }
        guard !list.isEmpty, list.allSatisfy({ (1...BenchLimits.connectionsMax).contains($0) }) else { throw ValidationError("bad --levels") }
        var results = BenchResults(command: commandLine())
        for target in try target.resolved() {
            let settings = try load.settings(for: target.address)
            print("connections \(target.name): levels \(list)")
            let runner = ConnectionSweepRunner(levels: list, rate: rate, stepSeconds: stepDuration)
            results.connectionSweeps.append(try await runner.run(target: target.name, settings: settings, probe: target.probe) { print($0) })
        }
        try output.write(results)
    }
}

struct BenchReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Merge JSON results of several runs into one table and HTML report.")
    @Argument(help: "JSON files written by --json.") var inputs: [String]
    @OptionGroup var output: OutputOptions

    func run() async throws {
        var merged = BenchResults(command: commandLine())
        for input in inputs {
            let results = try JSONDecoder().decode(BenchResults.self, from: Data(contentsOf: URL(fileURLWithPath: input)))
            merged.runs += results.runs
            merged.sweeps += results.sweeps
            merged.connectionSweeps += results.connectionSweeps
        }
        try output.write(merged)
    }
}

struct BenchScaleout: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scaleout",
        abstract: "Throughput and scaling efficiency as nodes are added, each node capped to the same CPU share (Trestle and Redis Cluster).",
        discussion: """
            Runs scripts/bench-scaleout from the source tree this binary was built in (it \
            starts `trestle local --nodes N --shards N` and Redis Cluster with N masters for \
            each N, caps every server process with cgroup v1, drives redis-benchmark --cluster \
            and prints throughput and efficiency per node count; see its --help). Needs \
            python3 and redis-benchmark (Debian's redis-tools).
            """)
    @Option(help: "Node counts, e.g. 3,6,9,12.") var nodes = "3,6,9,12"
    @Option(help: "CPU share of a core per server process.") var share = 0.05
    @Option(help: "Requests per test.") var requests = 20_000
    @Option(help: "redis-benchmark connections.") var clients = 50
    @Option(help: "Targets: trestle, redis.") var only = "trestle,redis"
    @Option(help: "Write the rows as JSON here.") var json: String?
    @Option(help: "Write an HTML page with the charts here.") var html: String?

    func run() throws {
        var arguments = ["--nodes", nodes, "--share", String(share), "--requests", String(requests),
                         "--clients", String(clients), "--only", only, "--no-build"]
        if let json { arguments += ["--json", json] }
        if let html { arguments += ["--html", html] }
        try Self.runScript("bench-scaleout", arguments)
    }

    /// Runs scripts/`name` of the checkout holding this binary with python3, with
    /// TRESTLE_BIN set to this binary; fails with the script's exit status.
    static func runScript(_ name: String, _ arguments: [String]) throws {
        guard let script = script(name) else {
            throw ValidationError("scripts/\(name) was not found next to this binary's source tree; run it from a checkout of Trestle")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TRESTLE_BIN"] = environment["TRESTLE_BIN"] ?? executable()
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw ExitCode(process.terminationStatus) }
    }

    static func executable() -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    }

    /// scripts/`name` of the checkout holding this binary (.build/<config>/trestle).
    static func script(_ name: String) -> String? {
        var directory = URL(fileURLWithPath: executable()).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("scripts/\(name)").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return nil
    }
}

struct BenchMove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "move",
        abstract: "A move of slots holding many keys under load: its duration and the latency of requests to slots that do not move (Trestle and Redis Cluster).",
        discussion: """
            Runs scripts/bench-move from the source tree this binary was built in: it loads \
            --keys keys over slots 0..--slots-1 of `trestle local --nodes 3 --shards 2` and of \
            a 3-master Redis Cluster, moves those slots (`trestle cluster move`, `redis-cli \
            --cluster reshard`) while probe connections time GET and SET on other slots, and \
            prints the move's duration and the probes' percentiles before and during it; see \
            its --help. Needs python3 (and redis-server for the comparison).
            """)
    @Option(help: "Keys loaded into the moving slots.") var keys = 1_000_000
    @Option(help: "Slots moved (0..N-1).") var slots = 1000
    @Option(name: .customLong("value-size"), help: "Bytes per value.") var valueSize = 32
    @Option(help: "Probe connections.") var probes = 4
    @Option(help: "Targets: trestle, redis.") var only = "trestle,redis"
    @Option(help: "Write the rows as JSON here.") var json: String?

    func run() throws {
        var arguments = ["--keys", String(keys), "--slots", String(slots), "--value-size", String(valueSize),
                         "--probes", String(probes), "--only", only, "--no-build"]
        if let json { arguments += ["--json", json] }
        try BenchScaleout.runScript("bench-move", arguments)
    }
}
