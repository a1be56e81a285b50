// One Raft node as a pure, deterministic state machine (the shape of etcd's RawNode).
//
// Inputs: `tick()` for time, `step(_:)` for messages, and requests (`propose`,
// `proposeConfigChange`, `transferLeadership`, `readIndex`, `leaseRead`, `compact`).
// Output: `ready()` returns one batch of work; the host performs it following the contract
// in Ready.swift and acknowledges with `advance(_:)`. Nothing here reads a clock, draws
// system randomness, spawns work or touches I/O: the election jitter comes from the
// injected generator, so the same inputs always give the same outputs.
//
// Invariants: term never decreases; a node votes at most once per term; only the leader
// appends new entries; a leader commits only an entry of its own term (then everything
// before it); messages leave only through Ready, after what they depend on is persisted.

import Core

public struct RaftNode: Sendable {
    public let config: RaftConfig
    public internal(set) var term: Term
    public internal(set) var vote: NodeID
    @usableFromInline var log: RaftLog
    @usableFromInline var role: Role
    /// Bumped on every role change, so a handler can tell whether it stepped down.
    var roleEpoch: UInt64 = 0
    var random: SeededRandom
    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    /// Ticks since this node object was created; the leader's lease is measured in these.
    var ticks: UInt64 = 0
    var outbox: [Message] = []
    var readStates: [ReadState] = []
    /// A snapshot received from a leader and not yet handed to the host.
    var receivedSnapshot: Snapshot?
    /// The latest snapshot this node holds (taken locally or received): what it streams to
    /// followers whose next entry was compacted away.
    public internal(set) var snapshot: Snapshot?
    var persistedHardState: HardState
    /// Messages that would have broken a safety rule (truncating committed entries) and
    /// were refused. Always zero in a correct cluster; the simulator checks it.
    public internal(set) var anomalies = 0
    /// With lease reads on, a node that restarts may have acknowledged a heartbeat just
    /// before it crashed; it must not vote until a full election timeout has passed, or
    /// the old leader's lease would no longer exclude a new leader.
    let holdsVotesAfterRestart: Bool

    /// Creates a node from what the host recovered from disk. The host must restore its
    /// state machine from `recovered.snapshot` itself; entries after it are re-delivered
    /// as committed entries.
    public init(config: RaftConfig, recovered: RecoveredState = RecoveredState(), random: SeededRandom) throws(RaftError) {
        try config.validate()
        self.config = config
        term = recovered.hardState.term
        vote = recovered.hardState.vote
        log = RaftLog(snapshot: recovered.snapshot?.metadata, entries: recovered.entries,
                      committed: recovered.hardState.commit, initialMembership: config.initialMembership)
        snapshot = recovered.snapshot
        role = .follower(FollowerState(leader: .none))
        self.random = random
        persistedHardState = HardState(term: term, vote: vote, commit: log.committed)
        holdsVotesAfterRestart = config.leaseClockDriftBound > 0 && term > .zero
        resetRandomizedElectionTimeout()
    }

    // MARK: - Introspection

