// `trestle sim` over node runtimes: a campaign of seeds or one replayed seed.
import ArgumentParser
import Consensus
import Core
import Dispatch
import Foundation
import NodeRuntime
import Simulation

extension SimCommand {
    func clusterOptions(seed: UInt64) -> ClusterSimulationOptions {
        var options = ClusterSimulationOptions(seed: seed)
        options.nodeCount = nodes ?? 3
        options.operations = ops
        options.faults = !noFaults
        options.membershipChanges = !noMembership
        options.removesAddedNode = removeAddedNode
        options.snapshotEntries = snapshotEntries
        options.slotMoves = slotMoves
        options.autoSplit = autoSplit
        options.faultKinds = faultKinds?.compactMap(ClusterFaultKind.init(rawValue:))
        options.raftMutations = Mutations(mutation.compactMap(Mutations.Name.init(rawValue:)))
        for name in mutation.compactMap(NodeMutations.Name.init(rawValue:)) { options.mutations.enable(name) }
        return options
    }

    func replayCommand(seed: UInt64) -> String {
        var parts = ["trestle sim --seed \(seed) --ops \(ops)"]
        if let nodes { parts.append("--nodes \(nodes)") }
        if noFaults { parts.append("--no-faults") }
        if noMembership { parts.append("--no-membership") }
        if removeAddedNode { parts.append("--remove-added-node") }
        if snapshotEntries != ClusterSimulationOptions.defaultSnapshotEntries { parts.append("--snapshot-entries \(snapshotEntries)") }
        if slotMoves != 2 { parts.append("--slot-moves \(slotMoves)") }
        if autoSplit { parts.append("--auto-split") }
        if let faults { parts.append("--faults \(faults)") }
        for name in mutation { parts.append("--mutation \(name)") }
        return parts.joined(separator: " ")
    }

    func runNodeRuntimes() throws {
        if let seed {
            var options = clusterOptions(seed: seed)
            options.trace = trace
            options.traceEvents = ProcessInfo.processInfo.environment["TRESTLE_SIM_TRACE_EVENTS"] == "1"
            let report = ClusterSimulator(options: options).run()
            for line in report.trace { print(line) }
            printClusterReport(report)
            if !report.passed { throw ExitCode(1) }
            return
        }
        let started = DispatchTime.now().uptimeNanoseconds
        var failures: [UInt64] = []
        var completed = 0, unknown = 0, crashes = 0, partitions = 0, messages = 0, moves = 0, splits = 0, merges = 0
        var simulatedMilliseconds: Int64 = 0
        for offset in 0..<seeds {
            let seed = startSeed &+ UInt64(offset)
            let report = ClusterSimulator(options: clusterOptions(seed: seed)).run()
            completed += report.operationsCompleted
            unknown += report.operationsUnknown
            crashes += report.crashes
            partitions += report.partitions
            messages += report.messagesDelivered
            moves += report.slotMovesBegun
            splits += report.shardsSplit
            merges += report.shardsMerged
            simulatedMilliseconds += report.simulatedMilliseconds
            if !report.passed {
                failures.append(seed)
                print("FAIL seed \(seed): \(report.violations.first?.prefix(300) ?? "")")
                print("  replay: \(replayCommand(seed: seed)) --trace")
            }
            if (offset + 1) % 100 == 0 { print("... \(offset + 1) seeds done") }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        print("node runtime clusters: seeds \(seeds) (from \(startSeed)), failures: \(failures.count)")
        print("operations: \(completed) completed, \(unknown) with unknown outcome; crashes \(crashes), partitions \(partitions), slot moves \(moves), splits \(splits), merges \(merges), messages \(messages)")
        print("simulated time: \(simulatedMilliseconds / 1000) s; wall time: \(formatted(seconds)) s")
        if !failures.isEmpty { throw ExitCode(1) }
    }

    func printClusterReport(_ report: ClusterSimulationReport) {
        print("seed \(report.seed): \(report.passed ? "PASS" : "FAIL")")
        for violation in report.violations { print("  violation: \(violation)") }
        print("  fault kinds: \(report.faultKinds.map(\.rawValue).joined(separator: ",")); crashes \(report.crashes), partitions \(report.partitions), disk faults \(report.diskFaults), nodes added \(report.nodesAdded), removed \(report.nodesRemoved), slot moves \(report.slotMovesBegun), splits \(report.shardsSplit), merges \(report.shardsMerged)")
        print("  operations: \(report.operationsCompleted) completed, \(report.operationsUnknown) unknown, \(report.operationsRefused) refused")
        print("  simulated: \(report.simulatedMilliseconds) ms, messages: \(report.messagesDelivered)")
        print("  fingerprint: \(String(report.fingerprint, radix: 16))")
        if !report.passed { print("  replay: \(replayCommand(seed: report.seed)) --trace") }
    }
}
