// One shard replica on this node: a Raft node, its state machine, and the requests that
// wait on it (writes proposed here until applied, reads until the leader is confirmed and
// the state machine has caught up).
//
// Invariants:
// - a proposal's waiter is keyed by the index it was proposed at; when that index is
//   applied, the waiter gets the reply if the entry is its own, and a definite failure if
//   another entry took the index (the proposal was overwritten and never applies);
// - reads run only on a leader whose leadership was confirmed after the read arrived
//   (lease or ReadIndex), against state that includes every write committed before.
import Cluster
import Consensus
import Core
import Engine
import Wire

typealias ReplySink = (RESPValue) -> Void

final class PendingWrite {
    let tag: RequestTag
    let deadline: Int64
    private let sink: ReplySink
    /// The protocol the client speaks: a reply's shape (pairs or a flat array, doubles or
    /// strings) is decided where the committed write runs.
    let version: ProtocolVersion
    /// What was proposed, decoded and encoded: applying the entry this node proposed
    /// skips decoding its payload again when the committed bytes are these. Nil for an
    /// open batch until it is sealed.
    private(set) var proposed: (payload: [UInt8], command: ShardCommand)?
    /// A read's answer that waits for its entry (lazy expiry's reclaim, Node+LazyExpiry.swift):
    /// whatever becomes of the entry, the read was served and `reply` gets this.
    let readAnswer: RESPValue?
    /// When a client's request proposed it (or queued it), on the node's monotonic clock:
    /// the wait until its apply is not part of the request's duration.
    let proposedMicroseconds: Int64?
    /// A plain client write that others may join until it is proposed (`WriteBatch`).
    private var batch: WriteBatch?
    /// The sinks of the writes that joined, in order: each gets its command's reply.
    private var joined: [ReplySink] = []

    /// A class, not a struct: a write moves through queues and tables on its way to the
    /// log and back, and each move of a struct copied (retained) every field.
    init(tag: RequestTag, deadline: Int64, reply: @escaping ReplySink, version: ProtocolVersion = .resp2,
         proposed: (payload: [UInt8], command: ShardCommand)? = nil, readAnswer: RESPValue? = nil,
         proposedMicroseconds: Int64? = nil) {
        self.tag = tag
        self.deadline = deadline
        self.sink = reply
        self.version = version
        self.proposed = proposed
        self.readAnswer = readAnswer
        self.proposedMicroseconds = proposedMicroseconds
    }

    /// A plain client write (one command, no transaction, no watches) that writes queued
    /// after it in the same shard may join until it is proposed (`seal`).
    init(tag: RequestTag, deadline: Int64, reply: @escaping ReplySink, version: ProtocolVersion, batch: WriteBatch,
         proposedMicroseconds: Int64?) {
        self.tag = tag
        self.deadline = deadline
        self.sink = reply
        self.version = version
        self.batch = batch
        self.readAnswer = nil
        self.proposedMicroseconds = proposedMicroseconds
    }

    /// Whether the write is an open batch, with no payload yet.
    var isOpenBatch: Bool { batch != nil }

    /// Adds a plain write to this open batch when it fits (same database and protocol,
    /// under `WriteBatch.commandsMax` and `bytesMax` bytes); false otherwise.
    func join(_ command: [[UInt8]], bytes: Int, bytesMax: Int, database: Int, version: ProtocolVersion,
              reply: @escaping ReplySink) -> Bool {
        guard var open = batch, open.database == database, version == self.version,
              open.commands.count < WriteBatch.commandsMax, open.bytes + bytes <= bytesMax else { return false }
        batch = nil  // no copy of the commands while they grow
        open.commands.append(command)
        open.bytes += bytes
        batch = open
        joined.append(reply)
        return true
    }

    /// Closes an open batch and encodes it: a single write as before, several as a
    /// `ShardCommand.batch`. Returns the payload to propose.
    func seal() -> [UInt8] {
        guard let open = batch else {
            assertionFailure("sealing a write that is not an open batch")
            return proposed?.payload ?? []
        }
        batch = nil
        let command = open.commands.count == 1
            ? ShardCommand.write(tag: tag, time: open.time, transaction: false, watches: [], commands: open.commands,
                                 database: open.database)
            : ShardCommand.batch(tag: tag, time: open.time, commands: open.commands, database: open.database)
        let payload = command.encoded()
        proposed = (payload, command)
        return payload
    }

    /// Answers the write: a batch's array of replies goes out one per write that joined;
    /// anything else (an error for the entry) to each of them.
    func reply(_ value: RESPValue) {
        guard !joined.isEmpty else { return sink(value) }
        let sinks = joined
        joined = []
        if case .array(let replies) = value, replies.count == sinks.count + 1, case .batch? = proposed?.command {
            sink(replies[0])
            for (position, other) in sinks.enumerated() { other(replies[position + 1]) }
        } else {
            sink(value)
            for other in sinks { other(value) }
        }
    }
}

