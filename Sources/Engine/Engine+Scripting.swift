// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: Lua scripts run in the engine's
// interpreter (Sources/Scripting), their commands through the same `run` as a client's.
//
// Invariants:
// - A script is a pure function of (state, body, KEYS, ARGV, time): a shard's replicas that
//   apply the same committed EVAL reach the same state (no clock, a per-run reseeded
//   math.random, an instruction budget instead of a time limit).
// - In a cluster every key a script touches hashes to one slot: its first declared key's,
//   or, when it declared none, the first key it touches (as Redis Cluster).
import Core
import Keyspace
import Scripting
import Synchronization
import Wire

extension Engine {
    /// Most script bodies the cache keeps (SCRIPT LOAD fails past it; EVAL runs uncached).
    public static let scriptBodiesMax = 100_000

    func runScriptCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        switch id {
        case .eval, .eval_ro:
            return try evaluate(body: arguments[1], arguments, readOnly: id == .eval_ro, session, now: now)
        case .evalsha, .evalsha_ro:
            let keyCount = try Self.scriptKeyCount(arguments)
            guard let body = scriptBodies[Self.scriptName(arguments[1])] else { throw .message(Self.noScript) }
            return try run(body: body, arguments, keyCount: keyCount, readOnly: id == .evalsha_ro, session, now: now)
        default:
            return try scriptCommand(arguments)
        }
    }

    static let noScript = "NOSCRIPT No matching script. Please use EVAL."

    /// EVALSHA and EVALSHA_RO as EVAL and EVAL_RO with the body from this engine's cache,
    /// so another engine (a shard's replicas) can run them; EVAL's body is cached. Other
    /// commands come back unchanged. A node calls this before routing a request.
    ///
    /// `fallback` finds bodies this engine has not seen (a node asks its replicas' engines,
    /// which learn every script their shard ran).
    public func resolveScript(_ arguments: [Bytes], id: CommandID,
                              fallback: (String) -> Bytes? = { _ in nil }) -> Result<[Bytes], CommandErrorReply> {
        guard Self.scriptRuns.contains(id) else { return .success(arguments) }
        do throws(CommandError) {
            _ = try Self.scriptKeyCount(arguments, function: id == .fcall || id == .fcall_ro)
        } catch {
            return .failure(CommandErrorReply(reply: error.reply))
        }
        switch id {
        case .eval, .eval_ro:
            cacheScript(arguments[1], sha: SHA1.hex(arguments[1]))
            return applyingShebang(arguments, readOnlyCommand: id == .eval_ro)
        case .fcall, .fcall_ro:
            return resolveFunctionCall(arguments, id: id)
        default:
            let body: Bytes
            if let recent = recentDigest, recent.name == arguments[1] {
                body = recent.body
            } else {
                let sha = Self.scriptName(arguments[1])
                if let cached = scriptBodies[sha] {
                    body = cached
                } else if let learned = fallback(sha) {
                    body = learned
                    cacheScript(body, sha: sha)
                } else {
                    return .failure(CommandErrorReply(reply: .error(Self.noScript)))
                }
                recentDigest = (arguments[1], body)
            }
            var resolved = arguments
            resolved[0] = id == .evalsha ? Self.evalWord : Self.evalReadOnlyWord
            resolved[1] = body
            return applyingShebang(resolved, readOnlyCommand: id == .evalsha_ro)
        }
    }

    /// A resolved EVAL or EVAL_RO judged by its script's shebang (Redis 7): a bad one is
    /// refused with Redis's error; `no-writes` makes it an EVAL_RO (its writes are refused,
    /// and it is routed as a read); a script without `no-writes` cannot run through a
    /// `_RO` command; `no-cluster` is refused on a cluster node. Without a shebang the
    /// script keeps the older rules.
    private func applyingShebang(_ resolved: [Bytes], readOnlyCommand: Bool) -> Result<[Bytes], CommandErrorReply> {
        switch Shebang.parse(resolved[1]) {
        case .failure(let error):
            return .failure(CommandErrorReply(reply: .error(error.message)))
        case .success(nil):
            return .success(resolved)
        case .success(let shebang?):
            if settings.clusterEnabled, shebang.flags.contains("no-cluster") {
                return .failure(CommandErrorReply(reply: .error("ERR Can not run script on cluster, 'no-cluster' flag is set.")))
            }
            let readOnly = shebang.flags.contains("no-writes")
            if readOnlyCommand, !readOnly {
                return .failure(CommandErrorReply(reply: .error("ERR Can not execute a script with write flag using *_ro command.")))
            }
            var judged = resolved
            if readOnly { judged[0] = Self.evalReadOnlyWord }
            return .success(judged)
        }
    }

    /// What EVALSHA and EVALSHA_RO become once resolved.
    static let evalWord = Array("EVAL".utf8), evalReadOnlyWord = Array("EVAL_RO".utf8)

    /// The commands that run a script.
    public static let scriptRuns: CommandIDSet = [.eval, .evalsha, .eval_ro, .evalsha_ro, .fcall, .fcall_ro]

    /// The number of keys an EVAL-family request declares, checked as Redis does.
    static func scriptKeyCount(_ arguments: [Bytes], function: Bool = false) throws(CommandError) -> Int {
        guard let count = Numbers.parseInteger(arguments[2]) else {
            throw function ? .message("ERR Bad number of keys provided") : .notInteger
        }
        guard count >= 0 else { throw .message("ERR Number of keys can't be negative") }
        guard count <= Int64(arguments.count - 3) else { throw .message("ERR Number of keys can't be greater than number of args") }
        return Int(count)
    }

    static func scriptName(_ bytes: Bytes) -> String { Arguments.lowercased(bytes) }

    /// Refreshes the access of the keys a trial's lookups would have touched, once its
    /// reply stands (it wrote nothing, so no log entry will run it again).
    public func touchAfterTrial(_ trial: ScriptTrial, now: Int64) {
        for touch in trial.touches { inDatabase(touch.database) { keyspace.touchAccess(touch.key, now: now) } }
    }

    /// Forgets every script body and compiled script (SCRIPT FLUSH).
    public func flushScripts() {
        scriptBodies.removeAll()
        scriptNames.removeAll()
        recentDigest = nil
        recentBody = nil
        interpreter?.flush()
    }

    /// The cached body of the script named `sha` (lowercase hex), if any.
    public func scriptBody(sha: String) -> Bytes? { scriptBodies[sha] }

    private func cacheScript(_ body: Bytes, sha: String) {
        guard scriptBodies[sha] == nil, scriptBodies.count < Self.scriptBodiesMax else { return }
        scriptBodies[sha] = body
        scriptNames[Key(body)] = sha
    }

    /// The SHA-1 name of a body, remembered for cached bodies (a shard applies EVALSHA as
    /// EVAL with the body: hashing the body is cheaper than SHA-1 on every run).
    private func scriptName(of body: Bytes) -> (sha: String, cached: Bool) {
        if let recent = recentBody, recent.body == body { return (recent.sha, true) }
        guard let known = scriptNames[Key(body)] else { return (SHA1.hex(body), false) }  // Key hashes the bytes in one call
        recentBody = (body, known)
        return (known, true)
    }

    private func evaluate(body: Bytes, _ arguments: [Bytes], readOnly: Bool, _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        let keyCount = try Self.scriptKeyCount(arguments)
        return try run(body: body, arguments, keyCount: keyCount, readOnly: readOnly, session, now: now)
    }

    private func run(body: Bytes, _ arguments: [Bytes], keyCount: Int, readOnly: Bool, _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        guard let interpreter else { throw .message("ERR Lua scripting is not available on this server") }
        let (sha, cached) = scriptName(of: body)
        if !cached {
            if let error = interpreter.compile(body, sha: sha) { return error }
            cacheScript(body, sha: sha)
        }
        // Slices, not copies: the interpreter copies them into KEYS and ARGV.
        let keys = arguments[3..<(3 + keyCount)]
        // Emptied, not reallocated: most scripts read a key or two (a large set is let go).
        if !scriptReadKeys.isEmpty { scriptReadKeys.removeAll(keepingCapacity: scriptReadKeys.count <= Self.scriptReadKeysKept) }
        scriptReadKeysOverflowed = false
        let trial = scriptTrial
        // Scripts do not nest (EVAL and FCALL are refused from a script): one context per
        // engine, set for each run, and one host whose closures hold only the engine.
        scriptContext = ScriptContext(readOnly: readOnly, trial: trial != nil,
                                      slot: settings.clusterEnabled ? keys.first.map { HashSlot.of(key: $0) } : nil, now: now)
        let seed = Self.scriptSeed(now: now, entry: scriptEntrySeed, base: settings.scriptRandomSeed)
        // The script's commands start in its caller's database; a SELECT it calls lasts
        // until it ends (Redis 7).
        scriptSession.database = selectedDatabase
        // The script's lookups touch keys as its caller's would (CLIENT NO-TOUCH).
        scriptSession.noTouch = session.noTouch
        defer { scriptSession.database = 0; scriptSession.noTouch = false }
        let firstCall = scriptCalls.count
        let reply = interpreter.run(sha: sha, body: body, keys: keys, arguments: arguments[(3 + keyCount)...],
                                    budget: trial?.unbounded == true ? 0 : settings.scriptInstructionLimit,
                                    sliceMilliseconds: trial?.sliceMilliseconds ?? 0,
                                    sliceInstructions: trial?.sliceInstructions ?? 0, seed: seed, host: scriptHost)
        if case .error(let text) = reply { countErrorOnce(text, callsFrom: firstCall) }
        if let trial {
            trial.stop = interpreter.lastStop
            trial.functionName = Self.calledFunction(body)
        }
        guard case .error = reply, let function = Self.calledFunction(body) else { return reply }
        return Self.functionError(reply, sha: sha, function: function)
    }

    /// When a script's error reply is the error one of its calls got (redis.call raised
    /// it, with the script's name appended, or the script returned pcall's error), that
    /// call's error is not counted on its own: the reply counts it.
    private func countErrorOnce(_ text: String, callsFrom first: Int) {
        guard first < scriptCalls.count else { return }
        for index in (first..<scriptCalls.count).reversed() {
            guard case .error(let callText) = scriptCalls[index].reply, text.hasPrefix(callText) else { continue }
            scriptCalls[index].countsError = false
            return
        }
    }

    /// math.random's seed for one script run, from the time and the log entry it runs at:
    /// scripts draw different numbers from run to run (Redis 7), and every replica of a
    /// shard, applying the same entry at the same stamped time, draws the same ones.
    static func scriptSeed(now: Int64, entry: UInt64, base: Int32) -> Int32 {
        var mixed = UInt64(bitPattern: now) &* 0x9E37_79B9_7F4A_7C15
        mixed ^= entry &* 0xC2B2_AE3D_27D4_EB4F
        mixed ^= UInt64(UInt32(bitPattern: base))
        mixed ^= mixed >> 31
        mixed &*= 0xBF58_476D_1CE4_E5B9
        mixed ^= mixed >> 29
        return Int32(truncatingIfNeeded: mixed)
    }

    /// What one script run has established: whether it may write, and its slot.
    struct ScriptContext {
        var readOnly = false
        /// A trial run (`scriptTrial`): its writes go to a copy, and are noted there.
        var trial = false
        var slot: HashSlot?
        /// The time the script runs at (its entry's stamp).
        var now: Int64 = 0
    }

    /// The interpreter's way back into this engine (`redis.call`, `redis.log`,
    /// `redis.acl_check_cmd`), made once: its closures hold the engine unowned (the engine
    /// owns the interpreter that calls them), and the running script's context lives in
    /// `scriptContext`.
    func makeScriptHost() -> ScriptHost {
        ScriptHost(
            call: { [unowned self] command, version in callFromScript(command, version: version) },
            log: { [unowned self] level, message in hooks.scriptLog(level, message) },
            aclCheck: { [unowned self] command in
                guard let spec = CommandTable.lookup(command[0]) else { return nil }
                guard let access = scriptTrial?.access else { return true }
                return access.control.denial(user: access.user, spec: spec, arguments: command) == nil
            })
    }

    /// A command a script called, as the node counts it in INFO commandstats.
    public struct ScriptCall {
        public let spec: CommandSpec
        public let arguments: [Bytes]
        /// The database it ran in.
        public let database: Int
        /// The error it answered, if any (OK otherwise).
        public var reply: RESPValue
        /// Whether its error counts in INFO errorstats: not when the script's own reply is
        /// that error (raised by redis.call, or a pcall's error returned), which counts
        /// once, as the script's, as in Redis.
        public var countsError = true
        /// Whether its error came from the checks before it ran (arity, not allowed from a
        /// script, a write from a read-only script, ACL, OOM, keys of another slot): Redis
        /// counts those calls as rejected, the others as failed.
        public var rejected = false
    }

    /// One `redis.call` from a script, noted in `scriptCalls` (a trial's too: the node
    /// drops them when the trial is void).
    private func callFromScript(_ arguments: [Bytes], version: ProtocolVersion) -> RESPValue {
        let spec = CommandTable.lookup(arguments[0])
        scriptCallRan = false
        let reply = runCallFromScript(arguments, spec: spec, version: version, now: scriptContext.now)
        if scriptCalls.count < Self.scriptCallsKeptMax, let spec {
            // Built in place: a copy made to set a field costs each call its retains.
            scriptCalls.append(ScriptCall(spec: spec, arguments: arguments, database: scriptSession.database,
                                          reply: reply.isError ? reply : .ok, rejected: reply.isError && !scriptCallRan))
        }
        return reply
    }

    /// Records the keys a read-only command called by the running script reads.
    private func noteScriptRead(_ arguments: [Bytes], positions: [Int]) {
        for position in positions {
            guard scriptReadKeys.count < Self.scriptReadKeysMax else {
                scriptReadKeysOverflowed = true
                return
            }
            scriptReadKeys.insert(Key(arguments[position]))
        }
    }

    /// One `redis.call` from a script: the command table's checks with Redis's script
    /// error texts, then the command itself.
    private func runCallFromScript(_ arguments: [Bytes], spec: CommandSpec?, version: ProtocolVersion, now: Int64) -> RESPValue {
        guard let spec, let id = spec.id else {
            return .error("ERR Unknown Redis command called from script")
        }
        guard spec.accepts(argumentCount: arguments.count), spec.subcommandRefusingArity(arguments) == nil else {
            return .error("ERR Wrong number of args calling Redis command from script")
        }
        let effective = arguments.count > 1 ? spec.subcommand(arguments[1]) ?? spec : spec
        guard (spec.allowedInScripts && effective.allowedInScripts) || settings.scriptsMayCallNoscriptCommands else {
            return .error("ERR This Redis command is not allowed from script")
        }
        if id == .debug {
            if let milliseconds = Self.debugSleepMilliseconds(of: arguments), let trial = scriptTrial {
                trial.sleptMilliseconds = min(Self.debugSleepMillisecondsMax, trial.sleptMilliseconds + milliseconds)
            }
            return Self.debugFromScript(arguments, version: version)
        }
        let context = scriptContext
        // Positions, not keys: a single-key command's are shared (no array per call).
        let positions = spec.keyPositions(in: arguments)
        if spec.isReadOnly, !scriptReadKeysOverflowed { noteScriptRead(arguments, positions: positions) }
        // As Redis: a read-only script may not call a may_replicate command either (PUBLISH
        // carries that flag in Redis; Trestle's table leaves it off so it is not routed as a
        // write), which also lets read-only scripts run under CLIENT PAUSE WRITE.
        if context.readOnly, spec.isWrite || id == .publish || id == .spublish {
            return .error("ERR Write commands are not allowed from read-only scripts.")
        }
        if context.trial, let trial = scriptTrial, let access = trial.access,
           let denial = access.control.denial(user: access.user, spec: spec, arguments: arguments) {
            if trial.denied == nil { trial.denied = denial }
            let message = denial.error(user: access.user).reply
            guard case .error(let text) = message else { return message }
            return .error("ERR ACL failure in script: " + text.dropFirst("NOPERM ".count))
        }
        if context.trial, let trial = scriptTrial, trial.outOfMemory, !trial.wrote, effective.flags.contains("denyoom") {
            return .error("OOM command not allowed when used memory > 'maxmemory'.")
        }
        if let refusal = checkScriptKeys(arguments, positions: positions) {
            return refusal
        }
        if context.trial, let trial = scriptTrial {
            let session = scriptSession
            if trial.recordsEffects, !context.readOnly {
                trial.noteAccess(id, keys: positions.map { arguments[$0] }) { watchDigest($0, now: now) }
            }
            if Self.lookupsTouch(id, session: session) { trial.noteTouches(positions.map { arguments[$0] }, database: session.database) }
        }
        if id == .publish || id == .spublish {
            // Sent by the node once the script's entry is applied; the number of receivers
            // is not known here, so the script sees 0.
            scriptPublishes.append(arguments)
            return .integer(0)
        }
        let session = scriptSession
        session.protocolVersion = version
        let reply: RESPValue
        let recording = recordsPropagation && spec.isWrite && !context.trial
        let database = session.database
        let before = recording ? changeCount(in: database) : 0
        scriptCallRan = true
        do {
            reply = try run(id, arguments, session, now: now).reply
        } catch {
            reply = error.reply
        }
        if recording { recordEffect(id, arguments, reply: reply, database: database, changedFrom: before, now: now) }

        if context.trial, spec.isWrite, let trial = scriptTrial, !reply.isError, !trial.noteWrite(arguments) {
            // Too much to replay as one entry: the caller sends the script to the log instead.
            interpreter?.halt()
        }
        return reply
    }

    /// DEBUG called from a script (only with `scriptsMayCallNoscriptCommands`): PROTOCOL
    /// gives its sample reply, as Redis's scripting tests use it; SLEEP returns at once (a
    /// script's time is its entry's, frozen while it runs) and adds to its trial's
    /// `sleptMilliseconds`, which the node holds the script's reply for; other subcommands
    /// are the node's, not the script's.
    private static func debugFromScript(_ arguments: [Bytes], version: ProtocolVersion) -> RESPValue {
        if arguments.count == 3, Arguments.isKeyword(arguments[1], "sleep") { return .ok }
        guard arguments.count == 3, Arguments.isKeyword(arguments[1], "protocol") else {
            return .error("ERR DEBUG \(Arguments.string(arguments[1]).uppercased()) cannot be called from a script in Trestle")
        }
        let name = Arguments.string(arguments[2]).lowercased()
        guard name != "push" else { return .error("ERR DEBUG PROTOCOL push cannot be called from a script") }
        return debugProtocolSample(name, resp3: version == .resp3)
    }

    /// DEBUG PROTOCOL <type>: one reply of each RESP3 type, as Redis sends them (`push`,
    /// which also sends a push message, is the node's).
    public static func debugProtocolSample(_ name: String, resp3: Bool) -> RESPValue {
        switch name {
        case "string": return .bulk("Hello World")
        case "integer": return .integer(12345)
        case "double": return .double(3.141)
        case "bignum": return .bigNumber("1234567999999999999999999999999999999")
        case "null": return .null
        case "array": return .array((0..<3).map { .integer($0) })
        case "set": return .set((0..<3).map { .integer($0) })
        case "map": return .map((0..<3).map { RESPPair(.integer($0), .boolean($0 == 1)) })
        case "attrib":
            // As Redis: an attribute (RESP3 only) before the reply.
            return .attributed([RESPPair("key-popularity", .array([.bulk("key:123"), .integer(90)]))],
                               .bulk("Some real reply following the attribute"))
        case "verbatim": return .verbatim(format: "txt", text: "This is a verbatim\nstring")
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        default:
            return .error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
        }
    }

    private func checkScriptKeys(_ arguments: [Bytes], positions: [Int]) -> RESPValue? {
        guard !positions.isEmpty else { return nil }
        if scriptKeysForbidden { return .error("ERR Script attempted to access a non local key in a cluster node script") }
        guard settings.clusterEnabled else { return nil }
        for position in positions {
            let slot = HashSlot.of(key: arguments[position])
            if scriptContext.slot == nil { scriptContext.slot = slot }
            if let first = scriptContext.slot, first != slot, !(scriptSlotsMayMeet?(first, slot) ?? false) {
                return .error("ERR Script attempted to access keys that do not hash to the same slot")
            }
        }
        return nil
    }

    // MARK: - SCRIPT

    private func scriptCommand(_ arguments: [Bytes]) throws(CommandError) -> RESPValue {
        let subcommand = Arguments.lowercased(arguments[1])
        switch subcommand {
        case "load" where arguments.count == 3:
            guard let interpreter else { throw .message("ERR Lua scripting is not available on this server") }
            let body = arguments[2]
            let sha = SHA1.hex(body)
            if let error = interpreter.compile(body, sha: sha) { return error }
            guard scriptBodies[sha] != nil || scriptBodies.count < Self.scriptBodiesMax else {
                throw .message("ERR script cache is full (\(Self.scriptBodiesMax) scripts); SCRIPT FLUSH empties it")
            }
            scriptBodies[sha] = body
            scriptNames[Key(body)] = sha
            return .bulk(sha)
        case "exists" where arguments.count >= 3:
            return .array(arguments[2...].map { .integer(scriptBodies[Self.scriptName($0)] == nil ? 0 : 1) })
        case "flush" where arguments.count <= 3:
            if arguments.count == 3 {
                let mode = Arguments.lowercased(arguments[2])
                guard mode == "sync" || mode == "async" else { throw .message("ERR SCRIPT FLUSH only support SYNC|ASYNC option") }
            }
            flushScripts()
            return .ok
        case "kill" where arguments.count == 2:
            // A script runs to its end (or its instruction budget) before anything else does.
            return .error("NOTBUSY No scripts in execution right now.")
        case "help" where arguments.count == 2:
            return .array(Self.scriptHelp.map { .simple($0) })
        case "load", "exists", "flush", "kill", "help":
            throw .wrongArity(command: "script|\(subcommand)")
        default:
            throw .unknownSubcommand(command: "script", subcommand: Arguments.string(arguments[1]))
        }
    }

    static let scriptHelp = [
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Print this help.",
    ]
}

