// The engine of one node: the keyspace, the connected sessions and command dispatch.
//
// Events in (a request from a session at a time), effects out (an Outcome: the reply and
// connections to close). The engine reads no clock and
// does no I/O; it is confined to one event loop, so it takes no locks.
//
// Invariants:
// - Commands are pure functions of (state, arguments, time, seeded generator): a shard's
//   replicas that run the same committed writes reach the same state (Engine+Shard.swift).
// - Inside MULTI only EXEC, DISCARD, MULTI, WATCH, QUIT and RESET run immediately; every
//   other command is queued, and a queuing error makes EXEC fail with EXECABORT.
// - `watchers[key]` lists exactly the sessions whose `watched` contains `key`.
import Core
import Keyspace
import Scripting
import Wire

public final class Engine {
    /// The selected database's keys (Engine+Databases.swift): database 0 outside a
    /// command, the session's database while one runs.
    public var keyspace = Keyspace()
    /// Which numbered database `keyspace` is.
    public internal(set) var selectedDatabase = 0
    /// The other numbered databases (a server that is not a cluster node has 16).
    var parkedDatabases: [Int: Keyspace] = [:]
    /// Watched keys touched in a database the engine has since selected away from, with
    /// that database's number; `keyspace.touchedWatched` holds those of database 0 touched
    /// since. The node drains both.
    public var touchedWatchedInDatabases: [(database: Int, key: Bytes)] = []
    /// What the DEBUG SLEEPs of the transactions applied since the node last drained it
    /// add up to (at most `debugSleepMillisecondsMax`): on Redis the server sleeps through
    /// them, so clients blocked on the keys they wrote wake only that much later.
    public var sleptMilliseconds: Int64 = 0
    /// Change a shard engine's through `adoptShardSettings`, which keeps the keyspaces'
    /// access settings in step (a didSet here would copy the whole struct per change).
    public var settings: Settings
    public var stats = Stats()
    public var hooks = HostHooks()
    /// Keyspace notifications published by the commands run since the node last drained
    /// this list (Engine+Notifications.swift).
    public var keyspaceNotifications: [KeyspaceNotification] = []
    /// PUBLISH and SPUBLISH calls made by scripts applied since the node last took them:
    /// a replica records them, and only the node that proposed the entry sends them.
    public var scriptPublishes: [[Bytes]] = []
    /// The commands scripts called (not in trials), for the node's command stats: kept for
    /// an entry this node proposed or a read it ran, dropped for others' entries (Engine+Shard.swift).
    public internal(set) var scriptCalls: [ScriptCall] = []
    /// Whether the script call being made got past the checks and ran (Engine+Scripting.swift).
    var scriptCallRan = false
    /// The keys of the read-only commands the script run last called: what client
    /// tracking remembers for its caller (Redis 7.2+; not the keys it declared). At most
    /// `scriptReadKeysMax`: beyond, the script's declared keys are remembered instead.
    public internal(set) var scriptReadKeys: Set<Key> = []
    public internal(set) var scriptReadKeysOverflowed = false
    public static let scriptReadKeysMax = 100_000
    /// Most read keys whose room is kept for the next script.
    static let scriptReadKeysKept = 64
    /// Keys SCANs met stored past their expiry since the node last took them, and the
    /// database they scanned: the node proposes their removal (Redis's SCAN expires the
    /// keys it meets). A SCAN of another database starts it again; at most
    /// `ExpiryLimits.keysPerCycleMax` keys.
    var scanMetExpired: (database: Int, keys: [Bytes]) = (0, [])
    /// Whether the last HEXPIRE-family command deleted fields (a time already past), for
    /// its keyspace event.
    var hashExpireDeletedFields = false
    /// How many of `scriptCalls` came before the committed entry being applied.
    var scriptCallsBeforeEntry = 0
    /// Most script calls kept between two drains; later ones are not counted.
    public static let scriptCallsKeptMax = 65_536
    /// Set by the node while clients track keys: every command's key changes are kept in
    /// `changedKeys` for the node to invalidate (Node+Tracking.swift).
    public var journalsChanges = false
    public var changedKeys: [KeyChange] = []
    /// Set by the node while Redis replicas follow it (SYNC/PSYNC): each committed entry's
    /// effects are kept in `propagated` for the node to stream (Engine+Propagation.swift).
    public var recordsPropagation = false
    public var propagated: [PropagatedEntry] = []
    /// The effects of the entry being applied, gathered while it runs.
    var pendingEffects: [PropagatedCommand] = []
    /// Events a running command adds after its own (XADD's trimming), published with it.
    var laterNotifications: [(KeyspaceEvents, String, Bytes)] = []
    /// Keys the running command missed, published as `keymiss` after it (Engine+Lookups.swift).
    var pendingKeyMisses: [Bytes] = []
    /// Hits and misses of the last committed write applied, not yet counted (Engine+Shard.swift).
    var lastApplyLookups: (hits: Int, misses: Int) = (0, 0)
    /// The index of the log entry a shard replica is applying, set by the replica: with the
    /// entry's time it seeds a script's math.random, the same on every replica.
    public var scriptEntrySeed: UInt64 = 0
    /// Set while a script runs as a trial (Engine+Scripting.swift): it stops at its first
    /// write or when its slice ends, and says so here.
    public var scriptTrial: ScriptTrial?
    public let startTime: Int64
    public private(set) var sessions: [ClientID: Session] = [:]
    var watchers: [Bytes: Set<ClientID>] = [:]
    var random: SeededRandom
    /// Users and their permissions (the `default` user's password is `requirepass`).
    public internal(set) var acl = AccessControl()
    private var nextClientID: UInt64 = 1
    /// Script bodies by lowercase hex SHA-1 (SCRIPT LOAD, EVAL), for EVALSHA.
    var scriptBodies: [String: Bytes] = [:]
    /// The reverse of `scriptBodies`.
    var scriptNames: [Key: String] = [:]
    /// The script EVALSHA named last (its name as sent) and the one run last (its body),
    /// both cached: most clients run a few scripts over and over, and comparing bytes is
    /// cheaper than lowercasing and hashing them. Emptied with the cache (SCRIPT FLUSH).
    var recentDigest: (name: Bytes, body: Bytes)?
    var recentBody: (body: Bytes, sha: String)?
    /// FUNCTION libraries by name, and each function's library by lowercase function name.
    public internal(set) var libraries: [String: FunctionLibrary] = [:]
    var functionLibraries: [String: String] = [:]
    /// The Lua state scripts run in; nil when Lua could not start. Started when first needed.
    lazy var interpreter: LuaInterpreter? = {
        interpreterStarted = true
        return LuaInterpreter()
    }()
    /// Whether `interpreter` was started (reading it would start it).
    var interpreterStarted = false
    /// Bytes the Lua state holds; 0 before it started (reading this does not start it).
    public var luaMemoryUsed: Int { interpreterStarted ? interpreter?.memoryUsed ?? 0 : 0 }
    /// A cluster node's sessions engine holds no keys: a script run there (one that
    /// declared none) may not touch any.
    public var scriptKeysForbidden = false
    /// Whether a script may touch keys of two different slots (a proxy-mode node lets keys
    /// of one shard meet); nil: only keys of one slot, as Redis Cluster.
    public var scriptSlotsMayMeet: ((HashSlot, HashSlot) -> Bool)? = nil
    /// The running script's context (Engine+Scripting.swift; scripts do not nest).
    var scriptContext = ScriptContext()
    /// The interpreter's way back into this engine, made once (`makeScriptHost`).
    lazy var scriptHost = makeScriptHost()
    /// The session a script's commands run under.
    let scriptSession = Session(id: ClientID(rawValue: 0), address: "lua", localAddress: "", now: 0, authenticated: true)
    /// The session committed shard writes run under (see Engine+Shard.swift).
    let applySession = Session(id: ClientID(rawValue: 0), address: "raft", localAddress: "", now: 0, authenticated: true)
    /// True while a committed transaction (MULTI/EXEC) runs: a SYNC flush in it is not one
    /// Redis runs as a blocking ASYNC flush.
    var applyingTransaction = false

