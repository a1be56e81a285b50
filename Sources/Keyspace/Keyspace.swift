// The keyspace: every key of one node, partitioned by Redis Cluster hash slot.
//
// Invariants:
// - `slots[s]` holds exactly the keys whose HashSlot is `s`; `keyCount` is the sum of
//   their sizes, `expiringCount` the number of entries with an expiry, `keySizes` the
//   sizes of their values, `fieldExpiringCount` the number of hashes with a field that has
//   a time to live (every store, replacement and removal goes through this file).
// - A key whose expiry time is <= `now` is logically absent: every read and write goes
//   through `lookup(_:now:)`, which deletes it first (lazy expiry). `expireCycle` removes
//   expired keys that nobody touches (active expiry), using `expiryQueue`.
// - Every method is a pure function of (state, arguments, now): no clock, no system
//   randomness, no dependence on Dictionary iteration order for the resulting state.
//   This lets the same code run as a Raft state machine and in the simulator.
// - Copying a Keyspace is cheap (a table of copy-on-write dictionaries, SlotTable.swift); a
//   snapshot is a value copy, and the first write to a slot afterwards copies only that
//   slot and its chunk of the table.
import Collections
import Core

public struct Keyspace: Sendable {
    public internal(set) var slots: SlotTable
    public internal(set) var keyCount: Int = 0
    public internal(set) var expiringCount: Int = 0
    /// Number of state changes since start-up (INFO's rdb_changes_since_last_save).
    public internal(set) var changeCount: Int = 0
    /// Keys expired by lazy or active expiry (INFO's expired_keys).
    public internal(set) var expiredKeyCount: Int = 0
    /// Hashes holding a field with a time to live (INFO keyspace's `subexpiry`).
    public internal(set) var fieldExpiringCount: Int = 0
    /// Hash fields removed because their time to live ran out (INFO's expired_subkeys).
    public internal(set) var expiredFieldCount: Int = 0
    /// How many keys hold values of each size, by type (INFO keysizes; KeySizes.swift).
    public internal(set) var keySizes = KeySizes()
    /// Keys that some connection WATCHes; writes to these are recorded in `touchedWatched`.
    public var watchedKeys: Set<Bytes> = []
    /// Watched keys modified since the engine last drained this list.
    public var touchedWatched: [Bytes] = []
    /// When set (keyspace notifications are on), every key change is appended here, in
    /// order, for the engine to turn into events; nil costs nothing.
    public var changeJournal: [KeyChange]?
    /// When set, records every key of its slots that changes (a slot move's catch-up:
    /// what changed since the copy was taken). Local to one node, never replicated.
    public var changeTracker: ChangeTracker?
    var expiryQueue = Heap<ExpiryMark>()
    /// Hashes with fields to expire, and the heap's size at its last rebuild
    /// (HashFieldExpiry.swift).
    var fieldExpiryQueue = Heap<ExpiryMark>()
    var fieldMarksAtRebuild = 0
    /// False while no hash field of this keyspace has had a time to live since it was made
    /// or last emptied: then no hash holds one (checks of expired fields are skipped).
    public internal(set) var holdsFieldExpirations = false
    /// When false, an expired key found by `lookup` is reported absent but stays stored
    /// until an explicit `reclaimExpired`. Raft replicas run this way: only the shard
    /// leader decides (through the log) when expired keys are removed, so reads on any
    /// replica never change its state and every replica stores the same keys.
    public var deletesExpiredOnAccess = true
    /// How accesses are recorded in each entry's access field (AccessClock.swift).
    public var accessSettings = AccessSettings()
    /// False while a command that must not change access times runs (TYPE, TTL, EXISTS,
    /// OBJECT..., a CLIENT NO-TOUCH client's command): `lookup` leaves the field alone.
    public var touchesOnAccess = true
    /// The time of the last lookup or write, which stamps entries stored without one.
    var accessNow: Int64 = 0
    /// The LFU counter's coin (xorshift64): deterministic, as the keyspace must be.
    var accessRandom: UInt64 = 0x2545_F491_4F6C_DD1D

