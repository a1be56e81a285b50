// The follower: appending the leader's entries (with the conflict hint for fast
// backtracking), learning the commit index, receiving snapshots in chunks, and starting
// an election at once when a leader hands over leadership.
//
// Invariants: a follower never truncates a committed entry; it acknowledges only what its
// log now holds (and the host persists before the acknowledgement leaves); snapshot
// chunks are accepted strictly in order.

import Core

extension RaftNode {
    mutating func stepFollower(_ message: Message) {
        switch message.body {
        case let .appendEntries(prevIndex, prevTerm, entries, commit):
            heardFromLeader(message.from)
            handleAppend(from: message.from, prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: commit)
        case let .heartbeat(commit, sequence):
            heardFromLeader(message.from)
            log.commit(to: commit)
            send(to: message.from, .heartbeatResponse(readSequence: sequence))
        case let .snapshotChunk(metadata, offset, bytes, done):
            heardFromLeader(message.from)
            handleSnapshotChunk(from: message.from, metadata: metadata, offset: offset, bytes: bytes, done: done)
        case .timeoutNow:
            startElection(transfer: true)
        default:
            break
        }
    }

    mutating func heardFromLeader(_ leader: NodeID) {
        electionElapsed = 0
        if case .follower(var state) = role, state.leader != leader {
            state.leader = leader
            role = .follower(state)
        }
    }

    mutating func handleAppend(from leader: NodeID, prevIndex: LogIndex, prevTerm: Term, entries: [Entry], commit: LogIndex) {
        if prevIndex < log.committed {
            send(to: leader, .appendResponse(index: log.committed, reject: false, hintIndex: .zero, hintTerm: .zero))
            return
        }
        var anomaly = false
        if let lastNew = log.tryAppend(prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, anomaly: &anomaly) {
            log.commit(to: min(commit, lastNew))
            send(to: leader, .appendResponse(index: lastNew, reject: false, hintIndex: .zero, hintTerm: .zero))
            return
        }
        if anomaly {
            anomalies += 1
            return
        }
        let (hintIndex, hintTerm) = log.lastIndexWithTermAtMost(prevTerm, atOrBelow: min(prevIndex, log.lastIndex))
        send(to: leader, .appendResponse(index: prevIndex, reject: true, hintIndex: hintIndex, hintTerm: hintTerm))
    }

    mutating func handleSnapshotChunk(from leader: NodeID, metadata: SnapshotMetadata, offset: Int, bytes: [UInt8], done: Bool) {
        guard case .follower(var state) = role else { return }
        if metadata.index <= log.committed {
            state.incomingSnapshot = nil
            role = .follower(state)
            send(to: leader, .appendResponse(index: log.committed, reject: false, hintIndex: .zero, hintTerm: .zero))
            return
        }
        role = .follower(FollowerState(leader: state.leader))
        if offset == 0 { state.incomingSnapshot = (metadata, []) }
        guard var incoming = state.incomingSnapshot, incoming.metadata == metadata, incoming.bytes.count == offset else {
            let expected = state.incomingSnapshot.map { $0.metadata == metadata ? $0.bytes.count : 0 } ?? 0
            role = .follower(state)
            send(to: leader, .snapshotResponse(index: metadata.index, nextOffset: expected))
            return
        }
        incoming.bytes.append(contentsOf: bytes)
        guard done else {
            state.incomingSnapshot = incoming
            role = .follower(state)
            send(to: leader, .snapshotResponse(index: metadata.index, nextOffset: incoming.bytes.count))
            return
        }
        state.incomingSnapshot = nil
        role = .follower(state)
        install(Snapshot(metadata: metadata, data: incoming.bytes))
        send(to: leader, .appendResponse(index: log.lastIndex, reject: false, hintIndex: .zero, hintTerm: .zero))
    }

    /// Adopts a complete snapshot from the leader. If the log already holds its last entry,
    /// only the commit index moves; otherwise the log is replaced and the host is told to
    /// install the snapshot.
    mutating func install(_ snapshot: Snapshot) {
        let metadata = snapshot.metadata
        if log.matches(index: metadata.index, term: metadata.term) {
            log.commit(to: metadata.index)
            return
        }
        log.restore(metadata)
        self.snapshot = snapshot
        receivedSnapshot = snapshot
    }
}