/// The commands of an open batch: plain writes of clients queued in one shard that will
/// be proposed as one log entry (one Raft entry, one WAL record, one apply) instead of
/// one each. They run in order at the first one's time, each with its own reply.
struct WriteBatch {
    var time: Int64
    var database: Int
    var commands: [[[UInt8]]]
    /// The estimated entry size (`Node.proposeWrite`'s measure).
    var bytes: Int
    /// Most writes in one batch.
    static let commandsMax = 256
}

/// A read waiting for its turn; `run` executes it against the applied state and replies.
struct PendingRead {
    var index: LogIndex
    var deadline: Int64
    var run: () -> Void
    var fail: ReplySink
}

final class Replica {
    let shard: ShardID
    var raft: RaftNode
    let machine: ReplicaMachine
    var proposals: [LogIndex: PendingWrite] = [:]
    /// Writes accepted this event-loop turn, proposed together at the start of the turn.
    var queuedWrites: [(payload: [UInt8], write: PendingWrite)] = []
    /// Confirmed reads waiting for `applied >= index`, in arrival order.
    var readsAwaitingApply: [PendingRead] = []
    /// Reads waiting for a ReadIndex confirmation, by context.
    var readsAwaitingConfirmation: [UInt64: PendingRead] = [:]
    /// Reads that arrived before this leader committed an entry of its term.
    var readsAwaitingLeadership: [PendingRead] = []
    /// Set when a committed configuration change removed this node. A replica that is
    /// catching up replays old history (it may have been removed once and added again),
    /// so the replica is dropped only while its log's latest membership also excludes it.
    var removalApplied = false

    func isRemoved(me: NodeID) -> Bool { removalApplied && (mutations.dropOnStaleRemoval || !raft.membership.contains(me)) }
    /// Test-only rule breakers (NodeMutations).
    var mutations = NodeMutations()
    /// With `applyTwiceAfterRestart`: client writes still to be applied twice.
    var doubleAppliesLeft = 0
    var lastReconcile: Int64 = 0
    var lastTransferAttempt: Int64 = 0
    var orphanTicks = 0
    /// When (node wall time) this replica last learned that it is counted: created, or a
    /// committed change added or promoted this node. Gossip heard before then predates
    /// the change and cannot say the leader no longer counts it.
    var countedSince: Int64 = 0
    /// A standalone server's log growth since its last snapshot (Node+Housekeeping.swift):
    /// the store's `bytesWritten` when that snapshot was captured, less the log replayed at
    /// start-up when it was taken in an earlier run (so negative then); and the size of
    /// that snapshot (0 before any).
    var logBytesAtSnapshot = 0
    var snapshotBytes = 0
    /// The data machine's `appliedWrites` when its last snapshot was captured this run.
    var writesAtSnapshot: UInt64 = 0
    /// The newest time stamped on a proposal: stamps never run backwards.
    var lastStampedTime: Int64 = 0
    /// PUBLISH calls of scripts in entries this node proposed, applied and not yet sent.
    var publishesOwed: [[[UInt8]]] = []

    init(shard: ShardID, raft: RaftNode, machine: ReplicaMachine) {
        self.shard = shard
        self.raft = raft
        self.machine = machine
        data = machine as? DataMachine
        directory = machine as? DirectoryMachine
    }

    var isLeader: Bool { raft.roleKind == .leader }
    /// The machine when it is a data shard (cast once: read on every request).
    let data: DataMachine?
    /// The machine when it is the directory (cast once, as `data`).
    let directory: DirectoryMachine?

    var pendingCount: Int {
        proposals.count + queuedWrites.count + readsAwaitingApply.count + readsAwaitingConfirmation.count + readsAwaitingLeadership.count
    }

    // MARK: - Reads

    /// Whether a linearizable read may run at once against the applied state: exactly
    /// when `read` would run it without queueing (a leader holding its lease whose state
    /// machine has applied the commit index). Lets the common read skip building a
    /// `PendingRead`.
    func readsNow() -> Bool {
        if mutations.readWithoutLease, isLeader { return true }
        guard let index = try? raft.leaseRead() else { return false }
        return raft.appliedIndex >= index
    }