    /// Partitions are hash slots masked to the partition count: with the default 16384
    /// each partition is exactly one Redis Cluster hash slot (the server, where SCAN
    /// cursors and per-slot counts need that). A small replicated state machine, as in the
    /// simulator, uses fewer partitions, so copying and dropping it stays cheap.
    public let partitionMask: Int

    /// - Parameter partitionCount: a power of two, at most 16384.
    public init(partitionCount: Int = HashSlot.count) {
        precondition(partitionCount > 0 && partitionCount <= HashSlot.count && partitionCount & (partitionCount - 1) == 0,
                     "partition count must be a power of two up to 16384")
        partitionMask = partitionCount - 1
        slots = SlotTable(count: partitionCount)
    }

    @inline(__always) func slot(of key: Bytes) -> Int {
        Int(HashSlot.of(key: key).rawValue) & partitionMask
    }

    // MARK: - Access with lazy expiry

    /// The live entry under `key`, deleting it first if it has expired.
    public mutating func lookup(_ key: Bytes, now: Int64) -> Entry? {
        let slot = slot(of: key)
        accessNow = now
        guard let index = slots[slot].index(forKey: Key(key)) else { return nil }
        let entry = slots[slot].values[index]
        if entry.isExpired(at: now) {
            if deletesExpiredOnAccess {
                remove(key, slot: slot, expired: true)
                expiredKeyCount += 1
            }
            return nil
        }
        if touchesOnAccess {
            let accessed = entry.access.accessed(now: now, accessSettings, random: accessSettings.lfu ? nextAccessRandom() : 0)
            if accessed != entry.access { slots[slot].values[index].access = accessed }
        }
        return entry
    }

    /// Refreshes the access time (LRU) or counter (LFU) of `key` as a lookup at `now`
    /// would, if it is stored and live; nothing else changes (an expired key stays).
    public mutating func touchAccess(_ key: Bytes, now: Int64) {
        let slot = slot(of: key)
        guard let index = slots[slot].index(forKey: Key(key)) else { return }
        let entry = slots[slot].values[index]
        guard !entry.isExpired(at: now) else { return }
        accessNow = now
        let accessed = entry.access.accessed(now: now, accessSettings, random: accessSettings.lfu ? nextAccessRandom() : 0)
        if accessed != entry.access { slots[slot].values[index].access = accessed }
    }

    /// A uniform draw in [0, 1) for the LFU counter.
    private mutating func nextAccessRandom() -> Double {
        accessRandom ^= accessRandom << 13
        accessRandom ^= accessRandom >> 7
        accessRandom ^= accessRandom << 17
        return Double(accessRandom >> 11) / Double(UInt64(1) << 53)
    }

    /// Read-only view of an entry honouring expiry without deleting (for snapshots and checks).
    public func peek(_ key: Bytes, now: Int64) -> Entry? {
        guard let entry = slots[slot(of: key)][Key(key)], !entry.isExpired(at: now) else { return nil }
        return entry
    }

    /// Stores `entry` under `key`, replacing any previous entry.
    public mutating func store(_ key: Bytes, _ entry: Entry) {
        let slot = slot(of: key)
        var entry = entry
        // Stamped with the time of the command storing it (none while a snapshot loads).
        if entry.access.raw == 0, accessNow > 0 { entry.access = .fresh(now: accessNow, accessSettings) }
        let previous = slots[slot].updateValue(entry, forKey: Key(key))
        keySizes.count(in: entry.value.keySizeMeasure, out: previous?.value.keySizeMeasure)
        countFieldExpiring(in: entry.value, out: previous?.value)
        if previous == nil {
            keyCount += 1
            if changeJournal != nil { changeJournal?.append(KeyChange(key: key, kind: .created)) }
        }
        if previous?.expireAt != nil { expiringCount -= 1 }
        if let expireAt = entry.expireAt {
            expiringCount += 1
            if previous?.expireAt != expireAt { scheduleExpiry(key, at: expireAt) }
        }
        if case .hash(let fields) = entry.value, let earliest = fields.earliestExpiry { scheduleFieldExpiry(key, at: earliest) }
        touched(key)
    }

