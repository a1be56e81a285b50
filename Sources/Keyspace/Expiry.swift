// Active expiry. Each expiry time set on a key pushes a mark into a min-heap; the cycle
// pops marks that are due and deletes the key if its current expiry still matches (a mark
// whose key changed or lost its TTL is stale and dropped). Stale marks are bounded: when
// the heap grows past twice the live expiring keys it is rebuilt.
import Collections

struct ExpiryMark: Comparable, Sendable {
    var expireAt: Int64
    var key: Bytes
    static func < (lhs: ExpiryMark, rhs: ExpiryMark) -> Bool { lhs.expireAt < rhs.expireAt }
    static func == (lhs: ExpiryMark, rhs: ExpiryMark) -> Bool { lhs.expireAt == rhs.expireAt && lhs.key == rhs.key }
}

/// Bounds of the active expiry cycle.
public enum ExpiryLimits {
    /// Keys examined per cycle at most, so a cycle never stalls the event loop.
    public static let keysPerCycleMax = 2000
    /// Stale marks tolerated beyond the live expiring keys before a rebuild.
    public static let staleMarksSlack = 1024
}

extension Keyspace {
    mutating func scheduleExpiry(_ key: Bytes, at expireAt: Int64) {
        expiryQueue.insert(ExpiryMark(expireAt: expireAt, key: key))
        if expiryQueue.count > 2 * expiringCount + ExpiryLimits.staleMarksSlack { rebuildExpiryQueue() }
    }

    private mutating func rebuildExpiryQueue() {
        var marks: [ExpiryMark] = []
        marks.reserveCapacity(expiringCount)
        for slot in slots {
            for (key, entry) in slot { if let expireAt = entry.expireAt { marks.append(ExpiryMark(expireAt: expireAt, key: key.bytes)) } }
        }
        expiryQueue = Heap(marks)
    }

    /// Deletes up to `limit` keys whose expiry time is <= `now`. Returns how many were deleted.
    @discardableResult
    public mutating func expireCycle(now: Int64, limit: Int = ExpiryLimits.keysPerCycleMax) -> Int {
        var examined = 0, deleted = 0
        while examined < limit, let first = expiryQueue.min, first.expireAt <= now {
            _ = expiryQueue.popMin()
            examined += 1
            let slot = slot(of: first.key)
            guard let entry = slots[slot][Key(first.key)], entry.expireAt == first.expireAt else { continue }
            remove(first.key, slot: slot, expired: true)
            expiredKeyCount += 1
            deleted += 1
        }
        return deleted
    }

    /// Keys whose expiry is <= `now`, up to `limit`, without removing them: the shard
    /// leader proposes their removal through the log. Their marks are consumed; a key whose
    /// removal never commits stays stored (logically absent) until the next mark rebuild.
    public mutating func dueExpirations(now: Int64, limit: Int = ExpiryLimits.keysPerCycleMax) -> [Bytes] {
        Self.popDue(from: &expiryQueue, now: now, limit: limit)
            .filter { slots[slot(of: $0.key)][Key($0.key)]?.expireAt == $0.expireAt }  // the others are stale
            .map(\.key)
    }

    /// Pops the marks of `queue` due at `now`, at most `limit` of them, oldest first.
    static func popDue(from queue: inout Heap<ExpiryMark>, now: Int64, limit: Int) -> [ExpiryMark] {
        var due: [ExpiryMark] = []
        while due.count < limit, let first = queue.min, first.expireAt <= now {
            due.append(queue.popMin()!)
        }
        return due
    }

    /// Whether `key` is stored but expired at `now` (kept until a reclaim).
    public func storesExpired(_ key: Bytes, now: Int64) -> Bool {
        slots[slot(of: key)][Key(key)]?.isExpired(at: now) ?? false
    }

    /// Removes those of `keys` that are expired at `now`; returns how many. Deterministic:
    /// every replica applying the same call at the same `now` removes the same keys.
    @discardableResult
    public mutating func reclaimExpired(_ keys: [Bytes], now: Int64) -> Int {
        var removed = 0
        for key in keys {
            let slot = slot(of: key)
            guard let entry = slots[slot][Key(key)], entry.isExpired(at: now) else { continue }
            remove(key, slot: slot, expired: true)
            expiredKeyCount += 1
            removed += 1
        }
        return removed
    }

    /// Number of expiry marks held (live and stale), for tests and INFO.
    public var expiryMarkCount: Int { expiryQueue.count }
}
