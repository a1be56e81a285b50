// Generic key commands: existence, type, rename, copy, expiry and TTL.

/// EXPIRE's NX / XX / GT / LT conditions.
public enum ExpireCondition: Sendable { case always, ifNoExpiry, ifHasExpiry, ifGreater, ifLess }

extension Keyspace {
    public mutating func exists(_ key: Bytes, now: Int64) -> Bool { lookup(key, now: now) != nil }

    public mutating func typeName(_ key: Bytes, now: Int64) -> String { lookup(key, now: now)?.value.typeName ?? "none" }

    /// RENAME / RENAMENX. Returns false when `onlyIfAbsent` and the destination exists.
    public mutating func rename(_ source: Bytes, to destination: Bytes, onlyIfAbsent: Bool, now: Int64) throws(KeyspaceError) -> Bool {
        guard let entry = lookup(source, now: now) else { throw .noSuchKey }
        if source == destination { return !onlyIfAbsent }
        if onlyIfAbsent, lookup(destination, now: now) != nil { return false }
        delete(source, now: now)
        store(destination, entry)
        return true
    }

    /// COPY. Returns whether the copy was made.
    public mutating func copy(_ source: Bytes, to destination: Bytes, replace: Bool, now: Int64) -> Bool {
        guard let entry = lookup(source, now: now), source != destination else { return false }
        if lookup(destination, now: now) != nil {
            guard replace else { return false }
        }
        store(destination, entry)
        return true
    }

    /// Remaining time to live in milliseconds: -2 if the key is absent, -1 if it has no expiry.
    public mutating func timeToLive(_ key: Bytes, now: Int64) -> Int64 {
        guard let entry = lookup(key, now: now) else { return -2 }
        guard let expireAt = entry.expireAt else { return -1 }
        // A live key expires after `now`; the subtraction can still overflow when `now`
        // (a leader's or a log record's time) is far below zero, so it saturates.
        let (remaining, overflow) = expireAt.subtractingReportingOverflow(now)
        if overflow { return Int64.max }
        return max(remaining, 0)
    }

    /// Absolute expiry in milliseconds: -2 if absent, -1 if none.
    public mutating func expireTime(_ key: Bytes, now: Int64) -> Int64 {
        guard let entry = lookup(key, now: now) else { return -2 }
        return entry.expireAt ?? -1
    }

    /// EXPIRE family with an absolute time. A time in the past deletes the key.
    /// Returns whether the expiry was set (or the key deleted).
    public mutating func setExpiry(_ key: Bytes, at time: Int64, condition: ExpireCondition, now: Int64) -> Bool {
        guard var entry = lookup(key, now: now) else { return false }
        switch condition {
        case .always: break
        case .ifNoExpiry: if entry.expireAt != nil { return false }
        case .ifHasExpiry: if entry.expireAt == nil { return false }
        // A key without expiry has an infinite TTL: GT never applies, LT always does.
        case .ifGreater: guard let current = entry.expireAt, time > current else { return false }
        case .ifLess: if let current = entry.expireAt, time >= current { return false }
        }
        if time <= now {
            delete(key, now: now)
            return true
        }
        entry.expireAt = time
        store(key, entry)
        return true
    }

    /// PERSIST: removes the expiry; returns whether there was one.
    public mutating func persist(_ key: Bytes, now: Int64) -> Bool {
        guard var entry = lookup(key, now: now), entry.expireAt != nil else { return false }
        entry.expireAt = nil
        store(key, entry)
        return true
    }

    /// KEYS: every live key matching the glob pattern.
    public func keys(matching pattern: Bytes, now: Int64) -> [Bytes] {
        var result: [Bytes] = []
        let matchAll = pattern == [UInt8(ascii: "*")]
        for slot in slots {
            for (key, entry) in slot where !entry.isExpired(at: now) {
                if matchAll || Glob.matches(pattern: pattern, key.bytes) { result.append(key.bytes) }
            }
        }
        return result
    }
}