    /// Replaces the value under an existing key, keeping its expiry. `rawString`: the
    /// write changed a string in place (see `Entry.rawString`).
    public mutating func replaceValue(_ key: Bytes, _ value: Value, rawString: Bool = false) {
        let slot = slot(of: key)
        if let index = slots[slot].index(forKey: Key(key)) {
            keySizes.count(in: value.keySizeMeasure, out: slots[slot].values[index].value.keySizeMeasure)
            countFieldExpiring(in: value, out: slots[slot].values[index].value)
            slots[slot].values[index].replace(with: value, rawString: rawString)
        }
        touched(key)
    }

    /// Replaces the value without recording a modification: only for moving a value out
    /// and back in around an in-place mutation.
    mutating func replaceValueUntracked(_ key: Bytes, _ value: Value) {
        let slot = slot(of: key)
        guard let index = slots[slot].index(forKey: Key(key)) else { return }
        keySizes.count(in: value.keySizeMeasure, out: slots[slot].values[index].value.keySizeMeasure)
        countFieldExpiring(in: value, out: slots[slot].values[index].value)
        slots[slot].values[index].value = value
    }

    /// Raises the encoding floor of `key`'s entry (Entry.encodingFloor) to `rank` of its
    /// value when that is higher; nothing else changes (no modification is recorded). An
    /// entry already at `maximum` is left without calling `rank`.
    public mutating func raiseEncodingFloor(_ key: Bytes, maximum: UInt8, rank: (Value) -> UInt8) {
        let slot = slot(of: key)
        guard let index = slots[slot].index(forKey: Key(key)) else { return }
        let floor = slots[slot].values[index].encodingFloor
        guard floor < maximum else { return }
        let reached = rank(slots[slot].values[index].value)
        if reached > floor { slots[slot].values[index].encodingFloor = reached }
    }

    /// Sets the encoding floor of `key`'s entry to what `floor` computes from the entry;
    /// nothing else changes (no modification is recorded). For lists, whose encoding
    /// Redis converts both ways with hysteresis (EncodingLimits.listFloor).
    public mutating func setEncodingFloor(_ key: Bytes, _ floor: (Entry) -> UInt8) {
        let slot = slot(of: key)
        guard let index = slots[slot].index(forKey: Key(key)) else { return }
        let next = floor(slots[slot].values[index])
        if next != slots[slot].values[index].encodingFloor { slots[slot].values[index].encodingFloor = next }
    }

    /// Forgets every entry's encoding history, as Redis's DEBUG RELOAD re-encodes each
    /// value from its RDB form: a string changed in place is no longer raw, and each floor
    /// becomes what `floor` gives the value alone (a list: whether it is a quicklist now).
    /// Nothing else changes, and both are local to this copy (not in snapshots). O(keys);
    /// entries already so are not written.
    public mutating func forgetEncodingHistory(_ floor: (Value) -> UInt8) {
        for slot in slots.indices where !slots[slot].isEmpty {
            var index = slots[slot].values.startIndex
            while index != slots[slot].values.endIndex {
                let entry = slots[slot].values[index]
                let natural = floor(entry.value)
                if entry.rawString || entry.encodingFloor != natural {
                    slots[slot].values[index].rawString = false
                    slots[slot].values[index].encodingFloor = natural
                }
                index = slots[slot].values.index(after: index)
            }
        }
    }

    /// Deletes `key`; returns whether it existed (expired keys count as absent).
    @discardableResult
    public mutating func delete(_ key: Bytes, now: Int64) -> Bool {
        guard lookup(key, now: now) != nil else { return false }
        remove(key, slot: slot(of: key))
        return true
    }