    public init(settings: Settings, seed: UInt64, now: Int64) {
        self.settings = settings
        self.random = SeededRandom(seed: seed)
        self.startTime = now
        acl.setDefaultPassword(settings.requirePassword)
        applyAccessSettings()
    }

    /// Takes the settings a shard's engine acts on from the node's (`Settings.adoptShardSettings`).
    public func adoptShardSettings(from front: Settings) {
        settings.adoptShardSettings(from: front)
        if keyspace.accessSettings != settings.accessSettings { applyAccessSettings() }
    }

    /// Gives every database the access-recording settings `settings` implies.
    func applyAccessSettings() {
        let access = settings.accessSettings
        guard access != keyspace.accessSettings || parkedDatabases.values.contains(where: { $0.accessSettings != access }) else { return }
        keyspace.accessSettings = access
        for index in Array(parkedDatabases.keys) { parkedDatabases[index]?.accessSettings = access }
    }

    // MARK: - Sessions

    public func connect(address: String, localAddress: String, now: Int64) -> Session {
        defer { nextClientID += 1 }
        return connect(id: ClientID(rawValue: nextClientID), address: address, localAddress: localAddress, now: now)
    }

    /// A session with an id the caller chose (the node runtime's shell numbers connections);
    /// the caller never reuses an id.
    public func connect(id: ClientID, address: String, localAddress: String, now: Int64) -> Session {
        assert(sessions[id] == nil, "client id \(id) reused")
        let session = Session(id: id, address: address, localAddress: localAddress,
                              now: now, authenticated: acl.defaultNeedsNoPassword)
        sessions[session.id] = session
        stats.connectionsReceived += 1
        return session
    }

