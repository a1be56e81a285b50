// Busy scripts (Redis's `busy-reply-threshold`, -BUSY, SCRIPT KILL and FUNCTION KILL).
//
// A script in its shard's log runs on every replica, so it cannot be stopped on one of
// them (the replicas would disagree), and a long one holds the node's thread. So a script
// the node does not know to write runs first as a *trial* on the node that received it,
// against a copy of its shard's applied state (O(1); a write copies what it touches):
// - it ends without writing: that is its reply, and no log entry is needed;
// - it ends having written: the trial is void, and the script goes to the log, where every
//   replica runs it; the node remembers that it writes and sends it to the log at once
//   from then on (a short script: one that outran its slice keeps its trials);
// - it outruns its slice (`scriptSliceMilliseconds`): the trial is void, and the script
//   runs again from the start on a thread of its own (a `.runScript` job), on a copy of
//   the same state (the node did nothing in between), with no instruction budget,
//   recording its effects. The node keeps serving. Once the script has run
//   `busy-reply-threshold` milliseconds, every request other than those Redis allows
//   during a busy script is answered -BUSY; SCRIPT KILL (FUNCTION KILL for a function)
//   stops it unless it has written (UNKILLABLE, as Redis). When it ends, its effects (the
//   writes it ran, in order) are proposed as one transaction stamped with the time it ran
//   at and watching every key it touched: applied only if none of them changed since, and
//   otherwise, or when they cannot be vouched for (it used KEYS, FLUSHALL...), the script
//   itself goes to the log instead.
//
// Invariants:
// - At most one script runs off the node's thread; script requests that arrive meanwhile
//   wait for it (-BUSY past the threshold), in order.
// - A trial never changes the state a replica serves: its writes go to its copy.
// - A connection's requests after a trial script start only once it is answered (it is
//   not counted as a write by the pipeline's ordering rule), so a script that turns out
//   to write still enters the log before anything the same client sent after it.
import Core
import Engine
import Scripting
import Keyspace
import Wire

/// The script running off the node's thread.
final class BusyScript {
    let job: ScriptJob
    /// When the script started (its trial on the node's thread), in wall milliseconds.
    let started: Int64
    /// The function it runs (FCALL), or nil for EVAL.
    let functionName: String?
    /// The request as its client sent it (FUNCTION STATS shows it).
    let request: [Bytes]
    /// What to do with the job once it ran.
    let finish: (ScriptJob) -> Void
    /// The script's client, told if the node stops first.
    let reply: ReplySink
    var killed = false

    init(job: ScriptJob, started: Int64, functionName: String?, request: [Bytes], reply: @escaping ReplySink,
         finish: @escaping (ScriptJob) -> Void) {
        self.job = job
        self.started = started
        self.functionName = functionName
        self.request = request
        self.reply = reply
        self.finish = finish
    }

    /// Redis's answer to a request the busy script holds up.
    var refusal: RESPValue { .error(isFunction ? Node.busyFunctionText : Node.busyScriptText) }
    var isFunction: Bool { functionName != nil }
}

/// A script request as its client sent it: its name among known writers (`scriptMemoKey`)
/// and its words.
struct ScriptRequest {
    var memoKey: Int
    var request: [Bytes]
}

/// A script request waiting for the busy script to end.
struct WaitingScript {
    var start: () -> Void
    var refuse: ReplySink
}

extension Node {
    static let busyScriptText = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    static let busyFunctionText = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    static let notBusyText = "NOTBUSY No scripts in execution right now."
    static let unkillableText = "UNKILLABLE Sorry the script already executed write commands against the dataset. "
        + "You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
    /// Most script requests waiting for a busy script (more get -BUSY at once).
    static let scriptsWaitingMax = 10_000
    /// Scripts remembered as writing before the memory starts over.
    static let scriptWritersMax = 10_000

    // MARK: - Which scripts run as trials

