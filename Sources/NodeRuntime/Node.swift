// One node of a Trestle cluster as a deterministic state machine: it hosts shard replicas
// (each a Raft group plus its state machine) and a replica of the directory, persists all
// of them through one Raft log store over the injected Disk, and serves client requests by
// routing them to the shard that owns their slot. Inputs and outputs are in NodeIO.swift.
//
// A turn (`NodeInput.turn`): queued writes are proposed; every replica's Ready is staged in
// the store; a leader's replication messages go out before its own fsync; entries already
// committed are applied (answering their clients); then `.persist` asks the shell to write
// the staged state with one fsync for all shards (group commit). On `.persisted` the rest
// of the messages leave and each Ready is acknowledged; further rounds follow while
// replicas have work.
//
// Invariants:
// - no reply that depends on a write leaves before that write is committed, i.e. on the
//   disks of a majority of its shard's replicas;
// - messages other than a leader's replication leave only after what they acknowledge is
//   durable (Ready's contract): they are held until `.persisted`;
// - the node reads no clock but the injected one, draws no system randomness, performs
//   no I/O but through the injected Disk, and never iterates a Dictionary where the order
//   reaches an output.
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Logging
import RaftStorage
import Storage
import Wire

public final class Node {
    let configuration: NodeConfiguration
    let logger: Logger
    let clock: WallClock
    let monotonicClock: MonotonicClock
    let store: RaftLogStore
    var random: SeededRandom
    /// Sessions and connection-level commands (no keys live here).
    let front: Engine
    public var me: NodeID { configuration.id }

    var directory: Replica { didSet { replicasInOrder = nil } }
    var replicas: [ShardID: Replica] = [:] { didSet { replicasInOrder = nil } }
    /// `allReplicas` (Node+Peers.swift), kept until `directory` or `replicas` changes.
    var replicasInOrder: [Replica]?
    var directoryMachine: DirectoryMachine { directory.directory! }
    var map: ClusterMap? { directoryMachine.map }