/// A script run as a trial: on the node that received it, against a copy of its shard's
/// applied state, before anything enters the log (Node+BusyScripts.swift). Its writes
/// change only the copy; the node decides what becomes of them:
/// - a trial on the node's thread (`recordsEffects` false) that wrote is void: the script
///   goes to the log, where every replica runs it;
/// - a trial off the thread records its *effects*: the write commands it ran, in order,
///   and the digest of every key it touched as it was before, so the node can propose
///   them as one transaction that applies only if none of those keys changed since.
/// The rules a restricted caller's script runs under: a copy of the node's ACL (safe to
/// read from the thread a long script runs on) and the caller's user.
public struct ScriptAccess {
    public let control: AccessControl
    public let user: String

    public init(control: AccessControl, user: String) {
        self.control = control
        self.user = user
    }
}

public final class ScriptTrial {
    /// The caller's ACL, when its user is restricted: every command the script calls is
    /// checked against it, as Redis checks a script's calls (nil: nothing to check).
    public var access: ScriptAccess?
    /// The first call ACL refused (for ACL LOG, context `lua`), if any.
    public var denied: AccessControl.Denial?
    /// The node was past `maxmemory` when the script started: as Redis, its first call of
    /// a `denyoom` command before any write is refused with -OOM.
    public var outOfMemory = false
    /// Milliseconds the run may take (0: no limit).
    public let sliceMilliseconds: Int64
    /// VM instructions the run may take before its slice ends (0: no limit; the
    /// deterministic slice the simulator uses).
    public let sliceInstructions: Int64
    /// No instruction budget: a run off the event loop ends by itself or by SCRIPT KILL.
    public let unbounded: Bool
    /// Whether effects and digests are recorded (a trial off the node's thread).
    public let recordsEffects: Bool
    /// Why the run stopped (`.none`: it ended by itself).
    public var stop = LuaInterpreter.Stop.none
    /// The function the script ran (FCALL), or nil for an EVAL.
    public var functionName: String?
    /// What its DEBUG SLEEP calls add up to (the node holds the script's reply that long).
    public var sleptMilliseconds: Int64 = 0
    /// Keys whose access time the script's lookups would have refreshed (a trial's reads
    /// change only its copy): the node touches them once the trial's reply stands. At
    /// most `touchesMax`; past it the rest stay untouched.
    public private(set) var touches: [(database: Int, key: Bytes)] = []
    public static let touchesMax = 1024

