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
    /// With one partition per slot (16384), whole partitions are dropped at once instead
    /// of key by key (a slot move hands off a million keys in one log entry).
    @discardableResult
    public mutating func removeAll(inSlots slots: ClosedRange<UInt16>) -> Int {
        if partitionMask == HashSlot.count - 1 { return dropPartitions(slots) }
        var removed = 0
        for partition in partitions(covering: slots) {
            let doomed = self.slots[partition].keys.filter { slots.contains(HashSlot.of(key: $0.bytes).rawValue) }
            for key in doomed { remove(key.bytes, slot: partition) }
            removed += doomed.count
        }
        return removed
    }
}

extension Keyspace {
    /// `removeAll(inSlots:)` when every partition is one slot.
    private mutating func dropPartitions(_ range: ClosedRange<UInt16>) -> Int {
        precondition(partitionMask == HashSlot.count - 1, "one partition per slot")
        if let tracker = changeTracker, tracker.slots.overlaps(range) { changeTracker?.overflow() }
        if !watchedKeys.isEmpty {
            for key in watchedKeys where range.contains(HashSlot.of(key: key).rawValue) && slots[slot(of: key)][Key(key)] != nil {
                touchedWatched.append(key)
            }
        }
        var removed = 0
        for slot in range {
            let partition = Int(slot)
            guard !slots[partition].isEmpty else { continue }
            let count = slots[partition].count
            var expiring = 0
            for entry in slots[partition].values {
                if entry.expireAt != nil { expiring += 1 }
                keySizes.count(in: nil, out: entry.value.keySizeMeasure)
                countFieldExpiring(in: nil, out: entry.value)
            }
            slots[partition] = [:]
            keyCount -= count
            expiringCount -= expiring
            changeCount += count
            removed += count
        }
        // Expiry marks of the dropped keys stay queued; they are skipped when they come
        // up (the key is gone), as marks of deleted keys always are.
        return removed
    }
}

/// Reads the entries of some slots out of a keyspace copy in batches, one batch per call,
/// so that a large copy is spread over many turns of the caller instead of one. The copy
/// is immutable (copy-on-write): the original may change meanwhile.
public final class SlotRecordsReader {
    private let slots: SlotTable
    private let range: ClosedRange<UInt16>
    private let partitions: [Int]
    private var position = 0
    private var index: Dictionary<Key, Entry>.Index?
    public private(set) var recordsRead = 0

    public init(_ keyspace: Keyspace, slots range: ClosedRange<UInt16>) {
        slots = keyspace.slots
        self.range = range
        if range.count >= keyspace.slots.count {
            partitions = Array(keyspace.slots.indices)
        } else {
            partitions = Array(Set(range.map { Int($0) & keyspace.partitionMask })).sorted()
        }
    }

    /// The next records, up to about `bytesMax` bytes or `recordsMax` records (at least
    /// one record when any is left); `last` is true when nothing is left after them.
    public func next(bytesMax: Int, recordsMax: Int) -> (records: [[UInt8]], last: Bool) {
        var records: [[UInt8]] = []
        var bytes = 0
        while position < partitions.count {
            let partition = slots[partitions[position]]
            var current = index ?? partition.startIndex
            while current != partition.endIndex {
                let (key, entry) = partition[current]
                current = partition.index(after: current)
                guard range.contains(HashSlot.of(key: key.bytes).rawValue) else { continue }
                let record = EntryCodec.encode(key: key.bytes, entry: entry)
                records.append(record)
                bytes += record.count + 8
                if bytes >= bytesMax || records.count >= recordsMax {
                    index = current
                    recordsRead += records.count
                    return (records, current == partition.endIndex && position == partitions.count - 1)
                }
            }
            index = nil
            position += 1
        }
        recordsRead += records.count
        return (records, true)
    }
}