    var outputs: [NodeOutput] = []
    /// Empty storage for the next round's outputs (`recycleOutputs`).
    var spareOutputs: [NodeOutput] = []
    /// While a committed entry this node proposed is applied: how long it waited from its
    /// proposal to its apply, which its reply's duration leaves out (`answered`).
    var answerWaitMicroseconds: Int64?
    var clients: [ClientID: ClientPipeline] = [:]
    /// Numbers this node's proposals (the `request` of their RequestTag) and forwarded
    /// requests. It starts from the start-up time in milliseconds shifted left by 16, not
    /// from 1: a restarted node must not reuse a tag of an entry it proposed before the
    /// restart, which may still commit at the index of a new proposal and would then be
    /// taken for it (its reply given to the wrong client). Overlap would take 65,536
    /// proposals per millisecond of the earlier run.
    var nextRequest: UInt64
    /// Requests served by this node (INFO's total_commands_processed).
    var commandsServed = 0
    /// The process's resident bytes, as the shell last measured them (`.memoryUsed`).
    var usedMemoryBytes = 0
    /// INFO commandstats and errorstats (this node's clients' requests).
    var commandStats = CommandStats()
    /// SLOWLOG and LATENCY (Node+Diagnostics.swift).
    var slowLog = SlowLog()
    /// False after DEBUG SET-ACTIVE-EXPIRE 0: led shards stop reclaiming expired keys.
    var activeExpiry = true
    /// CLIENT PAUSE in force, and the clients whose next request waits for its end.
    var clientPause: ClientPause?
    var pausedClients: Set<ClientID> = []
    var latencyMonitor = LatencyMonitor()
    /// Times a replica here became its group's leader (trestle_raft_leadership_won_total).
    var leadershipsWon = 0
    /// Slot moves begun and finished, splits and merges this node proposed and saw
    /// committed, by `reshapingKind` (a cluster's total is the sum over its nodes).
    var reshapingsCommitted: [String: Int] = [:]
    var nextReadContext: UInt64 = 1
    var hints: [ShardID: LeaderHint] = [:]
    /// When each peer was last heard from (gossip), in wall milliseconds.
    var lastHeard: [NodeID: Int64] = [:]
    /// Peers whose link the shell reports connected.
    var connectedPeers: Set<NodeID> = []
    /// Peers this node gave the shell an address for.
    var knownPeers: Set<NodeID> = []
    var forwards: [UInt64: ForwardWait] = [:]
    /// Requests "forwarded" to this node itself (it leads the shard a request was sent
    /// on to), served at the start of the next turn (Node+Peers.swift `forward`).
    var localForwards: [LocalForward] = []
    /// Slot moves this node drives as its source shard's leader, by move id.
    var moveDrives: [UInt64: MoveDrive] = [:]
    /// A move step finished: take the next one at the start of the next turn.
    var movesWantDriving = false
    /// Requests per slot and sampled keys of the shards this node leads.
    var load: LoadTracker
    /// Automatic splits and merges (Node+Reshaping.swift), on the directory leader: when
    /// the cluster last became settled, whether figures are being gathered, the last ones.
    var reshapeSettledSince: Int64?
    var reshapeGathering = false
    var reshapeStats: (at: Int64, stats: [ShardID: ShardStats])?
    /// Replicas dropped from this node, by shard (also on disk: `shard-tombstones`).
    var tombstones: [ShardID: Tombstone] = [:]
    var proxySessions: [ProxySessionKey: Session] = [:]
    /// Sessions watching each key, for the keys of shards this node led when watched.
    var watchers: [Bytes: Set<ClientID>] = [:]
    /// Client-side caching (Node+Tracking.swift): clients with tracking on, the clients
    /// that read each remembered key, and NOLOOP clients' proposed writes by key.
    var trackingClients: Set<ClientID> = []
    var trackingTable: [Bytes: Set<ClientID>] = [:]
    var noLoopWriters: [Bytes: Set<ClientID>] = [:]
    /// Connections that sent MONITOR, in the order they did.
    var monitors: [ClientID] = []
    /// Redis replicas following this server (SYNC/PSYNC, Node+Replication.swift), the bytes
    /// streamed to them so far and when they were last sent a PING.
    var replicationLinks: [ClientID: ReplicationLink] = [:]
    var replicationOffset: Int64 = 0
    var lastReplicationPing: Int64 = 0
    /// The Redis master this standalone server follows (REPLICAOF, Node+MasterLink.swift).
    var following: MasterFollowing?
    var masterLinkGeneration: UInt64 = 0
    /// The ACL users' revision this node last checked its clients against (Node+ACL.swift).
    var aclRevisionSeen: UInt64 = 0
    /// Blocking pops waiting on this node, in the order they blocked, and by key.
    var blocked: [BlockedRequest] = []
    var blockedByKey: [Bytes: [BlockedRequest]] = [:]
    /// Pub/sub listeners on this node: by channel, by pattern and by shard channel.
    var channelSubscribers: [Bytes: Set<ClientID>] = [:]
    var patternSubscribers: [Bytes: Set<ClientID>] = [:]
    var shardChannelSubscribers: [Bytes: Set<ClientID>] = [:]
    /// The subscribers of a channel (`sharded`: a shard channel) in delivery order, by
    /// client id: built by the first publish after a change, so a publish to N subscribers
    /// neither sorts nor looks N clients up (Node+PubSub.swift).
    var deliveryLists: [DeliveryKey: [ClientPipeline]] = [:]
    /// Proxied requests waiting out a leader change, retried by the timer.
    var deferredRoutes: [DeferredRoute] = []
    /// The round persisted by the shell right now, finished by `.persisted`.
    var persisting: [(Replica, Ready)]? = nil
    var readyRoundsThisTurn = 0
    var turnWanted = false
    /// The clocks as read for the input being handled: everything one input does shares
    /// one reading of each (a request used to read the clocks once per layer it went
    /// through). Nil outside `handle`, and each field until first read.
    var inputClocks: InputClocks?
    var ticksDelivered: Int64 = 0
    var tickOrigin: Int64? = nil
    var lastPeriodicTick: Int64 = 0
    var lastRoles: [ShardID: RoleKind] = [:]
    var lastPlacement: Int64 = 0
    var lastDirectoryProposal: Int64 = 0
    var appliedMapVersion: UInt64 = 0
    /// The map version in the directory's newest snapshot.
    var snapshotMapVersion: UInt64 = 0
    public internal(set) var draining = false
    /// INFO fields only the process shell knows (memory, CPU, process id), by section.
    public var processInfoFields: ((String) -> [(String, String)])? = nil
    /// Called by CONFIG RESETSTAT, for the counters the shell keeps.
    public var onStatsReset: (() -> Void)? = nil
    /// BGSAVE or SAVE asked for snapshots of every replica at the next timer.
    var snapshotsRequested = false
    /// Data shards whose snapshot job is out with the shell, and the replica that made it.
    var snapshotJobs: [ShardID: ObjectIdentifier] = [:]
    /// Each shard's change count when its last snapshot was captured (INFO's
    /// rdb_changes_since_last_save counts the changes after it).
    var changeCountAtSnapshot: [ShardID: Int] = [:]
    /// Backups being encoded by the shell (`.encode`), by job id: what to do with the bytes.
    var encodeWaiters: [UInt64: ([UInt8]) -> Void] = [:]
    /// MIGRATE transfers under way, by job id (Node+Migrate.swift).
    var migrationWaiters: [UInt64: (MigrationJob.Outcome) -> Void] = [:]
    /// Under an evicting `maxmemory-policy`, the data's estimated memory and how many keys
    /// the policy could evict, as of the last tick (Node+Eviction.swift).
    var datasetEstimate: (bytes: Int, evictable: Int) = (0, 0)
    /// The log index of each shard's last eviction proposal: no more until it is applied.
    var evictionsProposed: [ShardID: LogIndex] = [:]
    var nextMigrationJob: UInt64 = 1
    /// The script running off the node's thread, if any, and the script requests waiting
    /// for it to end (Node+BusyScripts.swift).
    var busyScript: BusyScript?
    var scriptsWaiting: [WaitingScript] = []
    /// Scripts seen writing (their trial halted at a write): they go to the log at once.
    var scriptWriters: Set<Int> = []
    var nextScriptJob: UInt64 = 1
    /// The function libraries' files (Node+Functions.swift).
    var functionFiles = FunctionFiles()
    var scriptTrialsRun: UInt64 = 0
    var nextEncodeJob: UInt64 = 1
    /// When a data replica last wrote a snapshot (LASTSAVE), in wall milliseconds.
    var lastSnapshotMilliseconds: Int64 = 0
    /// Under `--fsync everysec`: the log holds writes not yet fsynced, and when it was last.
    var logUnsynced = false
    var lastLogSync: Int64 = 0
    /// Set once the node output `.fatal`: it takes no more inputs.
    public private(set) var failed = false
    /// The disk the log lives on; also the ACL file's (small files read and written whole).
    let disk: Disk

