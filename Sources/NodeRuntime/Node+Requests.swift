// Client requests on a cluster node: connection-level commands run on the front engine;
// keyed commands go to the shard owning their slot — proposed through its Raft log
// (writes) or read under a confirmed lease (reads) when this node leads it, redirected
// with -MOVED (or forwarded, in proxy mode) when another node does.
import Cluster
import Consensus
import Core
import Engine
import Scripting
import Keyspace
import Wire

extension Node {
    /// Commands that run at once even inside MULTI (as Redis).
    static let immediateInTransaction: CommandIDSet = [.exec, .discard, .multi, .watch, .quit, .reset]
    /// Multi-key commands a proxy splits by slot and gathers.
    static let splittable: CommandIDSet = [.mget, .mset, .del, .unlink, .exists, .touch]
    /// Commands of the Redis Cluster protocol, refused by a standalone server (as Redis).
    static let clusterOnly: CommandIDSet = [.cluster, .readonly, .readwrite, .asking]

    /// Handles one request. Returns an outcome when the answer is immediate; otherwise the
    /// answer arrives later through `reply` (possibly before this returns).
    func serve(_ arguments: [Bytes], session: Session, forwarded: Bool, reply: @escaping ReplySink) -> Outcome? {
        serve(arguments, spec: arguments.first.flatMap(CommandTable.lookup), session: session, forwarded: forwarded, reply: reply)
    }

    static let outOfMemory = RESPValue.error("OOM command not allowed when used memory > 'maxmemory'.")

    /// An EXEC refused before it runs (busy script, out of memory): the transaction is
    /// discarded and the reply names why, as Redis's execCommandAbort.
    /// Past `maxmemory`: commands flagged `denyoom` are refused.
    /// Past `maxmemory`: resident memory under `noeviction`; under an evicting policy, the
    /// data's estimate when the policy finds nothing left to evict (Node+Eviction.swift).
    var isOutOfMemory: Bool {
        let limit = front.settings.maxMemoryBytes
        guard limit > 0 else { return false }
        guard evictionRule != nil else { return usedMemoryBytes > limit }
        return datasetEstimate.bytes > limit && datasetEstimate.evictable == 0
    }

    /// Past `maxmemory`, a script is refused before it runs when it has a shebang without
    /// `allow-oom` (and may write), or when it goes to the log without a trial (known to
    /// write). Any other runs as a trial first, whose first `denyoom` call before a write
    /// gets -OOM, as Redis (the trial runs on this node only, so the memory state it sees
    /// need not be the replicas').
    func scriptDeniedWhenOutOfMemory(_ arguments: [Bytes], id: CommandID, script: ScriptRequest, session: Session) -> Bool {
        guard id == .eval || id == .evalsha, arguments.count > 1 else { return false }
        if case .success(let shebang?) = Shebang.parse(arguments[1]) { return !shebang.flags.contains("allow-oom") }
        return !needsTrial(script, id: id, session: session)
    }

    private func abortExec(_ session: Session, because text: String, now time: Int64) -> RESPValue {
        _ = front.execute([Array("DISCARD".utf8)], spec: CommandTable.lookup(Array("DISCARD".utf8)), session: session, now: time)
        return .error("EXECABORT Transaction discarded because of: \(text)")
    }

    /// Whether `maxmemory` refuses the command when memory is over it: commands flagged
    /// `denyoom` (as Redis when it could not evict enough).
    /// EVAL and EVALSHA count as such here (a queued script, checked at EXEC); a script
    /// sent on its own is judged by `scriptDeniedWhenOutOfMemory`.
    static func deniedWhenOutOfMemory(_ spec: CommandSpec, _ arguments: [Bytes]) -> Bool {
        if spec.id == .eval || spec.id == .evalsha {
            // A script whose shebang says allow-oom runs anyway, as in Redis.
            if case .success(let shebang?) = Shebang.parse(arguments.count > 1 ? arguments[1] : []) {
                return !shebang.flags.contains("allow-oom")
            }
            return true
        }
        let command = arguments.count >= 2 ? spec.subcommand(arguments[1]) ?? spec : spec
        return command.flags.contains("denyoom")
    }

