// The data Raft replicates and persists: log entries, the durable hard state, cluster
// membership and snapshots. Everything here is a plain value; nothing knows about disks.
//
// Invariants: an entry's index never changes once assigned; a membership's voter and
// learner lists are sorted, duplicate-free and disjoint.

import Core

/// What a log entry carries.
public enum EntryPayload: Sendable, Equatable {
    /// The no-op a new leader appends to commit entries of earlier terms.
    case empty
    /// An opaque command for the host's state machine.
    case command([UInt8])
    /// A membership change and the membership that results from it. A node uses the latest
    /// membership in its log, committed or not (single-server changes, Raft thesis §4.1).
    case configChange(ConfigChange, Membership)
}

/// One replicated log entry.
public struct Entry: Sendable, Equatable {
    public var term: Term
    public var index: LogIndex
    public var payload: EntryPayload

    public init(term: Term, index: LogIndex, payload: EntryPayload) {
        self.term = term
        self.index = index
        self.payload = payload
    }

    /// Approximate wire size, used by the byte limits on in-flight data.
    public var sizeBytes: Int {
        switch payload {
        case .empty: return 16
        case .command(let bytes): return 16 + bytes.count
        case .configChange: return 48
        }
    }
}

/// The state a node must persist before it answers any message that depends on it.
public struct HardState: Sendable, Equatable {
    public var term: Term
    public var vote: NodeID
    public var commit: LogIndex

    public init(term: Term = .zero, vote: NodeID = .none, commit: LogIndex = .zero) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// Who belongs to a group: voters count in elections and commits, learners only receive.
public struct Membership: Sendable, Equatable, CustomStringConvertible {
    public private(set) var voters: [NodeID]
    public private(set) var learners: [NodeID]

    public init(voters: [NodeID], learners: [NodeID] = []) {
        self.voters = Array(Set(voters)).sorted()
        self.learners = Array(Set(learners).subtracting(voters)).sorted()
    }

    /// Voters then learners, each group sorted.
    public var members: [NodeID] { voters + learners }
    public func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }
    public func isLearner(_ id: NodeID) -> Bool { learners.contains(id) }
    public func contains(_ id: NodeID) -> Bool { isVoter(id) || isLearner(id) }
    /// Whether `id` is the group's only voter (checked on every read: builds no array).
    public func hasOnlyVoter(_ id: NodeID) -> Bool { voters.count == 1 && voters[0] == id }

    /// The membership after `change`, or nil if the change does not apply to this one.
    public func applying(_ change: ConfigChange) -> Membership? {
        switch change.kind {
        case .addLearner:
            guard !contains(change.node) else { return nil }
            return Membership(voters: voters, learners: learners + [change.node])
        case .promote:
            guard isLearner(change.node) else { return nil }
            return Membership(voters: voters + [change.node], learners: learners.filter { $0 != change.node })
        case .remove:
            guard contains(change.node) else { return nil }
            let remaining = voters.filter { $0 != change.node }
            guard !remaining.isEmpty else { return nil }
            return Membership(voters: remaining, learners: learners.filter { $0 != change.node })
        }
    }

    public var description: String {
        let voterList = voters.map(\.description).joined(separator: ",")
        let learnerList = learners.map(\.description).joined(separator: ",")
        return learners.isEmpty ? "voters=[\(voterList)]" : "voters=[\(voterList)] learners=[\(learnerList)]"
    }
}

/// A single-server membership change.
public struct ConfigChange: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// Add a node that receives the log but does not vote.
        case addLearner
        /// Turn a caught-up learner into a voter.
        case promote
        /// Remove a voter or learner.
        case remove
    }

    public var kind: Kind
    public var node: NodeID

    public init(_ kind: Kind, _ node: NodeID) {
        self.kind = kind
        self.node = node
    }

    public var description: String { "\(kind.rawValue) \(node)" }
}

/// Where a snapshot sits in the log and the membership in force at that point.
public struct SnapshotMetadata: Sendable, Equatable {
    public var index: LogIndex
    public var term: Term
    public var membership: Membership

    public init(index: LogIndex, term: Term, membership: Membership) {
        self.index = index
        self.term = term
        self.membership = membership
    }
}

/// A state-machine image covering every entry up to `metadata.index`.
public struct Snapshot: Sendable, Equatable {
    public var metadata: SnapshotMetadata
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata, data: [UInt8]) {
        self.metadata = metadata
        self.data = data
    }
}