    /// `seed` drives every random choice of the node (election timeouts, engine sampling):
    /// the simulator passes its run's seed, the process shell a fresh one.
    public init(configuration: NodeConfiguration, clock: WallClock, monotonicClock: MonotonicClock, seed: UInt64,
                disk: Disk, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.monotonicClock = monotonicClock
        self.random = SeededRandom(seed: seed)
        self.load = LoadTracker(windowMilliseconds: max(1, configuration.loadWindowMilliseconds))
        self.store = RaftLogStore(directory: configuration.directory, disk: disk)
        self.disk = disk
        self.nextRequest = UInt64(max(1, clock.now().rawValue)) << 16
        var settings = configuration.settings
        settings.port = configuration.port
        settings.directory = configuration.directory
        settings.clusterEnabled = !configuration.standalone
        if !configuration.standalone { settings.databases = 1 }  // as Redis Cluster
        settings.fsync = configuration.fsync.rawValue
        if configuration.mutations.trimFromHead { settings.plantedTrimFromHead = true }
        if configuration.mutations.nondeterministicScripts { settings.scriptRandomSeed = Int32(truncatingIfNeeded: configuration.id.rawValue) }
        self.front = Engine(settings: settings, seed: random.next(), now: clock.now().rawValue)
        // A cluster node's sessions engine holds no keys; a keyless script runs there.
        front.scriptKeysForbidden = !configuration.standalone
        let machine = DirectoryMachine()
        let directoryRandom = SeededRandom(seed: random.next())
        self.directory = Replica(shard: ClusterMap.directoryShard,
                                 raft: try Self.makeRaft(configuration, recovered: Consensus.RecoveredState(), random: directoryRandom),
                                 machine: machine)
        machine.onChange = { [unowned self] map in self.mapChanged(map) }
        front.hooks.infoFields = { [unowned self] section in self.infoFields(section) }
        front.hooks.scriptLog = Self.scriptLogger(logger)
        front.hooks.nodeStats = { [unowned self] in self.nodeStats() }
        front.hooks.luaMemory = { [unowned self] in self.luaMemory() }
        front.hooks.statsReset = { [unowned self] in self.resetStats() }
        // As Redis, clients a CLIENT PAUSE holds count as blocked.
        front.hooks.blockedClients = { [unowned self] in Set(self.blocked.map(\.client)).union(self.pausedClients).count }
        front.hooks.isBlocked = { [unowned self] id in (self.clients[id]?.blockedRequests ?? 0) > 0 || self.pausedClients.contains(id) }
        front.hooks.settingsChanged = { [unowned self] settings in
            for replica in self.replicas.values { replica.data?.engine.adoptShardSettings(from: settings) }
        }
        front.hooks.startSnapshot = { [unowned self] in self.requestSnapshots() }
        front.hooks.lastSnapshotTime = { [unowned self] in self.lastSnapshotMilliseconds / 1000 }
        lastSnapshotMilliseconds = clock.now().rawValue
    }

