// Redis 7 functions: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL and FCALL,
// FCALL_RO, on the same Lua interpreter as EVAL.
//
// A library is Lua code after a `#!lua name=<library>` line that calls
// `redis.register_function` for each function it offers. LOAD runs the code once in a
// registering mode (the shebang line replaced by a one-line prelude, so line numbers in
// errors stay the library's own) to learn its functions, their flags and descriptions.
// FCALL becomes an EVAL (EVAL_RO for a `no-writes` function or FCALL_RO) of the library's
// code followed by a call of the function with KEYS and ARGV: a shard's replicas run it
// like any script, needing no library of their own, and a node resolves it before routing
// exactly as it resolves EVALSHA.
//
// Libraries are kept by each node in memory (a cluster node forwards LOAD, DELETE, FLUSH
// and RESTORE to every node); unlike Redis they are not written to disk.
import Core
import Keyspace
import Scripting
import Wire

/// A loaded library: its code and the functions it registered.
public struct FunctionLibrary: Sendable, Equatable {
    public var name: String
    public var code: Bytes
    public var functions: [LibraryFunction]
}

public struct LibraryFunction: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var flags: [String]
}

extension Engine {
    /// Most libraries one node keeps (as the script cache's bound: Redis's own suite loads
    /// 50,000).
    public static let librariesMax = 100_000

    static let functionNotFound = "ERR Function not found"

    // MARK: - FCALL

    /// FCALL / FCALL_RO as EVAL / EVAL_RO of the function's library (see the file comment).
    func resolveFunctionCall(_ arguments: [Bytes], id: CommandID) -> Result<[Bytes], CommandErrorReply> {
        do throws(CommandError) {
            _ = try Self.scriptKeyCount(arguments, function: true)
        } catch {
            return .failure(CommandErrorReply(reply: error.reply))
        }
        guard let (library, function) = lookupFunction(arguments[1]) else {
            return .failure(CommandErrorReply(reply: .error(Self.functionNotFound)))
        }
        let noWrites = function.flags.contains("no-writes")
        if id == .fcall_ro, !noWrites {
            return .failure(CommandErrorReply(reply: .error("ERR Can not execute a script with write flag using *_ro command.")))
        }
        if settings.clusterEnabled, function.flags.contains("no-cluster") {
            return .failure(CommandErrorReply(reply: .error("ERR Can not run script on cluster, 'no-cluster' flag is set.")))
        }
        var resolved = arguments
        resolved[0] = Array((noWrites ? "EVAL_RO" : "EVAL").utf8)
        resolved[1] = Self.callingBody(library.code, function: function.name)
        return .success(resolved)
    }

    /// Whether FCALL of `name` may run while memory is over `maxmemory`: a function flagged
    /// `no-writes` or `allow-oom` (or an unknown one, which fails on its own), as Redis.
    public func functionRunsOutOfMemory(_ name: Bytes) -> Bool {
        guard let (_, function) = lookupFunction(name) else { return true }
        return function.flags.contains("no-writes") || function.flags.contains("allow-oom")
    }

    /// Whether `name` is a function flagged `no-writes` (FCALL of it only reads).
    public func functionIsReadOnly(_ name: Bytes) -> Bool {
        lookupFunction(name)?.1.flags.contains("no-writes") ?? false
    }

    private func lookupFunction(_ name: Bytes) -> (FunctionLibrary, LibraryFunction)? {
        guard let libraryName = functionLibraries[Arguments.lowercased(name)], let library = libraries[libraryName],
              let function = library.functions.first(where: { $0.name.lowercased() == Arguments.lowercased(name) }) else { return nil }
        return (library, function)
    }

    /// The library's code with its shebang line replaced by `prelude` (one line), run as a
    /// function in Redis's load environment (the sandbox's `__trestle_library`: a top-level
    /// `return` in the library stays legal), then `epilogue`. The prelude defines
    /// `__trestle_register`, what the load API's `register_function` does.
    private static func body(_ code: Bytes, prelude: String, epilogue: String, function: String = "") -> Bytes {
        let rest = code.firstIndex(of: UInt8(ascii: "\n")).map { Array(code[$0...]) } ?? []
        return Array("\(prelude) \(loadAPI) __trestle_library(function(...) -- \(functionMarker)\(function)".utf8) + rest
            + Array("\nend, __trestle_api)\n\(epilogue)".utf8)
    }

