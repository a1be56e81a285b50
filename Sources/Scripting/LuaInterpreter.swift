// One Lua 5.1 state running Redis scripts: compiles bodies once (by SHA-1), runs them with
// KEYS and ARGV, and converts values between Lua and RESP by Redis's documented rules.
//
// Contracts:
// - Deterministic: a run's result and the commands it issues depend only on the body,
//   KEYS, ARGV and the host's replies (no clock, no system randomness; math.random restarts
//   from one seed per run; the instruction budget is counted in VM instructions, not time).
// - Lua errors never unwind Swift frames: native functions that may fail report to C,
//   which raises (Sources/CLua).
// - Confined to one thread, like the engine that owns it.
import CLua
import Core
import Wire

typealias Bytes = [UInt8]

/// What a running script asks of its engine.
public struct ScriptHost {
    /// Runs one `redis.call` / `redis.pcall` command; `version` is the script's RESP
    /// version (redis.setresp). Returns the reply, an error reply included.
    public var call: (_ arguments: [[UInt8]], _ version: ProtocolVersion) -> RESPValue
    /// `redis.log(level, message)`.
    public var log: (_ level: Int, _ message: String) -> Void
    /// `redis.acl_check_cmd(command, ...)`: whether the caller may run it (nil: no such
    /// command).
    public var aclCheck: (_ arguments: [[UInt8]]) -> Bool?

    public init(call: @escaping ([[UInt8]], ProtocolVersion) -> RESPValue, log: @escaping (Int, String) -> Void,
                aclCheck: @escaping ([[UInt8]]) -> Bool? = { _ in true }) {
        self.call = call
        self.log = log
        self.aclCheck = aclCheck
    }
}

public final class LuaInterpreter {
    /// Bytes a state may allocate before allocations fail ("not enough memory").
    public static let memoryLimitDefault = 512 << 20
    /// Compiled scripts kept per state before the cache starts over.
    public static let compiledScriptsMax = 10_000
    /// Nesting of tables converted between Lua and RESP.
    static let conversionDepthMax = 256

    let state: OpaquePointer
    private let memoryLimit: Int
    /// Scripts compiled and not forgotten: SCRIPT's cache flushes itself past `compiledScriptsMax`.
    public private(set) var compiledCount = 0
    private var environmentRef: Int32 = 0
    private var currentRef: Int32 = 0
    private var handlerRef: Int32 = 0
    private var functionsRef: Int32 = 0
    /// The script run last and a registry reference to its compiled function: a script
    /// run again (the common case) is found without converting its name to a C string and
    /// looking it up in the table of compiled scripts. Reset whenever that table changes.
    private var lastRun: (sha: String, ref: Int32)?
    private var host: ScriptHost?
    var scriptVersion: ProtocolVersion = .resp2

    private enum NativeFunction: Int32 {
        case call = 0, pcall, sha1hex, log, setresp, aclCheck
    }

    /// A state with Redis's script environment, or nil when Lua cannot start one.
    public init?(memoryLimit: Int = LuaInterpreter.memoryLimitDefault) {
        guard let state = trestle_lua_open(memoryLimit) else { return nil }
        self.state = state
        self.memoryLimit = memoryLimit
        // Every stored property is set by now, so a nil here still runs deinit, which
        // closes the state (closing it here too freed it twice: a crash).
        guard installRedisTable(), installSandbox() else { return nil }
        lua_createtable(state, 0, 0)
        functionsRef = luaL_ref(state, trestle_lua_registry_index())
        lua_gc(state, LUA_GCSETPAUSE, Self.gcPausePercent)
    }

    /// The collector starts a cycle once the state grew to this percentage of what the
    /// last cycle left (Lua's default, 200, lets garbage double the state first; scripts
    /// whose runs leave much garbage, such as FCALL's, kept INFO used_memory_lua high).
    static let gcPausePercent: Int32 = 130

    deinit { trestle_lua_close(state) }

    /// Bytes the state holds now.
    public var memoryUsed: Int { trestle_lua_memory(state) }

    /// Forgets every compiled script (SCRIPT FLUSH) and collects them at once: Redis makes
    /// a new Lua state there, so INFO's used_memory_lua drops back to a fresh state's.
    public func flush() {
        forgetLastRun()
        luaL_unref(state, trestle_lua_registry_index(), functionsRef)
        lua_createtable(state, 0, 0)
        functionsRef = luaL_ref(state, trestle_lua_registry_index())
        compiledCount = 0
        lua_gc(state, LUA_GCCOLLECT, 0)
    }

