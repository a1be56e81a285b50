// Proof that the checkers can fail: each deliberately broken rule must be caught by the
// simulator within a bounded number of seeds, while the correct code passes those seeds.

import Consensus
import Core
import Testing
@testable import Simulation

@Suite struct MutationTests {
    /// Most seeds each mutation may take to be caught.
    static let seedsMax = 300

    static func firstFailure(_ name: Mutations.Name, seedsMax: Int) -> SimulationReport? {
        let summary = SimulationRunner.campaign(start: 1, count: seedsMax, nodeCount: nil, operations: 300,
                                                mutations: Mutations([name]), stopAtFirstFailure: true)
        return summary.failures.first
    }

    @Test(arguments: Mutations.Name.allCases)
    func mutationIsCaught(_ name: Mutations.Name) {
        guard let failure = Self.firstFailure(name, seedsMax: Self.seedsMax) else {
            Issue.record("mutation \(name.rawValue) survived \(Self.seedsMax) seeds")
            return
        }
        print("mutation \(name.rawValue): caught at seed \(failure.seed): \(failure.violations.first ?? "")")
        // The same seeds pass without the mutation.
        let clean = SimulationRunner.campaign(start: 1, count: Int(failure.seed), nodeCount: nil, operations: 300)
        #expect(clean.failures.isEmpty, "unmutated code failed: \(clean.failures.map(\.violations))")
    }
}