    /// Whether a script request may start before the requests ahead of it are answered:
    /// only one known to write (it goes straight to the log, in order with other writes).
    func scriptMayPipeline(_ request: [Bytes], id: CommandID) -> Bool {
        guard request.count >= 3 else { return true }  // an arity error, answered at once
        return scriptWriters.contains(Self.scriptMemoKey(request, id: id))
    }

    /// Names a script for the memory of writers: EVAL by its body, EVALSHA by its SHA-1,
    /// FCALL by its function (as sent, before EVALSHA and FCALL are resolved to bodies).
    static func scriptMemoKey(_ request: [Bytes], id: CommandID) -> Int {
        if id == .evalsha || id == .evalsha_ro, let digest = digestPrefix(request[1]) {
            // A SHA-1 is a hash already: its first 64 bits name the script without hashing
            // it again. (A clash with another name only sends a script to the log without
            // a trial, which is always correct.)
            return Int(bitPattern: UInt(digest))
        }
        var hasher = Hasher()
        let name: Bytes
        switch id {
        case .eval, .eval_ro: hasher.combine(0); name = request[1]
        case .evalsha, .evalsha_ro: hasher.combine(1); name = Self.lowercased(request[1])
        default: hasher.combine(2); name = Self.lowercased(request[1])
        }
        // The bytes in one call (an array would feed the hasher one byte at a time).
        hasher.combine(name.count)
        name.withUnsafeBytes { hasher.combine(bytes: $0) }
        return hasher.finalize()
    }

