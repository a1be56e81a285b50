// Proof that the checkers can fail: each deliberately broken rule must be caught by the
// simulator within a bounded number of seeds, while the correct code passes those seeds.
// The first catching seed of each mutation is also pinned as a regression test.

import Consensus
import Core
import Testing
@testable import Simulation

struct MutationCase: Sendable, CustomStringConvertible {
    var name: Mutations.Name
    /// Seeds 1...seedsMax are searched for a violation.
    var seedsMax: Int
    /// The first seed that caught it when this test was written (a regression seed).
    var firstCaughtSeed: UInt64
    /// Fault profile: nil is the default mixed campaign.
    var nodeCount: Int?
    var faultKinds: [FaultKind]?
    var leaderFailureChance: Double = 0.35

    var description: String { name.rawValue }

    func options(seed: UInt64, mutated: Bool) -> SimulationOptions {
        var options = SimulationRunner.options(seed: seed, nodeCount: nodeCount, operations: 300,
                                               mutations: mutated ? Mutations([name]) : Mutations())
        options.faultKinds = faultKinds
        options.leaderFailureChance = leaderFailureChance
        return options
    }
}

/// The seed scans take seconds in release builds and minutes in debug builds; debug runs
/// check only the pinned catching seeds unless TRESTLE_MUTATION_SCAN=1.
let mutationScanEnabled: Bool = {
    #if DEBUG
    return getenvString("TRESTLE_MUTATION_SCAN") == "1"
    #else
    return true
    #endif
}()

@Suite struct MutationTests {
    static let cases: [MutationCase] = [
        MutationCase(name: .voteWithoutLogCheck, seedsMax: 300, firstCaughtSeed: 2),
        MutationCase(name: .acknowledgeBeforePersist, seedsMax: 300, firstCaughtSeed: 5),
        MutationCase(name: .leaseIgnoresDriftBound, seedsMax: 300, firstCaughtSeed: 199),
        // Overwriting an early-committed entry needs a leader that fails right after its
        // first commit and a rival holding a higher-term entry: a targeted fault profile.
        MutationCase(name: .commitWithoutCurrentTerm, seedsMax: 600, firstCaughtSeed: 226,
                     nodeCount: 3, faultKinds: [.leaderFailsAfterElection], leaderFailureChance: 0.5),
    ]

    @Test(.enabled(if: mutationScanEnabled), arguments: cases)
    func mutationIsCaughtWithinBound(_ mutation: MutationCase) {
        let summary = SimulationRunner.campaign(start: 1, count: mutation.seedsMax, stopAtFirstFailure: true) {
            mutation.options(seed: $0, mutated: true)
        }
        guard let failure = summary.failures.first else {
            Issue.record("mutation \(mutation.name.rawValue) survived \(mutation.seedsMax) seeds")
            return
        }
        print("mutation \(mutation.name.rawValue): caught at seed \(failure.seed) — \(failure.violations.first ?? "")")
        #expect(failure.seed == mutation.firstCaughtSeed, "first catching seed moved; update the table if intended")
        let clean = SimulationRunner.campaign(start: 1, count: Int(failure.seed)) { mutation.options(seed: $0, mutated: false) }
        #expect(clean.failures.isEmpty, "unmutated code failed: \(clean.failures.map { "\($0.seed): \($0.violations)" })")
    }

    @Test(arguments: cases)
    func catchingSeedStillCatches(_ mutation: MutationCase) {
        let mutated = SimulationRunner.run(mutation.options(seed: mutation.firstCaughtSeed, mutated: true))
        #expect(!mutated.passed, "seed \(mutation.firstCaughtSeed) no longer catches \(mutation.name.rawValue)")
        let clean = SimulationRunner.run(mutation.options(seed: mutation.firstCaughtSeed, mutated: false))
        #expect(clean.passed, "\(clean.violations)")
    }
}