    /// Notes `keys`, those of a call run in `database`.
    func noteTouches(_ keys: [Bytes], database: Int) {
        for key in keys where touches.count < Self.touchesMax { touches.append((database, key)) }
    }
    /// Write commands the script ran without an error, in order (when recorded).
    public private(set) var effects: [[Bytes]] = []
    /// The digest of each key the script touched, from before it did (when recorded).
    public private(set) var watches: [WatchedValue] = []
    /// False once the script ran a command that reaches keys it does not name (KEYS,
    /// SCAN, FLUSHALL, SORT's patterns...): watches cannot vouch for its effects.
    public private(set) var effectsCheckable = true
    private var watched: Set<Bytes> = []
    private var effectBytes = 0
    /// Set at the script's first successful write; read from other threads (SCRIPT KILL
    /// answers UNKILLABLE once a script wrote).
    private let wroteFlag = Atomic<Bool>(false)

    /// Most bytes of effects one trial records (under a replicated entry's limit).
    public static let effectBytesMax = 16 << 20
    /// Commands whose keyspace access their key positions do not name.
    /// Those that reach another database are in it too: a watch names a key, not its database.
    static let reachesUnnamedKeys: CommandIDSet = [.keys, .scan, .randomkey, .dbsize, .flushall, .flushdb, .swapdb,
                                                     .sort, .sort_ro, .move, .info, .memory, .debug, .select, .copy]

