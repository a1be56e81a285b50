// Runs many seeds and summarises them: the engine behind `trestle sim` and the CI test.

import Consensus
import Core

public struct SimulationSummary: Sendable {
    public var seedsRun = 0
    public var failures: [SimulationReport] = []
    public var operationsCompleted = 0
    public var operationsTimedOut = 0
    public var simulatedMicros: Int64 = 0
    public var unknownLinearizability = 0
    public var messagesDelivered = 0
}

public enum SimulationRunner {
    /// Options for `seed` in a mixed-fault campaign: the cluster size varies with the seed
    /// unless `nodeCount` is given.
    public static func options(seed: UInt64, nodeCount: Int?, operations: Int, mutations: Mutations = Mutations()) -> SimulationOptions {
        var options = SimulationOptions(seed: seed)
        options.nodeCount = nodeCount ?? [3, 3, 5, 5, 7][Int(seed % 5)]
        options.operations = operations
        options.mutations = mutations
        return options
    }

    public static func run(_ options: SimulationOptions) -> SimulationReport {
        Simulator(options: options).run()
    }

    /// Runs seeds start..<start+count; stops at the first failure if `stopAtFirstFailure`.
    public static func campaign(start: UInt64, count: Int, nodeCount: Int?, operations: Int,
                                mutations: Mutations = Mutations(), stopAtFirstFailure: Bool = false,
                                progress: ((SimulationReport) -> Void)? = nil) -> SimulationSummary {
        campaign(start: start, count: count, stopAtFirstFailure: stopAtFirstFailure, progress: progress) { seed in
            options(seed: seed, nodeCount: nodeCount, operations: operations, mutations: mutations)
        }
    }

    /// Runs seeds start..<start+count with the options `make` gives each seed.
    public static func campaign(start: UInt64, count: Int, stopAtFirstFailure: Bool = false,
                                progress: ((SimulationReport) -> Void)? = nil,
                                make: (UInt64) -> SimulationOptions) -> SimulationSummary {
        var summary = SimulationSummary()
        for offset in 0..<count {
            let seed = start &+ UInt64(offset)
            let report = run(make(seed))
            summary.seedsRun += 1
            summary.operationsCompleted += report.operationsCompleted
            summary.operationsTimedOut += report.operationsTimedOut
            summary.simulatedMicros += report.simulatedMicros
            summary.messagesDelivered += report.messagesDelivered
            if case .unknown = report.linearizability { summary.unknownLinearizability += 1 }
            progress?(report)
            if !report.passed {
                summary.failures.append(report)
                if stopAtFirstFailure { break }
            }
        }
        return summary
    }
}
