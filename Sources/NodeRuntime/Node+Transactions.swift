// Transactions on a cluster node: WATCH reads digests at the key's leader (or, through a
// proxy, asks the leader for them), MULTI queues, EXEC proposes the queued commands as one
// entry of their slot's shard that applies only if every watched digest still holds;
// a proxy forwards the whole transaction to the leader.
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Wire

extension Node {
    // MARK: - Transactions

    func watch(_ arguments: [Bytes], session: Session, forwarded: Bool, reply: @escaping ReplySink) {
        let keys = Array(arguments.dropFirst())
        let slot = HashSlot.of(key: keys[0])
        guard keys.allSatisfy({ mayMeet(slot, HashSlot.of(key: $0)) }) else {
            return reply(Redirect.crossSlot.reply)
        }
        switch locate(slot) {
        case .here(let replica):
            if let redirect = migrationRedirect(replica, slot: slot, write: false) { return reply(Self.withoutAsk(redirect).reply) }
            read(replica, slot: slot, session: session, reply: reply) { engine, now in
                for key in keys {
                    session.clusterWatches.append(WatchedValue(key: key, digest: engine.watchDigest(key, database: session.database, now: now)))
                    session.clusterWatchDatabase = session.database
                    self.watchers[key, default: []].insert(session.id)
                    engine.keyspace.watchedKeys.insert(key)
                }
                return .ok
            }
        case .elsewhere(let leader, _, _) where configuration.proxy && !forwarded:
            // Proxy mode: the leader reads the digests; EXEC carries them there, and the
            // shard compares them when the transaction applies.
            forward([Array("TRESTLE".utf8), Array("WATCHDIGESTS".utf8)] + keys, to: leader) { value in
                guard case .array(let digests) = value, digests.count == keys.count else { return reply(value) }
                for (key, digest) in zip(keys, digests) {
                    guard case .integer(let bits) = digest else { return reply(.error("ERR malformed WATCH digest from the leader")) }
                    session.clusterWatches.append(WatchedValue(key: key, digest: UInt64(bitPattern: bits)))
                }
                reply(.ok)
            }
        case .elsewhere(_, let node, _):
            reply(Redirect.moved(slot: slot, to: node).reply)
        case .down(let reason):
            reply(reason.reply)
        }
    }

    /// TRESTLE WATCHDIGESTS key... from a proxy node: the digests of the keys' values, read
    /// as this shard's leader.
    func watchDigests(_ keys: [Bytes], session: Session, reply: @escaping ReplySink) {
        guard let first = keys.first else { return reply(.array([])) }
        let slot = HashSlot.of(key: first)
        guard keys.allSatisfy({ mayMeet(slot, HashSlot.of(key: $0)) }) else { return reply(Redirect.crossSlot.reply) }
        switch locate(slot) {
        case .here(let replica):
            if let redirect = migrationRedirect(replica, slot: slot, write: false) { return reply(Self.withoutAsk(redirect).reply) }
            read(replica, slot: slot, session: session, reply: reply) { engine, now in
                .array(keys.map { .integer(Int64(bitPattern: engine.watchDigest($0, now: now))) })
            }
        case .elsewhere(_, let node, _):
            reply(Redirect.moved(slot: slot, to: node).reply)
        case .down(let reason):
            reply(reason.reply)
        }
    }

    /// TRESTLE TRANSACTION from a proxy node: a client's EXEC, run as this shard's leader.
    /// Layout after the subcommand: watch count, then key and digest per watch, then per
    /// command its argument count and arguments.
    func forwardedTransaction(_ arguments: ArraySlice<Bytes>, session: Session, reply: @escaping ReplySink) {
        guard let decoded = Self.decodeTransaction(arguments) else { return reply(.error("ERR malformed forwarded transaction")) }
        runTransaction(decoded.commands, watches: decoded.watches, session: session, forwarded: true, reply: reply)
    }

    static func encodeTransaction(_ commands: [[Bytes]], watches: [WatchedValue]) -> [Bytes] {
        var arguments: [Bytes] = [Array("TRESTLE".utf8), Array("TRANSACTION".utf8), Array(String(watches.count).utf8)]
        for watch in watches {
            arguments.append(watch.key)
            arguments.append(Array(String(watch.digest).utf8))
        }
        for command in commands {
            arguments.append(Array(String(command.count).utf8))
            arguments.append(contentsOf: command)
        }
        return arguments
    }

    static func decodeTransaction(_ arguments: ArraySlice<Bytes>) -> (commands: [[Bytes]], watches: [WatchedValue])? {
        var rest = arguments
        func number() -> Int? { rest.popFirst().flatMap { Int(String(decoding: $0, as: UTF8.self)) } }
        guard let watchCount = number(), watchCount >= 0, watchCount <= rest.count / 2 else { return nil }
        var watches: [WatchedValue] = []
        for _ in 0..<watchCount {
            guard let key = rest.popFirst(), let digest = rest.popFirst().flatMap({ UInt64(String(decoding: $0, as: UTF8.self)) }) else { return nil }
            watches.append(WatchedValue(key: key, digest: digest))
        }
        var commands: [[Bytes]] = []
        while !rest.isEmpty {
            guard let count = number(), count > 0, count <= rest.count else { return nil }
            commands.append(Array(rest.prefix(count)))
            rest = rest.dropFirst(count)
        }
        return (commands, watches)
    }

