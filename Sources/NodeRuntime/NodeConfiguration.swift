// Configuration of one cluster node process, with the defaults a user gets from
// `trestle node` and `trestle local`.
import Cluster
import Consensus
import Core
import Engine
import Storage

public struct PeerRoute: Sendable, Equatable {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) { self.host = host; self.port = port }
}

/// TLS for clients on a port of its own (Redis's option names): the shell loads the files.
public struct TLSSettings: Sendable, Equatable {
    public enum ClientAuth: String, Sendable, CaseIterable {
        /// Clients must present a certificate signed by the CA.
        case yes
        /// Clients present no certificate.
        case no
        /// A certificate, if presented, must be signed by the CA.
        case optional
    }

    public var port: Int
    public var certFile: String
    public var keyFile: String
    public var caCertFile: String?
    public var authClients: ClientAuth

    public init(port: Int, certFile: String, keyFile: String, caCertFile: String?, authClients: ClientAuth) {
        self.port = port
        self.certFile = certFile
        self.keyFile = keyFile
        self.caCertFile = caCertFile
        self.authClients = authClients
    }
}

/// Mutual TLS between nodes (`--tls-cluster`): this node's certificate, key and the CA.
public struct ClusterTLSFiles: Sendable, Equatable {
    public var certFile: String
    public var keyFile: String
    public var caCertFile: String
    public init(certFile: String, keyFile: String, caCertFile: String) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.caCertFile = caCertFile
    }
}

public struct NodeConfiguration: Sendable {
    public var id: NodeID
    public var host = "127.0.0.1"
    public var port = 7001
    public var peerPort = 17001
    public var zone = ""
    public var directory = "./trestle-data"
    /// The initial members; used only when the data directory is empty.
    public var bootstrap: [NodeInfo]? = nil
    /// With `bootstrap`: the backup a new cluster starts from (`--restore DIR`), read only
    /// when the directory is empty. Every initial member must be given the same backup.
    public var restore: (@Sendable () throws -> RestoreImage)? = nil
    public var shardCount = 16
    public var replicationFactor = 3
    /// Forward requests for other nodes' slots instead of answering -MOVED.
    public var proxy = false
    /// Dial these peers at these addresses instead of their advertised peer ports.
    public var peerRoutes: [NodeID: PeerRoute] = [:]
    /// When the Raft log is fsynced: `always` before a write counts toward a commit (the
    /// default); `everysec` about once a second (an acknowledged write may be lost if a
    /// majority loses power within that second); `no` never explicitly.
    public var fsync: FsyncPolicy = .always
    /// One node serving every slot by itself (`trestle server`): one shard, replication
    /// factor 1, no peers; clients see a standalone Redis (no CLUSTER commands, multi-key
    /// commands need not share a slot).
    public var standalone = false
    public var clusterName = "trestle"
    public var settings = Settings()
    /// The directory leader splits shards that nodes added to the cluster are owed
    /// (ClusterMap.splitsOwed, Node.autoSplitCandidate), and splits and merges shards by
    /// size and load (Node+Reshaping.swift, with these thresholds).
    public var autoSplit = true
    public var reshaping = ReshapeThresholds()
    /// The window over which load (requests per slot) is measured (the simulator's runs
    /// are shorter than the default).
    public var loadWindowMilliseconds = LoadTracker.defaultWindowMilliseconds
    public var tickMilliseconds: Int64 = 100
    /// A follower answers READONLY reads only if it heard from its leader within this
    /// long (else the client gets -MOVED to the leader).
    public var followerReadLagMilliseconds: Int64 = 500
    public var electionTicks = 10
    /// How long a client request may wait for its shard before it gets an error.
    public var requestTimeoutMilliseconds: Int64 = 10_000
    /// How long a script that has not written may run on the node's thread before it is
    /// run again off it, where it can be answered -BUSY around and killed
    /// (Node+BusyScripts.swift). 0: never (scripts run to their end or instruction budget
    /// on the node's thread), which keeps the node deterministic: the slice reads the
    /// system clock. The process shells set `scriptSliceMillisecondsDefault`.
    public var scriptSliceMilliseconds: Int64 = 0
    public static let scriptSliceMillisecondsDefault: Int64 = 50
    /// The same slice counted in Lua VM instructions (0: none): deterministic, so the
    /// simulator can send scripts off the thread too.
    public var scriptSliceInstructions: Int64 = 0
    /// Applied entries after which a shard replica of a cluster snapshots and compacts its
    /// log (a standalone server follows Redis's AOF rewrite rule instead: Settings'
    /// `autoSnapshotPercentage`).
    public var snapshotEntries = 50_000
    /// A node silent this long has its replicas rebuilt elsewhere (0 disables).
    public var deadNodeSeconds: Int64 = 300
    public var repair = false
    /// Stop gracefully when this process (the `trestle local` that started us) is gone.
    public var parentProcess: Int32? = nil
    /// The file holding the cluster's shared secret (the shell reads it; peers must prove
    /// they know it). Nil: peers are trusted on naming the cluster (loopback only).
    public var clusterSecretFile: String? = nil
    /// Redis's ACL file (`--aclfile`): users loaded at start-up and by ACL LOAD, written
    /// by ACL SAVE.
    public var aclFile: String? = nil
    /// Clients may also connect with TLS on a port of their own.
    public var tls: TLSSettings? = nil
    /// The admin HTTP port (/metrics, /health, /ready, /cluster); nil: none. It listens on
    /// `adminHost`, loopback unless asked otherwise.
    public var adminPort: Int? = nil
    public var adminHost = "127.0.0.1"
    /// Peer links use mutual TLS.
    public var clusterTLS: ClusterTLSFiles? = nil
    public var onListening: (@Sendable (Int) -> Void)? = nil
    /// Test-only rule breakers (see NodeMutations); Raft's own are in `raftMutations`.
    public var mutations = NodeMutations()
    public var raftMutations = Mutations()