    /// The `redis` a library's code sees while it loads (one line): `register_function`,
    /// `log`, the log levels and the version, nothing else; read-only.
    private static let loadAPI = """
        local __trestle_api = setmetatable({}, {__index = function(_, k) \
        if k == 'register_function' then return __trestle_register end \
        if k == 'log' or k == 'LOG_DEBUG' or k == 'LOG_VERBOSE' or k == 'LOG_NOTICE' or k == 'LOG_WARNING' \
        or k == 'REDIS_VERSION' or k == 'REDIS_VERSION_NUM' then return redis[k] end \
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end, \
        __newindex = function() error('Attempt to modify a readonly table', 2) end})
        """

    /// Ends the prelude's line; FCALL's bodies add the function's name after it.
    static let functionMarker = "trestle-function:"

    /// FCALL's body: the library loads (its functions collected, unchecked: LOAD checked
    /// them), then the function runs. As in Redis, a function finds no `register_function`
    /// in `redis`, and one it kept from the load API refuses to register.
    static func callingBody(_ code: Bytes, function: String) -> Bytes {
        body(code, prelude: "local __trestle_functions, __trestle_loaded = {}, false local __trestle_register = function(a, b) "
             + "if __trestle_loaded then error('redis.register_function can only be called on FUNCTION LOAD command', 0) end "
             + "if type(a) == 'table' then __trestle_functions[a.function_name] = a.callback else __trestle_functions[a] = b end end",
             epilogue: "__trestle_loaded = true return __trestle_functions['\(function)'](KEYS, ARGV)", function: function)
    }

    /// The function an FCALL body runs (from its first line's marker), for error texts.
    public static func calledFunction(_ body: Bytes) -> String? {
        let firstLine = body.prefix { $0 != UInt8(ascii: "\n") }
        guard firstLine.starts(with: Array("local __trestle_functions".utf8)),
              let marker = Arguments.string(Array(firstLine)).range(of: functionMarker) else { return nil }
        return String(Arguments.string(Array(firstLine))[marker.upperBound...])
    }

    /// A script error as Redis words it for a function: named by the function, in
    /// `user_function`.
    static func functionError(_ reply: RESPValue, sha: String, function: String) -> RESPValue {
        guard case .error(let text) = reply else { return reply }
        return .error(text.replacingOccurrences(of: "script: \(sha), on @user_script:", with: "script: \(function), on @user_function:")
            .replacingOccurrences(of: "user_script:", with: "user_function:"))
    }

    /// The prelude of LOAD's registering run: checks each registration as Redis does and
    /// returns {name, has description, description, flags...} per function. As in Redis,
    /// the load run sees no global but `redis`, and of it only `register_function`, `log`,
    /// the log levels and the version (`loadAPI`).
    private static let registeringPrelude = """
        local __trestle_registered = {} local __trestle_flags = {['no-writes'] = true, ['allow-oom'] = true, \
        ['allow-stale'] = true, ['no-cluster'] = true, ['allow-cross-slot-keys'] = true} \
        local __trestle_register = function(...) \
        local count, a, b = select('#', ...), ... local name, callback, flags, description \
        if count == 1 then \
        if type(a) ~= 'table' then error('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).', 0) end \
        for k, v in pairs(a) do \
        if type(k) ~= 'string' then error('named argument key given to redis.register_function is not a string', 0) \
        elseif k == 'function_name' then if type(v) ~= 'string' then error('function_name argument given to redis.register_function must be a string', 0) end name = v \
        elseif k == 'callback' then if type(v) ~= 'function' then error('callback argument given to redis.register_function must be a function', 0) end callback = v \
        elseif k == 'flags' then flags = v \
        elseif k == 'description' then if type(v) ~= 'string' then error('description argument given to redis.register_function must be a string', 0) end description = v \
        else error('unknown argument given to redis.register_function', 0) end end \
        if name == nil then error('redis.register_function must get a function name argument', 0) end \
        if callback == nil then error('redis.register_function must get a callback argument', 0) end \
        elseif count == 2 then \
        if type(a) ~= 'string' then error('first argument to redis.register_function must be a string', 0) end \
        if type(b) ~= 'function' then error('second argument to redis.register_function must be a function', 0) end \
        name, callback = a, b \
        else error('wrong number of arguments to redis.register_function', 0) end \
        if not string.find(name, '^[%w_]+$') then error('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long', 0) end \
        local entry = {name, description and '1' or '0', description or ''} \
        if flags ~= nil then if type(flags) ~= 'table' then error('flags argument to redis.register_function must be a table representing function flags', 0) end \
        for _, flag in ipairs(flags) do if not __trestle_flags[flag] then error('unknown flag given', 0) end entry[#entry + 1] = flag end end \
        for _, other in ipairs(__trestle_registered) do if other[1] == name then error('Function already exists in the library', 0) end end \
        __trestle_registered[#__trestle_registered + 1] = entry end
        """