    /// The first 16 hex digits of a 40-digit SHA-1 name (either case) as a number; nil
    /// for anything else.
    static func digestPrefix(_ name: Bytes) -> UInt64? {
        guard name.count == 40 else { return nil }
        var value: UInt64 = 0
        for byte in name[0..<16] {
            let nibble: UInt8
            switch byte {
            case 48...57: nibble = byte - 48
            case 97...102: nibble = byte - 87
            case 65...70: nibble = byte - 55
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    /// ASCII lowercase; the bytes themselves (no copy) when they have no capital.
    static func lowercased(_ bytes: Bytes) -> Bytes {
        guard bytes.contains(where: { $0 >= 65 && $0 <= 90 }) else { return bytes }
        return bytes.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
    }

    /// Whether a script runs as a trial before (or instead of) its log entry: a read-only
    /// one, one not known to write, and every script of a restricted ACL user, whose calls
    /// the trial checks (a script going straight to the log would not be).
    func needsTrial(_ script: ScriptRequest, id: CommandID, session: Session) -> Bool {
        id == .eval_ro || !scriptWriters.contains(script.memoKey) || scriptAccess(for: session) != nil
            || scriptWriteRefusal(session) != nil
    }

    /// Whether a flag-less script's `denyoom` calls are refused past `maxmemory`: not for a
    /// shebang with `allow-oom`, nor for a function (FUNCTION's flags were judged before
    /// it ran).
    static func scriptObeysMemoryLimit(_ arguments: [Bytes]) -> Bool {
        guard arguments.count > 1, Engine.calledFunction(arguments[1]) == nil else { return false }
        if case .success(let shebang?) = Shebang.parse(arguments[1]) { return !shebang.flags.contains("allow-oom") }
        return true
    }

    /// The rules a script of `session` runs under, when its user is restricted.
    func scriptAccess(for session: Session) -> ScriptAccess? {
        guard let user = session.user, front.restricts(user) else { return nil }
        return ScriptAccess(control: front.acl, user: user)
    }

    /// After a trial: a call ACL refused goes to ACL LOG (context `lua`), as Redis logs
    /// it. Returns the refusal to answer instead of logging the script when it went on to
    /// write (a replay in the log is not checked, so it must not carry a refused call).
    func checkedTrial(_ trial: ScriptTrial, session: Session) -> RESPValue? {
        guard let denial = trial.denied, let user = trial.access?.user else { return nil }
        front.recordScriptDenial(denial, user: user, session, now: now())
        guard trial.wrote, case .error(let text) = denial.error(user: user).reply else { return nil }
        return .error("ERR ACL failure in script: " + text.dropFirst("NOPERM ".count))
    }

    func rememberScriptWrites(_ memoKey: Int) {
        if scriptWriters.count >= Self.scriptWritersMax { scriptWriters.removeAll() }
        scriptWriters.insert(memoKey)
    }

    // MARK: - Trials

    /// Runs a resolved script request (EVAL or EVAL_RO with its body) as a trial on
    /// `replica`'s applied state, or on the front engine for a cluster's keyless script
    /// (`replica` nil). `script` is the request as sent (its name among known writers).
    func trialScript(_ arguments: [Bytes], id: CommandID, replica: Replica?, slot: HashSlot?, session: Session,
                     script: ScriptRequest, reply: @escaping ReplySink) {
        if let busy = busyScript {
            if now() - busy.started >= Int64(front.settings.busyReplyThresholdMilliseconds) || scriptsWaiting.count >= Self.scriptsWaitingMax {
                return reply(busy.refusal)
            }
            scriptsWaiting.append(WaitingScript(start: { [self] in
                trialScript(arguments, id: id, replica: replica, slot: slot, session: session, script: script, reply: reply)
            }, refuse: reply))
            return
        }
        guard let replica else {
            return runTrial(arguments, id: id, engine: front, now: now(), replica: nil, slot: nil, session: session, script: script,
                            reply: reply)
        }
        readApplied(replica, slot: slot, reply: reply) { [self] engine, now in
            runTrial(arguments, id: id, engine: engine, now: now, replica: replica, slot: slot, session: session, script: script,
                     reply: reply)
        }
    }

    private func runTrial(_ arguments: [Bytes], id: CommandID, engine: Engine, now time: Int64, replica: Replica?, slot: HashSlot?,
                          session: Session, script: ScriptRequest, reply: @escaping ReplySink) {
        if busyScript != nil {
            // Another script went off the thread while this one waited for its read.
            return trialScript(arguments, id: id, replica: replica, slot: slot, session: session, script: script, reply: reply)
        }
        let started = now()
        let trial = ScriptTrial(sliceMilliseconds: configuration.scriptSliceMilliseconds,
                                sliceInstructions: configuration.scriptSliceInstructions)
        trial.access = scriptAccess(for: session)
        trial.outOfMemory = isOutOfMemory && Self.scriptObeysMemoryLimit(arguments)
        // math.random differs from run to run (Redis 7): trials have no log index to seed
        // from, so they count (high bit set, apart from indexes); a job reruns the same seed.
        scriptTrialsRun &+= 1
        engine.scriptEntrySeed = scriptTrialsRun | 1 << 63
        // The trial writes to a copy: the first write to each slot copies that slot.
        let applied = engine.databaseImage
        let before = (events: engine.keyspaceNotifications.count, publishes: engine.scriptPublishes.count,
                      changes: engine.changedKeys.count, calls: engine.scriptCalls.count)
        engine.scriptTrial = trial
        let answer = engine.executeRead(arguments, id: id, session: session, now: time)
        engine.scriptTrial = nil
        engine.databaseImage = applied
        if trial.wrote || trial.stop == .slice || trial.stop == .halted {
            // Void: what it published, notified or changed was on the copy only.
            engine.scriptPublishes.removeSubrange(min(before.publishes, engine.scriptPublishes.count)...)
            engine.keyspaceNotifications.removeSubrange(min(before.events, engine.keyspaceNotifications.count)...)
            engine.changedKeys.removeSubrange(min(before.changes, engine.changedKeys.count)...)
            // Its calls count when the script runs for real.
            engine.dropScriptCalls(after: before.calls)
        }
        if trial.stop == .slice {
            return offload(arguments, id: id, from: engine, now: time, started: started, functionName: trial.functionName,
                           replica: replica, session: session, script: script, reply: reply)
        }
        if trial.stop != .slice, let refusal = checkedTrial(trial, session: session) { return reply(refusal) }
        // As Redis, where DEBUG SLEEP in a script holds the server: the reply comes that
        // much later. A script that sleeps is not remembered as a writer, so it keeps its
        // trial (which measures the sleep).
        let reply = holding(reply, milliseconds: trial.sleptMilliseconds)
        if trial.wrote || trial.stop == .halted {
            // A read-only replica's client, or too few good replicas: a script that would
            // write is refused whole.
            if let refusal = scriptWriteRefusal(session) { return reply(refusal) }
            if trial.sleptMilliseconds == 0 { rememberScriptWrites(script.memoKey) }
            return proposeScript(arguments, replica: replica, session: session, reply: reply)
        }
        engine.touchAfterTrial(trial, now: time)
        publishFromScripts(engine)
        if !engine.keyspaceNotifications.isEmpty { publishKeyspaceNotifications(engine) }
        countScriptCalls(engine)
        reply(answer)
    }

    /// A script that writes: into its shard's log (a cluster's keyless script runs on the
    /// front engine, as it always did).
    private func proposeScript(_ arguments: [Bytes], replica: Replica?, session: Session, reply: @escaping ReplySink) {
        guard let replica else {
            let answer = front.execute(arguments, session: session, now: now()).reply
            countScriptCalls(front)
            return reply(answer)
        }
        proposeWrite(replica, commands: [arguments], transaction: false, watches: [], database: session.database,
                     version: session.protocolVersion, reply: reply)
    }

    private func offload(_ arguments: [Bytes], id: CommandID, from engine: Engine, now time: Int64, started: Int64, functionName: String?,
                         replica: Replica?, session: Session, script: ScriptRequest, reply: @escaping ReplySink) {
        let job = ScriptJob(id: nextScriptJob, engine: engine.scriptRunnerCopy(), arguments: arguments, command: id,
                            version: session.protocolVersion, database: session.database, time: time)
        nextScriptJob += 1
        job.trial.access = scriptAccess(for: session)
        job.trial.outOfMemory = isOutOfMemory && Self.scriptObeysMemoryLimit(arguments)
        logger.info("a script outran its slice: it runs on its own thread, and SCRIPT KILL can stop it",
                    metadata: ["job": "\(job.id)", "function": "\(functionName ?? "")"])
        busyScript = BusyScript(job: job, started: started, functionName: functionName, request: script.request,
                                reply: reply) { [self] job in
            if job.trial.stop != .killed, let refusal = checkedTrial(job.trial, session: session) { return reply(refusal) }
            switch job.trial.stop {
            case .killed:
                reply(job.reply)  // whatever it wrote was on its copy only
            case .halted:
                rememberScriptWrites(script.memoKey)
                proposeScript(arguments, replica: replica, session: session, reply: reply)
            case .none, .budget, .slice:
                countScriptCalls(job.engine)
                guard job.trial.wrote else {
                    publishFromScripts(job.engine)
                    return reply(job.reply)
                }
                // Not remembered as a writer: a long script keeps its trial, so its next
                // call is busy (and killable until it writes) too, rather than holding
                // the node's thread in the log.
                proposeEffects(of: job, replica: replica, session: session, reply: reply)
            }
        }
        emit(.runScript(job))
    }

    /// A busy script that wrote: its effects, as one transaction stamped with the time it
    /// ran at, that applies only if no key it touched changed since (else, or when its
    /// effects cannot be vouched for, the script itself goes to the log and runs again).
    private func proposeEffects(of job: ScriptJob, replica: Replica?, session: Session, reply: @escaping ReplySink) {
        let planted = configuration.mutations.unwatchedScriptEffects
        guard let replica, let data = replica.data, job.trial.effectsCheckable,
              planted || (job.time >= data.lastRecordTime && job.time >= replica.lastStampedTime) else {
            return proposeScript(job.arguments, replica: replica, session: session, reply: reply)
        }
        proposeWrite(replica, commands: job.trial.effects, transaction: true, watches: planted ? [] : job.trial.watches,
                     database: job.database, version: session.protocolVersion, stamp: planted ? nil : job.time) { [self] value in
            switch value {
            case .array:
                publishFromScripts(job.engine)
                reply(job.reply)
            case .nullArray:
                proposeScript(job.arguments, replica: replica, session: session, reply: reply)
            default:
                reply(value)  // an error: the effects are not known to be applied
            }
        }
    }

    /// `.scriptRan`: the busy script ended; the scripts waiting for it start, in order.
    func scriptRan(_ job: ScriptJob) {
        guard let busy = busyScript, busy.job === job else { return }
        busyScript = nil
        if busy.killed { logger.notice("a busy script was killed (SCRIPT KILL or FUNCTION KILL)", metadata: ["job": "\(job.id)"]) }
        busy.finish(job)
        let waiting = scriptsWaiting
        scriptsWaiting = []
        for script in waiting { script.start() }
        wantTurn()
    }

    // MARK: - While busy

    /// The -BUSY answer for a request, if the busy script holds it up: past the threshold,
    /// everything but what Redis allows then (AUTH, HELLO, MULTI, SCRIPT KILL, FUNCTION
    /// KILL and STATS, SHUTDOWN NOSAVE, ...; its table's `allow_busy` flag).
    func busyRefusal(_ spec: CommandSpec, _ arguments: [Bytes], time: Int64) -> RESPValue? {
        guard let busy = busyScript, time - busy.started >= Int64(front.settings.busyReplyThresholdMilliseconds) else { return nil }
        if spec.id == .trestle { return nil }  // the cluster's own traffic between nodes
        let effective = arguments.count > 1 ? spec.subcommand(arguments[1]) ?? spec : spec
        guard effective.flags.contains("allow_busy") else { return busy.refusal }
        if spec.id == .shutdown, !arguments.dropFirst().contains(where: { Self.lowercased($0) == Array("nosave".utf8) }) {
            return busy.refusal  // as Redis: only SHUTDOWN NOSAVE leaves a busy script behind
        }
        return nil
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL, with Redis's checks in its order.
    func killBusyScript(function: Bool) -> RESPValue {
        guard let busy = busyScript else { return .error(Self.notBusyText) }
        guard !busy.job.trial.wrote else { return .error(Self.unkillableText) }
        guard busy.isFunction == function else { return busy.refusal }
        busy.killed = true
        busy.job.kill()
        return .ok
    }

    /// FUNCTION STATS while a function is busy: Redis's `running_script` (name, command,
    /// duration_ms) in place of the front engine's null.
    func functionStats(_ stats: RESPValue) -> RESPValue {
        guard let busy = busyScript, let name = busy.functionName, case .map(var pairs) = stats,
              let index = pairs.firstIndex(where: { $0.key == .bulk(Array("running_script".utf8)) || $0.key == .simple("running_script") })
        else { return stats }
        pairs[index].value = .map([RESPPair("name", .bulk(Array(name.utf8))),
                                   RESPPair("command", .array(busy.request.map { .bulk($0) })),
                                   RESPPair("duration_ms", .integer(now() - busy.started))])
        return .map(pairs)
    }

    /// The timer: past the threshold, the script requests waiting for the busy script get
    /// -BUSY, as Redis answers the clients it held while the script ran.
    func refuseWaitingScripts() {
        guard let busy = busyScript, !scriptsWaiting.isEmpty,
              now() - busy.started >= Int64(front.settings.busyReplyThresholdMilliseconds) else { return }
        let waiting = scriptsWaiting
        scriptsWaiting = []
        for script in waiting { script.refuse(busy.refusal) }
    }

    /// The node stops: the busy script is killed and its client told.
    func stopBusyScript() {
        guard let busy = busyScript else { return }
        busyScript = nil
        busy.job.kill()
        busy.reply(.error("ERR server shutting down"))
        for script in scriptsWaiting { script.refuse(.error("ERR server shutting down")) }
        scriptsWaiting = []
    }
}
