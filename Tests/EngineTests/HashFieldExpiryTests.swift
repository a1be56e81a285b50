// Hash field expiry (Redis 7.4's HEXPIRE family) through the engine: replies and errors,
// the conditions, fields vanishing at their time for every reader, a hash whose fields all
// expired is gone, HSET clearing a field's time to live and HINCRBY keeping it, snapshots
// keeping times, and a replica replaying the log ending with the same hash.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct HashFieldExpiryTests {
    private func ints(_ values: Int...) -> RESPValue { .array(values.map { .integer($0) }) }

    @Test func repliesConditionsAndErrors() {
        let h = Harness()
        h.run("HSET h a 1 b 2 c 3")
        #expect(h.run("HEXPIRE h 100 FIELDS 2 a nope") == ints(1, -2))
        #expect(h.run("HEXPIRE missing 100 FIELDS 1 a") == ints(-2))
        #expect(h.run("HTTL h FIELDS 3 a b nope") == ints(100, -1, -2))
        #expect(h.run("HPTTL h FIELDS 1 a") == ints(100_000))
        #expect(h.run("HEXPIRETIME h FIELDS 1 a") == ints(Int(h.now / 1000) + 100))
        #expect(h.run("HPEXPIRETIME h FIELDS 1 a") == ints(Int(h.now) + 100_000))
        #expect(h.run("HEXPIRE h 50 NX FIELDS 2 a b") == ints(0, 1))
        #expect(h.run("HEXPIRE h 10 GT FIELDS 1 b") == ints(0))
        #expect(h.run("HEXPIRE h 10 LT FIELDS 2 b c") == ints(1, 1))  // no TTL counts as infinite
        #expect(h.run("HEXPIRE h 10 XX FIELDS 1 nope") == ints(-2))
        #expect(h.run("HPERSIST h FIELDS 3 a a nope") == ints(1, -1, -2))
        #expect(h.run("HEXPIRE h 0 FIELDS 1 c") == ints(2))
        #expect(h.run("HEXISTS h c") == .integer(0))
        #expect(h.run("HPEXPIREAT h 1 FIELDS 1 b") == ints(2))
        #expect(h.run("HGETALL h") == .map([RESPPair(.bulk("a"), .bulk("1"))]))
        #expect(h.run("HEXPIRE h 10 FIELDS 2 a") == .error("ERR The `numfields` parameter must match the number of arguments"))
        #expect(h.run("HEXPIRE h 10 FIELDS 0 a") == .error("ERR Parameter `numFields` should be greater than 0"))
        #expect(h.run("HEXPIRE h 10 FIELD 1 a") == .error("ERR Mandatory argument FIELDS is missing or not at the right position"))
        #expect(h.run("HEXPIRE h -1 FIELDS 1 a") == .error("ERR invalid expire time, must be >= 0"))
        #expect(h.run("HPEXPIREAT h 70368744177664 FIELDS 1 a") == .error("ERR invalid expire time in 'hpexpireat' command"),
                "Redis 8.0 keeps two of the 48 bits: 2^46 ms is past the limit")
        #expect(h.run("HPEXPIREAT h 70368744177663 FIELDS 1 a") == ints(1))
        h.run("SET s v")
        #expect(h.run("HEXPIRE s 10 FIELDS 1 a") == wrongType)
        #expect(h.run("HEXPIRE s -1 FIELDS 1 a") == wrongType, "the type is checked before the time")
    }

    @Test func fieldsVanishAtTheirTimeAndAHashOfExpiredFieldsIsGone() {
        let h = Harness()
        h.run("HSET h a 1 b 2")
        h.run("HPEXPIRE h 100 FIELDS 1 a")
        #expect(h.run("OBJECT ENCODING h") == .bulk("listpackex"))
        h.now += 100
        #expect(h.run("HGET h a") == .null)
        #expect(h.run("HLEN h") == .integer(1))
        #expect(h.run("HKEYS h") == bulks("b"))
        #expect(h.run("HTTL h FIELDS 1 a") == ints(-2))
        h.run("HPEXPIRE h 50 FIELDS 1 b")
        h.now += 50
        #expect(h.run("EXISTS h") == .integer(0))
        #expect(h.run("TYPE h") == .simple("none"))
        #expect(h.run("HSET h c 3") == .integer(1))  // a new hash: nothing of the old one remains
        #expect(h.run("HGETALL h") == .map([RESPPair(.bulk("c"), .bulk("3"))]))
    }

    @Test func hsetClearsAFieldsTimeToLiveAndHincrbyKeepsIt() {
        let h = Harness()
        h.run("HSET h a 1 n 1")
        h.run("HEXPIRE h 100 FIELDS 2 a n")
        h.run("HSET h a 2")
        h.run("HINCRBY h n 5")
        #expect(h.run("HTTL h FIELDS 2 a n") == ints(-1, 100))
        #expect(h.run("HGET h n") == .bulk("6"))
    }

    @Test func timesSurviveSnapshotsAndReplicasAgree() throws {
        let h = Harness()
        h.run("HSET h a 1 b 2 c 3")
        h.run("HEXPIRE h 100 FIELDS 1 a")
        h.run("HPEXPIRE h 10 FIELDS 1 b")
        h.now += 20
        h.run("HSET h d 4")  // drops b, which expired
        let replica = Engine(settings: Settings(), seed: 2, now: h.now)
        h.replay(into: replica)
        #expect(replica.keyspace.peek(Array("h".utf8), now: h.now) == h.engine.keyspace.peek(Array("h".utf8), now: h.now))
        let entry = try #require(h.engine.keyspace.peek(Array("h".utf8), now: h.now))
        let (_, decoded) = try EntryCodec.decode(EntryCodec.encode(key: Array("h".utf8), entry: entry))
        #expect(decoded == entry)
        guard case .hash(let fields) = decoded.value else { Issue.record("not a hash"); return }
        #expect(fields.expireAt(Array("a".utf8)) == h.now - 20 + 100_000)
        #expect(fields[Array("b".utf8)] == nil)
    }
}
