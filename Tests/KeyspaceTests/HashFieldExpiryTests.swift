// Active expiry of hash fields: marks come due at the field's time, a reclaim drops the
// expired fields (and the hash when none is left), stale marks are skipped, a key whose
// own time to live ran out is left to key expiry, and loading a hash schedules its fields.
import Core
import Testing
@testable import Keyspace

@Suite struct HashFieldExpiryTests {
    private func bytes(_ text: String) -> Bytes { Array(text.utf8) }

    private func hash(_ fields: [String], in keyspace: inout Keyspace, key: String = "h") throws {
        _ = try keyspace.hashSet(bytes(key), fields.map { (bytes($0), bytes("v")) }, now: 1)
    }

    @Test func dueHashesAreFoundAtTheFieldsTimeAndReclaimed() throws {
        var keyspace = Keyspace(partitionCount: 16)
        try hash(["a", "b", "c"], in: &keyspace)
        _ = try keyspace.hashExpireFields(bytes("h"), [bytes("a"), bytes("b")], at: 100, condition: .always, now: 1)
        #expect(keyspace.dueFieldExpirations(now: 99).isEmpty)
        #expect(!keyspace.storesExpiredFields(bytes("h"), now: 99))
        #expect(keyspace.storesExpiredFields(bytes("h"), now: 100))
        #expect(keyspace.dueFieldExpirations(now: 100) == [bytes("h")])
        let result = keyspace.reclaimExpiredFields(bytes("h"), now: 100)
        let reclaimed = try #require(result)
        #expect(Set(reclaimed.fields) == [bytes("a"), bytes("b")])
        #expect(!reclaimed.keyDeleted)
        #expect(try keyspace.hash(bytes("h"), now: 100)?.keys == [bytes("c")])
        let again = keyspace.reclaimExpiredFields(bytes("h"), now: 200)
        #expect(again == nil, "nothing left to drop")
    }

    @Test func aHashLosingItsLastFieldIsDeleted() throws {
        var keyspace = Keyspace(partitionCount: 16)
        try hash(["a"], in: &keyspace)
        _ = try keyspace.hashExpireFields(bytes("h"), [bytes("a")], at: 50, condition: .always, now: 1)
        let result = keyspace.reclaimExpiredFields(bytes("h"), now: 60)
        let reclaimed = try #require(result)
        #expect(reclaimed.keyDeleted)
        #expect(keyspace.keyCount == 0)
    }

    @Test func staleMarksAreSkipped() throws {
        var keyspace = Keyspace(partitionCount: 16)
        try hash(["a", "b"], in: &keyspace)
        _ = try keyspace.hashExpireFields(bytes("h"), [bytes("a")], at: 50, condition: .always, now: 1)
        _ = try keyspace.hashPersistFields(bytes("h"), [bytes("a")], now: 2)
        #expect(keyspace.dueFieldExpirations(now: 60).isEmpty, "the field was persisted")
        _ = try keyspace.hashExpireFields(bytes("h"), [bytes("b")], at: 70, condition: .always, now: 3)
        _ = try keyspace.hashExpireFields(bytes("h"), [bytes("b")], at: 500, condition: .always, now: 4)
        #expect(keyspace.dueFieldExpirations(now: 80).isEmpty, "the field's time moved later")
        #expect(keyspace.dueFieldExpirations(now: 500) == [bytes("h")])
    }

    @Test func aKeyWhoseOwnTimeRanOutIsLeftToKeyExpiry() throws {
        var keyspace = Keyspace(partitionCount: 16)
        keyspace.deletesExpiredOnAccess = false
        try hash(["a", "b"], in: &keyspace)
        _ = try keyspace.hashExpireFields(bytes("h"), [bytes("a")], at: 50, condition: .always, now: 1)
        _ = keyspace.setExpiry(bytes("h"), at: 40, condition: .always, now: 2)
        let fields = keyspace.reclaimExpiredFields(bytes("h"), now: 60)
        #expect(fields == nil)
        #expect(keyspace.reclaimExpired([bytes("h")], now: 60) == 1)
    }

    @Test func loadingAHashSchedulesItsFields() throws {
        var source = Keyspace(partitionCount: 16)
        try hash(["a", "b"], in: &source)
        _ = try source.hashExpireFields(bytes("h"), [bytes("b")], at: 70, condition: .always, now: 1)
        var copy = Keyspace(partitionCount: 16)
        #expect(!copy.holdsFieldExpirations)
        copy.store(bytes("h"), try #require(source.peek(bytes("h"), now: 1)))
        #expect(copy.holdsFieldExpirations)
        #expect(copy.dueFieldExpirations(now: 70) == [bytes("h")])
        copy.removeAll()
        #expect(!copy.holdsFieldExpirations, "an emptied keyspace holds no field with a time")
    }

    /// The hashes with a field that has a time to live, counted from scratch (what
    /// `fieldExpiringCount` must always equal).
    private func countedFromScratch(_ keyspace: Keyspace) -> Int {
        keyspace.slots.reduce(0) { total, partition in
            total + partition.values.filter { if case .hash(let fields) = $0.value { fields.hasExpirations } else { false } }.count
        }
    }

    @Test func hashesWithFieldTimesAndExpiredFieldsAreCounted() throws {
        var keyspace = Keyspace(partitionCount: 16)
        func check(_ hashes: Int, expired: Int, _ step: String) {
            #expect(keyspace.fieldExpiringCount == hashes, "\(step): hashes with field times")
            #expect(countedFromScratch(keyspace) == hashes, "\(step): counted from scratch")
            #expect(keyspace.expiredFieldCount == expired, "\(step): expired fields")
        }
        try hash(["a", "b", "c"], in: &keyspace)
        try hash(["x"], in: &keyspace, key: "other")
        check(0, expired: 0, "no field time")
        _ = try keyspace.hashExpireFields(bytes("h"), [bytes("a"), bytes("b")], at: 100, condition: .always, now: 1)
        _ = try keyspace.hashExpireFields(bytes("other"), [bytes("x")], at: 100, condition: .always, now: 1)
        check(2, expired: 0, "two hashes with field times")
        _ = try keyspace.hashPersistFields(bytes("other"), [bytes("x")], now: 2)
        check(1, expired: 0, "persisted")
        // A write that does not change the hash keeps its expired fields (nothing counted).
        _ = try keyspace.hashDelete(bytes("h"), [bytes("nosuch")], now: 150)
        check(1, expired: 0, "a write that changed nothing")
        // One that changes it drops them: counted, and the hash no longer has field times.
        _ = try keyspace.hashSet(bytes("h"), [(bytes("d"), bytes("v"))], now: 150)
        check(0, expired: 2, "a write dropped the expired fields")
        _ = try keyspace.hashExpireFields(bytes("h"), [bytes("c")], at: 200, condition: .always, now: 160)
        check(1, expired: 2, "a field time again")
        _ = keyspace.reclaimExpiredFields(bytes("h"), now: 200)
        check(0, expired: 3, "reclaimed")
        _ = try keyspace.hashExpireFields(bytes("h"), [bytes("d")], at: 300, condition: .always, now: 210)
        let deleted = keyspace.delete(bytes("h"), now: 220)
        #expect(deleted)
        check(0, expired: 3, "deleted")
        _ = try keyspace.hashExpireFields(bytes("other"), [bytes("x")], at: 400, condition: .always, now: 230)
        check(1, expired: 3, "another hash")
        keyspace.removeAll()
        check(0, expired: 3, "flushed")
    }
}
