// What one simulated run does: cluster size, workload, fault mix, timing, and the seed
// that determines everything else. Times are in simulated microseconds.

import Consensus
import Core

public struct SimulationOptions: Sendable {
    public var seed: UInt64
    /// Voters at start (3, 5 or 7). One extra node starts outside the group, for
    /// membership changes.
    public var nodeCount: Int = 3
    /// Client operations in the whole run.
    public var operations: Int = 300
    public var clients: Int = 16
    public var keys: Int = 4
    public var faults: Bool = true
    /// With the leader-fails fault kind: the chance that a new leader fails soon after its
    /// election, and (separately) right after its first commit.
    public var leaderFailureChance: Double = 0.35
    /// Fault kinds to inject; nil lets each seed choose a random subset (swarm testing).
    public var faultKinds: [FaultKind]?
    /// Rule-breaking switches handed to every Raft node (test-only).
    public var mutations: Mutations = Mutations()
    /// Record a human-readable trace of messages, state changes and operations.
    public var trace: Bool = false

    public var tickMicros: Int64 = 10_000
    public var electionTicks: Int = 10
    public var heartbeatTicks: Int = 2
    /// Each node's clock runs at a rate within (1 ± clockDriftMax) of true time; the
    /// lease bound is configured with the same value.
    public var clockDriftMax: Double = 0.3
    /// Fraction of reads that try the leader lease before falling back to ReadIndex.
    public var leaseReadShare: Double = 0.5
    public var operationTimeoutMicros: Int64 = 2_000_000
    /// The fault phase ends after this much simulated time or 80% of the operations.
    public var faultPhaseMicros: Int64 = 3_000_000
    /// After faults stop, every remaining operation must complete within this time.
    public var healingBoundMicros: Int64 = 10_000_000
    /// Apply this many entries between snapshots.
    public var snapshotEveryEntries: Int = 40
    public var snapshotChunkBytes: Int = 64

    public init(seed: UInt64) { self.seed = seed }

    /// The command line that replays this run.
    public var replayCommand: String {
        var parts = ["trestle sim --seed \(seed) --nodes \(nodeCount) --ops \(operations)"]
        if !faults { parts.append("--no-faults") }
        if let faultKinds { parts.append("--faults \(faultKinds.map(\.rawValue).joined(separator: ","))") }
        if leaderFailureChance != 0.35 { parts.append("--leader-failure-chance \(leaderFailureChance)") }
        for name in Mutations.Name.allCases where mutations.contains(name) { parts.append("--mutation \(name.rawValue)") }
        return parts.joined(separator: " ")
    }
}

/// The kinds of fault a seed may inject. Each seed enables a random subset (swarm
/// testing): runs dominated by a few fault kinds reach deeper into each.
public enum FaultKind: String, Sendable, CaseIterable {
    case crash, pause, partition, transfer, membership, heal
    /// A new leader crashes or is cut off within 30 ms of winning.
    case leaderFailsAfterElection = "leader-fails"
}

/// The outcome of one run.
public struct SimulationReport: Sendable {
    public var seed: UInt64
    public var violations: [String] = []
    public var operationsCompleted = 0
    public var operationsTimedOut = 0
    public var simulatedMicros: Int64 = 0
    public var messagesDelivered = 0
    public var faultsInjected = 0
    public var leaderChanges = 0
    public var snapshotsSent = 0
    public var leaseReads = 0
    /// FNV-1a over every event processed: equal for two runs iff they are identical.
    public var traceHash: UInt64 = 0
    public var trace: [String] = []
    public var linearizability: LinearizabilityResult = .linearizable
    public var history: [HistoryOperation] = []

    public var passed: Bool { violations.isEmpty }
}
