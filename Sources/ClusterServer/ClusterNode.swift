// One node of a Trestle cluster, confined to a single event loop: it hosts shard replicas
// (each a Raft group plus its state machine) and a replica of the directory, persists all
// of them through one Raft log store, exchanges Raft messages with peers, and serves
// client requests by routing them to the shard that owns their slot.
//
// Each event-loop turn: inputs (client requests, peer frames, ticks) step the Raft nodes;
// then `turn()` collects every replica's Ready, stages it in the store and fsyncs once for
// all shards (group commit), sends the messages, applies committed entries (which answers
// the clients waiting on them) and acknowledges.
//
// Invariants:
// - no reply that depends on a write leaves before that write is committed, i.e. on the
//   disks of a majority of its shard's replicas;
// - messages leave only after what they acknowledge is durable (Ready's contract);
// - everything here runs on `loop`; nothing blocks it except the group fsync.
import Cluster
import Consensus
import Core
import Engine
import Foundation
import Logging
import NIOCore
import RaftStorage
import Storage
import Transport
import Wire

public final class ClusterNode: @unchecked Sendable {
    let configuration: NodeConfiguration
    let logger: Logger
    let loop: EventLoop
    let clock: WallClock
    let store: RaftLogStore
    let transport: PeerTransport
    /// Sessions and connection-level commands (no keys live here).
    let front: Engine
    var me: NodeID { configuration.id }

    var directory: Replica
    var replicas: [ShardID: Replica] = [:]
    var directoryMachine: DirectoryMachine { directory.directory! }
    var map: ClusterMap? { directoryMachine.map }

    var nextRequest: UInt64 = 1
    var nextReadContext: UInt64 = 1
    var hints: [ShardID: LeaderHint] = [:]
    /// When each peer was last heard from (gossip), in wall milliseconds.
    var lastHeard: [NodeID: Int64] = [:]
    var forwards: [UInt64: ForwardWait] = [:]
    var proxySessions: [NodeID: Session] = [:]
    var connections: [ClientID: ClusterClientHandler] = [:]
    var dirtyConnections: [ClusterClientHandler] = []
    var turnScheduled = false
    /// True while `turn()` runs: connections it marks dirty are flushed before it returns.
    var inTurn = false
    var ticksDelivered: Int64 = 0
    var tickOrigin = NIODeadline.now()
    var lastRoles: [ShardID: RoleKind] = [:]
    var lastPlacement: Int64 = 0
    var lastDirectoryProposal: Int64 = 0
    var appliedMapVersion: UInt64 = 0
    var draining = false

    init(configuration: NodeConfiguration, logger: Logger, loop: EventLoop, disk: Disk) throws {
        self.configuration = configuration
        self.logger = logger
        self.loop = loop
        self.clock = SystemClock()
        self.store = RaftLogStore(directory: configuration.directory, disk: disk)
        self.transport = PeerTransport(node: configuration.id, cluster: configuration.clusterName, eventLoop: loop, logger: logger)
        var settings = configuration.settings
        settings.port = configuration.port
        settings.directory = configuration.directory
        settings.clusterEnabled = true
        self.front = Engine(settings: settings, seed: UInt64(truncatingIfNeeded: Int64(Date().timeIntervalSince1970 * 1000)) ^ configuration.id.rawValue,
                            now: SystemClock().now().rawValue)
        let machine = DirectoryMachine()
        self.directory = Replica(shard: ClusterMap.directoryShard, raft: try Self.makeRaft(configuration, shard: ClusterMap.directoryShard, recovered: Consensus.RecoveredState()),
                                 machine: machine)
        machine.onChange = { [unowned self] map in self.mapChanged(map) }
        front.hooks.infoFields = { [unowned self] section in self.infoFields(section) }
    }

    /// INFO fields the front engine cannot know: the keys of the shards this node leads.
    private func infoFields(_ section: String) -> [(String, String)] {
        guard section == "keyspace" else { return [] }
        let led = replicas.values.filter(\.isLeader).compactMap { $0.data?.engine.keyspace }
        let keys = led.reduce(0) { $0 + $1.keyCount }
        let expiring = led.reduce(0) { $0 + $1.expiringCount }
        return keys > 0 ? [("db0", "keys=\(keys),expires=\(expiring),avg_ttl=0")] : []
    }

