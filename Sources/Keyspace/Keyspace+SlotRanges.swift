// Whole ranges of hash slots at once: what moving slots between shards copies out of the
// source's keyspace, clears in the target before a copy arrives, and deletes from the
// source once the target holds them.
import Core

extension Keyspace {
    /// The partitions that may hold keys of `slots`.
    private func partitions(covering slots: ClosedRange<UInt16>) -> [Int] {
        if slots.count >= self.slots.count { return Array(self.slots.indices) }
        return Array(Set(slots.map { Int($0) & partitionMask })).sorted()
    }

    /// Every entry whose hash slot is in `slots`, expired ones included (a replica must
    /// store the same keys as its leader), as snapshot records.
    public func records(inSlots slots: ClosedRange<UInt16>) -> [[UInt8]] {
        var records: [[UInt8]] = []
        for partition in partitions(covering: slots) {
            for (key, entry) in self.slots[partition] where slots.contains(HashSlot.of(key: key.bytes).rawValue) {
                records.append(EntryCodec.encode(key: key.bytes, entry: entry))
            }
        }
        return records
    }

    /// Number of keys (expired ones included) whose hash slot is in `slots`.
    public func keyCount(inSlots slots: ClosedRange<UInt16>) -> Int {
        partitions(covering: slots).reduce(0) { total, partition in
            total + self.slots[partition].keys.filter { slots.contains(HashSlot.of(key: $0.bytes).rawValue) }.count
        }
    }

    /// Removes every key whose hash slot is in `slots`; returns how many there were.
    @discardableResult
    public mutating func removeAll(inSlots slots: ClosedRange<UInt16>) -> Int {
        var removed = 0
        for partition in partitions(covering: slots) {
            let doomed = self.slots[partition].keys.filter { slots.contains(HashSlot.of(key: $0.bytes).rawValue) }
            for key in doomed { remove(key.bytes, slot: partition) }
            removed += doomed.count
        }
        return removed
    }
}
