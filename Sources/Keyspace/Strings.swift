// String commands: GET/SET family, counters, ranges. Argument parsing (options, syntax
// errors) happens in the engine; these functions take typed arguments.

/// When SET should write.
public enum SetCondition: Sendable { case always, ifAbsent, ifPresent }

/// What SET, GETEX and friends do to the expiry.
public enum ExpiryChange: Equatable, Sendable {
    /// Clear any expiry (plain SET).
    case clear
    /// Keep the existing expiry (SET KEEPTTL; GETEX without options).
    case keep
    /// Expire at this absolute time in milliseconds.
    case at(Int64)
}

extension Keyspace {
    /// The string under `key`, nil if absent.
    public mutating func getString(_ key: Bytes, now: Int64) throws(KeyspaceError) -> Bytes? {
        guard let entry = lookup(key, now: now) else { return nil }
        guard case .string(let bytes) = entry.value else { throw .wrongType }
        return bytes
    }

    /// SET with its options. Returns whether the value was written and, when asked, the
    /// previous string value. A previous value of another type is an error when `returnOld`.
    public mutating func set(
        _ key: Bytes, _ value: Bytes, condition: SetCondition = .always, expiry: ExpiryChange = .clear,
        returnOld: Bool = false, now: Int64
    ) throws(KeyspaceError) -> (written: Bool, old: Bytes?) {
        if condition == .always, expiry == .clear, !returnOld {
            // The plain SET: one hash lookup instead of a lookup and a store.
            accessNow = now
            store(key, Entry(value: .string(value)))
            return (true, nil)
        }
        let existing = lookup(key, now: now)
        var old: Bytes? = nil
        if returnOld, let existing {
            guard case .string(let bytes) = existing.value else { throw .wrongType }
            old = bytes
        }
        switch condition {
        case .ifAbsent where existing != nil: return (false, old)
        case .ifPresent where existing == nil: return (false, old)
        default: break
        }
        let expireAt: Int64?
        switch expiry {
        case .clear: expireAt = nil
        case .keep: expireAt = existing?.expireAt
        case .at(let time): expireAt = time
        }
        if let expireAt, expireAt <= now {
            // An expiry in the past deletes the key, as Redis does for SET with EXAT/PXAT.
            delete(key, now: now)
            return (true, old)
        }
        store(key, Entry(value: .string(value), expireAt: expireAt))
        return (true, old)
    }

    public mutating func getDelete(_ key: Bytes, now: Int64) throws(KeyspaceError) -> Bytes? {
        guard let value = try getString(key, now: now) else { return nil }
        delete(key, now: now)
        return value
    }

    /// GETEX: returns the value and changes the expiry (`.clear` = PERSIST, `.keep` = none).
    public mutating func getAndChangeExpiry(_ key: Bytes, _ change: ExpiryChange, now: Int64) throws(KeyspaceError) -> Bytes? {
        guard let value = try getString(key, now: now), var entry = lookup(key, now: now) else { return nil }
        switch change {
        case .keep: return value
        case .clear:
            if entry.expireAt != nil { entry.expireAt = nil; store(key, entry) }
        case .at(let time):
            if time <= now { delete(key, now: now); return value }
            entry.expireAt = time
            store(key, entry)
        }
        return value
    }

    public mutating func append(_ key: Bytes, _ suffix: Bytes, now: Int64) throws(KeyspaceError) -> Int {
        guard var entry = lookup(key, now: now) else {
            store(key, Entry(value: .string(suffix)))
            return suffix.count
        }
        guard case .string(var bytes) = entry.value else { throw .wrongType }
        guard Self.fits(bytes.count, plus: suffix.count) else { throw .stringTooLong }
        entry.value = .string([])  // release the reference so the append does not copy
        bytes.append(contentsOf: suffix)
        replaceValue(key, .string(bytes), rawString: true)
        return bytes.count
    }

    public mutating func stringLength(_ key: Bytes, now: Int64) throws(KeyspaceError) -> Int {
        try getString(key, now: now)?.count ?? 0
    }

    /// GETRANGE with Redis's index rules: negative indexes count from the end, the range
    /// is clamped, an empty or inverted range gives "".
    public mutating func getRange(_ key: Bytes, start: Int64, end: Int64, now: Int64) throws(KeyspaceError) -> Bytes {
        guard let bytes = try getString(key, now: now), !bytes.isEmpty else { return [] }
        let length = Int64(bytes.count)
        if start < 0 && end < 0 && start > end { return [] }
        var first = start < 0 ? max(length + start, 0) : start
        var last = end < 0 ? max(length + end, 0) : end
        if last >= length { last = length - 1 }
        if first < 0 { first = 0 }
        if first > last || length == 0 { return [] }
        return Array(bytes[Int(first)...Int(last)])
    }

    /// SETRANGE. The offset comes from the client: it is range-checked before any
    /// arithmetic, so an offset near Int64.max is an error reply, not an overflow.
    public mutating func setRange(_ key: Bytes, offset: Int64, _ value: Bytes, now: Int64) throws(KeyspaceError) -> Int {
        guard offset >= 0 else { throw .offsetOutOfRange }
        let existing = try getString(key, now: now)
        if value.isEmpty { return existing?.count ?? 0 }
        guard let start = Int(exactly: offset), Self.fits(start, plus: value.count) else { throw .stringTooLong }
        var bytes = existing ?? []
        let end = start + value.count
        if bytes.count < end { bytes.append(contentsOf: repeatElement(0, count: end - bytes.count)) }
        bytes.replaceSubrange(start..<end, with: value)
        if existing == nil {
            store(key, Entry(value: .string(bytes), rawString: true))
        } else {
            replaceValue(key, .string(bytes), rawString: true)
        }
        return bytes.count
    }

    /// Redis's checkStringLength: whether a string of `size` bytes grown by `growth` bytes
    /// stays within the limit. Both are non-negative; compared by subtraction, so it cannot
    /// overflow whatever the client sent.
    static func fits(_ size: Int, plus growth: Int) -> Bool {
        size >= 0 && growth >= 0 && size <= KeyspaceLimits.stringBytesMax && growth <= KeyspaceLimits.stringBytesMax - size
    }

    /// INCRBY/DECRBY/INCR/DECR: adds `delta`, keeping the expiry.
    public mutating func increment(_ key: Bytes, by delta: Int64, now: Int64) throws(KeyspaceError) -> Int64 {
        let existing = try getString(key, now: now)
        var current: Int64 = 0
        if let existing {
            guard let parsed = Numbers.parseInteger(existing) else { throw .notInteger }
            current = parsed
        }
        let (sum, overflow) = current.addingReportingOverflow(delta)
        if overflow { throw .overflow }
        if existing == nil {
            store(key, Entry(value: .string(Numbers.formatInteger(sum))))
        } else {
            replaceValue(key, .string(Numbers.formatInteger(sum)))
        }
        return sum
    }

    /// INCRBYFLOAT: adds `delta`, keeping the expiry; returns the new value as stored.
    public mutating func incrementFloat(_ key: Bytes, by delta: LongDouble, now: Int64) throws(KeyspaceError) -> Bytes {
        let existing = try getString(key, now: now)
        var current: LongDouble = 0
        if let existing {
            guard let parsed = Numbers.parseLongDouble(existing) else { throw .notFloat }
            current = parsed
        }
        let sum = current + delta
        guard sum.isFinite else { throw .nanOrInfinity }
        let formatted = Numbers.formatLongDouble(sum)
        if existing == nil {
            store(key, Entry(value: .string(formatted)))
        } else {
            replaceValue(key, .string(formatted))
        }
        return formatted
    }
}
