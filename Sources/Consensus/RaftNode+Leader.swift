// The leader: replication with probing and pipelining inside bounded in-flight windows,
// fast backtracking, the commit rule, heartbeats, CheckQuorum, snapshot streaming and
// leadership transfer.
//
// Invariants: the leader commits index i only if a majority of voters matches i and
// log[i] is from the current term (Figure 8); bytes and messages in flight to a follower
// never exceed the window (a slow follower costs a bounded amount of memory); while a
// transfer is in progress no proposals are accepted.

import Core

extension RaftNode {
    /// Runs `body` on the leader state without copying it, and puts it back unless `body`
    /// changed the role (for example by stepping down).
    mutating func withLeaderState<T>(_ body: (inout RaftNode, inout LeaderState) -> T) -> T? {
        guard case .leader(var state) = role else { return nil }
        let epoch = roleEpoch
        role = .follower(FollowerState(leader: .none))
        let result = body(&self, &state)
        if roleEpoch == epoch { role = .leader(state) }
        return result
    }

    mutating func appendAsLeader(_ payload: EntryPayload) {
        log.append([Entry(term: term, index: log.lastIndex.next, payload: payload)])
    }

    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTicks {
            electionElapsed = 0
            let stillLeading: Bool = withLeaderState { node, state in
                if node.config.checkQuorum {
                    let quorum = MajorityQuorum(voters: node.log.membership.voters)
                    let selfID = node.id
                    guard quorum.isActive({ $0 == selfID || state.progress[$0]?.recentActive == true }) else { return false }
                    for id in state.progress.ids where id != selfID { state.progress.update(id) { $0.recentActive = false } }
                }
                // An abandoned transfer keeps the lease disabled (see ReadOnlyState).
                state.transferTarget = nil
                return true
            } ?? false
            if !stillLeading {
                becomeFollower(term: term, leader: .none)
                return
            }
        }
        if heartbeatElapsed >= config.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastHeartbeat()
        }
    }

    mutating func broadcastHeartbeat() {
        withLeaderState { node, state in
            let sequence = state.readOnly.nextRound(tick: node.ticks)
            for id in state.progress.ids where id != node.id {
                let match = state.progress.match(of: id)
                node.send(to: id, .heartbeat(commit: min(match, node.log.committed), readSequence: sequence))
            }
            node.confirmReads(&state)
        }
    }

    mutating func broadcastAppend() {
        withLeaderState { node, state in
            for id in state.progress.ids where id != node.id {
                node.sendAppends(to: id, &state, allowEmpty: true)
            }
        }
    }

    /// Sends as many AppendEntries to `id` as its window allows.
    mutating func sendAppends(to id: NodeID, _ state: inout LeaderState, allowEmpty: Bool) {
        guard sendAppend(to: id, &state, allowEmpty: allowEmpty) else { return }
        while sendAppend(to: id, &state, allowEmpty: false) {}
    }

    /// Sends one AppendEntries (or snapshot chunk) to `id`; false if nothing was sent.
    @discardableResult
    mutating func sendAppend(to id: NodeID, _ state: inout LeaderState, allowEmpty: Bool) -> Bool {
        guard let next = state.progress.nextIfSendable(id) else { return false }
        let prevIndex = next.previous
        guard let prevTerm = log.term(at: prevIndex) else {
            return startSnapshot(to: id, &state)
        }
        let entries = log.slice(from: next, countMax: config.entriesPerMessageMax, bytesMax: config.messageBytesMax)
        if entries.isEmpty && !allowEmpty { return false }
        send(to: id, .appendEntries(prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: log.committed))
        state.progress.update(id) { progress in
            if let last = entries.last, progress.state == .replicate {
                progress.next = last.index.next
                progress.inflights.add(lastIndex: last.index, bytes: entries.reduce(0) { $0 + $1.sizeBytes })
            } else if progress.state == .probe {
                progress.probeSent = true
            }
        }
        return true
    }

    mutating func startSnapshot(to id: NodeID, _ state: inout LeaderState) -> Bool {
        guard let snapshot, state.progress.contains(id) else { return false }
        state.progress.update(id) { $0.state = .snapshot(index: snapshot.metadata.index, offset: 0) }
        sendSnapshotChunk(to: id, snapshot, offset: 0)
        return true
    }

    mutating func sendSnapshotChunk(to id: NodeID, _ snapshot: Snapshot, offset: Int) {
        let start = min(offset, snapshot.data.count)
        let end = min(start + config.snapshotChunkBytesMax, snapshot.data.count)
        send(to: id, .snapshotChunk(metadata: snapshot.metadata, offset: start,
                                    bytes: Array(snapshot.data[start..<end]), done: end == snapshot.data.count))
    }

    mutating func stepLeader(_ message: Message) {
        withLeaderState { node, state in
            guard state.progress.contains(message.from) else { return }
            state.progress.update(message.from) { $0.recentActive = true }
            switch message.body {
            case let .appendResponse(index, reject, hintIndex, hintTerm):
                if reject {
                    node.handleRejection(from: message.from, rejected: index, hintIndex: hintIndex, hintTerm: hintTerm, &state)
                } else {
                    node.handleAcknowledgement(from: message.from, index: index, &state)
                }
            case let .heartbeatResponse(sequence):
                node.handleHeartbeatResponse(from: message.from, sequence: sequence, &state)
            case let .snapshotResponse(index, nextOffset):
                node.handleSnapshotResponse(from: message.from, index: index, nextOffset: nextOffset, &state)
            default:
                break
            }
        }
    }

    mutating func handleRejection(from id: NodeID, rejected: LogIndex, hintIndex: LogIndex, hintTerm: Term, _ state: inout LeaderState) {
        // Skip every entry of the follower's conflicting term in one step.
        let (next, _) = log.lastIndexWithTermAtMost(hintTerm, atOrBelow: hintIndex)
        let decreased = state.progress.update(id) { progress -> Bool in
            if progress.lostAcknowledgedEntries(rejected: rejected, memberHint: hintIndex) {
                progress.forgetAcknowledgements(probingAt: next.next)
                return true
            }
            guard progress.maybeDecrease(rejected: rejected, hint: next) else { return false }
            if progress.state == .replicate { progress.becomeProbe() }
            return true
        }
        guard decreased == true else { return }
        sendAppends(to: id, &state, allowEmpty: true)
    }

    mutating func handleAcknowledgement(from id: NodeID, index: LogIndex, _ state: inout LeaderState) {
        let outcome = state.progress.update(id) { progress -> (updated: Bool, match: LogIndex) in
            let updated = progress.maybeUpdate(index)
            switch progress.state {
            case .probe where updated || progress.match == index: progress.becomeReplicate()
            case let .snapshot(snapshotIndex, _) where progress.match >= snapshotIndex: progress.becomeProbe()
            case .replicate: progress.inflights.free(through: index)
            default: break
            }
            return (updated, progress.match)
        }
        guard let (updated, match) = outcome else { return }
        if updated, maybeCommit(&state) {
            for peer in state.progress.ids where peer != self.id { sendAppends(to: peer, &state, allowEmpty: false) }
        }
        sendAppends(to: id, &state, allowEmpty: false)
        if state.transferTarget == id, match == log.lastIndex {
            send(to: id, .timeoutNow)
        }
    }

    mutating func handleHeartbeatResponse(from id: NodeID, sequence: UInt64, _ state: inout LeaderState) {
        let outcome = state.progress.update(id) { progress -> (match: LogIndex, resend: (LogIndex, Int)?) in
            progress.readSequenceAcknowledged = max(progress.readSequenceAcknowledged, sequence)
            switch progress.state {
            case .probe: progress.probeSent = false
            case .replicate: if progress.inflights.isFull { progress.inflights.freeFirst() }
            case let .snapshot(index, offset): return (progress.match, (index, offset))
            }
            return (progress.match, nil)
        }
        guard let (match, resend) = outcome else { return }
        if let (index, offset) = resend {
            if let snapshot, snapshot.metadata.index == index {
                // A chunk or its answer may have been lost: send the next one again.
                sendSnapshotChunk(to: id, snapshot, offset: offset)
            } else {
                // The snapshot being sent was replaced by a newer one (the log was compacted
                // again) before the member finished it: start over from a probe, which sends
                // the current snapshot. Waiting would leave the member paused for good.
                state.progress.update(id) { $0.becomeProbe() }
            }
        }
        confirmReads(&state)
        if match < log.lastIndex { sendAppends(to: id, &state, allowEmpty: true) }
    }

    mutating func handleSnapshotResponse(from id: NodeID, index: LogIndex, nextOffset: Int, _ state: inout LeaderState) {
        guard var progress = state.progress[id], case let .snapshot(sending, _) = progress.state else { return }
        guard let snapshot, snapshot.metadata.index == sending, index == sending else {
            progress.becomeProbe()
            state.progress[id] = progress
            sendAppends(to: id, &state, allowEmpty: true)
            return
        }
        progress.state = .snapshot(index: sending, offset: nextOffset)
        state.progress[id] = progress
        if nextOffset < snapshot.data.count { sendSnapshotChunk(to: id, snapshot, offset: nextOffset) }
    }

    /// Advances the commit index to what a quorum of voters matches, if that entry is from
    /// the current term. Returns true if it moved.
    mutating func maybeCommit(_ state: inout LeaderState) -> Bool {
        let quorum = MajorityQuorum(voters: log.membership.voters)
        let index = quorum.committedIndex { state.progress.match(of: $0) }
        guard index > log.committed else { return false }
        if !config.mutations.commitWithoutCurrentTerm {
            guard log.term(at: index) == term else { return false }
        }
        log.commit(to: index)
        return true
    }

    /// After the host persisted the leader's own entries: count them toward the quorum.
    mutating func leaderSelfStable() {
        withLeaderState { node, state in
            let stable = node.log.stable
            state.progress.update(node.id) { _ = $0.maybeUpdate(stable) }
            if node.maybeCommit(&state) {
                for peer in state.progress.ids where peer != node.id { node.sendAppends(to: peer, &state, allowEmpty: false) }
            }
        }
    }

    /// Releases ReadIndex requests whose heartbeat round a quorum has echoed.
    mutating func confirmReads(_ state: inout LeaderState) {
        let quorum = MajorityQuorum(voters: log.membership.voters)
        let current = state.readOnly.sequence
        let selfID = id
        let confirmed = quorum.committedIndex { voter in
            voter == selfID ? LogIndex(current) : LogIndex(state.progress.readSequenceAcknowledged(by: voter))
        }
        let released = state.readOnly.confirm(confirmed.rawValue)
        readStates.append(contentsOf: released)
    }
}