    /// EXEC: the queued commands (one slot) become one log entry, applied atomically on
    /// every replica; watched values are checked when it applies.
    func executeTransaction(_ session: Session, forwarded: Bool, reply: @escaping ReplySink) {
        // As Redis: EXEC without MULTI is an error that keeps the watches.
        guard session.inTransaction else { return reply(.error("ERR EXEC without MULTI")) }
        let watches = session.clusterWatches
        let touched = session.clusterWatchTouched
        // As Redis: each command is checked against its user's permissions again (once
        // queuing errors and watches let the transaction run; the client is still in MULTI
        // for ACL LOG); one the user lost since it was queued does not run, and its refusal
        // takes its place.
        var refusals: [Int: RESPValue] = [:]
        if !touched, !session.transactionFailed, let queued = session.queuedCommands {
            for (position, command) in queued.enumerated() {
                guard let spec = CommandTable.lookup(command[0]),
                      let denial = front.execDenial(spec, command, session, now: now()) else { continue }
                refusals[position] = denial.reply
            }
        }
        unwatchAll(session)
        let queued: [[Bytes]]
        switch front.takeQueuedTransaction(session) {
        case .failure(let early): return reply(early.reply)
        case .success(let commands): queued = commands
        }
        // As Redis: a watched key written since WATCH fails the transaction (after queueing
        // errors, which EXECABORT first). The digests carried in the entry cover what this
        // node cannot see: writes committed under another leader.
        if touched { return reply(.nullArray) }
        let commands = refusals.isEmpty ? queued : queued.indices.filter { refusals[$0] == nil }.map { queued[$0] }
        runTransaction(commands, watches: watches, session: session, forwarded: forwarded,
                       reply: countingTransactionCalls(commands, reply: splicing(refusals, count: queued.count, reply: reply)))
    }

    /// `reply` for a transaction whose commands at `refusals`' positions were refused at
    /// EXEC: when the others ran (an array of their replies), the refusals are put back in
    /// their places, counted as error replies (the refused commands are not calls, as in
    /// Redis); a failed transaction's null passes as it is.
    private func splicing(_ refusals: [Int: RESPValue], count: Int, reply: @escaping ReplySink) -> ReplySink {
        guard !refusals.isEmpty else { return reply }
        return { [self] value in
            guard case .array(let ran) = value, ran.count + refusals.count == count else { return reply(value) }
            var others = ran.makeIterator()
            let all = (0..<count).map { position in refusals[position] ?? others.next() ?? .null }
            for position in refusals.keys.sorted() {
                // No command: only the error is counted (errorstats, total_error_replies).
                commandStats.record(nil, request: [], reply: all[position], microseconds: 0)
            }
            reply(.array(all))
        }
    }

    /// Runs a transaction's commands (one slot) as one log entry at the slot's leader: here,
    /// forwarded there in proxy mode, or redirected.
    private func runTransaction(_ commands: [[Bytes]], watches: [WatchedValue], session: Session, forwarded: Bool,
                                reply: @escaping ReplySink) {
        let original = reply
        let reply = completingPublishes(commands, reply: answeringNodeCommands(commands, session: session,
                                                                               reply: sleepingThroughTransaction(commands, session: session, reply: reply)))
        var slot: HashSlot? = watches.first.map { HashSlot.of(key: $0.key) }
        var writes = false
        for command in commands {
            guard let spec = CommandTable.lookup(command[0]) else { continue }
            writes = writes || spec.isWrite
            if spec.isWrite, session.tracking?.noLoop == true {
                noteTrackedWrite(spec.keyPositions(in: command).map { command[$0] }, session: session)
            }
            for position in spec.keyPositions(in: command) {
                let keySlot = HashSlot.of(key: command[position])
                if let slot, !mayMeet(slot, keySlot) {
                    return reply(Redirect.crossSlot.reply)
                }
                slot = slot ?? keySlot
            }
        }
        if slot == nil, configuration.standalone, commands.contains(where: Self.runsOnTheShard) {
            slot = HashSlot(0)  // keyless scripts and writes on a standalone server run on its one shard
        }
        guard let slot else {
            // No keys at all: nothing to replicate.
            return reply(.array(commands.map { front.execute($0, session: session, now: now()).reply }))
        }
        switch locate(slot) {
        case .here(let replica):
            if let redirect = migrationRedirect(replica, slot: slot, write: writes) { return reply(Self.withoutAsk(redirect).reply) }
            if writes || !watches.isEmpty {
                let answer = Self.followingSelects(commands, session: session, reply: reply)
                guard !watches.isEmpty, session.clusterWatchDatabase != session.database else {
                    return proposeWrite(replica, commands: commands, transaction: true, watches: watches, database: session.database,
                                        version: session.protocolVersion, reply: answer)
                }
                // WATCH ran in another database than EXEC does: the entry starts in the
                // watches' database (where they are checked) and selects the client's first.
                let select = [Array("SELECT".utf8), Array(String(session.database).utf8)]
                proposeWrite(replica, commands: [select] + commands, transaction: true, watches: watches,
                             database: session.clusterWatchDatabase, version: session.protocolVersion) { value in
                    guard case .array(let replies) = value else { return answer(value) }
                    answer(.array(Array(replies.dropFirst())))
                }
            } else {
                read(replica, slot: slot, session: session, reply: reply) { engine, now in
                    defer { engine.sleptMilliseconds = 0 }  // nothing was written: no one to wake later
                    return .array(commands.map { engine.executeRead($0, session: session, now: now) })
                }
            }
        case .elsewhere(let leader, _, _) where configuration.proxy && !forwarded:
            // A failed EXEC is a null array; the peer link's RESP3 has one null for both kinds.
            // The leader delivers the transaction's PUBLISHes (its reply has their counts).
            forward(Self.encodeTransaction(commands, watches: watches), version: session.protocolVersion, to: leader) { value in
                original(value == .null ? .nullArray : value)
            }
        case .elsewhere(_, let node, _):
            reply(Redirect.moved(slot: slot, to: node).reply)
        case .down(let reason):
            reply(reason.reply)
        }
    }
}