    public func disconnect(_ session: Session) {
        unwatchAll(session)
        sessions.removeValue(forKey: session.id)
    }

    // MARK: - Dispatch

    /// Executes one request from `session` at time `now`.
    public func execute(_ arguments: [Bytes], session: Session, now: Int64) -> Outcome {
        execute(arguments, spec: arguments.first.flatMap(CommandTable.lookup), session: session, now: now)
    }

    /// Executes one request whose command the caller already looked up (`spec` nil: not a
    /// known command). This is the request prologue every request goes through: unknown
    /// command, arity and AUTH are checked here, in this order, with Redis's error texts;
    /// inside MULTI the command is queued.
    public func execute(_ arguments: [Bytes], spec: CommandSpec?, session: Session, now: Int64) -> Outcome {
        stats.commandsProcessed += 1
        session.lastInteraction = now
        guard let name = arguments.first else { return Outcome(reply: .error("ERR empty command")) }
        guard let spec, let id = spec.id else {
            return reject(.unknownCommand(name: Arguments.string(name), arguments: arguments.dropFirst().map(Arguments.string)), session)
        }
        // A container's known subcommand as `client|list`, as Redis 7's CLIENT LIST shows it.
        session.lastCommand = spec.subcommands.isEmpty || arguments.count < 2 ? spec.name : spec.subcommand(arguments[1])?.name ?? spec.name
        guard spec.accepts(argumentCount: arguments.count) else { return reject(.wrongArity(command: spec.name), session, id: id) }
        if let sub = spec.subcommandRefusingArity(arguments) { return reject(.wrongArity(command: sub.name), session, id: id) }
        if !session.authenticated, !spec.allowedWithoutAuth { return reject(.noAuth, session, id: id) }
        if let denial = permissionDenial(spec, arguments, session, now: now) { return reject(denial, session, id: id) }
        if session.queued != nil, !Self.runsInsideTransaction.contains(id) {
            session.queued?.append(arguments)
            return Outcome(reply: .queued)
        }
        if id == .exec { return executeTransaction(session, now: now) }
        var outcome: Outcome
        do {
            outcome = try run(id, arguments, session, now: now)
        } catch {
            stats.errorReplies += 1
            outcome = Outcome(reply: error.reply)
        }
        noteTouchedWatchedKeys()
        return outcome
    }

    static let runsInsideTransaction: CommandIDSet = [.exec, .discard, .multi, .watch, .quit, .reset]

