// `trestle sim`: runs the deterministic cluster simulator over many seeds, or replays one
// seed with an optional trace. A failure prints the command that replays it. By default it
// simulates clusters of the node runtime that ships (NodeRuntime's `Node`); `--raft-core`
// runs the older campaign of the bare Raft core with a toy state machine.

import ArgumentParser
import Consensus
import Core
import Dispatch
import NodeRuntime
import Simulation

struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run the deterministic cluster simulator and check every history.",
        discussion: """
        By default each seed runs a cluster of real node runtimes (3 nodes, 3 shards plus the \
        directory, proxy mode) over simulated disks, clocks and network, with RESP clients \
        doing SET, GET, INCR and WATCH/MULTI/EXEC compare-and-set; a node joins and one \
        leaves mid-run. Histories are checked for linearizability and replicas for \
        convergence. --raft-core runs the older campaign of the bare Raft core instead.
        """)

    @Flag(help: "Simulate the bare Raft core with a toy state machine (the older campaign) instead of node runtimes.")
    var raftCore = false
    @Flag(help: "Node runtime simulation: no node joins or leaves mid-run.")
    var noMembership = false
    @Flag(help: "Node runtime simulation: the node that joined is the one removed later, so shards' replicas return to nodes that held them before.")
    var removeAddedNode = false
    @Option(help: "Node runtime simulation: writes between a replica's snapshots (fewer snapshots keep more of each log to replay).")
    var snapshotEntries = ClusterSimulationOptions.defaultSnapshotEntries
    @Option(help: "Node runtime simulation: slot moves between shards begun during the fault phase.")
    var slotMoves = 2
    @Flag(help: "Node runtime simulation: the directory leader splits shards when the added node exceeds the shard count (as nodes do by default).")
    var autoSplit = false

    @Option(help: "Number of seeds to run.") var seeds: Int = 100
    @Option(help: "First seed of the campaign.") var startSeed: UInt64 = 1
    @Option(help: "Run exactly this seed (replay).") var seed: UInt64?
    @Option(help: "Voters per cluster: 3, 5 or 7 (default: varies by seed).") var nodes: Int?
    @Option(help: "Client operations per seed.") var ops: Int = 300
    @Flag(help: "Print the messages and state changes of the run (with --seed).") var trace = false
    @Flag(help: "Run without faults.") var noFaults = false
    @Option(help: "Comma-separated fault kinds to inject (default: a random subset per seed). Node runtimes: \(ClusterFaultKind.allCases.map(\.rawValue).joined(separator: ",")); --raft-core: \(FaultKind.allCases.map(\.rawValue).joined(separator: ",")).")
    var faults: String?
    @Option(help: "Chance that a new leader fails soon after winning or after its first commit (with leader-fails).")
    var leaderFailureChance: Double = 0.35
    @Option(help: "Enable a deliberately broken rule (test-only): \((NodeMutations.Name.allCases.map(\.rawValue) + Mutations.Name.allCases.map(\.rawValue)).joined(separator: ", ")) (the node ones need node runtimes).")
    var mutation: [String] = []

    func validate() throws {
        if let nodes, ![3, 5, 7].contains(nodes) { throw ValidationError("--nodes must be 3, 5 or 7") }
        guard seeds > 0, ops > 0 else { throw ValidationError("--seeds and --ops must be positive") }
        guard snapshotEntries > 0 else { throw ValidationError("--snapshot-entries must be positive") }
        for name in mutation where Mutations.Name(rawValue: name) == nil && (raftCore || NodeMutations.Name(rawValue: name) == nil) {
            throw ValidationError("unknown mutation \(name)")
        }
        for kind in faultKinds ?? [] where raftCore ? FaultKind(rawValue: kind) == nil : ClusterFaultKind(rawValue: kind) == nil {
            throw ValidationError("unknown fault kind \(kind)")
        }
    }

    var faultKinds: [String]? { faults.map { $0.split(separator: ",").map(String.init) } }

    func options(seed: UInt64, mutations: Mutations) -> SimulationOptions {
        var options = SimulationRunner.options(seed: seed, nodeCount: nodes, operations: ops, mutations: mutations)
        options.faults = !noFaults
        options.faultKinds = faultKinds?.compactMap(FaultKind.init(rawValue:))
        options.leaderFailureChance = leaderFailureChance
        return options
    }

    func run() throws {
        guard raftCore else { return try runNodeRuntimes() }
        let mutations = Mutations(mutation.compactMap(Mutations.Name.init(rawValue:)))
        if let seed {
            var options = options(seed: seed, mutations: mutations)
            options.trace = trace
            let report = SimulationRunner.run(options)
            for line in report.trace { print(line) }
            printReport(report, options: options)
            if !report.passed { throw ExitCode(1) }
            return
        }
        let started = DispatchTime.now().uptimeNanoseconds
        var finished = 0
        let summary = SimulationRunner.campaign(start: startSeed, count: seeds, progress: { report in
            finished += 1
            if finished % 10_000 == 0 { print("... \(finished) seeds done") }
            if !report.passed {
                print("FAIL seed \(report.seed): \(report.violations.first ?? "")")
                print("  replay: \(options(seed: report.seed, mutations: mutations).replayCommand) --trace")
            }
        }, make: { options(seed: $0, mutations: mutations) })
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let operations = summary.operationsCompleted + summary.operationsTimedOut
        print("seeds: \(summary.seedsRun) (from \(startSeed)), failures: \(summary.failures.count)")
        print("operations: \(summary.operationsCompleted) completed, \(summary.operationsTimedOut) timed out; linearizability undecided: \(summary.unknownLinearizability)")
        print("simulated time: \(summary.simulatedMicros / 1_000_000) s, messages delivered: \(summary.messagesDelivered)")
        print("wall time: \(formatted(seconds)) s, simulated client operations per second: \(Int(Double(operations) / max(seconds, 1e-9)))")
        if !summary.failures.isEmpty { throw ExitCode(1) }
    }

    func printReport(_ report: SimulationReport, options: SimulationOptions) {
        print("seed \(report.seed): \(report.passed ? "PASS" : "FAIL")")
        for violation in report.violations { print("  violation: \(violation)") }
        print("  operations: \(report.operationsCompleted) completed, \(report.operationsTimedOut) timed out")
        print("  simulated: \(report.simulatedMicros / 1000) ms, messages: \(report.messagesDelivered), faults: \(report.faultsInjected), leader changes: \(report.leaderChanges), snapshot chunks: \(report.snapshotsSent), lease reads: \(report.leaseReads)")
        print("  trace hash: \(String(report.traceHash, radix: 16))")
        if !report.passed { print("  replay: \(options.replayCommand) --trace") }
    }

    func formatted(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = String(hundredths % 100)
        return "\(hundredths / 100)." + (fraction.count < 2 ? "0" : "") + fraction
    }
}