    // MARK: - Raft nodes

    static func makeRaft(_ configuration: NodeConfiguration, shard: ShardID, recovered: Consensus.RecoveredState) throws -> RaftNode {
        var config = RaftConfig(id: configuration.id, initialMembership: Membership(voters: []))
        config.electionTicks = configuration.electionTicks
        config.heartbeatTicks = 1
        config.preVote = true
        config.checkQuorum = true
        // Lease reads: every process on one machine shares a clock; 5% bounds drift.
        config.leaseClockDriftBound = 0.05
        config.learnerPromotionLagMax = Self.promotionLagEntriesMax
        let seed = configuration.id.rawValue &* 0x9E3779B97F4A7C15 ^ shard.rawValue &* 0xBF58476D1CE4E5B9
            ^ UInt64(truncatingIfNeeded: Int64(Date().timeIntervalSince1970 * 1e6))
        return try RaftNode(config: config, recovered: recovered, random: SeededRandom(seed: seed))
    }

    /// How far behind the commit index a learner may be when it is promoted.
    static let promotionLagEntriesMax = 256

    /// A new replica of `shard` with no state: it waits for its leader's snapshot or log.
    func makeEmptyReplica(_ shard: ShardID) throws -> Replica {
        Replica(shard: shard, raft: try Self.makeRaft(configuration, shard: shard, recovered: Consensus.RecoveredState()),
                machine: DataMachine(settings: front.settings))
    }

    // MARK: - Start-up

    /// Recovers every replica from disk, or bootstraps a new cluster from the configured
    /// members when the directory is empty.
    func recoverOrBootstrap() throws {
        let recovery = try store.recover(repair: configuration.repair)
        if recovery.shards.isEmpty {
            if let members = configuration.bootstrap {
                try bootstrap(members)
            } else {
                logger.info("no data and no --bootstrap: waiting to be added to a cluster (trestle cluster add-node)")
            }
            return
        }
        for (shard, state) in recovery.shards.sorted(by: { $0.key < $1.key }) {
            let raft = try Self.makeRaft(configuration, shard: shard, recovered: state)
            if shard == ClusterMap.directoryShard {
                directory.raft = raft
                if let snapshot = state.snapshot { try directory.machine.restore(snapshot.data) }
            } else {
                let replica = Replica(shard: shard, raft: raft, machine: DataMachine(settings: front.settings))
                if let snapshot = state.snapshot { try replica.machine.restore(snapshot.data) }
                replicas[shard] = replica
            }
        }
        logger.info("recovered replicas", metadata: ["shards": "\(recovery.shards.count)", "report": "\(recovery.report)"])
    }

    /// A new cluster: every initial member computes the same map and starts the directory
    /// and its own data replicas from a snapshot at index 1, term 1 (so a node that joins
    /// later receives that state from its leader as a snapshot).
    private func bootstrap(_ members: [NodeInfo]) throws {
        guard members.contains(where: { $0.id == me }) else {
            throw NodeError.configuration("--bootstrap does not list this node's id \(me.rawValue)")
        }
        let map = ClusterMap.initial(name: configuration.clusterName, nodes: members,
                                     shardCount: configuration.shardCount, replicationFactor: configuration.replicationFactor)
        let learners = map.nodes.map(\.id).filter { !map.directoryVoters.contains($0) }
        try start(shard: ClusterMap.directoryShard, membership: Membership(voters: map.directoryVoters, learners: learners), data: map.encoded())
        let emptyData = DataMachine(settings: front.settings).snapshot()
        for shard in map.shards(on: me) {
            try start(shard: shard.id, membership: Membership(voters: shard.replicas), data: emptyData)
        }
        logger.info("bootstrapped a new cluster", metadata: [
            "nodes": "\(members.count)", "shards": "\(map.shards.count)", "replicas_here": "\(replicas.count)",
        ])
    }

