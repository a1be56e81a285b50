// The engine as a shard state machine: committed writes give the same state and replies on
// every replica, WATCH digests decide EXEC deterministically, and expired keys stay stored
// until the leader's reclaim record removes them.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct ShardEngineTests {
    static func command(_ line: String) -> [Bytes] { line.split(separator: " ").map { Array($0.utf8) } }

    @Test func replicasApplyingTheSameLogAgree() {
        let first = Engine.replica(settings: Settings(), now: 0)
        let second = Engine.replica(settings: Settings(), now: 0)
        let log: [(String, Int64)] = [("SET a 1", 10), ("INCR a", 11), ("HSET h f v g w", 12), ("APPEND a x", 13),
                                      ("SET t v PX 5", 14), ("INCR t", 30), ("GET a", 31)]
        var replies: [[RESPValue]] = [[], []]
        for (line, time) in log {
            for (index, engine) in [first, second].enumerated() {
                replies[index].append(engine.applyCommitted(commands: [Self.command(line)], time: time, transaction: false, watches: []))
            }
        }
        #expect(replies[0] == replies[1])
        #expect(replies[0][1] == .integer(2))
        #expect(replies[0][5] == .integer(1))  // the TTL key had expired at time 30
        #expect(first.watchDigest(Array("h".utf8), now: 40) == second.watchDigest(Array("h".utf8), now: 40))
    }

    @Test func scriptCallsOfEntriesOwedHereSurviveLaterEntriesOfTheBatch() {
        let engine = Engine.replica(settings: Settings(), now: 0)
        let script = [Array("EVAL".utf8), Array("redis.call('set', 'a', '1') return redis.call('get', 'a')".utf8), Array("0".utf8)]
        _ = engine.applyCommitted(commands: [script], time: 1, transaction: false, watches: [])
        engine.countAppliedLookups(here: true)  // proposed here: its calls are counted
        _ = engine.applyCommitted(commands: [script], time: 2, transaction: false, watches: [])
        engine.countAppliedLookups(here: false)  // another node's script: not counted here
        engine.reclaimExpired([], now: 3)
        engine.countAppliedLookups(here: false)  // a reclaim record of the same batch
        #expect(engine.takeScriptCalls().map(\.spec.name) == ["set", "get"])
        #expect(engine.takeScriptCalls().isEmpty)
    }

    @Test func drainedScriptCallsAreHandedInOrderOnceAndNewOnesAfterThem() {
        let engine = Engine.replica(settings: Settings(), now: 0)
        let script = [Array("EVAL".utf8), Array("redis.call('set', 'a', '1') return redis.call('get', 'a')".utf8), Array("0".utf8)]
        _ = engine.applyCommitted(commands: [script], time: 1, transaction: false, watches: [])
        engine.countAppliedLookups(here: true)
        var drained: [String] = []
        engine.drainScriptCalls { drained.append($0.spec.name) }
        #expect(drained == ["set", "get"])
        engine.drainScriptCalls { _ in Issue.record("a drained call was handed again") }
        let incr = [Array("EVAL".utf8), Array("return redis.call('incr', 'n')".utf8), Array("0".utf8)]
        _ = engine.applyCommitted(commands: [incr], time: 2, transaction: false, watches: [])
        engine.countAppliedLookups(here: true)
        #expect(engine.takeScriptCalls().map(\.spec.name) == ["incr"])
    }

    @Test func expiredKeysStayUntilReclaimed() {
        let engine = Engine.replica(settings: Settings(), now: 0)
        _ = engine.applyCommitted(commands: [Self.command("SET k v PX 10")], time: 100, transaction: false, watches: [])
        let session = engine.internalSession(address: "test")
        #expect(engine.executeRead(Self.command("GET k"), session: session, now: 200) == .null)
        #expect(engine.keyspace.keyCount == 1)  // a read never changes a replica's state
        #expect(engine.keyspace.dueExpirations(now: 200) == [Array("k".utf8)])
        #expect(engine.keyspace.reclaimExpired([Array("k".utf8)], now: 200) == 1)
        #expect(engine.keyspace.keyCount == 0)
    }

    @Test func aCommittedWriteRemovesTheExpiredKeysItNamesInItsDatabase() {
        for database in [0, 3] {
            let engine = Engine.replica(settings: Settings(), now: 0)
            engine.settings.notifyKeyspaceEvents = KeyspaceEvents(parsing: "Ex") ?? []
            _ = engine.applyCommitted(commands: [Self.command("SET k v PX 10"), Self.command("SET other v PX 10")], time: 100,
                                      transaction: true, watches: [], database: database)
            #expect(engine.keyCount(database: database) == 2)
            #expect(engine.applyCommitted(commands: [Self.command("DEL k")], time: 200, transaction: false, watches: [],
                                          database: database) == .integer(0))
            #expect(engine.keyCount(database: database) == 1, "DEL left no expired key behind (db \(database))")
            #expect(engine.keyspaceNotifications.map { String(decoding: $0.message, as: UTF8.self) } == ["k"])
            // A read leaves the other expired key where it is.
            let session = engine.internalSession(address: "test")
            session.database = database
            #expect(engine.executeRead(Self.command("GET other"), session: session, now: 300) == .null)
            #expect(engine.keyCount(database: database) == 1)
        }
    }

    @Test func execAbortsWhenAWatchedValueChanged() {
        let engine = Engine.replica(settings: Settings(), now: 0)
        _ = engine.applyCommitted(commands: [Self.command("SET k 1")], time: 1, transaction: false, watches: [])
        let watched = WatchedValue(key: Array("k".utf8), digest: engine.watchDigest(Array("k".utf8), now: 2))
        let transaction = [Self.command("INCR k"), Self.command("GET k")]
        #expect(engine.applyCommitted(commands: transaction, time: 3, transaction: true, watches: [watched])
                == .array([.integer(2), .bulk(Array("2".utf8))]))
        // The value changed since the digest was taken: nothing runs.
        #expect(engine.applyCommitted(commands: transaction, time: 4, transaction: true, watches: [watched]) == .nullArray)
        #expect(engine.executeRead(Self.command("GET k"), session: engine.internalSession(address: "t"), now: 5) == .bulk(Array("2".utf8)))
    }

    @Test func hashDigestIgnoresFieldOrder() {
        let first = Engine.replica(settings: Settings(), now: 0)
        let second = Engine.replica(settings: Settings(), now: 0)
        _ = first.applyCommitted(commands: [Self.command("HSET h a 1 b 2 c 3")], time: 1, transaction: false, watches: [])
        _ = second.applyCommitted(commands: [Self.command("HSET h c 3"), Self.command("HSET h b 2 a 1")], time: 1, transaction: true, watches: [])
        let key = Array("h".utf8)
        #expect(first.watchDigest(key, now: 2) == second.watchDigest(key, now: 2))
        _ = second.applyCommitted(commands: [Self.command("HSET h a 9")], time: 3, transaction: false, watches: [])
        #expect(first.watchDigest(key, now: 4) != second.watchDigest(key, now: 4))
        #expect(first.watchDigest(Array("missing".utf8), now: 4) == 0)
    }
}
