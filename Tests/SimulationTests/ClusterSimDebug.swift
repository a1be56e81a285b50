import Simulation
import Testing
@Test func debugClusterSim() {
    var failures = 0
    for seed in UInt64(1)...30 {
        let options = ClusterSimulationOptions(seed: seed)
        let report = ClusterSimulator(options: options).run()
        print("seed \(seed) kinds \(report.faultKinds.map(\.rawValue)) completed \(report.operationsCompleted) unknown \(report.operationsUnknown) refused \(report.operationsRefused) crashes \(report.crashes) parts \(report.partitions) disk \(report.diskFaults) added \(report.nodesAdded) removed \(report.nodesRemoved) ms \(report.simulatedMilliseconds)")
        if !report.passed { failures += 1; print("  FAIL: \(report.violations.first!.prefix(400))") }
    }
    print("failures \(failures)")
}