    /// Writes what the last turn staged; call when performing `.persist(sync:)`.
    public func writeStaged(sync: Bool) throws(StorageError) {
        _ = try store.commit(sync: sync)
    }

    /// Requests still waiting for an answer (for a graceful shutdown).
    public var pendingCount: Int { allReplicas.reduce(0) { $0 + $1.pendingCount } + forwards.count }

    /// The number of data shard replicas hosted here.
    public var replicaCount: Int { replicas.count }

    /// The current cluster map, if this node has one.
    public var clusterMap: ClusterMap? { map }

    // MARK: - Inputs

    public func handle(_ input: NodeInput) {
        guard !failed else { return }
        let outerClocks = inputClocks
        inputClocks = InputClocks()
        defer { inputClocks = outerClocks }
        if persisting == nil, !configuration.mutations.ticksOnlyOnTimer { catchUpTicks() }
        switch input {
        case let .clientOpened(id, address, localAddress): openClient(id, address: address, localAddress: localAddress)
        case let .request(id, arguments): receiveRequest(id, arguments)
        case let .requests(id, list): receiveRequests(id, list)
        case let .protocolError(id, message): receiveProtocolError(id, message: message)
        case let .clientClosed(id): closeClient(id)
        case let .peerFrame(peer, frame): receive(frame, from: peer)
        case let .peerLink(peer, connected):
            if connected { connectedPeers.insert(peer) } else {
                connectedPeers.remove(peer)
                failForwards(to: peer)
            }
        case let .sendFailed(peer, frame): sendFailed(frame, to: peer)
        case .timer: onTimer()
        case .memoryUsed(let bytes): usedMemoryBytes = bytes
        case .turn: turn()
        case .persisted: finishRound()
        case let .snapshotWritten(job, data): snapshotWritten(job, data: data)
        case let .snapshotFailed(job, reason): snapshotFailed(job, reason: reason)
        case let .encoded(job, data): encodeWaiters.removeValue(forKey: job.id)?(data)
        case let .scriptRan(job): scriptRan(job)
        case let .migrated(job, outcome): migrationWaiters.removeValue(forKey: job.id)?(outcome)
        case let .masterLink(event, generation): masterLinkEvent(event, generation: generation)
        case let .persistFailed(reason): fail("the Raft log cannot be written (\(reason)); stopping so that no unsaved write is acknowledged")
        case .drain: beginDrain()
        case .stop: stopAll()
        }
        if front.acl.revision != aclRevisionSeen { closeClientsDeniedByACL() }
    }

