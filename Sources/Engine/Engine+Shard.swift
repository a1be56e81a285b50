// The engine as a shard's replicated state machine. On a Raft replica, writes do not run
// when they arrive: the leader proposes them, and every replica runs them here once they
// are committed, in log order, at the time the leader stamped on the record. Reads run
// against the replica's applied state. Nothing here depends on which replica runs it.
//
// Invariants: `applyCommitted` is a pure function of (state, record); WATCH conditions are
// checked against value digests carried in the record, never against session state.
import Core
import Keyspace
import Wire

/// A watched key and the digest of its value when it was watched.
public struct WatchedValue: Sendable, Equatable {
    public var key: Bytes
    public var digest: UInt64
    public init(key: Bytes, digest: UInt64) { self.key = key; self.digest = digest }
}

/// A reply that ends a request early (an error, or a null EXEC).
public struct CommandErrorReply: Error {
    public var reply: RESPValue
    public init(reply: RESPValue) { self.reply = reply }
}

extension Engine {
    /// A replica engine: the keyspace keeps expired keys until the log says to reclaim them.
    public static func replica(settings: Settings, now: Int64) -> Engine {
        let engine = Engine(settings: settings, seed: 0x7265706c696361, now: now)
        engine.keyspace.deletesExpiredOnAccess = false
        return engine
    }

    /// Runs a committed write. For a transaction, every watched value must still have the
    /// digest it had when watched, else nothing runs and the reply is a null array (as a
    /// failed EXEC); the reply is the array of each command's reply. A single command
    /// replies with its own reply.
    /// `database`: the numbered database the commands start in (a SELECT among them
    /// changes it for those after it).
    public func applyCommitted(commands: [[Bytes]], time: Int64, transaction: Bool, watches: [WatchedValue],
                               database: Int = 0, version: ProtocolVersion = .resp2) -> RESPValue {
        applySession.protocolVersion = version
        applySession.database = database
        applyingTransaction = transaction
        defer { applySession.database = 0; applyingTransaction = false }
        lastApplyLookups = (0, 0)
        if transaction {
            let changed = inDatabase(database) { watches.contains { watchDigest($0.key, now: time) != $0.digest } }
            if changed { return .nullArray }
        }
        defer { if recordsPropagation { closePropagatedEntry() } }
        // Watched keys this touched stay in `keyspace.touchedWatched` for the node to drain.
        return setAsideLookups {
            guard transaction else {
                // A single write (the usual entry): its reply, with no array around it.
                var reply = RESPValue.nullArray
                for (position, command) in commands.enumerated() {
                    let answer = runCommitted(command, time: time)
                    if position == 0 { reply = answer }
                }
                return reply
            }
            return .array(commands.map { runCommitted($0, time: time) })
        }
    }

    /// Runs `body` (an entry's commands) with its keyspace hits and misses set aside in
    /// `lastApplyLookups`: every replica applies a committed write, and its lookups count
    /// only on the node that proposed it (`countAppliedLookups`), where the client sent it.
    private func setAsideLookups(_ body: () -> RESPValue) -> RESPValue {
        let lookups = (stats.keyspaceHits, stats.keyspaceMisses)
        defer {
            lastApplyLookups = (stats.keyspaceHits - lookups.0, stats.keyspaceMisses - lookups.1)
            (stats.keyspaceHits, stats.keyspaceMisses) = lookups
        }
        return body()
    }

    /// Runs a committed batch: independent writes of clients proposed together as one
    /// entry, in order, each in `database` as if it were an entry of its own (no WATCH
    /// check; a failing command does not stop the others; each is propagated on its
    /// own). The reply is the array of their replies, in order. `entrySeed`: the entry's
    /// index, from which each write's script seed is drawn (`batchScriptSeed`).
    public func applyCommittedBatch(commands: [[Bytes]], time: Int64, database: Int, version: ProtocolVersion,
                                    entrySeed: UInt64) -> RESPValue {
        applySession.protocolVersion = version
        defer { applySession.database = 0 }
        lastApplyLookups = (0, 0)
        return setAsideLookups {
            var replies: [RESPValue] = []
            replies.reserveCapacity(commands.count)
            for (position, command) in commands.enumerated() {
                applySession.database = database
                scriptEntrySeed = Self.batchScriptSeed(entry: entrySeed, position: position)
                replies.append(runCommitted(command, time: time))
                if recordsPropagation { closePropagatedEntry() }
            }
            return .array(replies)
        }
    }

    /// The script seed of a batch's write at `position`: the entry's index for the first
    /// (what a write alone in its entry gets), distinct for the others (below the trials'
    /// high bit, and apart from every other entry's index below 2^44).
    static func batchScriptSeed(entry: UInt64, position: Int) -> UInt64 {
        entry &+ UInt64(position) << 44
    }