    /// Starts a linearizable read: runs it now if the lease holds and the state machine has
    /// applied the commit index, else queues it.
    func read(_ read: PendingRead, context: UInt64) {
        var read = read
        if mutations.readWithoutLease, isLeader {
            read.run()
            return
        }
        do {
            read.index = try raft.leaseRead()
            if raft.appliedIndex >= read.index { read.run() } else { readsAwaitingApply.append(read) }
        } catch .readNotReady {
            readsAwaitingLeadership.append(read)
        } catch .notLeader {
            read.fail(Redirect.tryAgain("shard \(shard.rawValue) changed leader; retry").reply)
        } catch {
            do {
                try raft.readIndex(context: context)
                readsAwaitingConfirmation[context] = read
            } catch .readNotReady {
                readsAwaitingLeadership.append(read)
            } catch {
                read.fail(Redirect.tryAgain("shard \(shard.rawValue) cannot serve reads right now (\(error)); retry").reply)
            }
        }
    }

    /// A ReadIndex confirmation arrived.
    func confirmed(_ state: ReadState) {
        guard var read = readsAwaitingConfirmation.removeValue(forKey: state.context) else { return }
        read.index = state.index
        if raft.appliedIndex >= read.index { read.run() } else { readsAwaitingApply.append(read) }
    }

    /// Runs queued reads whose index has been applied.
    func runAppliedReads() {
        guard !readsAwaitingApply.isEmpty else { return }
        let applied = raft.appliedIndex
        var remaining: [PendingRead] = []
        for read in readsAwaitingApply {
            if read.index <= applied { read.run() } else { remaining.append(read) }
        }
        readsAwaitingApply = remaining
    }

    /// Retries reads that waited for this leader to be ready; `nextContext` numbers them.
    func retryReadsAwaitingLeadership(_ nextContext: () -> UInt64) {
        guard !readsAwaitingLeadership.isEmpty, isLeader else { return }
        let waiting = readsAwaitingLeadership
        readsAwaitingLeadership = []
        for read in waiting { self.read(read, context: nextContext()) }
    }

    // MARK: - Applying

    /// Applies one committed entry and settles the waiter of its index.
    func apply(_ entry: Entry, me: NodeID, now: Int64) {
        // One lookup: the waiter leaves the table before its entry runs.
        let waiter = proposals.removeValue(forKey: entry.index)
        var owed: OwedReply? = nil
        switch entry.payload {
        case .command(let payload):
            let version = waiter?.version ?? .resp2
            owed = applyCommand(payload, index: entry.index, version: version, proposed: waiter?.proposed)
            if doubleAppliesLeft > 0, owed != nil {
                doubleAppliesLeft -= 1
                _ = machine.apply(payload, index: entry.index, version: version)
            }
        case .configChange(let change, _):
            if change.node == me {
                removalApplied = change.kind == .remove
                if !removalApplied { countedSince = now }
            }
        case .empty: break
        }
        let owedHere = owed != nil && owed?.tag == waiter?.tag
        takeScriptPublishes(owedHere: owedHere)
        data?.engine.countAppliedLookups(here: owedHere)
        guard let waiter else { return }
        if let answer = waiter.readAnswer { return waiter.reply(answer) }
        if let owed, owed.tag == waiter.tag {
            waiter.reply(owed.reply)
        } else {
            waiter.reply(.error("ERR write not applied: shard \(shard.rawValue) changed leader before it was replicated; retry"))
        }
    }

    /// Applies a command payload; the command this node proposed is used as it was built
    /// when the committed bytes are exactly the proposed ones (the same buffer, usually).
    private func applyCommand(_ payload: [UInt8], index: LogIndex, version: ProtocolVersion,
                              proposed: (payload: [UInt8], command: ShardCommand)?) -> OwedReply? {
        if let proposed, let data, payload == proposed.payload {
            return data.apply(proposed.command, index: index, version: version)
        }
        return machine.apply(payload, index: index, version: version)
    }

    /// A script's PUBLISH goes out from the node that proposed its entry, once; the other
    /// replicas drop theirs (a proposer that crashed loses it: pub/sub is at most once).
    private func takeScriptPublishes(owedHere: Bool) {
        guard let engine = data?.engine, !engine.scriptPublishes.isEmpty else { return }
        if owedHere { publishesOwed += engine.scriptPublishes }
        engine.scriptPublishes.removeAll()
    }