    /// Removes `key` if stored. `expired`: it is removed because its time to live ran out,
    /// which is no logical change (it was already gone for readers), so a watched key is not
    /// marked touched: as Redis, a key that had expired when it was watched may be
    /// reclaimed without failing EXEC, and one that expired after WATCH fails it through
    /// the watch's own record (its expiry time, or its value's digest), not this removal.
    mutating func remove(_ key: Bytes, slot: Int, expired: Bool = false) {
        guard let previous = slots[slot].removeValue(forKey: Key(key)) else { return }
        keySizes.count(in: nil, out: previous.value.keySizeMeasure)
        countFieldExpiring(in: nil, out: previous.value)
        keyCount -= 1
        if previous.expireAt != nil { expiringCount -= 1 }
        changeCount += 1
        if !expired, !watchedKeys.isEmpty, watchedKeys.contains(key) { touchedWatched.append(key) }
        if changeTracker != nil { changeTracker?.record(key) }
        if changeJournal != nil { changeJournal?.append(KeyChange(key: key, kind: .deleted)) }
    }

    /// Keeps `fieldExpiringCount` as a value `new` (nil: none) replaces `old` (nil: none):
    /// only hashes count, so a string's store costs two tag checks.
    @inline(__always) mutating func countFieldExpiring(in new: Value?, out old: Value?) {
        if let old, case .hash(let fields) = old, fields.hasExpirations { fieldExpiringCount -= 1 }
        if let new, case .hash(let fields) = new, fields.hasExpirations { fieldExpiringCount += 1 }
        assert(fieldExpiringCount >= 0, "a hash counted out of fieldExpiringCount was never counted in")
    }

    /// Records a modification of `key`.
    @inline(__always) mutating func touched(_ key: Bytes, logically: Bool = true) {
        changeCount += 1
        if logically, !watchedKeys.isEmpty, watchedKeys.contains(key) { touchedWatched.append(key) }
        if changeTracker != nil { changeTracker?.record(key) }
        if changeJournal != nil { changeJournal?.append(KeyChange(key: key, kind: .modified)) }
    }

    /// Removes every key. A watched key counts as touched only if it was live at `now`
    /// (Redis: a watched key already expired is deleted with no logical change).
    public mutating func removeAll(now: Int64 = .min) {
        if !watchedKeys.isEmpty {
            for key in watchedKeys where slots[slot(of: key)][Key(key)].map({ !$0.isExpired(at: now) }) ?? false {
                touchedWatched.append(key)
            }
        }
        changeCount += keyCount
        if keyCount > 0 { changeTracker?.overflow() }
        if changeJournal != nil { changeJournal?.append(KeyChange(key: [], kind: .flushed)) }
        slots = SlotTable(count: slots.count)
        keySizes.reset()
        fieldExpiringCount = 0
        holdsFieldExpirations = false
        fieldExpiryQueue = Heap()
        fieldMarksAtRebuild = 0
        keyCount = 0
        expiringCount = 0
        expiryQueue = Heap()
    }

    // MARK: - Iteration

    /// Visits live keys of whole slots starting at `cursor` until at least `count` keys
    /// were visited or the slots run out. Returns the next cursor (0 when done). Because a
    /// slot is visited whole, every key present for the entire scan is returned.
    /// `expired` is told each key it meets stored past its expiry (not visited).
    public func scan(cursor: Int, count: Int, now: Int64, expired: (Bytes) -> Void = { _ in },
                     _ visit: (Bytes, Entry) -> Void) -> Int {
        var slot = cursor
        var visited = 0
        while slot < slots.count {
            for (key, entry) in slots[slot] {
                if entry.isExpired(at: now) { expired(key.bytes) } else { visit(key.bytes, entry) }
            }
            visited += slots[slot].count
            slot += 1
            if visited >= count { break }
        }
        return slot >= slots.count ? 0 : slot
    }

