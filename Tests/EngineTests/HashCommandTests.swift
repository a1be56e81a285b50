// HGETDEL (Redis 8.0): values then deletion, the hash going with its last field, and
// Redis's argument errors in Redis's order.
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct HashCommandTests {
    @Test func hgetdelAnswersThenDeletes() {
        let h = Harness()
        h.run("HSET key1 f1 1 f2 2 f3 3")
        #expect(h.run("HGETDEL key1 FIELDS 1 f2") == bulks("2"))
        #expect(h.run("HLEN key1") == .integer(2))
        #expect(h.run("HGETDEL key1 fields 4 x1 f3 x2 f3") == .array([.null, .bulk("3"), .null, .null]))
        #expect(h.run("HGETDEL key1 FIELDS 1 f1") == bulks("1"))
        #expect(h.run("EXISTS key1") == .integer(0), "the last field took the hash with it")
        #expect(h.run("HGETDEL missing FIELDS 2 a b") == .array([.null, .null]))
        h.run("SET s v")
        #expect(h.run("HGETDEL s FIELDS 1 a") == wrongType)
    }

    @Test func hgetdelArgumentErrorsAreRedisTexts() {
        let h = Harness()
        #expect(h.run("HGETDEL key1 FIELDS 0") == .error("ERR wrong number of arguments for 'hgetdel' command"))
        #expect(h.run("HGETDEL key1 XFIELDX 1 a") == .error("ERR Mandatory argument FIELDS is missing or not at the right position"))
        #expect(h.run("HGETDEL key1 FIELDS 2 a") == .error("ERR The `numfields` parameter must match the number of arguments"))
        #expect(h.run("HGETDEL key1 FIELDS 0 a") == .error("ERR Number of fields must be a positive integer"))
        #expect(h.run("HGETDEL key1 FIELDS b a") == .error("ERR Number of fields must be a positive integer"))
    }
}