    /// Fails every request past its deadline. Writes get an "outcome unknown" error: they
    /// may still commit later.
    func expire(now: Int64) {
        if queuedWrites.contains(where: { $0.write.deadline <= now }) {
            // Never proposed: definitely not applied.
            for item in queuedWrites where item.write.deadline <= now {
                item.write.reply(Redirect.tryAgain("shard \(shard.rawValue) had no room for the write in time; it was not applied").reply)
            }
            queuedWrites.removeAll { $0.write.deadline <= now }
        }
        for (index, write) in proposals.sorted(by: { $0.key < $1.key }) where write.deadline <= now {
            proposals.removeValue(forKey: index)
            write.reply(write.readAnswer ?? .error("ERR write not confirmed in time: shard \(shard.rawValue) could not reach a quorum; it may or may not be applied"))
        }
        // The expired reads leave their queues before any is answered: an answer may start
        // the client's next request, which can queue a read here again (a reentrant access
        // to a queue still being swept, caught by Swift's exclusivity check in debug builds).
        func takeExpired(_ reads: inout [PendingRead]) -> [PendingRead] {
            guard reads.contains(where: { $0.deadline <= now }) else { return [] }
            let expired = reads.filter { $0.deadline <= now }
            reads.removeAll { $0.deadline <= now }
            return expired
        }
        var expired = takeExpired(&readsAwaitingApply) + takeExpired(&readsAwaitingLeadership)
        for (context, read) in readsAwaitingConfirmation.sorted(by: { $0.key < $1.key }) where read.deadline <= now {
            readsAwaitingConfirmation.removeValue(forKey: context)
            expired.append(read)
        }
        for read in expired {
            read.fail(Redirect.clusterDown("read not confirmed in time: shard \(shard.rawValue) could not reach a quorum").reply)
        }
    }

    /// Fails reads that can no longer be served here because this node stopped leading.
    func failReadsAfterLosingLeadership() {
        failReads(Redirect.tryAgain("shard \(shard.rawValue) changed leader; retry").reply)
    }

    /// Empties the read queues first, then answers: a read an answer's client queues here
    /// meanwhile stays queued (it was once cleared with the rest and never answered).
    private func failReads(_ error: RESPValue) {
        let failing = readsAwaitingApply + readsAwaitingConfirmation.sorted(by: { $0.key < $1.key }).map(\.value) + readsAwaitingLeadership
        readsAwaitingApply = []
        readsAwaitingConfirmation = [:]
        readsAwaitingLeadership = []
        for read in failing { read.fail(error) }
    }

    /// Most writes waiting for room in the log before new ones are refused with -TRYAGAIN.
    static let queuedWritesMax = 65_536

    /// True when a turn could make progress on the queued writes: there is room under
    /// Raft's uncommitted-entries bound, or this replica no longer leads (they then fail).
    var hasProposableWrites: Bool { !queuedWrites.isEmpty && (!isLeader || (raft.uncommittedRoom > 0 && raft.transferTarget == nil)) }

    /// Proposes the queued writes, oldest first, as one batch (one AppendEntries round), as
    /// many as fit under Raft's uncommitted-entries bound; the rest wait for commits to make
    /// room (backpressure instead of errors: each client's pipeline bounds what it queues).
    /// While the leadership is being handed over they wait too: the hand-over ends within
    /// an election timeout, and then they are proposed here or refused with a redirect,
    /// instead of being refused at once (a client retrying at once would use up its tries).
    func proposeQueuedWrites() {
        guard !queuedWrites.isEmpty, !isLeader || raft.transferTarget == nil else { return }
        let room = isLeader ? raft.uncommittedRoom : queuedWrites.count
        guard room > 0 else { return }
        let queued: [(payload: [UInt8], write: PendingWrite)]
        if room >= queuedWrites.count {
            // The usual case: everything goes; hand the array over instead of copying it.
            queued = queuedWrites
            queuedWrites = []
            queuedWrites.reserveCapacity(queued.count)
        } else {
            queued = Array(queuedWrites.prefix(room))
            queuedWrites.removeFirst(room)
        }
        do {
            var index = try raft.propose(batch: queued.map { $0.write.isOpenBatch ? $0.write.seal() : $0.payload })
            for item in queued {
                proposals[index] = item.write
                index = index.next
            }
        } catch .proposalDropped {
            for item in queued { item.write.reply(Redirect.tryAgain("shard \(shard.rawValue) has too many uncommitted writes; retry").reply) }
        } catch {
            for item in queued { item.write.reply(Redirect.tryAgain("shard \(shard.rawValue) is changing leader; retry").reply) }
        }
    }

    /// Fails everything (the replica is being removed or the node is stopping). Writes not
    /// proposed yet and reads get `notApplied`; writes already in the log may still commit
    /// without this replica, so they get `mayBeApplied`: a definite answer only when known.
    func failAll(notApplied: RESPValue, mayBeApplied: RESPValue) {
        for item in queuedWrites { item.write.reply(notApplied) }
        queuedWrites = []
        for (_, write) in proposals.sorted(by: { $0.key < $1.key }) { write.reply(write.readAnswer ?? mayBeApplied) }
        proposals = [:]
        failReads(notApplied)
    }
}