    // MARK: - FUNCTION

    func functionCommand(_ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        let subcommand = Arguments.lowercased(arguments[1])
        switch subcommand {
        case "load": return try functionLoad(arguments, now: now)
        case "list": return try functionList(arguments)
        case "delete" where arguments.count == 3:
            guard let library = libraries.removeValue(forKey: Arguments.string(arguments[2])) else { throw .message("ERR Library not found") }
            for function in library.functions { functionLibraries.removeValue(forKey: function.name.lowercased()) }
            return .ok
        case "flush" where arguments.count <= 3:
            if arguments.count == 3, !["sync", "async"].contains(Arguments.lowercased(arguments[2])) {
                throw .message("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
            }
            libraries.removeAll()
            functionLibraries.removeAll()
            return .ok
        case "dump" where arguments.count == 2: return .bulk(Self.dumpLibraries(libraries.values.sorted { $0.name < $1.name }))
        case "restore" where arguments.count == 3 || arguments.count == 4: return try functionRestore(arguments, now: now)
        case "stats" where arguments.count == 2:
            let counts: RESPValue = .map([RESPPair("libraries_count", .integer(libraries.count)),
                                          RESPPair("functions_count", .integer(functionLibraries.count))])
            return .map([RESPPair("running_script", .null), RESPPair("engines", .map([RESPPair("LUA", counts)]))])
        case "kill" where arguments.count == 2:
            // The node answers while a function is busy (Node+BusyScripts.swift); here none is.
            return .error("NOTBUSY No scripts in execution right now.")
        case "help" where arguments.count == 2:
            return .array(Self.functionHelp.map { .simple($0) })
        case "flush" where arguments.count > 3, "restore" where arguments.count > 4:
            // Past the table's arity (-2, -3) Redis's own check answers this way.
            throw .message("ERR unknown subcommand or wrong number of arguments for '\(Arguments.string(arguments[1]))'. Try FUNCTION HELP.")
        case "delete", "flush", "dump", "restore", "stats", "kill", "help":
            throw .wrongArity(command: "function|\(subcommand)")
        default:
            throw .unknownSubcommand(command: "function", subcommand: Arguments.string(arguments[1]))
        }
    }

    /// FUNCTION LOAD [REPLACE] code: the library's name.
    private func functionLoad(_ arguments: [Bytes], now: Int64) throws(CommandError) -> RESPValue {
        var replace = false
        var index = 2
        while index < arguments.count - 1 {
            guard Arguments.lowercased(arguments[index]) == "replace" else {
                throw .message("ERR Unknown option given: \(Arguments.string(arguments[index]))")
            }
            replace = true
            index += 1
        }
        guard index < arguments.count else { throw .message("ERR Function code is missing") }
        let library = try compileLibrary(arguments[index], now: now)
        try install(library, replace: replace)
        return .bulk(library.name)
    }

    /// Parses the shebang line and runs the code in registering mode.
    func compileLibrary(_ code: Bytes, now: Int64) throws(CommandError) -> FunctionLibrary {
        let name = try Self.libraryName(code)
        guard let interpreter else { throw .message("ERR Lua scripting is not available on this server") }
        let body = Self.body(code, prelude: Self.registeringPrelude, epilogue: "return __trestle_registered")
        let sha = SHA1.hex(body)
        if case .error(let text)? = interpreter.compile(body, sha: sha) {
            let message = Self.withoutErrorCode(text).replacingOccurrences(of: "Error compiling script (new function): ", with: "")
            throw .message("ERR Error compiling function: \(message.replacingOccurrences(of: "user_script:", with: "user_function:"))")
        }
        let host = ScriptHost(call: { _, _ in .error("ERR redis.call can not be called on FUNCTION LOAD") }, log: hooks.scriptLog)
        let result = interpreter.run(sha: sha, keys: [], arguments: [], budget: settings.scriptInstructionLimit,
                                     seed: settings.scriptRandomSeed, host: host)
        interpreter.forget(sha: sha)
        guard case .array(let entries) = result else {
            if case .error(let text) = result {
                if interpreter.lastStop == .budget { throw .message("ERR FUNCTION LOAD timeout") }
                // Without the interpreter's " script: <sha>, on @user_script:N." trailer.
                let message = text.range(of: " script: ").map { String(text[..<$0.lowerBound]) } ?? text
                throw .message("ERR Error registering functions: \(message.replacingOccurrences(of: "user_script:", with: "user_function:"))")
            }
            throw .message("ERR No functions registered")
        }
        let functions = entries.compactMap { entry -> LibraryFunction? in
            guard case .array(let fields) = entry, fields.count >= 3, case .bulk(let name) = fields[0],
                  case .bulk(let hasDescription) = fields[1], case .bulk(let description) = fields[2] else { return nil }
            let flags = fields.dropFirst(3).compactMap { field -> String? in
                if case .bulk(let flag) = field { return Arguments.string(flag) } else { return nil }
            }
            return LibraryFunction(name: Arguments.string(name), description: hasDescription == Array("1".utf8) ? Arguments.string(description) : nil,
                                   flags: flags)
        }
        guard !functions.isEmpty else { throw .message("ERR No functions registered") }
        return FunctionLibrary(name: name, code: code, functions: functions.sorted { $0.name < $1.name })
    }

    /// Redis's functionExtractLibMetaData: `#!lua name=<name>`.
    /// The words of a shebang line as Redis's sdssplitargs reads them: separated by
    /// blanks, with "double" (C escapes) and 'single' quoted parts anywhere in a word (the
    /// quotes dropped: `name="foo"` is `name=foo`). Nil for an unbalanced quote or a
    /// closing quote followed by something other than a blank.
    static func splitArguments(_ line: Bytes) -> [String]? {
        var words: [String] = []
        var index = 0
        while true {
            while index < line.count, isBlank(line[index]) { index += 1 }
            guard index < line.count else { return words }
            var word: Bytes = []
            while index < line.count, !isBlank(line[index]) {
                let byte = line[index]
                if byte == doubleQuote || byte == singleQuote {
                    // A quoted part ends the word: only a blank may follow it.
                    guard let end = quotedPart(line, from: index + 1, quote: byte, into: &word) else { return nil }
                    index = end
                    break
                }
                word.append(byte)
                index += 1
            }
            words.append(String(decoding: word, as: UTF8.self))
        }
    }

    private static let doubleQuote = UInt8(ascii: "\""), singleQuote = UInt8(ascii: "'"), backslash = UInt8(ascii: "\\")

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d || byte == 0x00 }