    private func start(shard: ShardID, membership: Membership, data: [UInt8]) throws {
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: LogIndex(1), term: Term(1), membership: membership), data: data)
        try store.saveSnapshot(shard: shard, snapshot)
        let recovered = Consensus.RecoveredState(hardState: HardState(term: Term(1), vote: .none, commit: LogIndex(1)), snapshot: snapshot, entries: [])
        store.stage(shard: shard, entries: [], hardState: recovered.hardState)
        try store.commit(sync: true)
        let raft = try Self.makeRaft(configuration, shard: shard, recovered: recovered)
        if shard == ClusterMap.directoryShard {
            directory.raft = raft
            try directory.machine.restore(data)
        } else {
            let replica = Replica(shard: shard, raft: raft, machine: DataMachine(settings: front.settings))
            try replica.machine.restore(data)
            replicas[shard] = replica
        }
    }

    // MARK: - The turn

    /// Asks for a turn at the end of this event-loop iteration (once, however many inputs).
    func scheduleTurn() {
        guard !turnScheduled else { return }
        turnScheduled = true
        loop.execute { [self] in turn() }
    }

    /// Most Ready rounds per turn; more work waits for the next turn.
    static let readyRoundsMax = 8

    func turn() {
        turnScheduled = false
        inTurn = true
        defer { inTurn = false }
        for replica in replicas.values where !replica.queuedWrites.isEmpty { replica.proposeQueuedWrites() }
        for _ in 0..<Self.readyRoundsMax {
            guard processReadyRound() else { break }
        }
        noteRoleChanges()
        dropRemovedReplicas()
        transport.flush()
        flushConnections()
        if allReplicas.contains(where: { $0.raft.hasReady }) { scheduleTurn() }
    }

    var allReplicas: [Replica] { [directory] + replicas.keys.sorted().compactMap { replicas[$0] } }

    /// One round: persist every replica's Ready with a single fsync, then send, apply and
    /// acknowledge. Returns false when no replica had work.
    private func processReadyRound() -> Bool {
        var work: [(Replica, Ready)] = []
        var mustSync = false
        do {
            for replica in allReplicas where replica.raft.hasReady {
                guard let ready = replica.raft.ready() else { continue }
                if let snapshot = ready.snapshot { try store.saveSnapshot(shard: replica.shard, snapshot) }
                if !ready.entries.isEmpty || ready.hardState != nil {
                    store.stage(shard: replica.shard, entries: ready.entries, hardState: ready.hardState)
                }
                mustSync = mustSync || ready.mustSync
                work.append((replica, ready))
            }
            guard !work.isEmpty else { return false }
            // A leader's replication messages may leave before its own fsync (its entries
            // count toward a commit only once stable), so followers write in parallel.
            var early = false
            for index in work.indices where work[index].0.isLeader {
                let (sendNow, later) = Self.splitLeaderMessages(work[index].1.messages)
                if !sendNow.isEmpty { send(sendNow, shard: work[index].0.shard); early = true }
                work[index].1.messages = later
            }
            if early { transport.flush() }
            // Committed entries are already durable on a majority: apply them and release
            // their replies while this node's own new entries are being fsynced.
            for (replica, ready) in work { applyCommitted(ready, on: replica) }
            flushConnections()
            try store.commit(sync: mustSync && configuration.fsync)
        } catch {
            logger.critical("the Raft log cannot be written; stopping so that no unsaved write is acknowledged", metadata: ["error": "\(error)"])
            exit(3)
        }
        for (replica, ready) in work {
            send(ready.messages, shard: replica.shard)
            replica.raft.advance(ready)
            replica.runAppliedReads()
        }
        return true
    }

    /// Splits a leader's messages into those safe to send before its own log is durable
    /// (replication, heartbeats, snapshots) and the rest.
    static func splitLeaderMessages(_ messages: [Message]) -> (early: [Message], late: [Message]) {
        var early: [Message] = []
        var late: [Message] = []
        for message in messages {
            switch message.body {
            case .appendEntries, .heartbeat, .snapshotChunk: early.append(message)
            default: late.append(message)
            }
        }
        return (early, late)
    }

    /// Installs a received snapshot, applies committed entries and serves confirmed reads.
    private func applyCommitted(_ ready: Ready, on replica: Replica) {
        if let snapshot = ready.snapshot {
            do {
                try replica.machine.restore(snapshot.data)
                logger.info("installed snapshot from leader", metadata: ["shard": "\(replica.shard.rawValue)", "index": "\(snapshot.metadata.index.rawValue)"])
            } catch {
                logger.error("cannot install snapshot", metadata: ["shard": "\(replica.shard.rawValue)", "error": "\(error)"])
            }
        }
        for entry in ready.committedEntries { replica.apply(entry, me: me) }
        for state in ready.readStates { replica.confirmed(state) }
    }

    private func send(_ messages: [Message], shard: ShardID) {
        guard !messages.isEmpty else { return }
        // Dropped messages (breaker open, queue full) are Raft's to retransmit.
        transport.sendRaft(shard: shard, messages: messages)
    }

    private func noteRoleChanges() {
        for replica in allReplicas {
            let role = replica.raft.roleKind
            let previous = lastRoles[replica.shard]
            guard previous != role else { continue }
            lastRoles[replica.shard] = role
            if role == .leader {
                logger.info("leading shard", metadata: ["shard": "\(replica.shard.rawValue)", "term": "\(replica.raft.term.rawValue)"])
                replica.retryReadsAwaitingLeadership { nextContext() }
            } else if previous == .leader {
                logger.info("stopped leading shard", metadata: ["shard": "\(replica.shard.rawValue)", "term": "\(replica.raft.term.rawValue)"])
                replica.failReadsAfterLosingLeadership()
            }
        }
    }

    private func dropRemovedReplicas() {
        let time = now()
        for (shard, replica) in replicas where replica.isRemoved(me: me) {
            // The leader's word wins: a replica replaying old history may apply a removal
            // that a later entry, not yet received, undoes.
            if let hint = hints[shard], time - hint.heardAt < Self.hintFreshMilliseconds,
               hint.voters.contains(me) || hint.learners.contains(me) { continue }
            dropReplica(shard, reason: "removed from the shard's membership")
        }
    }

    func dropReplica(_ shard: ShardID, reason: String) {
        guard let replica = replicas.removeValue(forKey: shard) else { return }
        replica.failAll(.error("TRYAGAIN shard \(shard.rawValue) moved off this node; retry"))
        lastRoles.removeValue(forKey: shard)
        do { try store.dropShard(shard) } catch { logger.error("cannot drop shard data", metadata: ["shard": "\(shard.rawValue)", "error": "\(error)"]) }
        logger.info("dropped replica", metadata: ["shard": "\(shard.rawValue)", "reason": "\(reason)"])
    }

    func nextContext() -> UInt64 {
        defer { nextReadContext += 1 }
        return nextReadContext
    }

    func now() -> Int64 { clock.now().rawValue }

    // MARK: - Connections

    func register(_ connection: ClusterClientHandler, id: ClientID) { connections[id] = connection }
    func unregister(_ id: ClientID) { connections.removeValue(forKey: id) }

    func markDirty(_ connection: ClusterClientHandler) {
        if !connection.isMarkedDirty {
            connection.isMarkedDirty = true
            dirtyConnections.append(connection)
        }
        if !inTurn { scheduleTurn() }
    }

    /// Flushes connections with replies; a flush may start parked requests whose replies
    /// mark connections again, so repeat a few times, then leave the rest to the next turn.
    private func flushConnections() {
        for _ in 0..<4 where !dirtyConnections.isEmpty {
            let dirty = dirtyConnections
            dirtyConnections = []
            for connection in dirty {
                connection.isMarkedDirty = false
                connection.flushFromNode()
            }
        }
        if !dirtyConnections.isEmpty { scheduleTurn() }
    }
}

enum NodeError: Error, CustomStringConvertible {
    case configuration(String)
    var description: String {
        switch self {
        case .configuration(let text): return text
        }
    }
}