    public var id: NodeID { config.id }
    /// Inlinable, as `appliedIndex` and `commitIndex`: asked for every request, and a call
    /// across modules on a RaftNode stored in a class copies the whole node first.
    @inlinable public var roleKind: RoleKind { role.kind }
    public var membership: Membership { log.membership }
    /// Voters and learners in the current membership (without copying it).
    public var memberCount: Int { log.membership.voters.count + log.membership.learners.count }
    @inlinable public var commitIndex: LogIndex { log.committed }
    @inlinable public var appliedIndex: LogIndex { log.applied }
    /// Ticks since a follower last heard from its leader (an append, heartbeat or
    /// snapshot); grows on candidates too. Bounds how stale a follower read may be.
    public var ticksSinceLeaderContact: Int { electionElapsed }
    public var lastIndex: LogIndex { log.lastIndex }
    public var lastTerm: Term { log.lastTerm }
    public var snapshotIndex: LogIndex { log.snapshotIndex }
    public var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }
    public func term(at index: LogIndex) -> Term? { log.term(at: index) }
    public func entry(at index: LogIndex) -> Entry? { log.entry(at: index) }

    /// The leader this node knows of, itself if it leads, or `.none`.
    public var leader: NodeID {
        switch role {
        case .follower(let state): return state.leader
        case .leader: return id
        case .preCandidate, .candidate: return .none
        }
    }

    /// For a leader: each member's (match, next, replication state); empty otherwise.
    public var progressSummary: [(NodeID, LogIndex, LogIndex, String)] {
        guard case .leader(let state) = role else { return [] }
        return state.progress.ids.compactMap { id in
            state.progress[id].map { (id, $0.match, $0.next, $0.state.description) }
        }
    }

    public var transferTarget: NodeID? {
        guard case .leader(let state) = role else { return nil }
        return state.transferTarget
    }

    var isPromotable: Bool { log.membership.isVoter(id) }

    // MARK: - Time

    /// Advances logical time by one tick. The host must deliver one tick per elapsed tick
    /// period, including periods the process spent paused, before stepping new messages.
    public mutating func tick() {
        ticks += 1
        if case .leader = role {
            tickLeader()
        } else {
            electionElapsed += 1
            if isPromotable, electionElapsed >= randomizedElectionTimeout {
                electionElapsed = 0
                startElection(transfer: false)
            }
        }
    }

    mutating func resetRandomizedElectionTimeout() {
        randomizedElectionTimeout = config.electionTicks + random.int(in: 0...(config.electionTicks - 1))
    }

    // MARK: - Ready / advance

    public var hasReady: Bool {
        !outbox.isEmpty || !readStates.isEmpty || receivedSnapshot != nil || hardState != persistedHardState
            || log.stable < log.lastIndex || log.committed > log.applied
    }

    /// The next batch of work, or nil if there is none. Messages, read states and a
    /// received snapshot move into the batch; call `advance` after performing it.
    public mutating func ready() -> Ready? {
        guard hasReady else { return nil }
        let current = hardState
        let changed = current != persistedHardState
        let entries = log.unstableEntries
        let snapshotToInstall = receivedSnapshot
        var mustSync = !entries.isEmpty || snapshotToInstall != nil
            || current.term != persistedHardState.term || current.vote != persistedHardState.vote
        if config.mutations.acknowledgeBeforePersist, case .follower = role {
            mustSync = snapshotToInstall != nil
                || current.term != persistedHardState.term || current.vote != persistedHardState.vote
        }
        let ready = Ready(
            hardState: changed ? current : nil,
            entries: entries,
            snapshot: snapshotToInstall,
            committedEntries: log.committedToApply(countMax: config.applyEntriesMax),
            messages: outbox,
            readStates: readStates,
            mustSync: mustSync)
        outbox.removeAll(keepingCapacity: true)
        readStates.removeAll(keepingCapacity: true)
        receivedSnapshot = nil
        return ready
    }

    /// Acknowledges that the host performed `ready` completely.
    public mutating func advance(_ ready: Ready) {
        if let state = ready.hardState { persistedHardState = state }
        if let last = ready.entries.last { log.stableTo(index: last.index, term: last.term) }
        if let last = ready.committedEntries.last, last.index > log.applied { log.applied = last.index }
        if case .leader = role { leaderSelfStable() }
    }

    // MARK: - Snapshots taken by the host

    /// The host has captured its state machine at `index` (already applied) as `data`.
    /// Entries through `index` are dropped; followers that need them get the snapshot.
    /// What `compact(through: index, ...)` would record, without compacting: for a host that
    /// writes the snapshot file before it compacts. Nil where `compact` would throw.
    public func snapshotMetadata(through index: LogIndex) -> SnapshotMetadata? {
        guard index > newestSnapshotIndex, index >= log.snapshotIndex, index <= log.applied,
              let term = log.term(at: index) else { return nil }
        return SnapshotMetadata(index: index, term: term, membership: log.membership(at: index))
    }

    public mutating func compact(through index: LogIndex, data: [UInt8]) throws(RaftError) {
        guard index > newestSnapshotIndex, let metadata = log.compact(through: index) else { throw .compactionOutOfRange }
        snapshot = Snapshot(metadata: metadata, data: data)
    }

    /// The host wrote a snapshot whose metadata `snapshotMetadata(through:)` gave: the
    /// entries through it still held are dropped, and it is the snapshot followers get.
    /// Throws when a newer snapshot is already held or the index is not applied.
    public mutating func compact(_ metadata: SnapshotMetadata, data: [UInt8]) throws(RaftError) {
        guard metadata.index > newestSnapshotIndex, metadata.index <= log.applied else { throw .compactionOutOfRange }
        if metadata.index > log.snapshotIndex {
            guard let compacted = log.compact(through: metadata.index) else { throw .compactionOutOfRange }
            assert(compacted.term == metadata.term, "a snapshot's term changed between capture and compaction")
        }
        snapshot = Snapshot(metadata: metadata, data: data)
    }

    /// The index of the newest snapshot this node holds (taken or received), zero before
    /// one. The log holds every entry after it, except where `releaseAppliedEntries` let
    /// them go.
    public var newestSnapshotIndex: LogIndex { snapshot?.metadata.index ?? .zero }

    /// Drops the applied, durable entries from memory without a snapshot, keeping the
    /// newest one's term. Only for a group that can never have another member (a
    /// standalone server): the entries stay in the host's log on disk until its next
    /// snapshot, recovery replays them from there, and no follower will ask for them.
    /// So such a group may snapshot rarely (a pass over every key) without holding every
    /// write since in memory.
    public mutating func releaseAppliedEntries() {
        let through = min(log.applied, log.stable)
        guard through > log.snapshotIndex else { return }
        assert(log.membership.voters == [id] && log.membership.learners.isEmpty, "a group with members needs its entries")
        _ = log.compact(through: through)
    }

    /// Entries held in memory (after the newest snapshot or release).
    public var heldEntryCount: Int { log.entries.count }

    /// Drops the newest snapshot's bytes from memory, keeping its metadata. Only for a group
    /// that can never have another member (a standalone server, whose snapshot is on disk
    /// and read back only at start): a leader sends these bytes to members that need them.
    public mutating func releaseSnapshotBytes() {
        guard let snapshot, !snapshot.data.isEmpty else { return }
        assert(log.membership.voters == [id] && log.membership.learners.isEmpty, "a group with members needs its snapshot bytes")
        self.snapshot = Snapshot(metadata: snapshot.metadata, data: [])
    }

    // MARK: - Messages

    mutating func send(to: NodeID, term messageTerm: Term? = nil, _ body: MessageBody) {
        outbox.append(Message(from: id, to: to, term: messageTerm ?? term, body: body))
    }

    /// Feeds one message from the network. Malformed or stale messages are ignored.
    public mutating func step(_ message: Message) {
        guard message.to == id, message.from != id, message.from != .none else { return }
        guard admitTerm(message) else { return }
        if case let .requestVote(lastIndex, lastTerm, preVote, _) = message.body {
            handleVoteRequest(message, lastIndex: lastIndex, lastTerm: lastTerm, preVote: preVote)
            return
        }
        switch role {
        case .follower: stepFollower(message)
        case .preCandidate, .candidate: stepCandidate(message)
        case .leader: stepLeader(message)
        }
    }
}
