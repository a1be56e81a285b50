// Sets: membership, deterministic order and picks, set algebra, and snapshot round trips
// of the new types (order preserved, malformed records refused).
import Core
import Testing
@testable import Keyspace

private func b(_ text: String) -> Bytes { Array(text.utf8) }
private func bs(_ texts: String...) -> [Bytes] { texts.map(b) }

@Suite struct SetTests {
    @Test func addRemoveAndMembership() throws {
        var keyspace = Keyspace()
        #expect(try keyspace.setAdd(b("s"), bs("a", "b", "a", "c"), now: 0) == 3)
        #expect(try keyspace.setMembers(b("s"), now: 0) == bs("a", "b", "c"))
        #expect(try keyspace.setContains(b("s"), bs("a", "z"), now: 0) == [true, false])
        // Removal moves the last member into the hole: the order stays a function of history.
        #expect(try keyspace.setRemove(b("s"), bs("a", "z"), now: 0) == 1)
        #expect(try keyspace.setMembers(b("s"), now: 0) == bs("c", "b"))
        #expect(try keyspace.setRemove(b("s"), bs("b", "c"), now: 0) == 2)
        #expect(keyspace.exists(b("s"), now: 0) == false)
        _ = try keyspace.set(b("str"), b("v"), now: 0)
        #expect(throws: KeyspaceError.wrongType) { try keyspace.setAdd(b("str"), bs("x"), now: 0) }
        #expect(throws: KeyspaceError.wrongType) { try keyspace.setCardinality(b("str"), now: 0) }
    }

    @Test func popIsTheSameOnEveryReplicaAndEmptiesTheKey() throws {
        func replica() throws -> Keyspace {
            var keyspace = Keyspace()
            _ = try keyspace.setAdd(b("s"), (0..<50).map { b("m\($0)") }, now: 0)
            return keyspace
        }
        var first = try replica(), second = try replica()
        let poppedFirst = try first.setPop(b("s"), count: 7, now: 123)
        let poppedSecond = try second.setPop(b("s"), count: 7, now: 123)
        #expect(poppedFirst == poppedSecond)
        #expect(poppedFirst?.count == 7)
        #expect(try first.setMembers(b("s"), now: 123) == second.setMembers(b("s"), now: 123))
        #expect(try first.setCardinality(b("s"), now: 123) == 43)
        #expect(try first.setPop(b("s"), count: 100, now: 124)?.count == 43)
        #expect(first.exists(b("s"), now: 124) == false)
        #expect(try first.setPop(b("s"), count: 1, now: 125) == nil)
    }

    @Test func randomMembersDistinctOrRepeated() throws {
        var keyspace = Keyspace()
        var random = SeededRandom(seed: 7)
        _ = try keyspace.setAdd(b("s"), bs("a", "b", "c", "d"), now: 0)
        let distinct = try keyspace.setRandomMembers(b("s"), count: 3, now: 0, using: &random)
        #expect(Set(distinct).count == 3)
        #expect(try keyspace.setRandomMembers(b("s"), count: 10, now: 0, using: &random).count == 4)
        #expect(try keyspace.setRandomMembers(b("s"), count: -10, now: 0, using: &random).count == 10)
        #expect(try keyspace.setRandomMembers(b("none"), count: -10, now: 0, using: &random) == [])
        #expect(throws: KeyspaceError.countOutOfRange) { try keyspace.setRandomMembers(b("s"), count: -Int.max, now: 0, using: &random) }
    }

    @Test func moveChecksBothTypesFirst() throws {
        var keyspace = Keyspace()
        _ = try keyspace.setAdd(b("a"), bs("x"), now: 0)
        _ = try keyspace.set(b("str"), b("v"), now: 0)
        #expect(try keyspace.setMove(b("none"), b("str"), b("x"), now: 0) == false)
        #expect(throws: KeyspaceError.wrongType) { try keyspace.setMove(b("a"), b("str"), b("x"), now: 0) }
        #expect(try keyspace.setMove(b("a"), b("a"), b("x"), now: 0))
        #expect(try keyspace.setMove(b("a"), b("b"), b("x"), now: 0))
        #expect(keyspace.exists(b("a"), now: 0) == false)
        #expect(try keyspace.setMembers(b("b"), now: 0) == bs("x"))
    }

