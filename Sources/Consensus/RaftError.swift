// Typed errors of the Raft library. Errors are answers to a caller's request; nothing
// that arrives in a message is ever an error (bad messages are ignored and counted).

import Core

public enum RaftError: Error, Sendable, Equatable {
    case invalidConfig(String)
    /// This node is not the leader; `leader` is the one it knows of, or `.none`.
    case notLeader(leader: NodeID)
    /// The leader is handing over leadership and takes no proposals.
    case transferInProgress
    /// Too many entries are uncommitted; try again later.
    case proposalDropped
    /// A membership change is still uncommitted, or this leader has not yet committed an
    /// entry of its own term.
    case configChangePending
    /// The change does not apply to the current membership.
    case invalidConfigChange
    /// A learner must hold the leader's committed log before it may vote.
    case learnerNotCaughtUp
    /// The leader cannot remove itself; transfer leadership first.
    case cannotRemoveLeader
    /// The leader has not committed an entry of its term yet, so it does not know the
    /// commit index; retry shortly.
    case readNotReady
    case tooManyPendingReads
    /// Lease reads are disabled or the lease has lapsed; use ReadIndex.
    case leaseExpired
    /// The requested compaction index is not applied or already compacted.
    case compactionOutOfRange
    case unknownNode
}