    public init(sliceMilliseconds: Int64, sliceInstructions: Int64 = 0, unbounded: Bool = false, recordsEffects: Bool = false) {
        self.sliceMilliseconds = sliceMilliseconds
        self.sliceInstructions = sliceInstructions
        self.unbounded = unbounded
        self.recordsEffects = recordsEffects
    }

    /// Whether the script has written (to its copy).
    public var wrote: Bool { wroteFlag.load(ordering: .relaxed) }

    /// Before a command of the script runs: the keys it names, digested at first touch.
    func noteAccess(_ id: CommandID, keys: [Bytes], digest: (Bytes) -> UInt64) {
        if Self.reachesUnnamedKeys.contains(id) { effectsCheckable = false }
        for key in keys where watched.insert(key).inserted {
            watches.append(WatchedValue(key: key, digest: digest(key)))
        }
    }

    /// After a write of the script succeeded. Returns false when the effects outgrew their
    /// bound (the script must stop).
    func noteWrite(_ arguments: [Bytes]) -> Bool {
        wroteFlag.store(true, ordering: .relaxed)
        guard recordsEffects else { return true }
        effectBytes += arguments.reduce(16) { $0 + $1.count + 16 }
        guard effectBytes <= Self.effectBytesMax else {
            effectsCheckable = false
            return false
        }
        effects.append(arguments)
        return true
    }
}