    /// Counts the lookups of the write applied last when `here` (this node proposed it,
    /// so a script's or a transaction's reads count once), and forgets them either way.
    public func countAppliedLookups(here: Bool) {
        if here {
            stats.keyspaceHits += lastApplyLookups.hits
            stats.keyspaceMisses += lastApplyLookups.misses
        }
        lastApplyLookups = (0, 0)
        // The calls of this entry's scripts only: earlier entries of the batch may be owed here.
        if !here { scriptCalls.removeSubrange(min(scriptCallsBeforeEntry, scriptCalls.count)...) }
        scriptCallsBeforeEntry = scriptCalls.count
    }

    /// Forgets the script calls noted after the first `count` (a void trial's).
    public func dropScriptCalls(after count: Int) {
        scriptCalls.removeSubrange(min(count, scriptCalls.count)...)
        scriptCallsBeforeEntry = min(scriptCallsBeforeEntry, scriptCalls.count)
    }

    /// The script calls noted since the last take, for the node to count; forgets them.
    public func takeScriptCalls() -> [ScriptCall] {
        var taken: [ScriptCall] = []
        drainScriptCalls { taken.append($0) }
        return taken
    }

    /// Hands each script call noted since the last drain to `body`, in order, then forgets
    /// them, keeping the array's storage for the next ones (an allocation per script call
    /// otherwise, as the array grew anew after every drain). `body` must not run scripts.
    public func drainScriptCalls(_ body: (ScriptCall) -> Void) {
        for call in scriptCalls { body(call) }
        scriptCalls.removeAll(keepingCapacity: scriptCalls.capacity <= Self.scriptCallsCapacityKept)
        scriptCallsBeforeEntry = 0
    }

    /// The most script calls whose storage a drain keeps for the next ones.
    static let scriptCallsCapacityKept = 64

    private func runCommitted(_ command: [Bytes], time: Int64) -> RESPValue {
        guard let name = command.first, let spec = CommandTable.lookup(name), let id = spec.id,
              spec.accepts(argumentCount: command.count) else {
            return .error("ERR unknown command in replicated record")
        }
        stats.commandsProcessed += 1
        if spec.isWrite { reclaimExpiredKeys(of: spec, command, now: time) }
        // A script's effects are recorded call by call (Engine+Scripting.swift), not the script.
        let database = applySession.database
        let recording = recordsPropagation && spec.isWrite && !Self.scriptRuns.contains(id)
        let before = recording ? changeCount(in: database) : 0
        do {
            let reply = try run(id, command, applySession, now: time).reply
            if recording { recordEffect(id, command, reply: reply, database: database, changedFrom: before, now: time) }
            return reply
        } catch {
            stats.errorReplies += 1
            if recording { recordEffect(id, command, reply: error.reply, database: database, changedFrom: before, now: time) }
            return error.reply
        }
    }

    /// Whether `database` holds any key or hash field with a time to live (cheap: a
    /// counter and a flag).
    public func holdsExpiringKeys(database: Int) -> Bool {
        if database == selectedDatabase { return keyspace.expiringCount > 0 || keyspace.holdsFieldExpirations }
        return parkedDatabases[database].map { $0.expiringCount > 0 || $0.holdsFieldExpirations } ?? false
    }

    /// Those of `keys` that `database` stores past their time at `now` (what a read met
    /// but did not remove: reads never change a replica's state). Costs nothing while the
    /// database holds no key with a time to live.
    public func storedButExpired(_ keys: [Bytes], database: Int, now time: Int64) -> [Bytes] {
        inDatabase(database) {
            guard keyspace.expiringCount > 0 || keyspace.holdsFieldExpirations else { return [] }
            return keys.filter { keyspace.storesExpired($0, now: time) || keyspace.storesExpiredFields($0, now: time) }
        }
    }

    /// A committed write removes the expired keys it names before it runs, publishing
    /// `expired` for each, as Redis's write lookups do (DEL of an expired key leaves no
    /// key behind for DBSIZE to count). Every replica applies the same entry at the same
    /// stamped time, so each removes the same keys; reads never remove any.
    private func reclaimExpiredKeys(of spec: CommandSpec, _ command: [Bytes], now time: Int64) {
        inDatabase(applySession.database) {
            guard keyspace.expiringCount > 0 || keyspace.holdsFieldExpirations else { return }
            let expired = spec.keyPositions(in: command).map { command[$0] }.filter {
                keyspace.storesExpired($0, now: time) || keyspace.storesExpiredFields($0, now: time)
            }
            if !expired.isEmpty { reclaimSelected(expired, now: time) }
        }
    }

    /// Runs a read-only command for `session` against the applied state at `now`.
    public func executeRead(_ arguments: [Bytes], session: Session, now: Int64) -> RESPValue {
        guard let name = arguments.first, let spec = CommandTable.lookup(name), let id = spec.id else {
            return .error("ERR unknown command")
        }
        return executeRead(arguments, id: id, session: session, now: now)
    }

    /// `executeRead` for a command the caller already looked up.
    public func executeRead(_ arguments: [Bytes], id: CommandID, session: Session, now: Int64) -> RESPValue {
        stats.commandsProcessed += 1
        do {
            return try run(id, arguments, session, now: now).reply
        } catch {
            stats.errorReplies += 1
            return error.reply
        }
    }