    public init(id: NodeID) { self.id = id }

    /// The `trestle server` preset: node 1 of a cluster of one, holding every slot in one
    /// shard, with Raft ticks at the active-expiry rate `hz`.
    public static func standalone(settings: Settings) -> NodeConfiguration {
        var configuration = NodeConfiguration(id: NodeID(1))
        configuration.standalone = true
        configuration.settings = settings
        configuration.host = settings.bind
        configuration.port = settings.port
        configuration.peerPort = 0
        configuration.directory = settings.directory
        configuration.shardCount = 1
        configuration.replicationFactor = 1
        configuration.tickMilliseconds = Int64(max(2, 1000 / max(1, settings.hz)))
        configuration.deadNodeSeconds = 0
        configuration.bootstrap = [configuration.info]
        return configuration
    }

    /// This node as the directory should record it.
    public var info: NodeInfo { NodeInfo(id: id, host: host, port: port, peerPort: peerPort, zone: zone) }
}

/// Test-only switches that each break one rule of the node runtime, so the simulator can
/// show that its checkers notice. Never set outside tests and `trestle sim --mutation`.
public struct NodeMutations: Sendable, Equatable {
    /// A round that holds a leader's new entries is written without fsync: the leader
    /// counts its own copy toward commits before it is durable.
    public var leaderSkipsFsync = false
    /// A leader serves reads at once from its applied state, without a lease or ReadIndex.
    public var readWithoutLease = false
    /// After a restart, the first committed client writes are applied twice.
    public var applyTwiceAfterRestart = false
    /// A replica is dropped as soon as it applies a removal of itself, even if its log's
    /// latest membership (or its leader) still counts it (the bug fixed in 90b3657).
    public var dropOnStaleRemoval = false
    /// Raft ticks are delivered only by the timer, not caught up before other inputs: a
    /// leader resumed after a pause serves lease reads on time from before the pause.
    public var ticksOnlyOnTimer = false
    /// Dropped replicas leave no tombstone: a stale leader may re-create one empty.
    public var noTombstones = false
    /// Each node seeds scripts' math.random with its own id: replicas that run the same
    /// committed script draw different numbers.
    public var nondeterministicScripts = false
    /// A moving slot's source hands it off without copying it to the target first.
    public var handOffBeforeCopy = false
    /// A source keeps the keys it handed off and goes on serving reads of them.
    public var serveAfterHandOff = false
    /// Writes proposed before a fence but applied after it still change the source.
    public var writesIgnoreFence = false
    /// A move's source hands off after its live copy without sending the keys that
    /// changed during it: ownership flips before the target has caught up.
    public var skipCatchUp = false
    /// LTRIM with negative indexes keeps the list's head instead of its tail (the
    /// simulator's list model notices the tail going back to an older element).
    public var trimFromHead = false
    /// A busy script's effects are proposed without their watches and stamp: they apply
    /// on a state that changed since the script read it.
    public var unwatchedScriptEffects = false
    /// A batched entry's replies go back in reverse order: each writer gets another
    /// writer's reply (the simulator's histories notice).
    public var batchRepliesReversed = false
    /// A request forwarded to this node itself goes out as a peer frame, which the
    /// transport drops (it has no link to its own node): the client never hears back.
    public var forwardsToSelf = false

    public init() {}

    public enum Name: String, Sendable, CaseIterable {
        case leaderSkipsFsync = "leader-skips-fsync"
        case readWithoutLease = "read-without-lease"
        case applyTwiceAfterRestart = "apply-twice-after-restart"
        case dropOnStaleRemoval = "drop-on-stale-removal"
        case ticksOnlyOnTimer = "ticks-only-on-timer"
        case noTombstones = "no-tombstones"
        case nondeterministicScripts = "nondeterministic-scripts"
        case handOffBeforeCopy = "hand-off-before-copy"
        case serveAfterHandOff = "serve-after-hand-off"
        case writesIgnoreFence = "writes-ignore-fence"
        case skipCatchUp = "skip-catch-up"
        case trimFromHead = "trim-from-head"
        case unwatchedScriptEffects = "unwatched-script-effects"
        case batchRepliesReversed = "batch-replies-reversed"
        case forwardsToSelf = "forwards-to-self"
    }

    public mutating func enable(_ name: Name) {
        switch name {
        case .leaderSkipsFsync: leaderSkipsFsync = true
        case .readWithoutLease: readWithoutLease = true
        case .applyTwiceAfterRestart: applyTwiceAfterRestart = true
        case .dropOnStaleRemoval: dropOnStaleRemoval = true
        case .ticksOnlyOnTimer: ticksOnlyOnTimer = true
        case .noTombstones: noTombstones = true
        case .nondeterministicScripts: nondeterministicScripts = true
        case .handOffBeforeCopy: handOffBeforeCopy = true
        case .serveAfterHandOff: serveAfterHandOff = true
        case .writesIgnoreFence: writesIgnoreFence = true
        case .skipCatchUp: skipCatchUp = true
        case .trimFromHead: trimFromHead = true
        case .unwatchedScriptEffects: unwatchedScriptEffects = true
        case .batchRepliesReversed: batchRepliesReversed = true
        case .forwardsToSelf: forwardsToSelf = true
        }
    }
}
