// The state of one client connection: protocol, authentication, name, and a pending
// transaction with its watched keys. Owned by the engine's event loop.
import Core
import Keyspace
import Wire

/// A connection's identity, unique for the life of the process (CLIENT ID).
public struct ClientID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: ClientID, rhs: ClientID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

public final class Session {
    public let id: ClientID
    public let address: String
    public let localAddress: String
    public let createdAt: Int64
    public var lastInteraction: Int64
    public var lastCommand: String = "NULL"
    /// The ACL user this connection acts as; nil for the node's own sessions (forwarded
    /// requests, scripts, replication), which no ACL restricts.
    public internal(set) var user: String? = "default"
    public internal(set) var name: Bytes = []
    public internal(set) var libraryName: Bytes = []
    public internal(set) var libraryVersion: Bytes = []
    public internal(set) var protocolVersion: ProtocolVersion = .resp2
    /// The numbered database SELECT chose (always 0 on a cluster node).
    public var database = 0
    /// CLIENT REPLY: whether the node writes this client's replies.
    public enum ReplyMode: Sendable { case on, off, skipNext }
    public var replyMode = ReplyMode.on
    /// CLIENT NO-TOUCH ON: this client's commands (but TOUCH) leave keys' access times alone.
    public var noTouch = false
    /// The database of the session's cluster-node WATCH (the one it was in when it watched).
    public var clusterWatchDatabase = 0
    public internal(set) var authenticated: Bool
    /// Commands queued since MULTI; nil outside a transaction.
    var queued: [[Bytes]]? = nil
    /// The commands queued by MULTI so far (nil outside a transaction).
    public var queuedCommands: [[Bytes]]? { queued }
    /// Set when a command failed to queue: EXEC then aborts with EXECABORT.
    public internal(set) var transactionFailed = false
    /// Watched keys and the expiry each had when watched.
    var watched: [Bytes: Int64?] = [:]
    /// Set when a watched key was modified: EXEC then returns a null reply.
    var watchDirty = false
    /// Cluster mode: watched keys with the digest of their value when watched; EXEC
    /// carries them through the log and the shard checks them when it applies.
    public var clusterWatches: [WatchedValue] = []
    /// Node runtime: a committed write touched a watched key after it was watched (Redis's
    /// dirty-CAS flag): EXEC returns a null reply without proposing anything.
    public var clusterWatchTouched = false
    /// Cluster mode: READONLY was sent, so reads may be served by followers.
    public var readOnlyReplicaReads = false
    /// ASKING was sent: the next command may be served for a slot being imported here.
    public var asking = false
    /// Set by CLIENT KILL; the transport closes the connection.
    public internal(set) var killed = false

    /// Pub/sub: the channels, patterns and shard channels this connection listens to (the
    /// node keeps the reverse maps).
    public var channels: Set<Bytes> = []
    public var patterns: Set<Bytes> = []
    public var shardChannels: Set<Bytes> = []

    /// CLIENT TRACKING: nil while off (Engine+Tracking.swift; the node keeps the tables).
    public var tracking: TrackingState?
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) was sent: applies to the next command.
    public var trackingCaching = false

    public var inTransaction: Bool { queued != nil }
    /// Subscribed to anything: a RESP2 connection then runs only pub/sub commands, PING,
    /// QUIT and RESET.
    public var isSubscribed: Bool { !channels.isEmpty || !patterns.isEmpty || !shardChannels.isEmpty }

    init(id: ClientID, address: String, localAddress: String, now: Int64, authenticated: Bool) {
        self.id = id
        self.address = address
        self.localAddress = localAddress
        self.createdAt = now
        self.lastInteraction = now
        self.authenticated = authenticated
    }
}
