// The keys of some slots that changed since a moment: what a slot move's source sends the
// target after its live copy (taken at that moment) to catch it up. Bounded: past
// `keysMax` keys (or after a whole-keyspace flush) it only says that it overflowed, and
// the move copies the slots again instead.
import Core

public struct ChangeTracker: Sendable, Equatable {
    /// Most changed keys remembered before the tracker gives up.
    public static let keysMax = 1_000_000

    public let slots: ClosedRange<UInt16>
    /// Which copy this tracker belongs to (its owner's number for it).
    public let attempt: UInt64
    public private(set) var keys: Set<Bytes> = []
    /// True once more keys changed than are remembered: `keys` is then incomplete.
    public private(set) var overflowed = false

    public init(slots: ClosedRange<UInt16>, attempt: UInt64) {
        self.slots = slots
        self.attempt = attempt
    }

    mutating func record(_ key: Bytes) {
        guard !overflowed, slots.contains(HashSlot.of(key: key).rawValue) else { return }
        guard keys.count < Self.keysMax || keys.contains(key) else { return overflow() }
        keys.insert(key)
    }

    /// Gives up recording: the changed keys are no longer known.
    mutating func overflow() {
        overflowed = true
        keys = []
    }
}

extension Keyspace {
    /// The current records of `keys` (those stored, expired ones included) and the keys
    /// no longer stored: what brings a copy of them up to date.
    public func currentRecords(of keys: some Sequence<Bytes>) -> (records: [[UInt8]], deleted: [Bytes]) {
        var records: [[UInt8]] = []
        var deleted: [Bytes] = []
        for key in keys {
            if let entry = slots[slot(of: key)][Key(key)] {
                records.append(EntryCodec.encode(key: key, entry: entry))
            } else {
                deleted.append(key)
            }
        }
        return (records, deleted)
    }

    /// Removes `key` if stored (expired or not): an import's record of a deletion.
    public mutating func removeStored(_ key: Bytes) {
        remove(key, slot: slot(of: key))
    }
}
