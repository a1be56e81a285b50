// PFADD / PFCOUNT / PFMERGE through the engine: replies and error texts as redis-server
// 7.0.15 gives them, the events Redis publishes, the cache PFCOUNT stores going through the
// log (so a replica replaying the log holds the same bytes), and hll-sparse-max-bytes.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct HyperLogLogCommandTests {
    @Test func repliesAndErrorsAsRedis() {
        let h = Harness()
        #expect(h.run("PFADD h") == .integer(1))
        #expect(h.run("PFADD h a b c") == .integer(1))
        #expect(h.run("PFADD h a") == .integer(0))
        #expect(h.run("PFCOUNT h") == .integer(3))
        #expect(h.run("PFCOUNT missing") == .integer(0))
        #expect(h.run("EXISTS missing") == .integer(0))
        #expect(h.run("PFADD h2 c d") == .integer(1))
        #expect(h.run("PFCOUNT h h2 missing") == .integer(4))
        #expect(h.run("PFMERGE m h h2") == .ok)
        #expect(h.run("PFCOUNT m") == .integer(4))
        #expect(h.run("PFMERGE empty") == .ok)
        #expect(h.run("PFCOUNT empty") == .integer(0))
        h.run("SET s hello")
        let notHLL = RESPValue.error("WRONGTYPE Key is not a valid HyperLogLog string value.")
        #expect(h.run("PFADD s a") == notHLL)
        #expect(h.run("PFCOUNT s") == notHLL)
        #expect(h.run("PFCOUNT h s") == notHLL)
        #expect(h.run("PFMERGE h s") == notHLL)
        h.run("RPUSH l a")
        #expect(h.run("PFADD l a") == wrongType)
        #expect(h.run("PFMERGE l h") == wrongType)
        #expect(h.run("PFADD") == .error("ERR wrong number of arguments for 'pfadd' command"))
        // Redis 8.0's switch for its vectorized code: accepted, nothing to switch here.
        #expect(h.run("PFDEBUG SIMD OFF") == .ok)
        #expect(h.run("PFDEBUG simd on") == .ok)
        #expect(h.run("PFDEBUG SIMD maybe") == CommandError.syntax.reply)
        // Runs covering more than 16384 registers.
        h.run("PFADD c a b c")
        h.run("SETRANGE c 16 \u{7f}\u{7f}")
        let corrupt = RESPValue.error("INVALIDOBJ Corrupted HLL object detected")
        #expect(h.run("PFCOUNT c") == corrupt)
        #expect(h.run("PFCOUNT c h") == corrupt)
        #expect(h.run("PFMERGE d c") == corrupt)
        #expect(h.run("EXISTS d") == .integer(0))
    }

    @Test func tableEntriesAsRedis() throws {
        let pfcount = try #require(CommandTable.lookup(Array("pfcount".utf8)))
        #expect(pfcount.isWrite)  // may_replicate: the cache it stores goes through the log
        #expect(pfcount.keyPositions(argumentCount: 4) == [1, 2, 3])
        #expect(ACLCategories.of(pfcount) == ["read", "hyperloglog", "slow"])
        let pfadd = try #require(CommandTable.lookup(Array("pfadd".utf8)))
        #expect(ACLCategories.of(pfadd) == ["write", "hyperloglog", "fast"])
        let pfmerge = try #require(CommandTable.lookup(Array("pfmerge".utf8)))
        #expect(ACLCategories.of(pfmerge) == ["write", "hyperloglog", "slow"])
        #expect(pfmerge.keyPositions(argumentCount: 4) == [1, 2, 3])
    }

    @Test func replayingTheLogGivesTheSameBytes() {
        let h = Harness()
        h.run("PFADD h a b c")
        h.run("PFCOUNT h")
        h.run("PFMERGE m h")
        h.run("PFCOUNT m")
        let replica = Engine.replica(settings: Settings(), now: 0)
        h.replay(into: replica)
        for key in ["h", "m"] {
            let mine = try? h.engine.keyspace.getString(Array(key.utf8), now: h.now)
            let theirs = try? replica.keyspace.getString(Array(key.utf8), now: h.now)
            #expect(mine != nil && mine == theirs)
            #expect(mine?[15] == 0)  // the cache PFCOUNT stored, valid
        }
    }

    @Test func countStoringTheCacheTouchesWatchers() {
        let h = Harness()
        h.run("PFADD h a")
        let other = h.engine.connect(address: "127.0.0.1:2", localAddress: "127.0.0.1:6379", now: h.now)
        h.run("WATCH h", on: other)
        h.run("PFCOUNT h")
        h.run("MULTI", on: other)
        h.run("PING", on: other)
        #expect(h.run("EXEC", on: other) == .nullArray)
    }

    @Test func eventsAsRedis() {
        let engine = KeyspaceNotificationTests.engine("EA")
        #expect(KeyspaceNotificationTests.events(engine, ["PFADD h a", "PFADD h a", "PFCOUNT h", "PFMERGE m h", "PFMERGE m", "PFADD n"])
                == ["pfadd h", "pfadd m", "pfadd m", "pfadd n"])
    }

    @Test func sparseLimitIsAConfigSetting() {
        let h = Harness()
        #expect(h.run("CONFIG GET hll-sparse-max-bytes") == .map([RESPPair("hll-sparse-max-bytes", .bulk("3000"))]))
        #expect(h.run("CONFIG SET hll-sparse-max-bytes 60") == .ok)
        h.run("PFADD small " + (0..<30).map { "e\($0)" }.joined(separator: " "))
        #expect(h.run("STRLEN small") == .integer(HyperLogLog.denseSize))
        #expect(h.run("CONFIG SET hll-sparse-max-bytes -1") == .error(
            "ERR CONFIG SET failed (possibly related to argument 'hll-sparse-max-bytes') - argument must be a memory value"))
        #expect(h.run("CONFIG SET hll-sparse-max-bytes 1k") == .ok)
        #expect(h.run("CONFIG GET hll-sparse-max-bytes") == .map([RESPPair("hll-sparse-max-bytes", .bulk("1000"))]))
    }
}