    /// A random live key, drawing from `random`.
    /// `expired` is told each stored but expired key a draw met (a key may be met twice).
    public func randomKey(now: Int64, using random: inout SeededRandom, expired: (Bytes) -> Void = { _ in }) -> Bytes? {
        guard keyCount > 0 else { return nil }
        for _ in 0..<100 {
            var target = random.int(in: 0...(keyCount - 1))
            for slot in slots.indices where !slots[slot].isEmpty {
                if target < slots[slot].count {
                    let index = slots[slot].index(slots[slot].startIndex, offsetBy: target)
                    let (key, entry) = slots[slot][index]
                    if !entry.isExpired(at: now) { return key.bytes }
                    expired(key.bytes)
                    break
                }
                target -= slots[slot].count
            }
        }
        return nil
    }

    /// A random stored key and its entry (expired ones included), drawing from `random`:
    /// a random non-empty partition, then a random key in it (nearly uniform when keys
    /// spread over partitions, as hashed keys do). Nil when empty.
    public func randomEntry(using random: inout SeededRandom) -> (key: Bytes, entry: Entry)? {
        guard keyCount > 0 else { return nil }
        var partition = -1
        for _ in 0..<32 {
            let candidate = random.int(in: 0...(slots.count - 1))
            if !slots[candidate].isEmpty { partition = candidate; break }
        }
        if partition < 0 {
            let start = random.int(in: 0...(slots.count - 1))
            guard let found = (0..<slots.count).lazy.map({ (start + $0) % self.slots.count }).first(where: { !self.slots[$0].isEmpty }) else {
                return nil
            }
            partition = found
        }
        let offset = random.int(in: 0...(slots[partition].count - 1))
        let (key, entry) = slots[partition][slots[partition].index(slots[partition].startIndex, offsetBy: offset)]
        return (key.bytes, entry)
    }

    /// A random stored key that has a TTL, and its entry, drawn from the expiry index (a
    /// few tries past marks a later change left stale). Nil when none was found.
    public func randomExpiringEntry(using random: inout SeededRandom) -> (key: Bytes, entry: Entry)? {
        let marks = expiryQueue.unordered
        guard !marks.isEmpty else { return nil }
        for _ in 0..<8 {
            let mark = marks[random.int(in: 0...(marks.count - 1))]
            if let entry = slots[slot(of: mark.key)][Key(mark.key)], entry.expireAt == mark.expireAt { return (mark.key, entry) }
        }
        return nil
    }

    /// Number of keys in one hash slot (CLUSTER COUNTKEYSINSLOT); needs the default
    /// partition count, where partitions are slots.
    public func keyCount(inSlot slot: HashSlot) -> Int {
        precondition(slots.count == HashSlot.count, "per-slot counts need one partition per slot")
        return slots[Int(slot.rawValue)].count
    }

    /// Number of partitions (the SCAN cursor ranges over them).
    public var partitionCount: Int { slots.count }
}

/// One entry of `Keyspace.changeJournal`.
public struct KeyChange: Sendable, Equatable {
    /// `flushed`: every key was removed (FLUSHALL); its key is empty.
    public enum Kind: Sendable, Equatable { case created, modified, deleted, flushed }
    public var key: Bytes
    public var kind: Kind
}

// MARK: - Numbered databases

extension Keyspace {
    /// An empty keyspace for another numbered database, partitioned and expiring as this one.
    public func emptyDatabase() -> Keyspace {
        var empty = Keyspace(partitionCount: partitionCount)
        empty.deletesExpiredOnAccess = deletesExpiredOnAccess
        empty.accessSettings = accessSettings
        return empty
    }

    /// Takes over `other`'s observers (watched keys, the change journal and tracker), which
    /// belong to whichever database is selected, leaving `other` with none.
    public mutating func adoptObservers(from other: inout Keyspace) {
        watchedKeys = other.watchedKeys
        other.watchedKeys = []
        touchedWatched += other.touchedWatched
        other.touchedWatched = []
        changeJournal = other.changeJournal
        other.changeJournal = nil
        changeTracker = other.changeTracker
        other.changeTracker = nil
        deletesExpiredOnAccess = other.deletesExpiredOnAccess
    }
}