    /// `serve` with the command already looked up (`spec` is nil for an unknown command):
    /// the one lookup of a client's request.
    func serve(_ arguments: [Bytes], spec: CommandSpec?, session: Session, forwarded: Bool, reply: @escaping ReplySink) -> Outcome? {
        let time = now()
        // CLIENT LIST's idle and cmd, whichever engine serves the request.
        session.lastInteraction = time
        if let spec { session.lastCommand = Self.statsName(spec, arguments) }
        guard var spec, var id = spec.id,
              spec.accepts(argumentCount: arguments.count), spec.subcommandRefusingArity(arguments) == nil,
              session.authenticated || spec.allowedWithoutAuth,
              front.permits(spec, arguments, session) else {
            // The front engine's prologue answers the error (and logs an ACL refusal).
            return front.execute(arguments, spec: spec, session: session, now: time)
        }
        if configuration.standalone, Self.clusterOnly.contains(id) {
            return Outcome(reply: .error("ERR This instance has cluster support disabled"))
        }
        if replicationMayRefuse, let refusal = replicationRefusal(spec, arguments, id: id, session: session) {
            guard session.inTransaction else { return Outcome(reply: refusal) }
            // As Redis: a refused command fails the transaction; a refused EXEC ends it.
            front.flagTransactionFailed(session)
            guard id == .exec, case .error(let text) = refusal else { return Outcome(reply: refusal) }
            return Outcome(reply: abortExec(session, because: text, now: time))
        }
        if busyScript != nil, let refusal = busyRefusal(spec, arguments, time: time) {
            guard session.inTransaction else { return Outcome(reply: refusal) }
            // As Redis: the refusal fails the transaction; an EXEC refused ends it.
            front.flagTransactionFailed(session)
            guard id == .exec, case .error(let text) = refusal else { return Outcome(reply: refusal) }
            return Outcome(reply: abortExec(session, because: text, now: time))
        }
        // As Redis: ASKING lasts for the one command that follows it, and so does CLIENT
        // CACHING (any CLIENT subcommand keeps it; a transaction keeps it to its end).
        let asking = session.asking
        session.asking = false
        let caching = session.trackingCaching
        if id != .client, !session.inTransaction { session.trackingCaching = false }
        if session.isSubscribed, session.protocolVersion == .resp2, !Self.allowedWhileSubscribed.contains(id) {
            return Outcome(reply: .error("ERR Can't execute '\(spec.name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
        }
        if id == .ping, session.isSubscribed, session.protocolVersion == .resp2, arguments.count <= 2 {
            return Outcome(reply: .array([.bulk("pong"), .bulk(arguments.count == 2 ? arguments[1] : [])]))
        }
        var arguments = arguments
        var script: ScriptRequest?
        if id == .fcall, arguments.count >= 2, isOutOfMemory,
           !front.functionRunsOutOfMemory(arguments[1]) {
            if session.inTransaction { front.flagTransactionFailed(session) }
            return Outcome(reply: Self.outOfMemory)
        }
        if Engine.scriptRuns.contains(id) {
            script = ScriptRequest(memoKey: Self.scriptMemoKey(arguments, id: id), request: arguments)
            // EVALSHA travels as EVAL with its body: the shard's replicas need not have it.
            let fallback: (String) -> Bytes? = { [self] sha in
                replicas.values.lazy.compactMap { $0.data?.engine.scriptBody(sha: sha) }.first
            }
            switch front.resolveScript(arguments, id: id, fallback: fallback) {
            case .success(let resolved):
                arguments = resolved
                if let resolvedSpec = CommandTable.lookup(resolved[0]), let resolvedID = resolvedSpec.id {
                    (spec, id) = (resolvedSpec, resolvedID)
                }
            case .failure(let early) where !session.inTransaction: return Outcome(reply: early.reply)
            case .failure: break  // queued as sent; EXEC answers the error, as Redis
            }
        }
        if script != nil, !session.inTransaction, id == .eval || id == .evalsha, Self.declaresWrites(arguments),
           let refusal = scriptWriteRefusal(session) {
            return Outcome(reply: refusal)
        }
        if isOutOfMemory {
            let denied = script.map { scriptDeniedWhenOutOfMemory(arguments, id: id, script: $0, session: session) }
                ?? Self.deniedWhenOutOfMemory(spec, arguments)
            if denied {
                if session.inTransaction { front.flagTransactionFailed(session) }
                return Outcome(reply: Self.outOfMemory)
            }
            // As Redis: an EXEC whose transaction holds a command that may grow memory.
            if id == .exec, let queued = session.queuedCommands,
               queued.contains(where: { command in CommandTable.lookup(command[0]).map { Self.deniedWhenOutOfMemory($0, command) } ?? false }) {
                guard case .error(let text) = Self.outOfMemory else { return Outcome(reply: Self.outOfMemory) }
                return Outcome(reply: abortExec(session, because: text, now: time))
            }
        }
        if session.inTransaction, spec.flags.contains("no_multi") {
            front.flagTransactionFailed(session)
            return Outcome(reply: .error("ERR Command not allowed inside a transaction"))
        }
        if session.inTransaction, id == .migrate {
            front.flagTransactionFailed(session)
            return Outcome(reply: .error("ERR MIGRATE cannot be queued in a transaction in Trestle (its transfer would hold the shard)"))
        }
        if session.inTransaction, !Self.immediateInTransaction.contains(id) {
            // As Redis Cluster: a queued command whose slot this node does not serve is
            // redirected at once, and the transaction is flagged so EXEC aborts it.
            let positions = spec.keyPositions(in: arguments)
            if let first = positions.first {
                let slot = HashSlot.of(key: arguments[first])
                switch locate(slot) {
                case .here: break
                case .elsewhere where configuration.proxy && !forwarded:
                    break  // EXEC forwards the whole transaction to the slot's leader
                case .elsewhere(_, let node, _):
                    front.flagTransactionFailed(session)
                    return Outcome(reply: Redirect.moved(slot: slot, to: node).reply)
                case .down(let reason):
                    front.flagTransactionFailed(session)
                    return Outcome(reply: reason.reply)
                }
            }
            return front.execute(arguments, spec: spec, session: session, now: time)
        }
        if let outcome = servePubSub(id, arguments, session: session, forwarded: forwarded, reply: reply) { return outcome }
        switch id {
        case .exec:
            executeTransaction(session, forwarded: forwarded, reply: reply)
            return nil
        case .watch where !session.inTransaction:
            watch(arguments, session: session, forwarded: forwarded, reply: reply)
            return nil
        case .unwatch, .discard, .reset:
            // As Redis: DISCARD without MULTI is an error that keeps the watches.
            if id != .discard || session.inTransaction { unwatchAll(session) }
            if id == .reset {
                session.readOnlyReplicaReads = false
                unsubscribeAll(session)
                monitors.removeAll { $0 == session.id }
                // As Redis: RESET turns client-side caching off.
                session.tracking = nil
                session.trackingCaching = false
                trackingChanged(session)
            }
            return front.execute(arguments, spec: spec, session: session, now: time)
        case .cluster:
            return Outcome(reply: clusterCommand(arguments, session: session))
        case .readonly, .readwrite:
            session.readOnlyReplicaReads = id == .readonly
            return Outcome(reply: .ok)
        case .asking:
            session.asking = true
            return Outcome(reply: .ok)
        case .trestle:
            administer(arguments, session: session, forwarded: forwarded, reply: reply)
            return nil
        case .acl where replicateACLChange(arguments, session: session, forwarded: forwarded, reply: reply):
            return nil
        case .swapdb where configuration.standalone:
            // Keyless, yet a write of the one shard's databases.
            return route(arguments, spec: spec, id: id, positions: [], session: session, forwarded: forwarded, reply: reply)
        case .dbsize, .keys, .scan, .randomkey, .flushall, .flushdb:
            if id == .flushall || id == .flushdb, arguments.count > 2
                || (arguments.count == 2 && !["async", "sync"].contains(String(decoding: arguments[1], as: UTF8.self).lowercased())) {
                return Outcome(reply: CommandError.syntax.reply)
            }
            if configuration.proxy, !forwarded {
                clusterWide(id, arguments, session: session, reply: reply)
                return nil
            }
            if id == .flushall || id == .flushdb {
                flushLedShards(id, arguments, session: session, reply: reply)
                return nil
            }
            let answer = id == .scan && forwarded ? scanRange(arguments, session: session) : nodeWideRead(id, arguments, session: session)
            // As Redis's SCAN and RANDOMKEY, the expired keys they met are removed before they answer.
            if id == .scan || id == .randomkey, expireMetByScan(answer: answer, database: session.database, reply: reply) { return nil }
            return Outcome(reply: answer)
        case .migrate:
            migrate(arguments, session: session, reply: reply)
            return nil
        case .monitor:
            if !monitors.contains(session.id) { monitors.append(session.id) }
            return Outcome(reply: .ok)
        case .sync, .psync:
            return startReplication(id, session: session)
        case .replicaof, .slaveof where configuration.standalone:
            return Outcome(reply: replicaOf(arguments, session: session))
        case .replconf:
            return replicationConfiguration(arguments, session: session)
        case .slowlog, .latency, .role, .lolwut, .shutdown, .debug:
            return serveDiagnostics(id, arguments, session: session, reply: reply)
        case .memory where arguments.count == 2:
            if let answer = memoryCommand(arguments) { return Outcome(reply: answer) }
        case .wait:
            return waitForReplicas(arguments, reply: reply)
        case .waitaof:
            return waitForAppendOnly(arguments, reply: reply)
        case .client where Self.isClientPause(arguments):
            if let answer = clientPauseCommand(arguments) { return Outcome(reply: answer) }
            return front.execute(arguments, spec: spec, session: session, now: time)  // wrong arity: its error
        case .client where arguments.count >= 3 && arguments.count <= 4
            && String(decoding: arguments[1], as: UTF8.self).lowercased() == "unblock":
            return Outcome(reply: clientUnblock(arguments))
        case .client where arguments.count >= 3 && String(decoding: arguments[1], as: UTF8.self).lowercased() == "tracking":
            let outcome = front.execute(arguments, spec: spec, session: session, now: time)
            trackingChanged(session)
            return outcome
        case .script where arguments.count == 2 && Self.lowercased(arguments[1]) == Array("kill".utf8):
            return Outcome(reply: killBusyScript(function: false))
        case .function where arguments.count == 2 && Self.lowercased(arguments[1]) == Array("kill".utf8):
            return Outcome(reply: killBusyScript(function: true))
        case .function where arguments.count == 2 && busyScript != nil && Self.lowercased(arguments[1]) == Array("stats".utf8):
            return Outcome(reply: functionStats(front.execute(arguments, spec: spec, session: session, now: time).reply))
        case .script where String(decoding: arguments[1], as: UTF8.self).lowercased() == "flush":
            // The shards' engines learned the scripts they ran (EVALSHA falls back to them).
            let outcome = front.execute(arguments, spec: spec, session: session, now: time)
            if outcome.reply == .ok { for replica in replicas.values { replica.data?.engine.flushScripts() } }
            return outcome
        case .function where ["load", "delete", "flush", "restore"].contains(String(decoding: arguments[1], as: UTF8.self).lowercased()):
            // Libraries live on every node (FCALL is resolved where the client sends it),
            // each keeping them in its data directory.
            let outcome = front.execute(arguments, spec: spec, session: session, now: time)
            if !outcome.reply.isError {
                recordFunctionsChange(arguments)
                // Functions are remembered as writers by name; a new library may give a
                // name another body (a write once is not a write for ever).
                scriptWriters.removeAll()
            }
            if forwarded || configuration.standalone { return outcome }
            return runEverywhere(arguments, outcome: outcome, reply: reply)
        case .script where !forwarded && !configuration.standalone && arguments.count == 3
            && String(decoding: arguments[1], as: UTF8.self).lowercased() == "load":
            // Leaders move, and a client loads a script only where it thinks they are:
            // every node learns a script loaded anywhere, before the client hears back (so
            // an EVALSHA sent next finds it on whichever node leads the key's shard).
            return runEverywhere(arguments, outcome: front.execute(arguments, spec: spec, session: session, now: time), reply: reply)
        default:
            break
        }
        let positions = spec.keyPositions(in: arguments)
        if positions.isEmpty, configuration.standalone, Engine.scriptRuns.contains(id) {
            // A script that declares no keys may still touch any: the one shard runs it.
            return route(arguments, spec: spec, id: id, positions: [], session: session, forwarded: forwarded,
                         script: script, reply: reply)
        }
        if positions.isEmpty, let script, needsTrial(script, id: id, session: session) {
            trialScript(arguments, id: id, replica: nil, slot: nil, session: session, script: script, reply: reply)
            return nil
        }
        guard !positions.isEmpty else {
            let outcome = front.execute(arguments, spec: spec, session: session, now: time)
            publishFromScripts(front)
            return outcome
        }
        if session.tracking != nil {
            let keys = positions.map { arguments[$0] }
            if spec.isWrite { noteTrackedWrite(keys, session: session) }
            if Engine.scriptRuns.contains(id) {
                return trackingScriptReads(keys, session: session, caching: caching, reply: reply) { reply in
                    route(arguments, spec: spec, id: id, positions: positions, session: session, forwarded: forwarded,
                          asking: asking, script: script, reply: reply)
                }
            }
            if !spec.isWrite { rememberReads(keys, session: session, caching: caching) }
        }
        return route(arguments, spec: spec, id: id, positions: positions, session: session, forwarded: forwarded, asking: asking,
                     script: script, reply: reply)
    }

    /// A node-local command that every node must also run (SCRIPT LOAD, FUNCTION LOAD...):
    /// when it succeeded here, it is forwarded to every other node and answered once all
    /// of them did; an error here is the answer at once.
    private func runEverywhere(_ arguments: [Bytes], outcome: Outcome, reply: @escaping ReplySink) -> Outcome? {
        if case .error = outcome.reply { return outcome }
        guard let others = map?.nodes.filter({ $0.id != me }), !others.isEmpty else { return outcome }
        var waiting = others.count
        for node in others {
            forward(arguments, to: node.id) { _ in
                waiting -= 1
                if waiting == 0 { reply(outcome.reply) }
            }
        }
        return nil
    }

    /// Routes a keyed request to its slot's shard. No positions (a keyless script on a
    /// standalone server) means slot 0, the one shard's.
    private func route(_ arguments: [Bytes], spec: CommandSpec, id: CommandID, positions: [Int], session: Session,
                       forwarded: Bool, asking: Bool = false, script: ScriptRequest? = nil, reply: @escaping ReplySink,
                       attempt: Int = 0) -> Outcome? {
        let slot = positions.first.map { HashSlot.of(key: arguments[$0]) } ?? HashSlot(0)
        // A standalone server has one shard: any keys may meet in one command.
        for position in positions.dropFirst() where !mayMeet(slot, HashSlot.of(key: arguments[position])) {
            if configuration.proxy, !forwarded, Self.splittable.contains(id) {
                splitAcrossSlots(arguments, id: id, positions: positions, session: session, reply: reply)
                return nil
            }
            return Outcome(reply: Redirect.crossSlot.reply)
        }
        var location = locate(slot)
        if asking, let importer = importedHere(slot) { location = .here(importer) }
        switch location {
        case .here(let replica):
            switch migrationRedirect(replica, slot: slot, write: spec.isWrite) {
            case .ask(_, let node)? where !forwarded:
                // Handed off, not yet flipped: the target's leader serves the slot. The
                // request goes there from here rather than as -ASK, which a client cannot
                // follow to a node its slot map does not list yet (a new node leading a
                // split-off shard; redis-py then fails the command). Only a peer that
                // forwarded the request gets -ASK, and follows it itself.
                forward([Array("TRESTLE".utf8), Array("ASKING".utf8)] + arguments, version: session.protocolVersion, to: node.id,
                        extraWait: Self.blockingWait(arguments, spec: spec, id: id), reply: reply)
                return nil
            case let redirect?:
                return Outcome(reply: redirect.reply)
            case nil:
                break
            }
            if let first = positions.first { load.record(slot: slot, key: arguments[first]) }
            if spec.isBlocking, Engine.blocks(arguments, id: id) {
                blockingWrite(replica, arguments, id: id, spec: spec, slot: slot, session: session, reply: reply)
            } else if let script, needsTrial(script, id: id, session: session) {
                trialScript(arguments, id: id, replica: replica, slot: slot, session: session, script: script, reply: reply)
            } else if spec.isWrite {
                proposePlainWrite(replica, arguments, database: session.database, version: session.protocolVersion, reply: reply)
            } else if replica.readsNow(), let data = replica.data, !handedOff(replica, slot) {
                // What `read` would do at once, without its closures.
                let engine = data.engine
                let answer = engine.executeRead(arguments, id: id, session: session, now: max(now(), data.lastRecordTime))
                publishAfterRead(engine)
                // Checked here first: most databases hold no key with a time to live.
                if engine.holdsExpiringKeys(database: session.database),
                   expireLazily(replica, arguments, positions: positions, database: session.database, answer: answer, reply: reply) {
                    return nil
                }
                return Outcome(reply: answer)
            } else {
                read(replica, slot: slot, session: session, expiring: (arguments, positions), reply: reply) { engine, now in
                    engine.executeRead(arguments, id: id, session: session, now: now)
                }
            }
            return nil
        case .elsewhere(let leader, let node, let shard):
            if !spec.isWrite, session.readOnlyReplicaReads, let follower = replicas[shard], let data = follower.data,
               followerMayServe(follower, slot: slot) {
                // READONLY: a follower answers from its applied state (may lag the leader
                // by up to `followerReadLagMilliseconds`).
                let answer = data.engine.executeRead(arguments, session: session, now: max(now(), data.lastRecordTime))
                if !data.engine.keyspaceNotifications.isEmpty { publishKeyspaceNotifications(data.engine) }
                return Outcome(reply: answer)
            }
            if configuration.proxy, !forwarded {
                forward(arguments, version: session.protocolVersion, to: leader, extraWait: Self.blockingWait(arguments, spec: spec, id: id)) { [self] (value: RESPValue) in
                    guard case .error(let text) = value, text.hasPrefix("MOVED ") || text.hasPrefix("TRYAGAIN") || text.hasPrefix("ASK ") else {
                        reply(value)
                        return
                    }
                    if text.hasPrefix("ASK "), let target = self.askTarget(text) {
                        // The slot was handed off and is not yet flipped: the target serves it.
                        self.forward([Array("TRESTLE".utf8), Array("ASKING".utf8)] + arguments, version: session.protocolVersion, to: target,
                                     extraWait: Self.blockingWait(arguments, spec: spec, id: id), reply: reply)
                        return
                    }
                    // The leader moved while the request travelled: one more try from here.
                    if let outcome = self.route(arguments, spec: spec, id: id, positions: positions, session: session, forwarded: true, reply: reply) {
                        reply(outcome.reply)
                    }
                }
                return nil
            }
            return Outcome(reply: Redirect.moved(slot: slot, to: node).reply)
        case .down(let reason):
            guard configuration.proxy, !forwarded, attempt < Self.proxyRetriesMax else { return Outcome(reply: reason.reply) }
            // A plain client cannot retry by itself: wait out a leader change here.
            guard deferredRoutes.count < Self.deferredRoutesMax else { return Outcome(reply: reason.reply) }
            deferredRoutes.append(DeferredRoute(due: now() + Self.proxyRetryMilliseconds) { [self] in
                if let outcome = self.route(arguments, spec: spec, id: id, positions: positions, session: session,
                                            forwarded: forwarded, reply: reply, attempt: attempt + 1) {
                    reply(outcome.reply)
                }
            })
            return nil
        }
    }

    /// Whether a follower may answer a READONLY read of `slot`: it follows a known leader
    /// and heard from it within `followerReadLagMilliseconds` (a candidate has not), has
    /// applied every entry it knows committed, and still holds the slot (else the client
    /// is redirected to the leader).
    func followerMayServe(_ replica: Replica, slot: HashSlot) -> Bool {
        guard replica.raft.roleKind == .follower, replica.raft.leader != .none, !handedOff(replica, slot),
              replica.raft.appliedIndex >= replica.raft.commitIndex else { return false }
        return Int64(replica.raft.ticksSinceLeaderContact) * configuration.tickMilliseconds <= configuration.followerReadLagMilliseconds
    }

    /// How much longer than a plain request a forwarded blocking command may take: its
    /// timeout, or a day for "forever".
    static func blockingWait(_ arguments: [Bytes], spec: CommandSpec, id: CommandID) -> Int64 {
        guard spec.isBlocking, Engine.blocks(arguments, id: id), let timeout = try? Engine.blockingTimeout(arguments, id: id) else { return 0 }
        return timeout == 0 ? 86_400_000 : timeout
    }

    /// Whether keys of these two slots may meet in one command or transaction: on a
    /// standalone server always; in proxy mode when one shard holds both (clients that are
    /// not cluster-aware do not place keys by slot, and one shard applies the command
    /// atomically); otherwise, as in Redis Cluster, only within one slot.
    func mayMeet(_ first: HashSlot, _ second: HashSlot) -> Bool {
        if first == second || configuration.standalone { return true }
        guard configuration.proxy, let map, let shard = map.shardID(forSlot: first) else { return false }
        return map.shardID(forSlot: second) == shard
    }

    /// In proxy mode, a request for a shard without a known leader is retried this often
    /// before the client gets -CLUSTERDOWN (about two election timeouts).
    static let proxyRetriesMax = 60
    static let proxyRetryMilliseconds: Int64 = 50
    /// Most proxied requests waiting out a leader change at once.
    static let deferredRoutesMax = 65536

    /// Retries the proxied requests whose wait is over, in the order they were deferred.
    func runDeferredRoutes() {
        guard !deferredRoutes.isEmpty else { return }
        let time = now()
        let due = deferredRoutes.filter { $0.due <= time }
        guard !due.isEmpty else { return }
        deferredRoutes.removeAll { $0.due <= time }
        for route in due { route.retry() }
        wantTurn()
    }

    /// Transactions and WATCH do not follow -ASK (the short window between a hand-off and
    /// the ownership flip): they are told to try again.
    static func withoutAsk(_ redirect: Redirect) -> Redirect {
        if case .ask(let slot, _) = redirect { return .tryAgain("slot \(slot.rawValue) is moving to another shard; retry") }
        return redirect
    }

    /// The node an `ASK slot host:port` error names.
    func askTarget(_ text: String) -> NodeID? {
        guard let address = text.split(separator: " ").last else { return nil }
        return map?.nodes.first { $0.clientAddress == address }?.id
    }

    enum SlotLocation {
        case here(Replica)
        case elsewhere(leader: NodeID, node: NodeInfo, shard: ShardID)
        case down(Redirect)
    }

    func locate(_ slot: HashSlot) -> SlotLocation {
        // The common case reads the map in place (`map` returns a copy).
        let directory = directoryMachine
        guard directory.hasMap else { return .down(.clusterDown("This node has not joined a cluster yet")) }
        guard let shard = directory.shardID(forSlot: slot) else { return .down(.clusterDown("Hash slot not served")) }
        if let replica = replicas[shard], replica.isLeader { return .here(replica) }
        guard let map else { return .down(.clusterDown("This node has not joined a cluster yet")) }
        if importedHere(slot) != nil {
            // This node leads the shard the slot was copied to, and its map has not flipped
            // yet: redirecting to the source (which has handed the slot off) would bounce
            // the client between the two until the map arrives.
            return .down(.tryAgain("slot \(slot.rawValue) is moving to a shard led here; this node's cluster map is behind; retry"))
        }
        var leader = leader(of: shard)
        if leader == .none, replicas[shard] == nil, let preferred = map.shard(shard)?.replicas.first(where: { $0 != me }) {
            // Not hosting the shard and no fresh word of its leader: send the client to the
            // node placement prefers; it answers or redirects with better knowledge.
            leader = preferred
        }
        guard leader != .none, leader != me, let node = map.node(leader) else {
            return .down(.clusterDown("The cluster is down: shard \(shard.rawValue) has no leader reachable from this node"))
        }
        return .elsewhere(leader: leader, node: node, shard: shard)
    }

    /// WAIT numreplicas timeout. A write is acknowledged only once a majority of its shard's
    /// replicas hold it, so the answer is known at once: the other replicas of that
    /// majority. Asked for more, the reply comes after the timeout, as Redis's would (a
    /// timeout of 0, which in Redis may block forever, answers at once).
    private func waitForReplicas(_ arguments: [Bytes], reply: @escaping ReplySink) -> Outcome? {
        guard let wanted = Int64(String(decoding: arguments[1], as: UTF8.self)),
              let timeout = Int64(String(decoding: arguments[2], as: UTF8.self)) else {
            return Outcome(reply: .error("ERR value is not an integer or out of range"))
        }
        guard timeout >= 0 else { return Outcome(reply: .error("ERR timeout is negative")) }
        let holding = Int64(configuration.replicationFactor / 2)
        guard wanted > holding, timeout > 0, deferredRoutes.count < Self.deferredRoutesMax else {
            return Outcome(reply: .integer(holding))
        }
        deferredRoutes.append(DeferredRoute(due: now() + min(timeout, Self.waitMillisecondsMax)) { reply(.integer(holding)) })
        wantTurn()
        return nil
    }

    /// WAITAOF numlocal numreplicas timeout (Redis 7.2): `[local, replicas]`, the copies of
    /// this client's acknowledged writes that are on disk. Local is 1 when the log is
    /// fsynced before a write is acknowledged (`--fsync always`) and 0 with `no`; with
    /// `everysec` the log is fsynced within a second, so the answer waits that long. Replicas
    /// are the other voters holding the write, as WAIT counts them. As in Redis, a request
    /// for more than that waits for its timeout (0: the most a WAIT is held) and then
    /// answers what holds.
    private func waitForAppendOnly(_ arguments: [Bytes], reply: @escaping ReplySink) -> Outcome? {
        guard let wantedLocal = Int64(String(decoding: arguments[1], as: UTF8.self)),
              let wantedReplicas = Int64(String(decoding: arguments[2], as: UTF8.self)),
              let timeout = Int64(String(decoding: arguments[3], as: UTF8.self)) else {
            return Outcome(reply: .error("ERR value is not an integer or out of range"))
        }
        guard timeout >= 0 else { return Outcome(reply: .error("ERR timeout is negative")) }
        guard wantedLocal >= 0, wantedReplicas >= 0 else { return Outcome(reply: .error("ERR value is out of range, must be positive")) }
        let replicas = Int64(configuration.replicationFactor / 2)
        let local: Int64 = configuration.fsync == .no ? 0 : 1
        let answer = RESPValue.array([.integer(local), .integer(replicas)])
        let satisfied = wantedLocal <= local && wantedReplicas <= replicas
        var delay: Int64 = 0
        if !satisfied { delay = timeout == 0 ? Self.waitMillisecondsMax : min(timeout, Self.waitMillisecondsMax) }
        if configuration.fsync == .everysec, wantedLocal > 0 { delay = max(delay, Self.everysecMilliseconds) }
        guard delay > 0, deferredRoutes.count < Self.deferredRoutesMax else { return Outcome(reply: answer) }
        deferredRoutes.append(DeferredRoute(due: now() + delay) { reply(answer) })
        wantTurn()
        return nil
    }

    /// The longest a WAIT that cannot be satisfied is held (a day).
    static let waitMillisecondsMax: Int64 = 86_400_000

    // MARK: - Reads

    /// A linearizable read on a replica this node leads: `body` runs against the applied
    /// state once the leadership is confirmed.
    /// With `slot`: the read is refused if the slot was handed off to another shard while
    /// it waited (its keys are gone from here).
    /// With `expiring` (a request and its key positions): the expired keys among them are
    /// removed before the answer (Node+LazyExpiry.swift).
    func read(_ replica: Replica, slot: HashSlot? = nil, session: Session, expiring: (arguments: [Bytes], positions: [Int])? = nil,
              reply: @escaping ReplySink,
              _ body: @escaping (Engine, Int64) -> RESPValue) {
        // Strong captures: the closure lives only until the read runs or fails (a dropped
        // replica fails its reads first). A weak reference would move the node's and the
        // replica's reference counts to side tables, slowing every retain on the hot path.
        let run: () -> Void = { [self] in
            guard let data = replica.data else { return reply(Redirect.tryAgain("shard moved; retry").reply) }
            if handedOff(replica, slot) { return reply(Redirect.tryAgain("slot \(slot?.rawValue ?? 0) moved to another shard; retry").reply) }
            let answer = body(data.engine, max(now(), data.lastRecordTime))
            publishAfterRead(data.engine)
            if let expiring, expireLazily(replica, expiring.arguments, positions: expiring.positions, database: session.database,
                                          answer: answer, reply: reply) { return }
            reply(answer)
        }
        queueRead(replica, run: run, fail: reply)
    }

    /// Runs a read at once when the replica may serve it now, else queues it (for the
    /// lease, the applied index or a ReadIndex round) and asks for a turn.
    private func queueRead(_ replica: Replica, run: @escaping () -> Void, fail: @escaping ReplySink) {
        if replica.readsNow() { return run() }
        replica.read(PendingRead(index: .zero, deadline: now() + configuration.requestTimeoutMilliseconds, run: run, fail: fail),
                     context: nextContext())
        wantTurn()
    }

    /// What every read does once it ran on a shard's engine: a read-only script's PUBLISH
    /// runs on this leader only, and the read's `keymiss` events are published by the node
    /// that served it (as each Redis Cluster node publishes its own).
    private func publishAfterRead(_ engine: Engine) {
        publishFromScripts(engine)
        if !engine.scriptCalls.isEmpty { countScriptCalls(engine) }
        if !engine.keyspaceNotifications.isEmpty { publishKeyspaceNotifications(engine) }
    }

    /// `read` for a body that answers by itself (through `reply`, now or later): it runs
    /// against the applied state once the leadership is confirmed, or `reply` gets the error.
    func readApplied(_ replica: Replica, slot: HashSlot? = nil, reply: @escaping ReplySink,
                     _ body: @escaping (Engine, Int64) -> Void) {
        let run: () -> Void = { [self] in
            guard let data = replica.data else { return reply(Redirect.tryAgain("shard moved; retry").reply) }
            if handedOff(replica, slot) { return reply(Redirect.tryAgain("slot \(slot?.rawValue ?? 0) moved to another shard; retry").reply) }
            body(data.engine, max(now(), data.lastRecordTime))
        }
        queueRead(replica, run: run, fail: reply)
    }

    // MARK: - Proxy: multi-key commands across slots

    private func splitAcrossSlots(_ arguments: [Bytes], id: CommandID, positions: [Int], session: Session, reply: @escaping ReplySink) {
        let step = id == .mset ? 2 : 1
        var groups: [HashSlot: [Int]] = [:]
        var order: [HashSlot] = []
        for position in positions {
            let slot = HashSlot.of(key: arguments[position])
            if groups[slot] == nil { order.append(slot) }
            groups[slot, default: []].append(position)
        }
        var results: [HashSlot: RESPValue] = [:]
        var remaining = order.count
        for slot in order {
            var part = [arguments[0]]
            for position in groups[slot] ?? [] { part.append(contentsOf: arguments[position..<(position + step)]) }
            let deliver: ReplySink = { value in
                results[slot] = value
                remaining -= 1
                if remaining == 0 { reply(Self.gather(id: id, arguments: arguments, positions: positions, groups: groups, results: results)) }
            }
            if let outcome = serve(part, session: session, forwarded: false, reply: deliver) { deliver(outcome.reply) }
        }
    }

    static func gather(id: CommandID, arguments: [Bytes], positions: [Int], groups: [HashSlot: [Int]], results: [HashSlot: RESPValue]) -> RESPValue {
        if let error = results.values.first(where: \.isError) { return error }
        switch id {
        case .mget:
            var byPosition: [Int: RESPValue] = [:]
            for (slot, members) in groups {
                guard case .array(let values) = results[slot] else { continue }
                for (offset, position) in members.enumerated() where offset < values.count { byPosition[position] = values[offset] }
            }
            return .array(positions.map { byPosition[$0] ?? .null })
        case .mset:
            return .ok
        default:
            var total: Int64 = 0
            for value in results.values { if case .integer(let count) = value { total += count } }
            return .integer(total)
        }
    }
}
