// Active expiry of hash fields (HEXPIRE and friends, Redis 7.4). A field past its time to
// live is invisible to readers at once (HashFields.visible); this removes it from storage
// without waiting for the hash's next write, as Redis's active expire cycle does, so the
// memory goes and the `hexpired` event is published (`del` too when the hash empties).
//
// Each field expiry set pushes a mark (the hash's key, the time) into a min-heap; the
// shard leader pops the marks that are due (`dueFieldExpirations`) and proposes the
// hashes' reclaim through the log, where every replica drops the same fields
// (`reclaimExpiredFields`, deterministic in the entry's time). A mark whose fields were
// persisted, deleted or given a later time meanwhile is stale and dropped when popped;
// stale marks are bounded by rebuilding the heap from the hashes themselves.
import Collections

extension Keyspace {
    /// Pushes a mark for a field of the hash under `key` expiring at `expireAt`.
    mutating func scheduleFieldExpiry(_ key: Bytes, at expireAt: Int64) {
        holdsFieldExpirations = true
        fieldExpiryQueue.insert(ExpiryMark(expireAt: expireAt, key: key))
        if fieldExpiryQueue.count > max(2 * fieldMarksAtRebuild, keyCount) + ExpiryLimits.staleMarksSlack { rebuildFieldExpiryQueue() }
    }

    /// Marks every stored hash's earliest field expiry (after a load, or to drop stale marks).
    mutating func rebuildFieldExpiryQueue() {
        var marks: [ExpiryMark] = []
        for slot in slots {
            for (key, entry) in slot {
                guard case .hash(let fields) = entry.value, let earliest = fields.earliestExpiry else { continue }
                marks.append(ExpiryMark(expireAt: earliest, key: key.bytes))
            }
        }
        fieldMarksAtRebuild = marks.count
        fieldExpiryQueue = Heap(marks)
    }

    /// Keys of hashes holding a field expired at `now`, up to `limit`, without changing
    /// them: the shard leader proposes their reclaim through the log. Their marks are
    /// consumed (a reclaim that never commits leaves the fields stored but invisible until
    /// the hash's next write or a rebuild).
    public mutating func dueFieldExpirations(now: Int64, limit: Int = ExpiryLimits.keysPerCycleMax) -> [Bytes] {
        var due: [Bytes] = []
        for mark in Self.popDue(from: &fieldExpiryQueue, now: now, limit: limit)
        where hashWithExpiredFields(mark.key, now: now) != nil && !due.contains(mark.key) {
            due.append(mark.key)
        }
        return due
    }

    /// Whether `key` holds a hash with a field expired at `now` (kept until a reclaim).
    /// Exact, and costs nothing while no field of this keyspace ever had a time to live.
    public func storesExpiredFields(_ key: Bytes, now: Int64) -> Bool {
        holdsFieldExpirations && hashWithExpiredFields(key, now: now) != nil
    }

    /// The fields of the hash under `key` when one of them expired at `now` and the key's
    /// own time to live did not run out; nil otherwise.
    private func hashWithExpiredFields(_ key: Bytes, now: Int64) -> HashFields? {
        guard let entry = slots[slot(of: key)][Key(key)], !entry.keyExpired(at: now),
              case .hash(let fields) = entry.value, let earliest = fields.earliestExpiry, earliest <= now else { return nil }
        return fields
    }

    /// Drops the fields of the hash under `key` expired at `now`, deleting the key when none
    /// is left (every field expired: Redis says `hexpired` then `del`, not `expired`).
    /// Returns nil when there was nothing to drop (no such hash, its key's own time to live
    /// ran out, or no field expired), else the fields dropped and whether the key went with
    /// them. The same on every replica applying it at the same `now`. Recorded as a change
    /// (the change journal, a slot move's tracker) but, like a key's expiry, not as a
    /// touch of a watched key: the fields were already gone for readers (a WATCH taken
    /// before they expired fails EXEC through its digest of the hash).
    public mutating func reclaimExpiredFields(_ key: Bytes, now: Int64) -> (fields: [Bytes], keyDeleted: Bool)? {
        guard var fields = hashWithExpiredFields(key, now: now) else { return nil }
        let slot = slot(of: key)
        // Drop the stored reference so the purge below does not copy the whole hash.
        replaceValueUntracked(key, .hash([:]))
        let dropped = fields.purgeExpired(at: now)
        expiredFieldCount += dropped.count
        if fields.isEmpty {
            remove(key, slot: slot, expired: true)
            return (dropped, true)
        }
        replaceValueUntracked(key, .hash(fields))
        touched(key, logically: false)
        if let next = fields.earliestExpiry { scheduleFieldExpiry(key, at: next) }
        return (dropped, false)
    }
}

extension Entry {
    /// Whether the key's own time to live ran out (not counting a hash whose every field
    /// expired, which `isExpired` does).
    @inline(__always) func keyExpired(at now: Int64) -> Bool {
        expireAt.map { $0 <= now } ?? false
    }
}
