// The settings a node runs with. CONFIG GET reports them and CONFIG SET changes the
// mutable ones; the server fills them from command-line flags.
import Keyspace
import Wire

public struct Settings: Sendable {
    public var port: Int = 6379
    public var bind: String = "127.0.0.1"
    public var directory: String = "./trestle-data"
    /// `always`, `everysec` or `no`.
    public var fsync: String = "always"
    public var requirePassword: String = ""
    /// With no password set, refuse clients that are not on the loopback interface.
    public var protectedMode = true
    public var maxClients: Int = 10000
    /// `min-replicas-to-write`: writes are refused (-NOREPLICAS) while fewer Redis replicas
    /// acknowledged within `min-replicas-max-lag` seconds (0: never).
    public var minReplicasToWrite = 0
    /// Most clients the process's open-file limit leaves room for: the shell sets it at
    /// start, and CONFIG SET maxclients above it is refused, as Redis.
    public var maxClientsCeiling = Int.max
    public var limits = ProtocolLimits()
    /// Active expiry cycles per second.
    public var hz: Int = 10
    /// `timeout`: a client idle this many seconds is disconnected (0: never), unless it is
    /// subscribed or waiting for a reply.
    public var idleTimeoutSeconds: Int = 0
    /// True on a cluster node: INFO and HELLO report cluster mode.
    public var clusterEnabled = false
    /// How many numbered databases SELECT may choose from (`databases`): 16 by default as
    /// Redis, 1 on a cluster node (Redis Cluster has only database 0).
    public var databases = Settings.databasesDefault
    public static let databasesDefault = 16
    /// The most `--databases` may ask for (a database number travels as a u32).
    public static let databasesMax = 1 << 16
    /// Lua VM instructions one script may run before it is stopped with an error. Counted
    /// in instructions, not time, so every replica stops a script at the same point.
    public var scriptInstructionLimit: Int64 = 100_000_000
    /// Mixed into the seed math.random restarts from for every script (Engine+Scripting.swift).
    /// Only a test mutation changes it (per node), to show that replicas diverging is noticed.
    public var scriptRandomSeed: Int32 = 0
    /// `busy-reply-threshold` (alias `lua-time-limit`), in milliseconds: once a script run
    /// off the node's thread has run this long, the node answers other requests with -BUSY
    /// and SCRIPT KILL may stop it (Node+BusyScripts.swift). A script run in its shard's
    /// log is bounded by `scriptInstructionLimit` instead.
    public var busyReplyThresholdMilliseconds: Int = 5000
    /// `auto-aof-rewrite-percentage` and `auto-aof-rewrite-min-size`, Redis's rule for
    /// rewriting its AOF, applied to a standalone server's log (Node+Housekeeping.swift):
    /// a snapshot compacts the log once the log written since the last snapshot is this
    /// percentage of that snapshot's size and the two together are at least this many
    /// bytes. Percentage 0: no automatic snapshot (BGSAVE and SAVE still take one).
    public var autoSnapshotPercentage: Int = 100
    public var autoSnapshotMinBytes: Int = 64 * 1024 * 1024
    /// A planted bug for the simulator only: LTRIM resolves a range of negative indexes
    /// from the head, keeping the oldest elements instead of the newest.
    public var plantedTrimFromHead = false
    /// SLOWLOG: requests taking at least this many microseconds are logged (negative: none).
    public var slowlogLogSlowerThanMicroseconds: Int64 = 10_000
    /// SLOWLOG: entries kept.
    public var slowlogMaxLength: Int = 128
    /// INFO latencystats: whether each command's latencies are kept (`latency-tracking`)
    /// and the percentiles shown (`latency-tracking-info-percentiles`).
    public var latencyTracking = true
    public var latencyPercentiles: [Double] = [50, 99, 99.9]
    /// ACL LOG: entries kept (`acllog-max-len`).
    public var aclLogMaxLength: Int = AccessControl.logEntriesMax
    /// Client tracking: most keys remembered for all clients (`tracking-table-max-keys`;
    /// 0: Redis's "no limit", which the node caps at `Node.trackingKeysHardMax`).
    public var trackingTableMaxKeys: Int = 1_000_000
    /// LATENCY: requests taking at least this many milliseconds are recorded (0: off).
    public var latencyMonitorThresholdMilliseconds: Int = 0
    /// Which keyspace notifications committed writes publish (`notify-keyspace-events`).
    public var notifyKeyspaceEvents: KeyspaceEvents = []
    /// `hll-sparse-max-bytes`: the length (header included) past which a sparse
    /// HyperLogLog is converted to dense. Per node, as in Redis: replicas apply PFADD with
    /// their own value, so nodes should agree on it for identical bytes.
    public var hllSparseMaxBytes: Int = HyperLogLog.sparseBytesMaxDefault
    /// `stream-node-max-entries` and `stream-node-max-bytes`: where XADD starts a new node,
    /// which decides what `~` trimming removes (Keyspace/StreamNodes.swift).
    public var streamNodeLimits = StreamNodeLimits.redisDefault
    /// The limits OBJECT ENCODING's names follow (`hash-max-listpack-entries` ...).
    public var encodingLimits = EncodingLimits()
    /// `maxmemory` (0: no limit): past it, `noeviction` refuses commands flagged `denyoom`
    /// with -OOM; other policies evict (NodeRuntime/Node+Eviction.swift).
    public var maxMemoryBytes: Int = 0
    /// `maxmemory-policy`, as set.
    public var maxMemoryPolicy = "noeviction"
    /// `lfu-log-factor` and `lfu-decay-time` (minutes), Redis's LFU counter's parameters.
    public var lfuLogFactor = 10
    public var lfuDecayMinutes = 1
    /// `DEBUG SET-DISABLE-DENY-SCRIPTS 1`: scripts may call commands flagged `noscript`
    /// (Redis's test knob; only DEBUG PROTOCOL of them is served from a script).
    public var scriptsMayCallNoscriptCommands = false
    /// Parameters Redis has and Trestle accepts without acting on them, by name, as last
    /// set (Engine+Config.swift, `inertParameters`).
    public var inertParameters: [String: String] = [:]

