// Redis 7 functions: library metadata is parsed with Redis's errors, the DUMP payload
// round-trips and a damaged one is refused, and FCALL runs as EVAL of the library with the
// function's name in its errors.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct FunctionTests {
    static let library = Array("#!lua name=lib\nredis.register_function('f', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)\n".utf8)

    @Test func metadataIsParsedAsRedisDoes() throws {
        #expect(try Engine.libraryName(Self.library) == "lib")
        #expect(throws: CommandError.message("ERR Missing library metadata")) { try Engine.libraryName(Array("return 1".utf8)) }
        #expect(throws: CommandError.message("ERR Library name was not given")) { try Engine.libraryName(Array("#!lua\n".utf8)) }
        #expect(throws: CommandError.message("ERR Invalid metadata value given: x=y")) { try Engine.libraryName(Array("#!lua name=a x=y\n".utf8)) }
        #expect(throws: CommandError.message("ERR Engine 'js' not found")) { try Engine.libraryName(Array("#!js name=a\n".utf8)) }
        // Quoted as sdssplitargs reads them.
        #expect(Engine.splitArguments(Array("a  \"b\\tc\" 'd\\'e' x\"y\"".utf8)) == ["a", "b\tc", "d'e", "xy"])
        #expect(try Engine.libraryName(Array("#!lua name=\"foo\"\n".utf8)) == "foo")
        #expect(try Engine.libraryName(Array("#!lua 'name=bar'\n".utf8)) == "bar")
        #expect(throws: CommandError.message("ERR Invalid library metadata")) { try Engine.libraryName(Array("#!lua name=\"foo\n".utf8)) }
        #expect(throws: CommandError.message("ERR Invalid library metadata")) { try Engine.libraryName(Array("#!lua name=\"foo\"x\n".utf8)) }
    }

    @Test func dumpPayloadRoundTripsAndDamageIsRefused() {
        let libraries = [FunctionLibrary(name: "lib", code: Self.library, functions: [])]
        let payload = Engine.dumpLibraries(libraries)
        #expect(Engine.undumpLibraries(payload) == [Self.library])
        var damaged = payload
        damaged[10] ^= 0xFF
        #expect(Engine.undumpLibraries(damaged) == nil)
        #expect(Engine.undumpLibraries(Array(payload.dropLast())) == nil)
    }

    @Test func fcallRunsTheFunctionAndNamesItInErrors() {
        let engine = Engine(settings: Settings(), seed: 1, now: 0)
        let session = engine.connect(address: "test", localAddress: "", now: 0)
        func run(_ arguments: [String]) -> RESPValue {
            engine.execute(arguments.map { Array($0.utf8) }, session: session, now: 0).reply
        }
        #expect(engine.execute([Array("FUNCTION".utf8), Array("LOAD".utf8), Self.library], session: session, now: 0).reply == .bulk(Array("lib".utf8)))
        #expect(run(["FCALL", "f", "1", "n", "5"]) == .integer(5))
        #expect(run(["FCALL", "F", "1", "n", "5"]) == .integer(10))
        guard case .error(let text) = run(["FCALL", "f", "1", "n", "x"]) else {
            Issue.record("INCRBY by x did not fail")
            return
        }
        #expect(text.hasSuffix("script: f, on @user_function:2."))
        #expect(run(["FCALL", "f", "x"]) == .error("ERR Bad number of keys provided"))
        #expect(run(["FCALL_RO", "f", "1", "n", "1"]) == .error("ERR Can not execute a script with write flag using *_ro command."))
    }

    @Test func registrationErrorsAreRedisTexts() {
        let engine = Engine(settings: Settings(), seed: 1, now: 0)
        let session = engine.connect(address: "test", localAddress: "", now: 0)
        func load(_ body: String) -> RESPValue {
            engine.execute([Array("FUNCTION".utf8), Array("LOAD".utf8), Array("#!lua name=lib\n\(body)".utf8)], session: session, now: 0).reply
        }
        func registering(_ text: String) -> RESPValue { .error("ERR Error registering functions: ERR \(text)") }
        #expect(load("redis.register_function('f')") == registering("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."))
        #expect(load("redis.register_function(1, function() end)") == registering("first argument to redis.register_function must be a string"))
        #expect(load("redis.register_function('f', 1)") == registering("second argument to redis.register_function must be a function"))
        #expect(load("redis.register_function('a b', function() end)")
            == registering("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"))
        #expect(load("redis.register_function{function_name=1, callback=function() end}")
            == registering("function_name argument given to redis.register_function must be a string"))
        #expect(load("redis.register_function{callback=function() end}") == registering("redis.register_function must get a function name argument"))
        #expect(load("redis.register_function{function_name='f'}") == registering("redis.register_function must get a callback argument"))
        guard case .error(let call) = load("redis.call('ping')"), case .error(let math) = load("math.random()") else {
            Issue.record("the load run reached redis.call or math")
            return
        }
        #expect(call.contains("attempted to access nonexistent global variable 'call'"))
        #expect(math.contains("attempted to access nonexistent global variable 'math'"))
        // Registering from inside a function, once loaded, is not possible: its `redis` is
        // the script API, which has no register_function (as Redis 7+).
        #expect(load("redis.register_function('f', function() return redis.register_function('g', function() end) end)") == .bulk(Array("lib".utf8)))
        guard case .error(let inside) = engine.execute(["FCALL", "f", "0"].map { Array($0.utf8) }, session: session, now: 0).reply else {
            Issue.record("a function registered another")
            return
        }
        #expect(inside.hasPrefix("ERR user_function:2: attempt to call field 'register_function' (a nil value) script: f"))
        // A load API kept by the library refuses to register once loaded.
        #expect(engine.execute(["FUNCTION", "DELETE", "lib"].map { Array($0.utf8) }, session: session, now: 0).reply == .ok)
        #expect(load("local lib = redis\nlib.register_function('f', function() return lib.register_function('g', function() end) end)")
            == .bulk(Array("lib".utf8)))
        guard case .error(let kept) = engine.execute(["FCALL", "f", "0"].map { Array($0.utf8) }, session: session, now: 0).reply else {
            return #expect(Bool(false))
        }
        #expect(kept.hasPrefix("ERR redis.register_function can only be called on FUNCTION LOAD command script: f"))
        // At load, no global but `redis`.
        guard case .error(let global) = load("local mt = getmetatable(_G)") else { return #expect(Bool(false)) }
        #expect(global.contains("Script attempted to access nonexistent global variable 'getmetatable'"))
        // The library's redis table is read-only, at load and when a function runs.
        guard case .error(let atLoad) = load("redis.call = function() return 1 end") else { return #expect(Bool(false)) }
        #expect(atLoad.contains("Attempt to modify a readonly table"))
        #expect(engine.execute(["FUNCTION", "DELETE", "lib"].map { Array($0.utf8) }, session: session, now: 0).reply == .ok)
        #expect(load("redis.register_function('f', function() redis.call = function() return 1 end end)") == .bulk(Array("lib".utf8)))
        guard case .error(let running) = engine.execute(["FCALL", "f", "0"].map { Array($0.utf8) }, session: session, now: 0).reply else {
            return #expect(Bool(false))
        }
        #expect(running.contains("Attempt to modify a readonly table"))
    }
}
