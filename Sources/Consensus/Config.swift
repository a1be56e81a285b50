// Configuration of one Raft node: timing in ticks, named limits, feature switches, and the
// test-only mutations that break one rule each so the simulator can prove it notices.
//
// Invariant: a configuration that passed `validate()` has heartbeat < election timeout,
// positive limits and a drift bound in [0, 1).

import Core

public struct RaftConfig: Sendable {
    /// This node's ID; never `NodeID.none`.
    public var id: NodeID
    /// The membership used when neither a snapshot nor the log names one (bootstrap).
    public var initialMembership: Membership
    /// A follower that hears nothing from a leader for a random number of ticks in
    /// [electionTicks, 2 * electionTicks) starts an election.
    public var electionTicks: Int = 10
    /// A leader sends heartbeats every this many ticks.
    public var heartbeatTicks: Int = 1
    /// Run a pre-vote round before raising the term, so a node returning from a partition
    /// cannot depose a healthy leader.
    public var preVote: Bool = true
    /// A leader that has not heard from a quorum within an election timeout steps down, and
    /// followers that heard from a leader within that time ignore vote requests.
    public var checkQuorum: Bool = true
    /// Most AppendEntries messages in flight to one follower in replicate state.
    public var inflightMessagesMax: Int = 64
    /// Most entry bytes in flight to one follower.
    public var inflightBytesMax: Int = 1 << 20
    /// Most entries in one AppendEntries message.
    public var entriesPerMessageMax: Int = 64
    /// Most entry bytes in one AppendEntries message (a single larger entry is still sent).
    public var messageBytesMax: Int = 64 << 10
    /// Most bytes of snapshot data in one InstallSnapshot chunk.
    public var snapshotChunkBytesMax: Int = 64 << 10
    /// Most entries the leader accepts beyond its commit index; proposals beyond are dropped.
    public var uncommittedEntriesMax: Int = 4096
    /// Most ReadIndex requests waiting for confirmation.
    public var pendingReadsMax: Int = 4096
    /// Most committed entries handed to the host in one Ready.
    public var applyEntriesMax: Int = 256
    /// A learner may be promoted once its log is within this many entries of the leader's
    /// commit index. Zero demands it hold every committed entry; under a steady stream of
    /// writes that moment may never come, so a busy host allows some lag (promoting a
    /// slightly lagging voter is safe; it only catches up a little later).
    public var learnerPromotionLagMax: Int = 0
    /// Lease reads: the largest relative deviation of any node's tick rate from true time
    /// (0.1 means every clock runs between 0.9x and 1.1x). Zero disables lease reads.
    public var leaseClockDriftBound: Double = 0
    /// Test-only rule breakers. Production code leaves this at its default.
    public var mutations: Mutations = Mutations()

    public init(id: NodeID, initialMembership: Membership) {
        self.id = id
        self.initialMembership = initialMembership
    }

    public func validate() throws(RaftError) {
        guard id != .none else { throw .invalidConfig("id must not be zero") }
        guard heartbeatTicks > 0, electionTicks > heartbeatTicks else {
            throw .invalidConfig("need 0 < heartbeatTicks < electionTicks")
        }
        guard inflightMessagesMax > 0, inflightBytesMax > 0, entriesPerMessageMax > 0,
              messageBytesMax > 0, snapshotChunkBytesMax > 0, uncommittedEntriesMax > 0,
              pendingReadsMax > 0, applyEntriesMax > 0
        else { throw .invalidConfig("limits must be positive") }
        guard leaseClockDriftBound >= 0, leaseClockDriftBound < 1 else {
            throw .invalidConfig("leaseClockDriftBound must be in [0, 1)")
        }
        guard leaseClockDriftBound == 0 || checkQuorum else {
            throw .invalidConfig("lease reads need checkQuorum")
        }
    }

    /// Ticks after a quorum acknowledged a heartbeat during which the leader may serve
    /// reads without contacting anyone. Followers ignore vote requests for `electionTicks`
    /// of their own ticks after hearing from the leader; at least `electionTicks - 1` of
    /// their tick periods have then passed. With every clock within (1 ± d) of true time,
    /// the leader's lease must end `(electionTicks - 1) * (1 - d) / (1 + d)` of its own
    /// ticks after it sent the heartbeat.
    var leaseTicks: UInt64 {
        guard leaseClockDriftBound > 0 else { return 0 }
        if mutations.leaseIgnoresDriftBound { return UInt64(electionTicks) }
        let drift = leaseClockDriftBound
        let ticks = Double(electionTicks - 1) * (1 - drift) / (1 + drift)
        return UInt64(ticks.rounded(.down))
    }
}

/// Deliberately broken rules, one per flag, for proving that the simulator's checkers can
/// fail. Each must be caught by the simulator within a bounded number of seeds.
public struct Mutations: Sendable, Equatable {
    /// Commit an entry once a quorum stores it, even if it is from an earlier term
    /// (ignores the rule of the Raft paper's Figure 8).
    public var commitWithoutCurrentTerm = false
    /// Grant votes without checking that the candidate's log is at least as up to date.
    public var voteWithoutLogCheck = false
    /// Serve lease reads for a full election timeout, ignoring the clock-drift bound.
    public var leaseIgnoresDriftBound = false
    /// Followers tell the host their appended entries need no fsync before the
    /// acknowledgement is sent.
    public var acknowledgeBeforePersist = false

    public init() {}

    /// The mutations by name, for command lines and tests.
    public enum Name: String, Sendable, CaseIterable {
        case commitWithoutCurrentTerm = "commit-without-current-term"
        case voteWithoutLogCheck = "vote-without-log-check"
        case leaseIgnoresDriftBound = "lease-ignores-drift"
        case acknowledgeBeforePersist = "ack-before-persist"
    }

    public func contains(_ name: Name) -> Bool {
        switch name {
        case .commitWithoutCurrentTerm: return commitWithoutCurrentTerm
        case .voteWithoutLogCheck: return voteWithoutLogCheck
        case .leaseIgnoresDriftBound: return leaseIgnoresDriftBound
        case .acknowledgeBeforePersist: return acknowledgeBeforePersist
        }
    }

    public init(_ names: [Name]) {
        for name in names {
            switch name {
            case .commitWithoutCurrentTerm: commitWithoutCurrentTerm = true
            case .voteWithoutLogCheck: voteWithoutLogCheck = true
            case .leaseIgnoresDriftBound: leaseIgnoresDriftBound = true
            case .acknowledgeBeforePersist: acknowledgeBeforePersist = true
            }
        }
    }
}