    /// A session for requests that another node forwards: authenticated, speaking the
    /// client's RESP version so replies have the shape that client expects (they travel
    /// back in RESP3, which keeps every type, and the origin lowers them). Not listed in
    /// CLIENT LIST.
    public func internalSession(address: String, version: ProtocolVersion = .resp3) -> Session {
        let session = Session(id: ClientID(rawValue: 0), address: address, localAddress: "", now: startTime, authenticated: true)
        session.user = nil
        session.protocolVersion = version
        return session
    }

    /// Marks the session's MULTI as failed (a queued command was redirected): EXEC will
    /// answer EXECABORT, as Redis Cluster does.
    public func flagTransactionFailed(_ session: Session) {
        if session.queued != nil { session.transactionFailed = true }
    }

    /// Ends the session's MULTI for a cluster EXEC: returns the queued commands, or the
    /// reply EXEC gives when there is nothing to run (no MULTI, or a queuing error).
    public func takeQueuedTransaction(_ session: Session) -> Result<[[Bytes]], CommandErrorReply> {
        guard let queued = session.queued else { return .failure(CommandErrorReply(reply: .error("ERR EXEC without MULTI"))) }
        let failed = session.transactionFailed
        endTransaction(session)
        if failed { return .failure(CommandErrorReply(reply: .error("EXECABORT Transaction discarded because of previous errors."))) }
        return .success(queued)
    }

    /// A digest of the key's logical value at `now` (0 when absent): type, contents and
    /// expiry. Hash fields and set members are combined order-independently (dictionary
    /// order differs between processes; a set's value does not depend on its order); list
    /// elements in order, sorted-set pairs in ascending (score, member) order.
    public func watchDigest(_ key: Bytes, database: Int, now: Int64) -> UInt64 {
        inDatabase(database) { watchDigest(key, now: now) }
    }

    /// `watchDigest` in the selected database.
    public func watchDigest(_ key: Bytes, now: Int64) -> UInt64 {
        guard let entry = keyspace.peek(key, now: now) else { return 0 }
        var digest = Self.fnv(UInt64(bitPattern: entry.expireAt ?? Int64.min), Self.fnvOffset)
        switch entry.value {
        case .string(let bytes):
            digest = Self.fnv(bytes, Self.fnv(1, digest))
        case .hash(let stored):
            // What readers see: live fields, with their times to live (HEXPIRE changes a hash).
            let fields = stored.visible(at: now)
            var combined: UInt64 = 0
            for (field, value) in fields {
                var item = Self.fnv(value, Self.fnv(field, Self.fnvOffset))
                if let time = fields.expireAt(field) { item = Self.fnv(UInt64(bitPattern: time), item) }
                combined &+= item &* 0x9E3779B97F4A7C15
            }
            digest = Self.fnv(combined, Self.fnv(2, digest))
        case .list(let elements):
            // Order matters in a list: chain the elements head to tail.
            digest = Self.fnv(UInt64(elements.count), Self.fnv(3, digest))
            for element in elements { digest = Self.fnv(element, digest) }
        case .set(let members):
            // A set's value is its members: combine them regardless of their stored order.
            var combined: UInt64 = 0
            for member in members { combined &+= Self.fnv(member.bytes, Self.fnvOffset) &* 0x9E3779B97F4A7C15 }
            digest = Self.fnv(combined, Self.fnv(UInt64(members.count), Self.fnv(4, digest)))
        case .zset(let sortedSet):
            // Chained in (score, member) order, which is a function of the pairs alone.
            digest = Self.fnv(UInt64(sortedSet.count), Self.fnv(5, digest))
            for element in sortedSet.all { digest = Self.fnv(element.member, Self.fnv(element.score.bitPattern, digest)) }
        case .stream(let stream):
            digest = Self.fnv(stream.entriesAdded, Self.fnv(stream.lastID.sequence, Self.fnv(stream.lastID.milliseconds, Self.fnv(6, digest))))
            for element in stream.entries {
                digest = Self.fnv(element.id.sequence, Self.fnv(element.id.milliseconds, digest))
                for field in element.fields { digest = Self.fnv(field, digest) }
            }
            for group in stream.groups {
                digest = Self.fnv(group.name, Self.fnv(group.lastDeliveredID.sequence, Self.fnv(group.lastDeliveredID.milliseconds, digest)))
                for item in group.pending {
                    digest = Self.fnv(item.entry.consumer, Self.fnv(item.entry.deliveries, Self.fnv(item.id.sequence, Self.fnv(item.id.milliseconds, digest))))
                }
            }
        }
        return digest == 0 ? 1 : digest
    }

    static let fnvOffset: UInt64 = 0xcbf29ce484222325

    static func fnv(_ bytes: Bytes, _ seed: UInt64) -> UInt64 {
        var hash = seed
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
        return Self.fnv(UInt64(bytes.count), hash)
    }

    static func fnv(_ value: UInt64, _ seed: UInt64) -> UInt64 {
        var hash = seed
        for shift in stride(from: 0, to: 64, by: 8) { hash = (hash ^ ((value >> UInt64(shift)) & 0xff)) &* 0x100000001b3 }
        return hash
    }
}
