// Scripts run as trials (Node+BusyScripts.swift): on a copy of the applied state, with
// their effects (writes in order) and the digests of the keys they touched, from before
// they touched them, recorded; replayed as one watched transaction, the effects give the
// script's state when nothing changed, and nothing at all when a touched key did.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct ScriptTrialTests {
    static func command(_ parts: String...) -> [Bytes] { parts.map { Array($0.utf8) } }
    static let k = Array("k".utf8), n = Array("n".utf8)

    func engine() -> Engine {
        let engine = Engine.replica(settings: Settings(), now: 0)
        _ = engine.applyCommitted(commands: [Self.command("SET", "k", "v")], time: 10, transaction: false, watches: [])
        return engine
    }

    func trial(_ body: String, keys: [String], on engine: Engine) -> (RESPValue, ScriptTrial) {
        let trial = ScriptTrial(sliceMilliseconds: 0, unbounded: true, recordsEffects: true)
        let runner = engine.scriptRunnerCopy()
        let reply = runner.runScriptTrial(Self.command("EVAL", body, String(keys.count)) + keys.map { Array($0.utf8) },
                                          id: .eval, version: .resp2, now: 20, trial: trial)
        return (reply, trial)
    }

    static let appendAndCount = "local v = redis.call('get', KEYS[1]) redis.call('set', KEYS[1], v .. '!') "
        + "redis.call('incr', KEYS[2]) return v"

    @Test func aTrialRecordsItsEffectsAndWatchesAndLeavesTheSourceAlone() {
        let source = engine()
        let before = (k: source.watchDigest(Self.k, now: 20), n: source.watchDigest(Self.n, now: 20))
        let (reply, trial) = trial(Self.appendAndCount, keys: ["k", "n"], on: source)
        #expect(reply == .bulk("v"))
        #expect(trial.wrote)
        #expect(trial.effectsCheckable)
        #expect(trial.effects == [Self.command("set", "k", "v!"), Self.command("incr", "n")])
        // Digests from before the script touched the keys (n did not exist: 0).
        #expect(trial.watches == [WatchedValue(key: Self.k, digest: before.k), WatchedValue(key: Self.n, digest: before.n)])
        #expect(before.n == 0)
        // The trial wrote to its copy only.
        let session = source.internalSession(address: "t")
        #expect(source.executeRead(Self.command("GET", "k"), session: session, now: 30) == .bulk("v"))
        #expect(source.executeRead(Self.command("GET", "n"), session: session, now: 30) == .null)
    }

    @Test func replayedEffectsGiveTheScriptsStateOrNothingWhenAKeyChanged() {
        let source = engine()
        let (_, trial) = trial(Self.appendAndCount, keys: ["k", "n"], on: source)
        let unchanged = engine()
        let applied = unchanged.applyCommitted(commands: trial.effects, time: 20, transaction: true, watches: trial.watches)
        #expect(applied == .array([.ok, .integer(1)]))
        let session = unchanged.internalSession(address: "t")
        #expect(unchanged.executeRead(Self.command("GET", "k"), session: session, now: 30) == .bulk("v!"))

        // Another client wrote a key the script only wrote (n): the effects are refused too.
        let changed = engine()
        _ = changed.applyCommitted(commands: [Self.command("SET", "n", "5")], time: 15, transaction: false, watches: [])
        #expect(changed.applyCommitted(commands: trial.effects, time: 20, transaction: true, watches: trial.watches) == .nullArray)
        #expect(changed.executeRead(Self.command("GET", "k"), session: session, now: 30) == .bulk("v"))
    }

    @Test func commandsThatReachUnnamedKeysMakeEffectsUncheckable() {
        let (_, trial) = trial("redis.call('keys', '*') redis.call('set', KEYS[1], 'x')", keys: ["k"], on: engine())
        #expect(trial.wrote)
        #expect(!trial.effectsCheckable)
    }

    @Test func aReadOnlyTrialRecordsNothing() {
        let (reply, trial) = trial("return redis.call('get', KEYS[1])", keys: ["k"], on: engine())
        #expect(reply == .bulk("v"))
        #expect(!trial.wrote)
        #expect(trial.effects.isEmpty)
    }

    @Test func aTrialNotesWhatItsLookupsWouldTouchForTheNodeToTouchAfter() {
        let start: Int64 = 1_700_000_000_000
        let source = Engine.replica(settings: Settings(), now: start)
        _ = source.applyCommitted(commands: [Self.command("SET", "k", "v")], time: start, transaction: false, watches: [])
        let idle = { source.keyspace.peek(Self.k, now: .min)?.access.idleSeconds(now: start + 100_000) }
        let trial = ScriptTrial(sliceMilliseconds: 0, unbounded: true, recordsEffects: true)
        let reply = source.scriptRunnerCopy().runScriptTrial(
            Self.command("EVAL", "redis.call('get', KEYS[1]) return redis.call('exists', KEYS[2])", "2", "k", "n"),
            id: .eval, version: .resp2, now: start + 50_000, trial: trial)
        #expect(reply == .integer(0))
        #expect(trial.touches.map(\.key) == [Self.k], "EXISTS does not touch, nor does EVAL itself; GET does")
        #expect(trial.touches.map(\.database) == [0])
        #expect(idle() == 100, "the trial itself touched nothing")
        source.touchAfterTrial(trial, now: start + 100_000)
        #expect(idle() == 0)
    }
}
