// HashFields: insertion order while small (as a Redis listpack hash), a one-way move to a
// dictionary past 128 fields, order-insensitive equality, and a snapshot round trip that
// keeps a small hash's order.
import Core
import Testing
@testable import Keyspace

@Suite struct HashFieldsTests {
    private func bytes(_ text: String) -> Bytes { Array(text.utf8) }

    @Test func smallHashesKeepInsertionOrderThroughUpdatesAndDeletes() {
        var fields = HashFields()
        for name in ["f1", "f2", "f3", "f4"] { fields[bytes(name)] = bytes("v") }
        fields[bytes("f2")] = bytes("updated")  // an update keeps the field's place
        fields.removeValue(forKey: bytes("f3"))
        fields[bytes("f3")] = bytes("again")  // a re-added field goes last
        #expect(fields.keys == ["f1", "f2", "f4", "f3"].map(bytes))
        #expect(fields.values == ["v", "updated", "v", "again"].map(bytes))
        #expect(fields.isOrdered)
    }

    @Test func pastTheLimitTheHashStopsKeepingOrderForGood() {
        var fields = HashFields()
        for index in 0...HashFields.orderedCountMax { fields[bytes("f\(index)")] = bytes("\(index)") }
        #expect(!fields.isOrdered)
        #expect(fields.count == HashFields.orderedCountMax + 1)
        for index in 0..<100 { fields.removeValue(forKey: bytes("f\(index)")) }
        #expect(!fields.isOrdered)  // one-way, as Redis's hashtable conversion
        #expect(fields[bytes("f120")] == bytes("120"))
        #expect(fields[bytes("f5")] == nil)
    }

    @Test func equalityIgnoresOrder() {
        let one = HashFields([(bytes("a"), bytes("1")), (bytes("b"), bytes("2"))])
        let other = HashFields([(bytes("b"), bytes("2")), (bytes("a"), bytes("1"))])
        #expect(one == other)
        #expect(one != HashFields([(bytes("a"), bytes("1"))]))
    }

    @Test func aSnapshotKeepsASmallHashsOrder() throws {
        var keyspace = Keyspace()
        _ = try keyspace.hashSet(bytes("h"), ["z", "a", "m"].map { (bytes($0), bytes("v")) }, now: 0)
        let record = EntryCodec.encode(key: bytes("h"), entry: keyspace.peek(bytes("h"), now: 0)!)
        let (_, entry) = try EntryCodec.decode(record)
        guard case .hash(let fields) = entry.value else { Issue.record("not a hash"); return }
        #expect(fields.keys == ["z", "a", "m"].map(bytes))
    }
}
