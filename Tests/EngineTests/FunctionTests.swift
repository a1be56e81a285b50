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
}
