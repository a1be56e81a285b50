// The messages Raft nodes exchange. A message is a value the host carries from one node's
// Ready to another node's `step`; the library never touches a socket.
//
// Every message carries the sender's term. Responses to PreVote requests carry the term
// the pre-candidate asked for, so that a granted pre-vote never raises the receiver's term.

import Core

public struct Message: Sendable, Equatable, CustomStringConvertible {
    public var from: NodeID
    public var to: NodeID
    public var term: Term
    public var body: MessageBody

    public init(from: NodeID, to: NodeID, term: Term, body: MessageBody) {
        self.from = from
        self.to = to
        self.term = term
        self.body = body
    }

    public var description: String { "\(from)->\(to) \(term) \(body)" }
}

public enum MessageBody: Sendable, Equatable, CustomStringConvertible {
    /// Leader to follower: entries after (prevIndex, prevTerm), and the leader's commit.
    case appendEntries(prevIndex: LogIndex, prevTerm: Term, entries: [Entry], commit: LogIndex)
    /// Follower to leader. On success `index` is the follower's last matching index. On
    /// rejection `index` is the rejected prevIndex and (hintIndex, hintTerm) is the
    /// follower's last entry at or below it whose term is at most the leader's prevTerm, so
    /// the leader can skip a whole term of conflicting entries per round trip.
    case appendResponse(index: LogIndex, reject: Bool, hintIndex: LogIndex, hintTerm: Term)
    /// Leader to follower: liveness, commit propagation, and read confirmation.
    case heartbeat(commit: LogIndex, readSequence: UInt64)
    case heartbeatResponse(readSequence: UInt64)
    /// A (pre-)candidate asks for a vote. `transfer` marks a leadership transfer, which
    /// voters honour even while they still hear from a leader.
    case requestVote(lastIndex: LogIndex, lastTerm: Term, preVote: Bool, transfer: Bool)
    case voteResponse(granted: Bool, preVote: Bool)
    /// One piece of a snapshot, sent in order; `done` marks the last piece.
    case snapshotChunk(metadata: SnapshotMetadata, offset: Int, bytes: [UInt8], done: Bool)
    /// The follower has every byte below `nextOffset` of the snapshot at `index`.
    case snapshotResponse(index: LogIndex, nextOffset: Int)
    /// The leader asks a caught-up follower to start an election now (leadership transfer).
    case timeoutNow

    public var description: String {
        switch self {
        case let .appendEntries(prevIndex, prevTerm, entries, commit):
            let range = entries.isEmpty ? "[]" : "[\(entries[0].index.rawValue)..\(entries[entries.count - 1].index.rawValue)]"
            return "app prev=\(prevIndex.rawValue)/\(prevTerm.rawValue) entries=\(range) commit=\(commit.rawValue)"
        case let .appendResponse(index, reject, hintIndex, hintTerm):
            return reject ? "app-resp reject index=\(index.rawValue) hint=\(hintIndex.rawValue)/\(hintTerm.rawValue)" : "app-resp index=\(index.rawValue)"
        case let .heartbeat(commit, sequence): return "heartbeat commit=\(commit.rawValue) seq=\(sequence)"
        case let .heartbeatResponse(sequence): return "heartbeat-resp seq=\(sequence)"
        case let .requestVote(lastIndex, lastTerm, preVote, transfer):
            return "\(preVote ? "prevote" : "vote") last=\(lastIndex.rawValue)/\(lastTerm.rawValue)\(transfer ? " transfer" : "")"
        case let .voteResponse(granted, preVote): return "\(preVote ? "prevote" : "vote")-resp \(granted ? "granted" : "rejected")"
        case let .snapshotChunk(metadata, offset, bytes, done):
            return "snap index=\(metadata.index.rawValue) offset=\(offset) bytes=\(bytes.count)\(done ? " done" : "")"
        case let .snapshotResponse(index, nextOffset): return "snap-resp index=\(index.rawValue) next=\(nextOffset)"
        case .timeoutNow: return "timeout-now"
        }
    }
}
