// Whole slot ranges at once: dropping them keeps the key and expiry counts exact whether
// the keyspace has one partition per slot (whole partitions dropped) or fewer (key by
// key), and tells WATCHes and a change tracker.
import Core
import Testing
@testable import Keyspace

@Suite struct SlotRangesTests {
    @Test(arguments: [16384, 16])
    func removingSlotRangesKeepsCountsExact(partitions: Int) {
        var keyspace = Keyspace(partitionCount: partitions)
        var expected = 0, expectedExpiring = 0
        let range: ClosedRange<UInt16> = 2000...9000
        for n in 0..<3000 {
            let key = Array("k\(n)".utf8)
            let expiring = n % 3 == 0
            keyspace.store(key, Entry(value: .string([1]), expireAt: expiring ? 1_000_000 : nil))
            if !range.contains(HashSlot.of(key: key).rawValue) {
                expected += 1
                if expiring { expectedExpiring += 1 }
            }
        }
        let watched = (0..<3000).map { Array("k\($0)".utf8) }.first { range.contains(HashSlot.of(key: $0).rawValue) }!
        keyspace.watchedKeys = [watched]
        keyspace.changeTracker = ChangeTracker(slots: 0...16383, attempt: 1)
        let removed = keyspace.removeAll(inSlots: range)
        #expect(removed == 3000 - expected)
        #expect(keyspace.keyCount == expected)
        #expect(keyspace.expiringCount == expectedExpiring)
        #expect(keyspace.keyCount(inSlots: range) == 0)
        #expect(keyspace.touchedWatched == [watched])
        #expect(keyspace.changeTracker?.overflowed == true || keyspace.changeTracker?.keys.count == removed)
        // Expiry of the dropped keys' stale marks removes nothing else.
        let reclaimed = keyspace.expireCycle(now: 2_000_000, limit: 10_000)
        #expect(reclaimed == expectedExpiring)
        #expect(keyspace.keyCount == expected - expectedExpiring)
    }
}