    /// Forgets one compiled script (a body run once, such as FUNCTION LOAD's registering run).
    public func forget(sha: String) {
        forgetLastRun()
        lua_rawgeti(state, trestle_lua_registry_index(), functionsRef)
        lua_getfield(state, -1, sha)
        let known = lua_type(state, -1) != LUA_TNIL
        trestle_lua_pop(state, 1)
        if known {
            lua_pushnil(state)
            lua_setfield(state, -2, sha)
            compiledCount -= 1  // counted when compiled: the flush threshold sees only live scripts
        }
        trestle_lua_pop(state, 1)
    }

    /// Compiles `body` (named by `sha`) unless it is compiled already. Returns Redis's
    /// error reply when it does not compile.
    public func compile(_ body: [UInt8], sha: String) -> RESPValue? {
        if compiledFunction(sha) {
            trestle_lua_pop(state, 1)
            return nil
        }
        // An empty body has no buffer address: Lua gets an empty C string instead. A
        // shebang line is Redis's, not Lua's: it is left out (Shebang.swift).
        let chunk = Shebang.chunk(body)
        let status = chunk.isEmpty ? luaL_loadbuffer(state, "", 0, "@user_script") : chunk.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { luaL_loadbuffer(state, $0.baseAddress, buffer.count, "@user_script") }
        }
        guard status == 0 else {
            let message = string(at: -1) ?? "unknown error"
            trestle_lua_pop(state, 1)
            return .error("ERR Error compiling script (new function): \(message)")
        }
        if compiledCount >= Self.compiledScriptsMax { flushKeepingTop() }
        lua_rawgeti(state, trestle_lua_registry_index(), functionsRef)
        lua_pushvalue(state, -2)
        lua_setfield(state, -2, sha)
        trestle_lua_pop(state, 2)
        compiledCount += 1
        return nil
    }

    /// Why a run stopped before its end.
    public enum Stop: Int32, Sendable {
        case none = 0
        /// The instruction budget ran out (the reply is the budget error).
        case budget = 1
        /// The time slice ran out: the run is void (the host runs it again elsewhere).
        case slice = 2
        /// SCRIPT KILL or FUNCTION KILL (the reply is the kill error).
        case killed = 3
        /// The host halted it (`halt()`): the reply is void.
        case halted = 4
    }

    /// Why the last run stopped.
    public private(set) var lastStop = Stop.none
    /// Runs since the collector last took a step: as Redis, every `gcStepRuns` runs it takes
    /// one of that size, so garbage from many small scripts does not pile up to twice the
    /// live memory before a full cycle (Redis's "EVAL does not leak in the Lua stack").
    private var runsSinceStep = 0
    static let gcStepRuns = 50
    /// The running script's KEYS and ARGV (`stringArgument` reuses them).
    private var currentKeys: ArraySlice<Bytes> = []
    private var currentArguments: ArraySlice<Bytes> = []
    static let reusedInputsMax = 4
    /// Command names `redis.call` was given, kept to be reused (`commandName`).
    private var commandNames: [Bytes] = []
    static let commandNamesKept = 32

    /// Runs the compiled script `sha` (compile it first) with KEYS and ARGV, `budget` VM
    /// instructions at most (0: no limit), `sliceMilliseconds` of monotonic time at most
    /// (0: no limit; the only clock read, for hosts that may run the script again
    /// elsewhere) and `sliceInstructions` VM instructions (0: no limit; its deterministic
    /// form), math.random restarted from `seed`, asking `host` for commands. The
    /// reply is in RESP terms; the caller's encoder lowers RESP3 types for RESP2 clients.
    /// `lastStop` says afterwards whether the run was stopped and why.
    ///
    /// With `body`, a script not compiled (or flushed since) is compiled first, and its
    /// compile error is the reply.
    public func run(sha: String, body: [UInt8]? = nil, keys: ArraySlice<[UInt8]>, arguments: ArraySlice<[UInt8]>, budget: Int64,
                    sliceMilliseconds: Int64 = 0, sliceInstructions: Int64 = 0, seed: Int32 = 0,
                    host: ScriptHost) -> RESPValue {
        defer {
            self.host = nil
            lua_settop(state, 0)
            setCurrent(keys: nil, arguments: nil)
            currentKeys = []
            currentArguments = []
            trestle_lua_set_budget(state, 0)
            // A script that filled the state leaves garbage the next one should not meet.
            if memoryUsed > memoryLimit / 2 { lua_gc(state, LUA_GCCOLLECT, 0) }
            runsSinceStep += 1
            if runsSinceStep >= Self.gcStepRuns {
                lua_gc(state, LUA_GCSTEP, Int32(Self.gcStepRuns))
                runsSinceStep = 0
            }
        }
        lastStop = .none
        lua_settop(state, 0)
        guard lua_checkstack(state, 8) != 0 else { return .error("ERR Lua stack exhausted") }
        self.host = host
        scriptVersion = .resp2
        trestle_lua_reseed(state, seed)
        setCurrent(keys: keys, arguments: arguments)
        currentKeys = keys
        currentArguments = arguments
        lua_rawgeti(state, trestle_lua_registry_index(), handlerRef)
        if !compiledFunction(sha) {
            guard let body else { return .error("NOSCRIPT No matching script. Please use EVAL.") }
            if let error = compile(body, sha: sha) { return error }
            guard compiledFunction(sha) else { return .error("NOSCRIPT No matching script. Please use EVAL.") }
        }
        trestle_lua_set_budget(state, budget)
        trestle_lua_set_slice(state, sliceMilliseconds)
        trestle_lua_set_slice_instructions(state, sliceInstructions)
        trestle_lua_enforce_memory_limit(state, 1)
        let status = lua_pcall(state, 0, 1, 1)
        trestle_lua_enforce_memory_limit(state, 0)
        lastStop = Stop(rawValue: trestle_lua_stop_reason(state)) ?? .none
        // Where a killed script was when it stopped (Redis's kill text names it), read
        // before the budget's reset clears it.
        let stopSource = lastStop == .killed ? String(cString: trestle_lua_stop_source(state)) : ""
        let stopLine = trestle_lua_stop_line(state)
        trestle_lua_set_budget(state, 0)
        switch lastStop {
        case .budget: return .error(String(cString: trestle_lua_budget_error))
        case .killed:
            let place = stopSource.isEmpty ? "" : ", on \(stopSource):\(stopLine)."
            return .error(String(cString: trestle_lua_killed_error) + " script: \(sha)" + place)
        case .slice, .halted: return .error("ERR script stopped by the server")
        case .none: break
        }
        if status != 0 { return errorReply(sha: sha) }
        return toRESP(at: lua_gettop(state), depth: 0)
    }

    /// Stops the running script from inside one of its `redis.call`s: once the call
    /// returns, the script ends (pcall cannot catch it) and `lastStop` is `.halted`.
    public func halt() { trestle_lua_halt(state) }

    /// What stops this interpreter's running script from another thread.
    public var killSwitch: KillSwitch { KillSwitch(pointer: trestle_lua_kill_switch(state)) }

    // MARK: - Setup

    private func installRedisTable() -> Bool {
        let context = Unmanaged.passUnretained(self).toOpaque()
        lua_createtable(state, 0, 16)
        for (name, function, raises) in [("call", NativeFunction.call, true), ("pcall", .pcall, false),
                                         ("sha1hex", .sha1hex, true), ("log", .log, true), ("setresp", .setresp, true),
                                         ("acl_check_cmd", .aclCheck, true)] {
            trestle_lua_push_function(state, Self.trampoline, context, function.rawValue, raises ? 1 : 0)
            lua_setfield(state, -2, name)
        }
        lua_pushstring(state, Self.compatibleVersion)
        lua_setfield(state, -2, "REDIS_VERSION")
        lua_pushinteger(state, Self.compatibleVersionNumber)
        lua_setfield(state, -2, "REDIS_VERSION_NUM")
        lua_pushvalue(state, -1)
        lua_setfield(state, trestle_lua_globals_index(), "redis")
        // The helpers written in Lua get the table, `type` and `error`.
        guard load(Sandbox.redisHelpers, name: "=redis_helpers") else { return false }
        lua_pushvalue(state, -2)
        lua_getfield(state, trestle_lua_globals_index(), "type")
        lua_getfield(state, trestle_lua_globals_index(), "error")
        let status = lua_pcall(state, 3, 0, 0)
        lua_settop(state, 0)
        return status == 0
    }

    private func installSandbox() -> Bool {
        guard load(Sandbox.setup, name: "=sandbox"), lua_pcall(state, 0, 3, 0) == 0 else { return false }
        handlerRef = luaL_ref(state, trestle_lua_registry_index())
        currentRef = luaL_ref(state, trestle_lua_registry_index())
        // Every chunk compiled from now on, loadstring's included, sees the sandbox.
        lua_pushvalue(state, -1)
        environmentRef = luaL_ref(state, trestle_lua_registry_index())
        lua_replace(state, trestle_lua_globals_index())
        lua_settop(state, 0)
        return true
    }

    private func load(_ source: String, name: String) -> Bool {
        let bytes = Array(source.utf8)
        return bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { luaL_loadbuffer(state, $0.baseAddress, buffer.count, name) == 0 }
        }
    }

    /// Pushes the compiled function `sha` and returns true, or pushes nothing and returns false.
    private func compiledFunction(_ sha: String) -> Bool {
        if let lastRun, lastRun.sha == sha {
            lua_rawgeti(state, trestle_lua_registry_index(), lastRun.ref)
            return true
        }
        lua_rawgeti(state, trestle_lua_registry_index(), functionsRef)
        lua_getfield(state, -1, sha)
        lua_remove(state, -2)
        guard lua_type(state, -1) == LUA_TFUNCTION else {
            trestle_lua_pop(state, 1)
            return false
        }
        forgetLastRun()
        lua_pushvalue(state, -1)
        lastRun = (sha, luaL_ref(state, trestle_lua_registry_index()))
        return true
    }

    /// Drops the reference to the script run last (its function may be collected).
    private func forgetLastRun() {
        guard let lastRun else { return }
        luaL_unref(state, trestle_lua_registry_index(), lastRun.ref)
        self.lastRun = nil
    }

    private func flushKeepingTop() {
        forgetLastRun()
        luaL_unref(state, trestle_lua_registry_index(), functionsRef)
        lua_createtable(state, 0, 0)
        functionsRef = luaL_ref(state, trestle_lua_registry_index())
        compiledCount = 0
    }

    /// Sets the running script's KEYS and ARGV; nil drops them (after a run: no new
    /// tables, and the collector may have the old ones).
    private func setCurrent(keys: ArraySlice<Bytes>?, arguments: ArraySlice<Bytes>?) {
        lua_rawgeti(state, trestle_lua_registry_index(), currentRef)
        pushArray(keys)
        lua_setfield(state, -2, "KEYS")
        pushArray(arguments)
        lua_setfield(state, -2, "ARGV")
        trestle_lua_pop(state, 1)
    }

    /// Pushes `values` as a Lua array, or nil.
    private func pushArray(_ values: ArraySlice<Bytes>?) {
        guard let values else { return lua_pushnil(state) }
        lua_createtable(state, Int32(clamping: values.count), 0)
        for (index, value) in values.enumerated() {
            push(value)
            lua_rawseti(state, -2, Int32(clamping: index + 1))
        }
    }

    // MARK: - Native functions

    private static let trampoline: trestle_lua_callback = { context, state, kind in
        guard let context, let state else { return 1 }
        let interpreter = Unmanaged<LuaInterpreter>.fromOpaque(context).takeUnretainedValue()
        return interpreter.native(NativeFunction(rawValue: kind) ?? .call, state: state)
    }

    /// Runs a native function: pushes one value, and returns 1 when that value is an error.
    private func native(_ function: NativeFunction, state: OpaquePointer) -> Int32 {
        assert(state == self.state, "a native function ran on another state")
        switch function {
        case .call, .pcall: return redisCall()
        case .sha1hex:
            guard lua_gettop(state) == 1, let bytes = bytes(at: 1) else {
                return pushError("wrong number of arguments")
            }
            lua_pushstring(state, SHA1.hex(bytes))
            return 0
        case .log:
            guard lua_gettop(state) >= 2 else { return pushError("redis.log() requires two arguments or more.") }
            guard lua_type(state, 1) == LUA_TNUMBER else { return pushError("First argument must be a number (log level).") }
            let level = Int(lua_tointeger(state, 1))
            guard (0...3).contains(level) else { return pushError("Invalid debug level.") }
            var parts: [String] = []
            for index in 2...lua_gettop(state) {
                parts.append(string(at: index) ?? "")
            }
            host?.log(level, parts.joined(separator: " "))
            lua_pushnil(state)
            return 0
        case .aclCheck:
            let count = lua_gettop(state)
            guard count > 0 else { return pushError("Please specify at least one argument for this redis lib call") }
            var arguments: [Bytes] = []
            for index in 1...count {
                let type = lua_type(state, index)
                guard type == LUA_TSTRING || type == LUA_TNUMBER, let bytes = argument(at: index) else {
                    return pushError("Lua redis lib command arguments must be strings or integers")
                }
                arguments.append(bytes)
            }
            guard let allowed = host?.aclCheck(arguments) else { return pushError("Invalid command passed to redis.acl_check_cmd()") }
            lua_pushboolean(state, allowed ? 1 : 0)
            return 0
        case .setresp:
            guard lua_gettop(state) == 1 else { return pushError("redis.setresp() requires one argument.") }
            let version = lua_tointeger(state, 1)
            guard version == 2 || version == 3 else { return pushError("RESP version must be 2 or 3.") }
            scriptVersion = version == 3 ? .resp3 : .resp2
            lua_pushnil(state)
            return 0
        }
    }

    private func redisCall() -> Int32 {
        let count = lua_gettop(state)
        guard count > 0 else { return pushErrorTable("ERR Please specify at least one argument for this redis lib call") }
        var arguments: [Bytes] = []
        arguments.reserveCapacity(Int(count))
        for index in 1...count {
            let type = lua_type(state, index)
            guard type == LUA_TSTRING || type == LUA_TNUMBER,
                  let bytes = index == 1 ? commandName() : type == LUA_TSTRING ? stringArgument(at: index) : argument(at: index) else {
                return pushErrorTable("ERR Lua redis lib command arguments must be strings or integers")
            }
            arguments.append(bytes)
        }
        guard let host else { return pushErrorTable("ERR redis.call outside a script") }
        let reply = host.call(arguments, scriptVersion)
        lua_settop(state, 0)
        if case .error(let text) = reply { return pushErrorTable(text) }
        guard lua_checkstack(state, 4) != 0 else { return pushErrorTable("ERR reached lua stack limit") }
        push(reply, depth: 0)
        return 0
    }

    /// The command name at stack index 1 of a `redis.call`: one of the names scripts
    /// called before when it is one of them (the same bytes, no new array per call), else
    /// its bytes, remembered while fewer than `commandNamesKept` are.
    private func commandName() -> Bytes? {
        guard lua_type(state, 1) == LUA_TSTRING else { return argument(at: 1) }
        var length = 0
        guard let pointer = lua_tolstring(state, 1, &length) else { return nil }
        let called = UnsafeRawBufferPointer(start: pointer, count: length)
        for name in commandNames where name.count == length {
            if name.withUnsafeBytes({ $0.elementsEqual(called) }) { return name }
        }
        let name = Array(called)
        if commandNames.count < Self.commandNamesKept { commandNames.append(name) }
        return name
    }

    /// A string argument of a `redis.call`: the running script's KEYS or ARGV element with
    /// the same bytes when it is one of the first `reusedInputsMax` of them (most calls
    /// name a declared key: no new array for it), else its bytes.
    private func stringArgument(at index: Int32) -> Bytes? {
        var length = 0
        guard let pointer = lua_tolstring(state, index, &length) else { return nil }
        let given = UnsafeRawBufferPointer(start: pointer, count: length)
        for input in currentKeys.prefix(Self.reusedInputsMax) where input.count == length {
            if input.withUnsafeBytes({ $0.elementsEqual(given) }) { return input }
        }
        for input in currentArguments.prefix(Self.reusedInputsMax) where input.count == length {
            if input.withUnsafeBytes({ $0.elementsEqual(given) }) { return input }
        }
        return Array(given)
    }

    /// Pushes a plain error message (Lua adds no position to it) and reports failure.
    private func pushError(_ message: String) -> Int32 {
        lua_pushstring(state, message)
        return 1
    }

    private func pushErrorTable(_ text: String) -> Int32 {
        lua_createtable(state, 0, 1)
        push(Array(text.utf8))
        lua_setfield(state, -2, "err")
        return 1
    }

    // MARK: - Errors

    private func errorReply(sha: String) -> RESPValue {
        guard lua_type(state, -1) == LUA_TTABLE else {
            // Memory errors skip the handler: the value is Lua's message.
            return .error("ERR \(string(at: -1) ?? "unknown Lua error") script: \(sha)")
        }
        var text = field("err", of: -1) ?? "ERR unknown error"
        text += " script: \(sha)"
        if let source = field("source", of: -1), let line = field("line", of: -1) {
            text += ", on \(source):\(line)."
        }
        return .error(text)
    }

    private func field(_ name: String, of index: Int32) -> String? {
        let table = lua_gettop(state) + 1 + index  // `index` is negative, relative to the top
        lua_pushstring(state, name)
        lua_rawget(state, table)
        defer { trestle_lua_pop(state, 1) }
        let type = lua_type(state, -1)
        guard type == LUA_TSTRING || type == LUA_TNUMBER else { return nil }
        return string(at: -1)
    }

    /// The Redis version scripts see (redis.REDIS_VERSION).
    public static let compatibleVersion = "7.4.0"
    static let compatibleVersionNumber = 0x07_04_00
}

/// SCRIPT KILL's handle on a running script: `kill()` may be called from any thread while
/// its interpreter runs on another; the script stops within a few thousand instructions.
public struct KillSwitch: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer

    public func kill() { trestle_lua_kill(pointer) }
}