extension Node {
    // MARK: - WATCH

    /// Forgets a session's watches (UNWATCH, DISCARD, RESET, EXEC, disconnect).
    func unwatchAll(_ session: Session) {
        for watch in session.clusterWatches {
            guard var sessions = watchers[watch.key] else { continue }
            sessions.remove(session.id)
            if sessions.isEmpty {
                watchers.removeValue(forKey: watch.key)
                if blockedByKey[watch.key] == nil, let shard = map?.shardID(forSlot: HashSlot.of(key: watch.key)) {
                    replicas[shard]?.data?.engine.keyspace.watchedKeys.remove(watch.key)
                }
            } else {
                watchers[watch.key] = sessions
            }
        }
        session.clusterWatches = []
        session.clusterWatchTouched = false
    }

    /// After a replica applied committed writes: every session watching a key they touched
    /// will fail its EXEC.
    func noteTouchedWatches(_ replica: Replica) {
        guard let engine = replica.data?.engine else { return }
        let slept = engine.sleptMilliseconds
        engine.sleptMilliseconds = 0
        guard !engine.keyspace.touchedWatched.isEmpty || !engine.touchedWatchedInDatabases.isEmpty else { return }
        let touched = engine.keyspace.touchedWatched.map { (database: 0, key: $0) } + engine.touchedWatchedInDatabases
        engine.keyspace.touchedWatched.removeAll()
        engine.touchedWatchedInDatabases.removeAll()
        if slept > 0, deferredRoutes.count < Self.deferredRoutesMax {
            // A transaction slept (DEBUG SLEEP): Redis serves blocked clients once EXEC
            // ends, so they find the keys as they are after the sleep (maybe expired).
            deferredRoutes.append(DeferredRoute(due: now() + slept) { [self] in wakeBlocked(touched: touched, on: replica) })
        } else {
            wakeBlocked(touched: touched, on: replica)
        }
        for (database, key) in touched {
            for id in watchers[key] ?? [] where clients[id]?.session.clusterWatchDatabase == database {
                clients[id]?.session.clusterWatchTouched = true
            }
        }
    }
}

extension Node {
    /// Keyless commands that a standalone server's transaction runs on its one shard:
    /// scripts, writes (FLUSHDB, SWAPDB) and reads of a whole database.
    static func runsOnTheShard(_ command: [Bytes]) -> Bool {
        guard let spec = CommandTable.lookup(command[0]), let id = spec.id else { return false }
        return spec.isWrite || Engine.scriptRuns.contains(id) || [.dbsize, .keys, .scan, .randomkey].contains(id)
    }

    /// `reply` for a transaction proposed to the log: a SELECT among its commands that
    /// succeeded moves the client to that database, as it would have run on the client's
    /// own session (the log applies it to the replica's).
    static func followingSelects(_ commands: [[Bytes]], session: Session, reply: @escaping ReplySink) -> ReplySink {
        let selects = commands.indices.filter { CommandTable.lookup(commands[$0][0])?.id == .select }
        guard !selects.isEmpty else { return reply }
        return { value in
            if case .array(let replies) = value,
               let last = selects.last(where: { $0 < replies.count && replies[$0] == .ok }),
               let database = Int(String(decoding: commands[last][1], as: UTF8.self)) {
                session.database = database
            }
            reply(value)
        }
    }
}