    /// Asks the shell for a turn.
    func wantTurn() { turnWanted = true }

    func emit(_ output: NodeOutput) { outputs.append(output) }

    private func fail(_ reason: String) {
        logger.critical("\(reason)")
        failed = true
        persisting = nil
        emit(.fatal(reason))
    }

    private func stopAll() {
        stopBusyScript()
        for replica in allReplicas {
            replica.failAll(notApplied: .error("ERR server shutting down"),
                            mayBeApplied: .error("ERR server shutting down: the write may or may not be applied"))
        }
        for (_, wait) in forwards.sorted(by: { $0.key < $1.key }) { wait.reply(.error("ERR server shutting down")) }
        forwards = [:]
        encodeWaiters = [:]
        migrationWaiters = [:]
        for id in clients.keys.sorted() { emit(.close(id)) }
    }

    private func resetStats() {
        commandsServed = 0
        commandStats = CommandStats()
        for replica in replicas.values {
            guard let engine = replica.data?.engine else { continue }
            engine.stats = Stats()
            engine.stats.expiredKeys = -engine.expiredKeyCountAllDatabases
            engine.stats.expiredSubkeys = -engine.expiredFieldCountAllDatabases
        }
        onStatsReset?()
    }

    // MARK: - Raft nodes

    static func makeRaft(_ configuration: NodeConfiguration, recovered: Consensus.RecoveredState, random: SeededRandom) throws -> RaftNode {
        var config = RaftConfig(id: configuration.id, initialMembership: Membership(voters: []))
        config.electionTicks = configuration.electionTicks
        config.heartbeatTicks = 1
        config.preVote = true
        config.checkQuorum = true
        // Lease reads: every process on one machine shares a clock; 5% bounds drift.
        config.leaseClockDriftBound = 0.05
        config.learnerPromotionLagMax = Self.promotionLagEntriesMax
        config.mutations = configuration.raftMutations
        return try RaftNode(config: config, recovered: recovered, random: random)
    }

    func makeRaft(recovered: Consensus.RecoveredState) throws -> RaftNode {
        try Self.makeRaft(configuration, recovered: recovered, random: SeededRandom(seed: random.next()))
    }

    /// How far behind the commit index a learner may be when it is promoted.
    static let promotionLagEntriesMax = 256

    /// A new replica of `shard` with no state: it waits for its leader's snapshot or log.
    func makeEmptyReplica(_ shard: ShardID) throws -> Replica {
        makeReplica(shard, raft: try makeRaft(recovered: Consensus.RecoveredState()))
    }

    func makeReplica(_ shard: ShardID, raft: RaftNode) -> Replica {
        let replica = Replica(shard: shard, raft: raft, machine: DataMachine(settings: front.settings, scriptLog: front.hooks.scriptLog,
                                                                              slotsMayMeet: configuration.proxy ? { [unowned self] in self.mayMeet($0, $1) } : nil))
        replica.mutations = configuration.mutations
        replica.data?.mutations = configuration.mutations
        replica.countedSince = now()
        return replica
    }

    /// With the apply-twice mutation: how many client writes a restarted replica doubles.
    static let doubleAppliesAfterRestart = 20

    // MARK: - Start-up

