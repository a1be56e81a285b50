// A node's role, as an enum whose cases carry exactly the state that role needs. Switching
// roles replaces the whole case, so no leader bookkeeping survives into a follower.

import Core

@usableFromInline enum Role: Sendable {
    case follower(FollowerState)
    case preCandidate(CandidateState)
    case candidate(CandidateState)
    case leader(LeaderState)

    /// A leader not handing leadership over whose lease is still valid at `now`.
    func leaseHolds(now: UInt64, leaseTicks: UInt64) -> Bool {
        guard case .leader(let state) = self else { return false }
        return state.transferTarget == nil && state.readOnly.leaseValid(now: now, leaseTicks: leaseTicks)
    }

    @inlinable var kind: RoleKind {
        switch self {
        case .follower: return .follower
        case .preCandidate: return .preCandidate
        case .candidate: return .candidate
        case .leader: return .leader
        }
    }
}

public enum RoleKind: String, Sendable, Equatable {
    case follower, preCandidate = "pre-candidate", candidate, leader
}

@usableFromInline struct FollowerState: Sendable {
    var leader: NodeID
    /// A snapshot being received in chunks: its metadata and the bytes so far.
    var incomingSnapshot: (metadata: SnapshotMetadata, bytes: [UInt8])?
}

@usableFromInline struct CandidateState: Sendable {
    var votes: [(NodeID, Bool)] = []

    mutating func record(_ voter: NodeID, granted: Bool) {
        guard !votes.contains(where: { $0.0 == voter }) else { return }
        votes.append((voter, granted))
    }
}

@usableFromInline struct LeaderState: Sendable {
    var progress: ProgressTracker
    var readOnly = ReadOnlyState()
    /// The node leadership is being handed to, if any.
    var transferTarget: NodeID?
    /// Index of the latest membership change in the log.
    var pendingConfigIndex: LogIndex = .zero
}