    /// Appends the quoted part that starts at `start` (just after its opening `quote`) to
    /// `word`: C escapes in "double" quotes, only \' in 'single' ones. Returns the index
    /// after the closing quote; nil when it is missing or followed by other than a blank.
    private static func quotedPart(_ line: Bytes, from start: Int, quote: UInt8, into word: inout Bytes) -> Int? {
        var index = start
        while index < line.count {
            let byte = line[index]
            if byte == backslash, index + 1 < line.count, quote == doubleQuote || line[index + 1] == singleQuote {
                let escaped = line[index + 1]
                word.append(quote == doubleQuote ? unescaped(escaped) : escaped)
                index += 2
            } else if byte == quote {
                index += 1
                return index == line.count || isBlank(line[index]) ? index : nil
            } else {
                word.append(byte)
                index += 1
            }
        }
        return nil
    }

    /// The byte a C escape (`\n`, `\t`...) in double quotes stands for.
    private static func unescaped(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "n"): 0x0a
        case UInt8(ascii: "r"): 0x0d
        case UInt8(ascii: "t"): 0x09
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "a"): 0x07
        default: byte
        }
    }

    static func libraryName(_ code: Bytes) throws(CommandError) -> String {
        guard code.starts(with: Array("#!".utf8)) else { throw .message("ERR Missing library metadata") }
        guard let end = code.firstIndex(of: UInt8(ascii: "\n")) else { throw .message("ERR Invalid library metadata") }
        // As Redis: the whole line is split, and the engine is the first word past "#!"
        // ("#! name=x" names the engine '').
        guard let parts = splitArguments(Array(code[..<end])), let first = parts.first else { throw .message("ERR Invalid library metadata") }
        let engine = String(first.dropFirst(2))
        var name: String?
        for part in parts.dropFirst() {
            guard part.lowercased().hasPrefix("name=") else { throw .message("ERR Invalid metadata value given: \(part)") }
            guard name == nil else { throw .message("ERR Invalid metadata value, name argument was given multiple times") }
            name = String(part.dropFirst(5))
        }
        guard let name else { throw .message("ERR Library name was not given") }
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw .message("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
        }
        guard engine.lowercased() == "lua" else { throw .message("ERR Engine '\(engine)' not found") }
        return name
    }

    /// Adds `library` (replacing one of its name when `replace`), refusing a function
    /// name another library already has.
    private func install(_ library: FunctionLibrary, replace: Bool, restoring: Bool = false) throws(CommandError) {
        let old = libraries[library.name]
        if old != nil, !replace {
            throw .message(restoring ? "ERR Library \(library.name) already exists" : "ERR Library '\(library.name)' already exists")
        }
        for function in library.functions {
            if let owner = functionLibraries[function.name.lowercased()], owner != library.name {
                throw .message("ERR Function \(function.name) already exists")
            }
        }
        guard old != nil || libraries.count < Self.librariesMax else {
            throw .message("ERR too many libraries (\(Self.librariesMax)); FUNCTION DELETE or FLUSH some")
        }
        for function in old?.functions ?? [] { functionLibraries.removeValue(forKey: function.name.lowercased()) }
        libraries[library.name] = library
        for function in library.functions { functionLibraries[function.name.lowercased()] = library.name }
    }

    /// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
    private func functionList(_ arguments: [Bytes]) throws(CommandError) -> RESPValue {
        var withCode = false
        var pattern: Bytes?
        var index = 2
        while index < arguments.count {
            let argument = Arguments.lowercased(arguments[index])
            if !withCode, argument == "withcode" {
                withCode = true
            } else if pattern == nil, argument == "libraryname" {
                guard index + 1 < arguments.count else { throw .message("ERR library name argument was not given") }
                index += 1
                pattern = arguments[index]
            } else {
                throw .message("ERR Unknown argument \(Arguments.string(arguments[index]))")
            }
            index += 1
        }
        let selected = libraries.values.sorted { $0.name < $1.name }.filter { library in
            pattern.map { Glob.matches(pattern: $0, Array(library.name.utf8)) } ?? true
        }
        return .array(selected.map { library in
            var fields = [RESPPair("library_name", .bulk(library.name)), RESPPair("engine", .bulk("LUA")),
                          RESPPair("functions", .array(library.functions.map { function in
                              .map([RESPPair("name", .bulk(function.name)),
                                    RESPPair("description", function.description.map { .bulk($0) } ?? .null),
                                    RESPPair("flags", .set(function.flags.map { .bulk($0) }))])
                          }))]
            if withCode { fields.append(RESPPair("library_code", .bulk(library.code))) }
            return .map(fields)
        })
    }

    /// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
    private func functionRestore(_ arguments: [Bytes], now: Int64) throws(CommandError) -> RESPValue {
        let policy = arguments.count == 4 ? Arguments.lowercased(arguments[3]) : "append"
        guard ["flush", "append", "replace"].contains(policy) else {
            throw .message("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
        }
        guard let codes = Self.undumpLibraries(arguments[2]) else { throw .message("ERR DUMP payload version or checksum are wrong") }
        var restored: [FunctionLibrary] = []
        for code in codes { restored.append(try compileLibrary(code, now: now)) }
        let saved = (libraries, functionLibraries)
        if policy == "flush" {
            libraries.removeAll()
            functionLibraries.removeAll()
        }
        do {
            for library in restored { try install(library, replace: policy != "append", restoring: true) }
        } catch {
            (libraries, functionLibraries) = saved  // all or nothing, as Redis
            throw error
        }
        return .ok
    }

    // MARK: - Persistence

    /// Every library as a FUNCTION DUMP payload (what the node keeps in its data directory).
    public func dumpedFunctions() -> Bytes {
        Self.dumpLibraries(libraries.keys.sorted().compactMap { libraries[$0] })
    }

    /// Replaces every library with those of a FUNCTION DUMP payload (a node starting up);
    /// all or nothing.
    public func loadFunctions(_ payload: Bytes, now: Int64) throws(CommandError) {
        guard let codes = Self.undumpLibraries(payload) else { throw .message("ERR DUMP payload version or checksum are wrong") }
        var restored: [FunctionLibrary] = []
        for code in codes { restored.append(try compileLibrary(code, now: now)) }
        let saved = (libraries, functionLibraries)
        libraries.removeAll()
        functionLibraries.removeAll()
        do {
            for library in restored { try install(library, replace: true, restoring: true) }
        } catch {
            (libraries, functionLibraries) = saved
            throw error
        }
    }

    // MARK: - DUMP payload

    /// Trestle's own FUNCTION DUMP payload (not Redis's RDB): "TRFN", version 1, a u32
    /// count, then each library's code as a u32 length and bytes, then a CRC-32C of all
    /// that (docs/FORMAT.md).
    static func dumpLibraries(_ libraries: [FunctionLibrary]) -> Bytes {
        var bytes = Array("TRFN".utf8) + [1]
        bytes += Self.u32(UInt32(libraries.count))
        for library in libraries { bytes += Self.u32(UInt32(library.code.count)) + library.code }
        return bytes + Self.u32(CRC32C.checksum(bytes))
    }

    static func undumpLibraries(_ payload: Bytes) -> [Bytes]? {
        guard payload.count >= 13, payload.starts(with: Array("TRFN".utf8)), payload[4] == 1 else { return nil }
        let body = Array(payload.dropLast(4))
        guard Self.readU32(payload, at: payload.count - 4) == CRC32C.checksum(body) else { return nil }
        guard let count = Self.readU32(body, at: 5) else { return nil }
        var offset = 9
        var codes: [Bytes] = []
        for _ in 0..<count {
            guard let length = Self.readU32(body, at: offset), body.count - offset - 4 >= Int(length) else { return nil }
            codes.append(Array(body[(offset + 4)..<(offset + 4 + Int(length))]))
            offset += 4 + Int(length)
        }
        return offset == body.count ? codes : nil
    }

    private static func u32(_ value: UInt32) -> Bytes { [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }

    private static func readU32(_ bytes: Bytes, at offset: Int) -> UInt32? {
        guard offset >= 0, bytes.count - offset >= 4 else { return nil }
        return bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private static func withoutErrorCode(_ text: String) -> String { text.hasPrefix("ERR ") ? String(text.dropFirst(4)) : text }

    static let functionHelp = [
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>", "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>", "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]", "    Return general information on all the libraries:",
        "    * Library name", "    * The engine used to run the Library", "    * Library description",
        "    * Functions list", "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS", "    Return information about the current function running:", "    * Function name",
        "    * Command used to run the function", "    * Duration in MS that the function is running",
        "    If no function is running, return nil", "    In addition, returns a list of available engines.",
        "KILL", "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]", "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.", "    * SYNC: Synchronously flush the libraries.",
        "DUMP", "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.", "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP", "    Print this help.",
    ]
}