    /// Recovers every replica from disk, or bootstraps a new cluster from the configured
    /// members when the directory is empty.
    public func recoverOrBootstrap() throws {
        let recovery = try store.recover(repair: configuration.repair)
        defer { campaignWhereAlone() }
        if !configuration.standalone { loadTombstones() }
        if configuration.aclFile != nil {
            do { try loadACLFile() } catch { throw NodeStartFailure(reason: error.text) }
        }
        try loadFunctions()
        if recovery.shards.isEmpty {
            if let members = configuration.bootstrap {
                try bootstrap(members)
            } else {
                logger.info("no data and no --bootstrap: waiting to be added to a cluster (trestle cluster add-node)")
            }
            return
        }
        if configuration.restore != nil {
            logger.notice("--restore ignored: the data directory already holds this node's state")
        }
        for (shard, state) in recovery.shards.sorted(by: { $0.key < $1.key }) {
            let raft = try makeRaft(recovered: state)
            if shard == ClusterMap.directoryShard {
                directory.raft = raft
                if let snapshot = state.snapshot { try directory.machine.restore(snapshot.data) }
                snapshotMapVersion = appliedMapVersion
            } else {
                let replica = makeReplica(shard, raft: raft)
                if let snapshot = state.snapshot { try replica.machine.restore(snapshot.data) }
                replica.snapshotBytes = state.snapshot?.data.count ?? 0
                replica.logBytesAtSnapshot = -state.entries.reduce(0) { $0 + $1.sizeBytes }
                // A standalone server has no follower to send them to.
                if configuration.standalone { replica.raft.releaseSnapshotBytes() }
                if configuration.mutations.applyTwiceAfterRestart { replica.doubleAppliesLeft = Self.doubleAppliesAfterRestart }
                replicas[shard] = replica
            }
        }
        logger.info("recovered replicas", metadata: ["shards": "\(recovery.shards.count)", "report": "\(recovery.report)"])
    }

    /// Groups whose only voter is this node elect it at once instead of after an election
    /// timeout (a standalone server serves as soon as it has recovered).
    private func campaignWhereAlone() {
        for replica in allReplicas where replica.raft.membership.voters == [me] {
            replica.raft.campaign()
            wantTurn()
        }
    }

    /// True when this node leads every shard of its map (a standalone server is ready).
    public var leadsEveryShard: Bool {
        guard let map, directory.isLeader else { return false }
        return map.shards.allSatisfy { replicas[$0.id]?.isLeader == true }
    }

    /// Fsyncs what earlier `.persist(sync: false)` rounds wrote; call when performing `.syncLog`.
    public func syncLog() throws(StorageError) {
        _ = try store.commit(sync: true)
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
        let restored = try restoredShards(map.shards(on: me))
        for shard in map.shards(on: me) {
            try start(shard: shard.id, membership: Membership(voters: shard.replicas), data: restored[shard.id] ?? emptyData)
        }
        logger.info("bootstrapped a new cluster", metadata: [
            "nodes": "\(members.count)", "shards": "\(map.shards.count)", "replicas_here": "\(replicas.count)",
        ])
    }

    /// With `--restore`: the initial state of each of these new shards, dealt from the backup.
    private func restoredShards(_ shards: [ShardInfo]) throws -> [ShardID: [UInt8]] {
        guard let restore = configuration.restore else { return [:] }
        let started = now()
        do {
            let image = try restore()
            if let functions = image.functions {
                try front.loadFunctions(functions, now: now())
                saveFunctions()
            }
            let partitioned = try image.partition(into: shards, settings: front.settings)
            logger.info("restored the backup into this node's new shards", metadata: [
                "shards": "\(partitioned.count)", "ms": "\(now() - started)"])
            return partitioned
        } catch {
            throw NodeStartFailure(reason: "cannot restore the backup: \(error)")
        }
    }

