// Requests from the host: proposals, membership changes, leadership transfer and reads.
// Each either takes effect or throws a typed error saying why not; none blocks.

import Core

extension RaftNode {
    /// Appends a command to the leader's log; returns its index. The command is committed
    /// only if it later appears in `committedEntries` at that index with this term.
    @discardableResult
    public mutating func propose(_ command: [UInt8]) throws(RaftError) -> LogIndex {
        try checkCanPropose()
        appendAsLeader(.command(command))
        broadcastAppend()
        return log.lastIndex
    }

    /// Appends several commands as consecutive entries and sends one round of
    /// AppendEntries for all of them; returns the index of the first. All or nothing: if
    /// the batch would pass the uncommitted-entries bound, nothing is appended.
    @discardableResult
    public mutating func propose(batch commands: [[UInt8]]) throws(RaftError) -> LogIndex {
        try checkCanPropose()
        guard Int(log.lastIndex.rawValue - log.committed.rawValue) + commands.count <= config.uncommittedEntriesMax else {
            throw .proposalDropped
        }
        let first = log.lastIndex.next
        guard !commands.isEmpty else { return first }
        var index = first
        var entries: [Entry] = []
        entries.reserveCapacity(commands.count)
        for command in commands {
            entries.append(Entry(term: term, index: index, payload: .command(command)))
            index = index.next
        }
        log.append(entries)
        broadcastAppend()
        return first
    }

    /// How many more entries may be proposed before the uncommitted-entries bound is reached.
    public var uncommittedRoom: Int {
        max(0, config.uncommittedEntriesMax - Int(log.lastIndex.rawValue - log.committed.rawValue))
    }

    func checkCanPropose() throws(RaftError) {
        guard case .leader(let state) = role else { throw .notLeader(leader: leader) }
        guard state.transferTarget == nil else { throw .transferInProgress }
        guard Int(log.lastIndex.rawValue - log.committed.rawValue) < config.uncommittedEntriesMax else {
            throw .proposalDropped
        }
    }

    /// Proposes one single-server membership change. Only one may be uncommitted at a
    /// time, and only after this leader committed an entry of its own term (the thesis's
    /// fix for single-server changes across leader changes).
    @discardableResult
    public mutating func proposeConfigChange(_ change: ConfigChange) throws(RaftError) -> LogIndex {
        try checkCanPropose()
        guard case .leader(let state) = role else { throw .notLeader(leader: leader) }
        guard log.hasCommittedEntry(ofTerm: term), state.pendingConfigIndex <= log.committed else {
            throw .configChangePending
        }
        guard let next = log.membership.applying(change) else { throw .invalidConfigChange }
        if change.kind == .remove && change.node == id { throw .cannotRemoveLeader }
        if change.kind == .promote {
            // A learner that never acknowledged anything (match 0: it may be down, or have
            // no replica at all) is not caught up however short the log is: promoted, it
            // would count toward quorums it cannot help form.
            guard let progress = state.progress[change.node], progress.match > .zero,
                  progress.match.rawValue + UInt64(config.learnerPromotionLagMax) >= log.committed.rawValue else {
                throw .learnerNotCaughtUp
            }
        }
        appendAsLeader(.configChange(change, next))
        let index = log.lastIndex
        withLeaderState { node, state in
            state.pendingConfigIndex = index
            state.progress.reconcile(members: next.members, next: index, config: node.config)
        }
        broadcastAppend()
        return index
    }

    /// Hands leadership to `target`: proposals stop, the target is brought up to date and
    /// told to campaign at once. Abandoned after an election timeout.
    public mutating func transferLeadership(to target: NodeID) throws(RaftError) {
        guard case .leader = role else { throw .notLeader(leader: leader) }
        guard target != id, log.membership.isVoter(target) else { throw .unknownNode }
        electionElapsed = 0
        withLeaderState { node, state in
            guard state.transferTarget != target else { return }
            state.transferTarget = target
            state.readOnly.disableLease()
            if state.progress[target]?.match == node.log.lastIndex {
                node.send(to: target, .timeoutNow)
            } else {
                node.sendAppends(to: target, &state, allowEmpty: true)
            }
        }
    }

    /// Starts a ReadIndex read; its ReadState arrives in a later Ready once a quorum has
    /// confirmed this node is still leader (batched with the next heartbeat round).
    public mutating func readIndex(context: UInt64) throws(RaftError) {
        guard case .leader(let state) = role else { throw .notLeader(leader: leader) }
        guard log.hasCommittedEntry(ofTerm: term) else { throw .readNotReady }
        guard state.readOnly.pending.count < config.pendingReadsMax else { throw .tooManyPendingReads }
        let read = ReadState(index: log.committed, context: context)
        if log.membership.hasOnlyVoter(id) {
            readStates.append(read)
            return
        }
        withLeaderState { _, state in state.readOnly.add(read, sequence: state.readOnly.sequence + 1) }
    }

    /// True if `leaseRead()` would succeed now (for invariant checks).
    public var holdsLease: Bool {
        guard case .leader(let state) = role, log.hasCommittedEntry(ofTerm: term) else { return false }
        if log.membership.hasOnlyVoter(id) { return true }
        guard state.transferTarget == nil else { return false }
        return state.readOnly.leaseValid(now: ticks, leaseTicks: config.leaseTicks)
    }

    /// A lease read: returns the index the state machine must reach before the read is
    /// served, without any message, if the leader's lease still holds.
    public mutating func leaseRead() throws(RaftError) -> LogIndex {
        // Runs for every read: the leader's state is not bound here (binding it copies the
        // whole payload, retaining its progress tables), only asked in place.
        guard case .leader = role else { throw .notLeader(leader: leader) }
        guard log.hasCommittedEntry(ofTerm: term) else { throw .readNotReady }
        // The only voter cannot be deposed but through an entry of its own log: it needs
        // no lease.
        if log.membership.hasOnlyVoter(id) { return log.committed }
        guard role.leaseHolds(now: ticks, leaseTicks: config.leaseTicks) else { throw .leaseExpired }
        return log.committed
    }

    /// Starts an election now instead of waiting out the election timeout. For a group whose
    /// only voter is this node (a standalone server after a restart), this makes it leader at
    /// once; otherwise it is an ordinary (pre-)vote round. No-op for a leader or a learner.
    public mutating func campaign() {
        if case .leader = role { return }
        startElection(transfer: false)
    }
}