    @Test func algebraAndStores() throws {
        var keyspace = Keyspace()
        _ = try keyspace.setAdd(b("a"), bs("1", "2", "3", "4"), now: 0)
        _ = try keyspace.setAdd(b("b"), bs("3", "4", "5"), now: 0)
        #expect(try keyspace.setCombination(.intersection, of: bs("a", "b"), now: 0) == bs("3", "4"))
        #expect(try keyspace.setCombination(.union, of: bs("a", "none", "b"), now: 0) == bs("1", "2", "3", "4", "5"))
        #expect(try keyspace.setCombination(.difference, of: bs("a", "b"), now: 0) == bs("1", "2"))
        #expect(try keyspace.setCombination(.intersection, of: bs("a", "none"), now: 0) == [])
        #expect(try keyspace.setIntersectionCount(bs("a", "b"), limit: 1, now: 0) == 1)
        _ = try keyspace.set(b("str"), b("v"), now: 0)
        #expect(throws: KeyspaceError.wrongType) { try keyspace.setCombination(.intersection, of: bs("none", "str"), now: 0) }
        _ = keyspace.setExpiry(b("str"), at: 1000, condition: .always, now: 0)
        #expect(try keyspace.setStore(.union, of: bs("a"), into: b("str"), now: 0) == 4)
        #expect(keyspace.expireTime(b("str"), now: 0) == -1)  // the destination is replaced whole
        #expect(try keyspace.setStore(.difference, of: bs("none", "a"), into: b("str"), now: 0) == 0)
        #expect(keyspace.exists(b("str"), now: 0) == false)
    }

    @Test func listsAndSetsRoundTripThroughSnapshots() throws {
        var keyspace = Keyspace()
        _ = try keyspace.listPush(b("l"), bs("c", "a", "b"), at: .tail, now: 0)
        _ = try keyspace.setAdd(b("s"), bs("z", "y", "x", "w"), now: 0)
        _ = try keyspace.setRemove(b("s"), bs("z"), now: 0)  // order now w y x
        _ = keyspace.setExpiry(b("s"), at: 5000, condition: .always, now: 0)
        var restored = Keyspace()
        for record in keyspace.snapshotRecords(now: 0) { try restored.load(record: record) }
        #expect(try restored.listElements(b("l"), now: 0) == bs("c", "a", "b"))
        #expect(try restored.setMembers(b("s"), now: 0) == bs("w", "y", "x"))
        #expect(restored.expireTime(b("s"), now: 0) == 5000)
        #expect(restored.peek(b("s"), now: 0) == keyspace.peek(b("s"), now: 0))
    }

    @Test func malformedCollectionRecordsAreRefused() {
        // tag, key "k" (u32 length, bytes), no expiry (-1), then the body.
        let header: [UInt8] = [1, 0, 0, 0, 107] + Array(repeating: 255, count: 8)
        func record(_ tag: UInt8, _ body: [UInt8]) -> [UInt8] { [tag] + header + body }
        let one: [UInt8] = [1, 0, 0, 0, 1, 0, 0, 0, 120]  // count 1, blob "x"
        #expect((try? EntryCodec.decode(record(3, one))) != nil)
        #expect((try? EntryCodec.decode(record(4, one))) != nil)
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(record(3, [0, 0, 0, 0])) }  // empty list
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(record(4, [255, 255, 255, 255])) }  // count too big
        let duplicate: [UInt8] = [2, 0, 0, 0, 1, 0, 0, 0, 120, 1, 0, 0, 0, 120]
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(record(4, duplicate)) }
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(record(6, one)) }  // unknown tag
    }
}
