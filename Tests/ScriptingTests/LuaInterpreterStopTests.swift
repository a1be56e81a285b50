// How a run is stopped before its end: the time slice, a halt from the host, and the kill
// switch used from another thread (Node+BusyScripts.swift builds SCRIPT KILL on these).
import Core
import Foundation
import Scripting
import Testing
import Wire

@Suite struct LuaInterpreterStopTests {
    func compiled(_ body: String) throws -> (LuaInterpreter, String) {
        let interpreter = try #require(LuaInterpreter())
        let sha = SHA1.hex(Array(body.utf8))
        #expect(interpreter.compile(Array(body.utf8), sha: sha) == nil)
        return (interpreter, sha)
    }

    func host(_ call: @escaping ([[UInt8]], ProtocolVersion) -> RESPValue = { _, _ in .ok }) -> ScriptHost {
        ScriptHost(call: call, log: { _, _ in })
    }

    @Test func aSliceStopsALoopAndEvenPcallCannotHoldOn() throws {
        let (interpreter, sha) = try compiled("while true do pcall(function() while true do end end) end")
        let reply = interpreter.run(sha: sha, keys: [], arguments: [], budget: 0, sliceMilliseconds: 20, host: host())
        #expect(interpreter.lastStop == .slice)
        #expect(reply.isError)
    }

    @Test func aScriptThatEndsInItsSliceIsNotStopped() throws {
        let (interpreter, sha) = try compiled("local n = 0 for i = 1, 1000 do n = n + i end return n")
        #expect(interpreter.run(sha: sha, keys: [], arguments: [], budget: 0, sliceMilliseconds: 60_000, host: host()) == .integer(500_500))
        #expect(interpreter.lastStop == .none)
    }

    @Test func aHaltFromACallEndsTheScriptThoughItCatchesTheError() throws {
        let (interpreter, sha) = try compiled("local ok = pcall(redis.call, 'set', 'k', 'v') return 'went on'")
        var calls = 0
        let reply = interpreter.run(sha: sha, keys: [], arguments: [], budget: 0, host: host { _, _ in
            calls += 1
            interpreter.halt()
            return .error("ERR halted")
        })
        #expect(calls == 1)
        #expect(interpreter.lastStop == .halted)
        #expect(reply != .bulk("went on"))
        // The next run of the state is not affected.
        let (_, plain) = (interpreter, SHA1.hex(Array("return 7".utf8)))
        #expect(interpreter.compile(Array("return 7".utf8), sha: plain) == nil)
        #expect(interpreter.run(sha: plain, keys: [], arguments: [], budget: 0, host: host()) == .integer(7))
        #expect(interpreter.lastStop == .none)
    }

    @Test func theKillSwitchStopsAScriptRunningOnAnotherThread() async throws {
        let (interpreter, sha) = try compiled("local n = 0 while true do n = n + 1 end")
        let killSwitch = interpreter.killSwitch
        let box = UncheckedBox(interpreter)
        let reply = await withCheckedContinuation { (done: CheckedContinuation<RESPValue, Never>) in
            Thread.detachNewThread {
                done.resume(returning: box.value.run(sha: sha, keys: [], arguments: [], budget: 0, host: ScriptHost(call: { _, _ in .ok }, log: { _, _ in })))
            }
            Thread.sleep(forTimeInterval: 0.05)
            killSwitch.kill()
        }
        // Redis's text, with the script's name and where it was stopped.
        #expect(reply == .error("ERR Script killed by user with SCRIPT KILL... script: \(sha), on @user_script:1."))
        #expect(interpreter.lastStop == .killed)
    }

    @Test func theBudgetStillStopsAScriptWithItsError() throws {
        let (interpreter, sha) = try compiled("while true do end")
        let reply = interpreter.run(sha: sha, keys: [], arguments: [], budget: 1_000_000, host: host())
        #expect(interpreter.lastStop == .budget)
        #expect(reply == .error("ERR Script exceeded its instruction budget (lua-time-limit) and was stopped"))
    }
}

private final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