    /// Copies the settings a shard's engine acts on (they are per node, set by CONFIG SET
    /// on the node's sessions engine) from `front`.
    public mutating func adoptShardSettings(from front: Settings) {
        notifyKeyspaceEvents = front.notifyKeyspaceEvents
        hllSparseMaxBytes = front.hllSparseMaxBytes
        encodingLimits = front.encodingLimits
        maxMemoryPolicy = front.maxMemoryPolicy
        lfuLogFactor = front.lfuLogFactor
        // A shard's replicas must lay streams out alike: on a cluster node, whose replicas
        // live on other nodes with settings of their own, Redis's defaults hold.
        streamNodeLimits = front.clusterEnabled ? .redisDefault : front.streamNodeLimits
        lfuDecayMinutes = front.lfuDecayMinutes
        scriptsMayCallNoscriptCommands = front.scriptsMayCallNoscriptCommands
        // Inert parameters change nothing a replica stores; the replication stream reads
        // lazyfree-lazy-server-del (SPOP's DEL or UNLINK).
        inertParameters = front.inertParameters
    }

    /// How keys' access fields are kept (AccessClock.swift): LFU under a *-lfu policy.
    public var accessSettings: AccessSettings {
        AccessSettings(lfu: maxMemoryPolicy.hasSuffix("lfu"), logFactor: lfuLogFactor, decayMinutes: lfuDecayMinutes)
    }

    public init() {}
}