    private func reject(_ error: CommandError, _ session: Session, id: CommandID? = nil) -> Outcome {
        stats.errorReplies += 1
        if id == .exec, session.queued != nil {
            // As Redis: a rejected EXEC discards the transaction and says why.
            endTransaction(session)
            let reason = error.text.hasPrefix("ERR ") ? String(error.text.dropFirst(4)) : error.text
            return Outcome(reply: .error("EXECABORT Transaction discarded because of: \(reason)"))
        }
        if session.queued != nil { session.transactionFailed = true }
        return Outcome(reply: error.reply)
    }

    /// Runs one command that is not EXEC, publishing its keyspace notifications when they
    /// are on. Throws the command's error reply.
    /// Counts the keys it reads as hits or misses (Engine+Lookups.swift).
    func run(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> Outcome {
        if session.database != selectedDatabase {
            let previous = selectedDatabase
            select(database: session.database)
            defer { select(database: previous) }
            return try runSelected(id, arguments, session, now: now)
        }
        return try runSelected(id, arguments, session, now: now)
    }

    /// `run` in the database already selected.
    /// Commands whose lookups leave keys' access times alone (Redis's LOOKUP_NOTOUCH).
    static let lookupsDoNotTouch: CommandIDSet = [.type, .ttl, .pttl, .expiretime, .pexpiretime, .exists, .object, .memory, .debug]

    /// Whether `id`'s lookups renew keys' access times for `session` (CLIENT NO-TOUCH
    /// spares every command but TOUCH).
    static func lookupsTouch(_ id: CommandID, session: Session) -> Bool {
        !lookupsDoNotTouch.contains(id) && (!session.noTouch || id == .touch)
    }

    private func runSelected(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> Outcome {
        countLookups(id, arguments, now: now)
        // A script's calls inherit its caller's choice; a trial's reads change nothing (its
        // keyspace is a copy thrown away, which a touch would make copy slots needlessly):
        // its calls note what they would touch (callFromScript), for the node to touch if
        // its reply stands.
        let touchedBefore = keyspace.touchesOnAccess
        if scriptTrial != nil || !Self.lookupsTouch(id, session: session) {
            keyspace.touchesOnAccess = false
        } else if id == .touch {
            keyspace.touchesOnAccess = true  // TOUCH touches, even called by a NO-TOUCH client's script
        }
        defer { keyspace.touchesOnAccess = touchedBefore }
        defer { if !pendingKeyMisses.isEmpty { publishKeyMisses() } }
        let outcome = try notifyingChanges(id, arguments) { () throws(CommandError) -> Outcome in try dispatch(id, arguments, session, now: now) }
        if Self.growsCollections.contains(id) { raiseEncodingFloors(arguments) }
        if Self.changesLists.contains(id) { adjustListEncodings(id, arguments) }
        return outcome
    }

    /// Commands that add to a set, hash or sorted set (or store a new one): after them,
    /// the keys they wrote keep the largest encoding their values reached (Entry.encodingFloor).
    static let growsCollections: CommandIDSet = [
        .sadd, .smove, .sinterstore, .sunionstore, .sdiffstore,
        .hset, .hsetnx, .hmset, .hincrby, .hincrbyfloat, .hsetex,
        .zadd, .zincrby, .zunionstore, .zinterstore, .zdiffstore, .zrangestore,
        .geoadd, .georadius, .georadiusbymember, .geosearchstore,
    ]

    /// Commands that add to, remove from or replace in a list: after them, each list they
    /// wrote is a listpack or a quicklist as Redis would have converted it
    /// (EncodingLimits.listFloor).
    static let changesLists: CommandIDSet = [
        .lpush, .rpush, .lpushx, .rpushx, .linsert, .lset, .lpop, .rpop, .lrem, .ltrim,
        .lmove, .rpoplpush, .blmove, .brpoplpush, .blpop, .brpop, .lmpop, .blmpop,
    ]
    /// Those whose conversions may go back to a listpack (they remove or replace).
    static let shrinksLists: CommandIDSet = [
        .lset, .lpop, .rpop, .lrem, .ltrim, .lmove, .rpoplpush, .blmove, .brpoplpush, .blpop, .brpop, .lmpop, .blmpop,
    ]

    private func adjustListEncodings(_ id: CommandID, _ arguments: [Bytes]) {
        guard let spec = CommandTable.lookup(arguments[0]) else { return }
        let limits = settings.encodingLimits
        let shrinks = Self.shrinksLists.contains(id)
        let added = id == .lset && arguments.count == 4 ? arguments[3] : nil
        for position in spec.keyPositions(in: arguments) {
            keyspace.setEncodingFloor(arguments[position]) { limits.listFloor($0, shrinks: shrinks, added: added) }
        }
    }

    /// DEBUG RELOAD's view of the data: every value in the encoding a load gives it (a
    /// list that is a quicklist now stays one until it shrinks to half the limit).
    public func forgetEncodingHistory() {
        let limits = settings.encodingLimits
        let natural: (Value) -> UInt8 = { value in
            guard case .list(let list) = value else { return 0 }
            return limits.listFitsOneListpack(list) ? 0 : EncodingLimits.largestRank
        }
        keyspace.forgetEncodingHistory(natural)
        for database in parkedDatabases.keys { parkedDatabases[database]?.forgetEncodingHistory(natural) }
    }

    private func raiseEncodingFloors(_ arguments: [Bytes]) {
        guard let spec = CommandTable.lookup(arguments[0]) else { return }
        let limits = settings.encodingLimits
        for position in spec.keyPositions(in: arguments) {
            keyspace.raiseEncodingFloor(arguments[position], maximum: EncodingLimits.largestRank) { limits.encodingRank($0) }
        }
    }

    private func dispatch(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> Outcome {
        switch id {
        case .ping, .echo, .hello, .auth, .select, .quit, .reset, .client:
            return try runConnectionCommand(id, arguments, session, now: now)
        case .command, .info, .dbsize, .flushdb, .flushall, .config, .time, .lastsave, .bgsave, .bgrewriteaof, .save,
             .module, .replicaof, .slaveof:
            return try runServerCommand(id, arguments, session, now: now)
        case .acl:
            return Outcome(reply: try runACL(arguments, session, now: now))
        case .multi, .exec, .discard, .watch, .unwatch:
            return try runTransactionCommand(id, arguments, session, now: now)
        case .eval, .evalsha, .eval_ro, .evalsha_ro, .script:
            return Outcome(reply: try runScriptCommand(id, arguments, session, now: now))
        case .function:
            return Outcome(reply: try functionCommand(arguments, session, now: now))
        case .fcall, .fcall_ro:
            // Reached here only unresolved (inside MULTI): run as the EVAL it stands for.
            switch resolveFunctionCall(arguments, id: id) {
            case .success(let resolved):
                return Outcome(reply: try runScriptCommand(resolved[0] == Array("EVAL".utf8) ? .eval : .eval_ro, resolved, session, now: now))
            case .failure(let refusal):
                return Outcome(reply: refusal.reply)
            }
        case .sort, .sort_ro:
            return Outcome(reply: try runSort(id, arguments, session, now: now))
        case .lcs:
            return Outcome(reply: try runLCS(arguments, session, now: now))
        case .dump, .restore, .object, .memory:
            return Outcome(reply: try runObjectCommand(id, arguments, session, now: now))
        case .setbit, .getbit, .bitcount, .bitpos, .bitop, .bitfield, .bitfield_ro:
            return Outcome(reply: try runBitmapCommand(id, arguments, session, now: now))
        case .pfadd, .pfcount, .pfmerge, .pfdebug, .pfselftest:
            return Outcome(reply: try runHyperLogLogCommand(id, arguments, session, now: now))
        case .xgroup, .xreadgroup, .xack, .xpending, .xclaim, .xautoclaim, .xinfo:
            return Outcome(reply: try runStreamGroupCommand(id, arguments, session, now: now))
        case .xadd, .xlen, .xrange, .xrevrange, .xdel, .xtrim, .xread, .xsetid:
            return Outcome(reply: try runStreamCommand(id, arguments, session, now: now))
        case .blpop, .brpop, .brpoplpush, .blmove, .blmpop, .bzpopmin, .bzpopmax, .bzmpop:
            return Outcome(reply: try runBlockingCommand(id, arguments, session, now: now))
        case .wait:
            return Outcome(reply: .integer(0))
        case .waitaof:
            // Inside a script or EXEC nothing of this entry is fsynced yet (the node
            // answers WAITAOF outside them).
            return Outcome(reply: .array([.integer(0), .integer(0)]))
        case .monitor:
            throw .message("ERR MONITOR is not allowed inside a transaction on this server")
        case .shutdown:
            throw .message("ERR Command not allowed inside a transaction")
        case .debug:
            return Outcome(reply: try debugInTransaction(arguments, session, now: now))
        case .slowlog, .latency, .role, .lolwut:
            // The node answers these before the engine; here they come only from EXEC.
            throw .message("ERR \(id.rawValue.uppercased()) is not allowed inside a transaction on this server")  // the node answers WAIT; an engine has no replicas
        case .publish, .spublish:
            // Inside EXEC: the node delivers the message once the transaction committed and
            // puts the receiver count in this place (Node+PubSub.swift).
            return Outcome(reply: .integer(0))
        case .subscribe, .unsubscribe, .psubscribe, .punsubscribe, .pubsub, .ssubscribe, .sunsubscribe:
            // The node serves pub/sub before the engine; here they come only from EXEC.
            throw .message("ERR \(id.rawValue.uppercased()) is not allowed inside a transaction on this server")
        case .cluster, .readonly, .readwrite, .asking, .trestle:
            // A cluster node handles these before the engine; a standalone server has none.
            throw .message("ERR This instance has cluster support disabled")
        case .hset, .hsetnx, .hget, .hmget, .hmset, .hdel, .hgetdel, .hsetex, .hgetex, .hlen, .hexists, .hkeys, .hvals, .hgetall,
             .hincrby, .hincrbyfloat, .hstrlen, .hscan, .hrandfield,
             .hexpire, .hpexpire, .hexpireat, .hpexpireat, .httl, .hpttl, .hexpiretime, .hpexpiretime, .hpersist:
            return Outcome(reply: try runHashCommand(id, arguments, session, now: now))
        case .lpush, .rpush, .lpushx, .rpushx, .lpop, .rpop, .llen, .lrange, .lindex, .lset, .linsert, .lrem, .ltrim,
             .lpos, .lmove, .rpoplpush, .lmpop:
            return Outcome(reply: try runListCommand(id, arguments, session, now: now))
        case .sadd, .srem, .smembers, .sismember, .smismember, .scard, .spop, .srandmember, .smove, .sinter,
             .sintercard, .sinterstore, .sunion, .sunionstore, .sdiff, .sdiffstore, .sscan:
            return Outcome(reply: try runSetCommand(id, arguments, session, now: now))
        case .zadd, .zincrby, .zrem, .zcard, .zscore, .zmscore, .zrank, .zrevrank, .zcount, .zlexcount, .zrange,
             .zrangestore, .zrevrange, .zrangebyscore, .zrevrangebyscore, .zrangebylex, .zrevrangebylex,
             .zremrangebyrank, .zremrangebyscore, .zremrangebylex, .zpopmin, .zpopmax, .zscan,
             .zunion, .zunionstore, .zinter, .zinterstore, .zintercard, .zdiff, .zdiffstore, .zmpop, .zrandmember:
            return Outcome(reply: try runSortedSetCommand(id, arguments, session, now: now))
        case .geoadd, .geodist, .geohash, .geopos, .georadius, .georadius_ro, .georadiusbymember, .georadiusbymember_ro,
             .geosearch, .geosearchstore:
            return Outcome(reply: try runGeoCommand(id, arguments, session, now: now))
        case .del, .unlink, .exists, .type, .keys, .scan, .rename, .renamenx, .randomkey, .copy, .touch, .move, .swapdb,
             .expire, .pexpire, .expireat, .pexpireat, .ttl, .pttl, .expiretime, .pexpiretime, .persist:
            return Outcome(reply: try runKeyCommand(id, arguments, session, now: now))
        default:
            return Outcome(reply: try runStringCommand(id, arguments, session, now: now))
        }
    }

    /// One active-expiry pass; returns the number of keys reclaimed.
    @discardableResult
    public func expireCycle(now: Int64) -> Int {
        let deleted = keyspace.expireCycle(now: now)
        noteTouchedWatchedKeys()
        return deleted
    }
}
