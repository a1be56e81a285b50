// HSETEX and HGETEX (Redis 8.0): conditions, times to live set, kept, removed and past,
// the argument errors in Redis's order, and the form a replica replays.
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct HashSetGetExpiryTests {
    @Test func hsetexSetsUnderItsCondition() {
        let h = Harness()
        #expect(h.run("HSETEX h FXX FIELDS 1 f1 v1") == .integer(0))
        #expect(h.run("EXISTS h") == .integer(0), "a failed FXX leaves no empty hash")
        #expect(h.run("HSETEX h FIELDS 2 f1 v1 f2 v2") == .integer(1))
        #expect(h.run("HSETEX h FNX FIELDS 2 f2 x f3 x") == .integer(0))
        #expect(h.run("HGET h f3") == .null, "FNX sets nothing when one field exists")
        #expect(h.run("HSETEX h FXX FIELDS 2 f1 a f3 b") == .integer(0))
        #expect(h.run("HSETEX h FXX PX 5000 FIELDS 2 f1 a f2 b") == .integer(1))
        #expect(h.run("HPTTL h FIELDS 2 f1 f2") == .array([.integer(5000), .integer(5000)]))
        #expect(h.run("HSETEX h KEEPTTL FIELDS 1 f1 c") == .integer(1))
        #expect(h.run("HPTTL h FIELDS 1 f1") == .array([.integer(5000)]), "KEEPTTL keeps the time to live")
        #expect(h.run("HSETEX h FIELDS 1 f1 d") == .integer(1))
        #expect(h.run("HPTTL h FIELDS 1 f1") == .array([.integer(-1)]), "without an option the time to live goes, as HSET")
        #expect(h.run("HGETALL h") == .map([RESPPair(.bulk("f1"), .bulk("d")), RESPPair(.bulk("f2"), .bulk("b"))]))
        h.now += 5000
        #expect(h.run("HGETALL h") == .map([RESPPair(.bulk("f1"), .bulk("d"))]), "f2 expired")
    }

    @Test func hsetexWithAPastTimeDeletesTheFields() {
        let h = Harness()
        h.run("HSET h keep 1 f1 old")
        #expect(h.run("HSETEX h PXAT 1 FIELDS 1 f1 new") == .integer(1))
        #expect(h.run("HEXISTS h f1") == .integer(0))
        #expect(h.run("HSETEX h EXAT 1 FIELDS 1 keep x") == .integer(1))
        #expect(h.run("EXISTS h") == .integer(0), "the hash goes with its last field")
    }

    @Test func hgetexReadsThenChangesTheTimeToLive() {
        let h = Harness()
        h.run("HSET h a 1 b 2")
        #expect(h.run("HGETEX h FIELDS 3 a b c") == .array([.bulk("1"), .bulk("2"), .null]))
        #expect(h.run("HGETEX h EX 100 FIELDS 2 a c") == .array([.bulk("1"), .null]))
        #expect(h.run("HTTL h FIELDS 2 a b") == .array([.integer(100), .integer(-1)]))
        #expect(h.run("HGETEX h PERSIST FIELDS 1 a") == bulks("1"))
        #expect(h.run("HTTL h FIELDS 1 a") == .array([.integer(-1)]))
        #expect(h.run("HGETEX h PXAT 1 FIELDS 2 a a") == .array([.bulk("1"), .null]), "a past time deletes, field by field")
        #expect(h.run("HGETEX h PX 0 FIELDS 1 b") == bulks("2"))
        #expect(h.run("EXISTS h") == .integer(0))
        #expect(h.run("HGETEX missing EX 10 FIELDS 2 a b") == .array([.null, .null]))
        h.run("SET s v")
        #expect(h.run("HGETEX s FIELDS 1 a") == wrongType)
        #expect(h.run("HGETEX s EX x FIELDS 1 a") == wrongType, "the type is checked before the arguments")
    }

    @Test func argumentErrorsAreRedisTexts() {
        let h = Harness()
        let arity = RESPValue.error("ERR wrong number of arguments for 'hsetex' command")
        #expect(h.run("HSETEX h FIELDS 2 a b c") == arity)
        #expect(h.run("HSETEX h FIELDS 1 a b unknown") == arity)
        #expect(h.run("HSETEX h FIELDS 0 a b") == .error("ERR invalid number of fields"))
        #expect(h.run("HSETEX h FIELDS x a b") == .error("ERR invalid number of fields"))
        #expect(h.run("HSETEX h nx FIELDS 1 a b") == .error("ERR unknown argument: nx"))
        #expect(h.run("HSETEX h FXX FNX FIELDS 1 a b") == .error("ERR Only one of FXX or FNX arguments can be specified"))
        #expect(h.run("HSETEX h EX 1 KEEPTTL FIELDS 1 a b") == .error("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified"))
        #expect(h.run("HSETEX h EX FIELDS 1 a b") == .error("ERR value is not an integer or out of range"))
        #expect(h.run("HSETEX h EXAT -1 1 a b") == .error("ERR invalid expire time, must be >= 0"))
        #expect(h.run("HSETEX h PXAT 70368744177664 1 a b") == .error("ERR invalid expire time in 'hsetex' command"))
        #expect(h.run("HGETEX h PERSIST 1 FIELDS 1 a") == .error("ERR Mandatory argument FIELDS is missing or not at the right position"))
        #expect(h.run("HGETEX h FIELDS 2 a") == .error("ERR The `numfields` parameter must match the number of arguments"))
        #expect(h.run("HGETEX h FIELDS 0 a") == .error("ERR Number of fields must be a positive integer"))
        #expect(h.run("HGETEX h EX 70368744177 FIELDS 1 a") == .error("ERR invalid expire time in 'hgetex' command"))
        #expect(h.run("HGETEX h PX -1 FIELDS 1 a") == .error("ERR invalid expire time, must be >= 0"))
    }

    @Test func replicasReplayTheSameState() {
        let h = Harness()
        h.run("HSETEX h EX 100 FIELDS 2 a 1 b 2")
        h.run("HGETEX h PX 500 FIELDS 1 a")
        h.run("HGETEX h PERSIST FIELDS 1 b")
        h.run("HSETEX h2 FNX PXAT 1 FIELDS 1 x y")
        let replica = Engine(settings: Settings(), seed: 1, now: h.now)
        h.replay(into: replica)
        for key in ["h", "h2"] {
            #expect(replica.keyspace.peek(Array(key.utf8), now: h.now) == h.engine.keyspace.peek(Array(key.utf8), now: h.now))
        }
        #expect(h.engine.keyspace.peek(Array("h".utf8), now: h.now) != nil)
    }

    @Test func propagatedFormsFixTheTime() {
        let h = Harness()
        h.run("HSET h a 1 b 2")
        let time = h.now + 100_000
        #expect(h.engine.hashFieldExpiryForm(.hsetex, words("HSETEX h FNX EX 100 FIELDS 1 c 3"), now: h.now) == words("HDEL h c"),
                "fields not there are reported deleted")
        h.run("HSETEX h EX 100 FIELDS 1 c 3")
        #expect(h.engine.hashFieldExpiryForm(.hsetex, words("HSETEX h EX 100 FIELDS 1 c 3"), now: h.now)
                == words("HSETEX h PXAT \(time) FIELDS 1 c 3"))
        h.run("HGETEX h EX 100 FIELDS 1 a")
        #expect(h.engine.hashFieldExpiryForm(.hgetex, words("HGETEX h EX 100 FIELDS 1 a"), now: h.now)
                == words("HPEXPIREAT h \(time) FIELDS 1 a"))
        #expect(h.engine.hashFieldExpiryForm(.hgetex, words("HGETEX h PERSIST FIELDS 1 b"), now: h.now)
                == words("HPERSIST h FIELDS 1 b"))
    }

    private func words(_ line: String) -> [Bytes] { line.split(separator: " ").map { Array($0.utf8) } }
}