extension Engine {
    /// An engine that runs one script off the event loop: it holds an O(1) copy of this
    /// engine's keyspace and the same script rules, and shares nothing mutable with it, so
    /// it may be handed to another thread. Used once (its interpreter may be killed).
    public func scriptRunnerCopy() -> Engine {
        let runner = Engine.replica(settings: settings, now: 0)
        runner.databaseImage = databaseImage
        runner.keyspace.changeJournal = nil
        runner.keyspace.changeTracker = nil
        runner.keyspace.watchedKeys = []
        runner.keyspace.touchedWatched = []
        runner.scriptKeysForbidden = scriptKeysForbidden
        runner.scriptSlotsMayMeet = scriptSlotsMayMeet
        runner.scriptEntrySeed = scriptEntrySeed
        runner.hooks.scriptLog = hooks.scriptLog
        return runner
    }

    /// Runs an EVAL or EVAL_RO (EVALSHA and FCALL resolved) as `trial` (unbounded, with its
    /// effects recorded): it ends by itself or when killed; `trial` says which.
    public func runScriptTrial(_ arguments: [Bytes], id: CommandID, version: ProtocolVersion, database: Int = 0,
                               now: Int64, trial: ScriptTrial) -> RESPValue {
        scriptTrial = trial
        defer { scriptTrial = nil }
        let session = internalSession(address: "script", version: version)
        session.database = database
        return executeRead(arguments, id: id, session: session, now: now)
    }

    /// Stops the script this engine's interpreter runs, from any thread.
    public var scriptKillSwitch: KillSwitch? { interpreter?.killSwitch }
}