    func start(shard: ShardID, membership: Membership, data: [UInt8]) throws {
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: LogIndex(1), term: Term(1), membership: membership), data: data)
        try store.saveSnapshot(shard: shard, snapshot)
        let recovered = Consensus.RecoveredState(hardState: HardState(term: Term(1), vote: .none, commit: LogIndex(1)), snapshot: snapshot, entries: [])
        store.stage(shard: shard, entries: [], hardState: recovered.hardState)
        try store.commit(sync: true)
        let raft = try makeRaft(recovered: recovered)
        if shard == ClusterMap.directoryShard {
            directory.raft = raft
            try directory.machine.restore(data)
            snapshotMapVersion = appliedMapVersion
        } else {
            let replica = makeReplica(shard, raft: raft)
            try replica.machine.restore(data)
            replicas[shard] = replica
        }
    }

    // MARK: - The turn

    /// Most Ready rounds per turn; more work waits for the next turn.
    static let readyRoundsMax = 8

    private func turn() {
        precondition(persisting == nil, "a turn started while the previous round was being persisted")
        turnWanted = false
        readyRoundsThisTurn = 0
        if !localForwards.isEmpty { serveLocalForwards() }
        if movesWantDriving {
            movesWantDriving = false
            driveMoves(now: now())
        }
        for replica in allReplicas where !replica.queuedWrites.isEmpty { replica.proposeQueuedWrites() }
        startRound()
    }

    /// Stages every replica's Ready, sends a leader's replication early, applies what is
    /// already committed, and asks the shell to persist. With no work, ends the turn.
    private func startRound() {
        guard readyRoundsThisTurn < Self.readyRoundsMax else { return endTurn() }
        var work: [(Replica, Ready)] = []
        var mustSync = false
        var leaderSkipsFsync = false
        do {
            for replica in allReplicas where replica.raft.hasReady {
                guard let ready = replica.raft.ready() else { continue }
                if let snapshot = ready.snapshot { try store.saveSnapshot(shard: replica.shard, snapshot) }
                if !ready.entries.isEmpty || ready.hardState != nil {
                    store.stage(shard: replica.shard, entries: ready.entries, hardState: ready.hardState)
                }
                mustSync = mustSync || ready.mustSync
                if configuration.mutations.leaderSkipsFsync, replica.isLeader, !ready.entries.isEmpty { leaderSkipsFsync = true }
                work.append((replica, ready))
            }
        } catch {
            return fail("the Raft log cannot be written (\(error)); stopping so that no unsaved write is acknowledged")
        }
        guard !work.isEmpty else { return endTurn() }
        readyRoundsThisTurn += 1
        // A leader's replication messages may leave before its own fsync (its entries
        // count toward a commit only once stable), so followers write in parallel.
        var early = false
        for index in work.indices where work[index].0.isLeader {
            let (sendNow, later) = Self.splitLeaderMessages(work[index].1.messages)
            if !sendNow.isEmpty { send(sendNow, shard: work[index].0.shard); early = true }
            work[index].1.messages = later
        }
        if early { emit(.flushPeers) }
        // Committed entries are already durable on a majority: apply them and release
        // their replies while this node's own new entries are being fsynced.
        for (replica, ready) in work { applyCommitted(ready, on: replica) }
        persisting = work
        let sync = mustSync && configuration.fsync == .always && !leaderSkipsFsync
        if mustSync, !sync { logUnsynced = true }
        emit(.persist(sync: sync))
    }

    /// The shell wrote the staged state: send what waited for it, acknowledge each Ready,
    /// and start the next round.
    private func finishRound() {
        guard let work = persisting else {
            assertionFailure("persisted without a round being persisted")
            return
        }
        persisting = nil
        for (replica, ready) in work {
            send(ready.messages, shard: replica.shard)
            replica.raft.advance(ready)
            // No follower will ask for them: the log on disk keeps them until a snapshot.
            if configuration.standalone, replica.data != nil { replica.raft.releaseAppliedEntries() }
            replica.runAppliedReads()
        }
        startRound()
    }

    private func endTurn() {
        noteRoleChanges()
        dropRemovedReplicas()
        emit(.flushPeers)
        if allReplicas.contains(where: { $0.raft.hasReady || $0.hasProposableWrites }) { wantTurn() }
    }

    /// Installs a received snapshot, applies committed entries and serves confirmed reads.
    private func applyCommitted(_ ready: Ready, on replica: Replica) {
        if let snapshot = ready.snapshot {
            do {
                try replica.machine.restore(snapshot.data)
                if replica.directory != nil { snapshotMapVersion = appliedMapVersion }
                logger.info("installed snapshot from leader", metadata: ["shard": "\(replica.shard.rawValue)", "index": "\(snapshot.metadata.index.rawValue)"])
            } catch {
                logger.error("cannot install snapshot", metadata: ["shard": "\(replica.shard.rawValue)", "error": "\(error)"])
            }
        }
        let time = now()
        let engine = replica.data?.engine
        engine?.adoptShardSettings(from: front.settings)
        // Also while no client tracks but keys are remembered (a client that turned tracking
        // off keeps its entries, as in Redis): writes and FLUSHALL must still clear them.
        engine?.journalsChanges = !trackingClients.isEmpty || !trackingTable.isEmpty
        engine?.recordsPropagation = !replicationLinks.isEmpty
        let latencyThreshold = Int64(front.settings.latencyMonitorThresholdMilliseconds)
        for entry in ready.committedEntries {
            // The reply of a write this node proposed does not count its wait (`answered`).
            if let proposed = replica.proposals[entry.index]?.proposedMicroseconds {
                answerWaitMicroseconds = max(0, monotonicClock.monotonicMicroseconds() - proposed)
            }
            defer { answerWaitMicroseconds = nil }
            guard latencyThreshold > 0, case .command(let payload) = entry.payload, ShardCommand.isReclaim(payload) else {
                replica.apply(entry, me: me, now: time)
                continue
            }
            // Redis's `expire-cycle` latency event: removing expired keys took that long.
            let started = monotonicClock.monotonicMicroseconds()
            replica.apply(entry, me: me, now: time)
            let elapsed = (monotonicClock.monotonicMicroseconds() - started) / 1000
            if elapsed >= latencyThreshold { latencyMonitor.record("expire-cycle", milliseconds: elapsed, unixSeconds: time / 1000) }
        }
        if let engine = replica.data?.engine, !engine.scriptCalls.isEmpty { countScriptCalls(engine) }
        if let engine, !engine.propagated.isEmpty { feedReplicationLinks(engine) }
        // Before any read of this round runs (a WATCH registers as a read).
        noteTouchedWatches(replica)
        if let engine, !engine.keyspaceNotifications.isEmpty { publishKeyspaceNotifications(engine) }
        if !replica.publishesOwed.isEmpty { publishOwed(replica) }
        if let engine, !engine.changedKeys.isEmpty {
            let changes = engine.changedKeys
            engine.changedKeys.removeAll()
            invalidate(changes)
        }
        for state in ready.readStates { replica.confirmed(state) }
    }

    private func send(_ messages: [Message], shard: ShardID) {
        guard !messages.isEmpty else { return }
        // Dropped messages (breaker open, queue full) are Raft's to retransmit.
        emit(.raft(shard: shard, messages: messages))
    }

    private func noteRoleChanges() {
        for replica in allReplicas {
            let role = replica.raft.roleKind
            let previous = lastRoles[replica.shard]
            guard previous != role else { continue }
            lastRoles[replica.shard] = role
            if role == .leader {
                leadershipsWon += 1
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
        for shard in replicas.keys.sorted() {
            guard let replica = replicas[shard], replica.isRemoved(me: me) else { continue }
            // The leader's word wins: a replica replaying old history may apply a removal
            // that a later entry, not yet received, undoes.
            if !configuration.mutations.dropOnStaleRemoval, let hint = hints[shard], time - hint.heardAt < Self.hintFreshMilliseconds,
               hint.voters.contains(me) || hint.learners.contains(me) { continue }
            dropReplica(shard, reason: "removed from the shard's membership")
        }
    }

    func dropReplica(_ shard: ShardID, reason: String) {
        guard let replica = replicas.removeValue(forKey: shard) else { return }
        let heardTerm = hints[shard]?.term ?? replica.raft.term
        tombstones[shard] = Tombstone(term: max(replica.raft.term, heardTerm), commit: replica.raft.commitIndex, droppedAt: now())
        saveTombstones()
        replica.failAll(notApplied: Redirect.tryAgain("shard \(shard.rawValue) moved off this node; retry").reply,
                        mayBeApplied: .error("ERR write outcome unknown: shard \(shard.rawValue) moved off this node before the write was confirmed; it may or may not be applied"))
        lastRoles.removeValue(forKey: shard)
        do { try store.dropShard(shard) } catch { logger.error("cannot drop shard data", metadata: ["shard": "\(shard.rawValue)", "error": "\(error)"]) }
        invalidateKeysNoLongerHeld()
        logger.info("dropped replica", metadata: ["shard": "\(shard.rawValue)", "reason": "\(reason)"])
    }

    func nextContext() -> UInt64 {
        defer { nextReadContext += 1 }
        return nextReadContext
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