/// Counters reported by INFO stats and reset by CONFIG RESETSTAT.
public struct Stats: Sendable {
    public var commandsProcessed: Int = 0
    public var connectionsReceived: Int = 0
    public var rejectedConnections: Int = 0
    public var keyspaceHits: Int = 0
    public var keyspaceMisses: Int = 0
    public var protocolErrors: Int = 0
    public var errorReplies: Int = 0
    /// Keys removed by `maxmemory-policy` (INFO's evicted_keys).
    public var evictedKeys: Int = 0
    /// Keys removed because their time to live passed (INFO's expired_keys), in the
    /// stats a node sums (`HostHooks.nodeStats`). A shard engine's own value is the
    /// correction for CONFIG RESETSTAT: minus its keyspaces' expired count at the reset.
    public var expiredKeys: Int = 0
    /// Hash fields removed because their time to live passed (INFO's expired_subkeys),
    /// summed and corrected as `expiredKeys` is.
    public var expiredSubkeys: Int = 0
    /// Values UNLINK or FLUSHALL/FLUSHDB ASYNC would have Redis free in the background
    /// (INFO lazyfreed_objects; Engine+Keys.swift).
    public var lazyfreedObjects: Int = 0
    /// ACL refusals by ACL LOG's reason: INFO's acl_access_denied_auth, _cmd, _key and
    /// _channel (counted whatever acllog-max-len keeps).
    public var aclDeniedAuth = 0, aclDeniedCommand = 0, aclDeniedKey = 0, aclDeniedChannel = 0
    public init() {}

    /// Counts one ACL refusal of ACL LOG's `reason` (auth, command, key or channel).
    mutating func countACLDenial(_ reason: String) {
        switch reason {
        case "auth": aclDeniedAuth += 1
        case "command": aclDeniedCommand += 1
        case "key": aclDeniedKey += 1
        default: aclDeniedChannel += 1
        }
    }
}

/// What the process around the engine provides: facts only it knows and actions only it
/// can take. The deterministic core calls these; the server implements them.
public struct HostHooks {
    /// Extra `name:value` fields for an INFO section (memory, persistence, server).
    public var infoFields: (String) -> [(String, String)] = { _ in [] }
    /// Starts a background snapshot; returns false if one is already running.
    public var startSnapshot: () -> Bool = { false }
    /// Seconds since the epoch of the last successful snapshot.
    public var lastSnapshotTime: () -> Int64 = { 0 }
    /// Node-wide counters for INFO stats when the engine is one of several on a node (a
    /// cluster node's sessions engine): nil means the engine's own `stats`.
    public var nodeStats: (() -> Stats)? = nil
    /// INFO memory's Lua figures when the engine is one of several on a node: the bytes of
    /// the Lua states that run scripts (the shards'; the sessions engine's until a shard
    /// ran one), and of every Lua state of the node (the sessions engine's, which compiles
    /// SCRIPT LOAD and FUNCTION LOAD, included).
    /// nil: the engine's own state is both.
    public var luaMemory: (() -> (scripts: Int, total: Int))? = nil
    /// Clients waiting in a blocking command (BLPOP, XREAD BLOCK...), for INFO clients.
    public var blockedClients: () -> Int = { 0 }
    /// Whether a client waits in a blocking command, for CLIENT LIST's `b` flag.
    public var isBlocked: (ClientID) -> Bool = { _ in false }
    /// CONFIG RESETSTAT ran: reset the counters kept outside the engine.
    public var statsReset: () -> Void = {}
    /// `redis.log(level, message)` from a script (levels 0 debug ... 3 warning).
    public var scriptLog: (Int, String) -> Void = { _, _ in }
    /// Applies a changed setting outside the engine (limits on open connections, etc.).
    public var settingsChanged: (Settings) -> Void = { _ in }

    public init() {}
}

/// What executing one request asks the host to do.
public struct Outcome {
    /// The reply to send.
    public var reply: RESPValue
    /// Close the connection after sending the reply.
    public var close: Bool = false
    /// Other connections CLIENT KILL asked to close.
    public var killed: [ClientID] = []

    public init(reply: RESPValue, close: Bool = false) {
        self.reply = reply
        self.close = close
    }
}
