// Hash commands. A hash that loses its last field is deleted, as in Redis.
import Core

extension Keyspace {
    /// The fields of the hash under `key`; nil if absent; an error for another type.
    public mutating func hash(_ key: Bytes, now: Int64) throws(KeyspaceError) -> HashFields? {
        guard let entry = lookup(key, now: now) else { return nil }
        guard case .hash(let fields) = entry.value else { throw .wrongType }
        return fields.visible(at: now)
    }

    /// Applies `body` to the hash under `key` (created empty if absent) and stores the
    /// result, deleting the key if the hash became empty. `body` sets `changed` when it
    /// modified the fields; only then is the key recorded as modified (for WATCH and the
    /// log), so a failed or no-op command changes nothing observable.
    private mutating func modifyHash<Result>(_ key: Bytes, now: Int64, create: Bool,
                                             _ body: (inout HashFields, inout Bool) throws(KeyspaceError) -> Result) throws(KeyspaceError) -> Result? {
        var stored: HashFields?
        if let entry = lookup(key, now: now) {
            guard case .hash(let fields) = entry.value else { throw .wrongType }
            stored = fields
        }
        let existing = stored != nil
        guard existing || create else { return nil }
        // Take the value out of `stored`: a second live reference would make the mutation
        // below copy the whole hash.
        var fields = stored.take() ?? [:]
        // Drop the stored reference (without recording a change) so the mutation below
        // does not copy the whole hash.
        if existing { replaceValueUntracked(key, .hash([:])) }
        // Fields past their time to live are dropped by a write that changes the hash
        // (the same on every replica: `now` is the write's time); otherwise the stored
        // fields stay exactly as they were.
        let original: HashFields? = fields.hasExpirations ? fields : nil
        // Counted as expired only when the write changes the hash (and so keeps the purge).
        let purged = original != nil ? fields.purgeExpired(at: now).count : 0
        var changed = false
        let result: Result
        do {
            result = try body(&fields, &changed)
        } catch {
            if existing { replaceValueUntracked(key, .hash(original ?? fields)) }
            throw error
        }
        if !changed {
            if existing { replaceValueUntracked(key, .hash(original ?? fields)) }
            return result
        }
        expiredFieldCount += purged
        if fields.isEmpty {
            delete(key, now: now)
        } else if !existing {
            store(key, Entry(value: .hash(fields)))
        } else {
            replaceValue(key, .hash(fields))
        }
        return result
    }

    /// HSET: returns the number of fields that were added (not updated).
    public mutating func hashSet(_ key: Bytes, _ pairs: [(Bytes, Bytes)], now: Int64) throws(KeyspaceError) -> Int {
        try modifyHash(key, now: now, create: true) { fields, changed in
            var added = 0
            for (field, value) in pairs {
                if fields.updateValue(value, forKey: field) == nil { added += 1 }
                fields.removeExpiry(field)  // as Redis 7.4: a field set anew loses its time to live
            }
            changed = !pairs.isEmpty
            return added
        } ?? 0
    }

    public mutating func hashSetIfAbsent(_ key: Bytes, _ field: Bytes, _ value: Bytes, now: Int64) throws(KeyspaceError) -> Bool {
        if let fields = try hash(key, now: now), fields[field] != nil { return false }
        _ = try hashSet(key, [(field, value)], now: now)
        return true
    }

    public mutating func hashGet(_ key: Bytes, _ field: Bytes, now: Int64) throws(KeyspaceError) -> Bytes? {
        try hash(key, now: now)?[field]
    }

    public mutating func hashDelete(_ key: Bytes, _ fieldsToDelete: [Bytes], now: Int64) throws(KeyspaceError) -> Int {
        try modifyHash(key, now: now, create: false) { fields, changed in
            var removed = 0
            for field in fieldsToDelete where fields.removeValue(forKey: field) != nil { removed += 1 }
            changed = removed > 0
            return removed
        } ?? 0
    }

    /// HGETDEL: each field's value (nil if absent), removing those present; a field named
    /// twice is answered once and nil the second time, as Redis.
    public mutating func hashGetDelete(_ key: Bytes, _ names: [Bytes], now: Int64) throws(KeyspaceError) -> [Bytes?] {
        try modifyHash(key, now: now, create: false) { fields, changed in
            let values = names.map { fields.removeValue(forKey: $0) }
            changed = values.contains { $0 != nil }
            return values
        } ?? names.map { _ in nil }
    }

    public mutating func hashIncrement(_ key: Bytes, _ field: Bytes, by delta: Int64, now: Int64) throws(KeyspaceError) -> Int64 {
        try modifyHash(key, now: now, create: true) { fields, changed throws(KeyspaceError) in
            var current: Int64 = 0
            if let existing = fields[field] {
                guard let parsed = Numbers.parseInteger(existing) else { throw .hashValueNotInteger }
                current = parsed
            }
            let (sum, overflow) = current.addingReportingOverflow(delta)
            if overflow { throw .overflow }
            fields[field] = Numbers.formatInteger(sum)
            changed = true
            return sum
        } ?? 0
    }

    public mutating func hashIncrementFloat(_ key: Bytes, _ field: Bytes, by delta: LongDouble, now: Int64) throws(KeyspaceError) -> Bytes {
        try modifyHash(key, now: now, create: true) { fields, changed throws(KeyspaceError) in
            var current: LongDouble = 0
            if let existing = fields[field] {
                guard let parsed = Numbers.parseLongDouble(existing) else { throw .hashValueNotFloat }
                current = parsed
            }
            let sum = current + delta
            guard sum.isFinite else { throw .nanOrInfinity }
            let formatted = Numbers.formatLongDouble(sum)
            fields[field] = formatted
            changed = true
            return formatted
        } ?? []
    }

    /// HRANDFIELD: `count` nil returns one field; a positive count distinct fields; a
    /// negative count may repeat fields, at most `KeyspaceLimits.randomFieldsRepeatedMax`
    /// (checked after the key, so an absent key or another type answers as in Redis).
    public mutating func hashRandomFields(_ key: Bytes, count: Int?, now: Int64, using random: inout SeededRandom) throws(KeyspaceError) -> [(Bytes, Bytes)] {
        guard let fields = try hash(key, now: now), !fields.isEmpty else { return [] }
        let all = Array(fields)
        guard let count else { return [all[random.int(in: 0...(all.count - 1))]] }
        if count >= 0 {
            if count >= all.count { return all }
            var shuffled = all
            shuffled.shuffle(using: &random)
            return Array(shuffled.prefix(count))
        }
        // `magnitude` is unsigned, so Int.min has one too; compare before converting back.
        guard count.magnitude <= UInt(KeyspaceLimits.randomFieldsRepeatedMax) else { throw .countOutOfRange }
        return (0..<Int(count.magnitude)).map { _ in all[random.int(in: 0...(all.count - 1))] }
    }

    // MARK: - Field expiry (Redis 7.4)

    /// HEXPIRE and friends: gives each field the expiry `time` (Unix milliseconds) under
    /// `condition`. Per field: -2 no such field (or no such key), 0 the condition was not
    /// met, 1 set, 2 deleted (the time is not in the future).
    public mutating func hashExpireFields(_ key: Bytes, _ names: [Bytes], at time: Int64, condition: FieldExpiryCondition,
                                          now: Int64) throws(KeyspaceError) -> [Int] {
        let results = try hashExpireFieldsStored(key, names, at: time, condition: condition, now: now)
        if results.contains(1) { scheduleFieldExpiry(key, at: time) }
        return results
    }

    private mutating func hashExpireFieldsStored(_ key: Bytes, _ names: [Bytes], at time: Int64, condition: FieldExpiryCondition,
                                                 now: Int64) throws(KeyspaceError) -> [Int] {
        try modifyHash(key, now: now, create: false) { fields, changed in
            var results: [Int] = []
            for field in names {
                guard fields[field] != nil else {
                    results.append(-2)
                    continue
                }
                guard condition.allows(current: fields.expireAt(field), new: time) else {
                    results.append(0)
                    continue
                }
                if time <= now {
                    fields.removeValue(forKey: field)
                    results.append(2)
                } else {
                    fields.setExpiry(field, at: time)
                    results.append(1)
                }
                changed = true
            }
            return results
        } ?? names.map { _ in -2 }
    }

    /// HSETEX (Redis 8.0): sets every pair when `condition` holds for the fields (nothing
    /// changes otherwise), then applies `expiry` to each: `.discard` (the default, as HSET)
    /// drops a field's time to live, `.keep` leaves it, `.at` gives every field that
    /// time, deleting them when it is not in the future.
    public mutating func hashSetWithExpiry(_ key: Bytes, _ pairs: [(Bytes, Bytes)], condition: FieldSetCondition,
                                           expiry: FieldExpiryChange, now: Int64) throws(KeyspaceError) -> HashSetWithExpiryResult {
        let result = try modifyHash(key, now: now, create: condition != .allExist) { fields, changed -> HashSetWithExpiryResult in
            guard condition.allows(pairs.map { fields[$0.0] != nil }) else { return .notSet }
            for (field, value) in pairs {
                fields.updateValue(value, forKey: field)
                switch expiry {
                case .discard, .persist: fields.removeExpiry(field)
                case .keep: break
                case .at(let time) where time <= now: fields.removeValue(forKey: field)
                case .at(let time): fields.setExpiry(field, at: time)
                }
            }
            changed = true
            if case .at(let time) = expiry { return time <= now ? .setAndDeleted : .setWithExpiry(time) }
            return .set
        } ?? .notSet
        if case .setWithExpiry(let time) = result { scheduleFieldExpiry(key, at: time) }
        return result
    }

    /// HGETEX (Redis 8.0): each field's value (nil if absent), then `change` applied to
    /// the fields present: `.at` gives them that time to live (deleting them when it is
    /// not in the future), `.persist` removes theirs; `.keep` (no option) and `.discard`
    /// change nothing. Also says how many fields changed and whether the change deleted
    /// them.
    public mutating func hashGetWithExpiry(_ key: Bytes, _ names: [Bytes], change: FieldExpiryChange,
                                           now: Int64) throws(KeyspaceError) -> HashGetWithExpiryResult {
        let result = try modifyHash(key, now: now, create: false) { fields, changed -> HashGetWithExpiryResult in
            var values: [Bytes?] = []
            var count = 0
            for field in names {
                values.append(fields[field])  // read before the change, field by field, as Redis
                guard fields[field] != nil else { continue }
                switch change {
                case .discard, .keep: continue
                case .persist: if fields.removeExpiry(field) { count += 1 }
                case .at(let time) where time <= now: fields.removeValue(forKey: field); count += 1
                case .at(let time): fields.setExpiry(field, at: time); count += 1
                }
            }
            changed = count > 0
            if case .at(let time) = change, time <= now { return HashGetWithExpiryResult(values: values, changed: count, deleted: count > 0) }
            return HashGetWithExpiryResult(values: values, changed: count, deleted: false)
        } ?? HashGetWithExpiryResult(values: names.map { _ in nil }, changed: 0, deleted: false)
        if result.changed > 0, !result.deleted, case .at(let time) = change { scheduleFieldExpiry(key, at: time) }
        return result
    }

    /// HPERSIST: per field -2 no such field, -1 no time to live, 1 removed.
    public mutating func hashPersistFields(_ key: Bytes, _ names: [Bytes], now: Int64) throws(KeyspaceError) -> [Int] {
        try modifyHash(key, now: now, create: false) { fields, changed in
            names.map { field in
                guard fields[field] != nil else { return -2 }
                guard fields.removeExpiry(field) else { return -1 }
                changed = true
                return 1
            }
        } ?? names.map { _ in -2 }
    }

    /// HTTL and friends: each field's expiry time (Unix milliseconds), nil without one;
    /// the outer nil for a field that is not there (or no key).
    public mutating func hashFieldExpiries(_ key: Bytes, _ names: [Bytes], now: Int64) throws(KeyspaceError) -> [Int64??] {
        guard let fields = try hash(key, now: now) else { return names.map { _ in nil } }
        return names.map { field in fields[field] == nil ? nil : .some(fields.expireAt(field)) }
    }
}

/// HEXPIRE's NX | XX | GT | LT. A field without a time to live counts as never expiring.
public enum FieldExpiryCondition: Sendable {
    case always, onlyWithout, onlyWith, greater, less

    func allows(current: Int64?, new: Int64) -> Bool {
        switch self {
        case .always: return true
        case .onlyWithout: return current == nil
        case .onlyWith: return current != nil
        case .greater: return current.map { new > $0 } ?? false
        case .less: return current.map { new < $0 } ?? true
        }
    }
}

/// HSETEX's FNX | FXX, over whether each named field is present.
public enum FieldSetCondition: Sendable {
    case always, noneExist, allExist

    func allows(_ present: [Bool]) -> Bool {
        switch self {
        case .always: return true
        case .noneExist: return !present.contains(true)
        case .allExist: return !present.contains(false)
        }
    }
}

/// What HSETEX or HGETEX does to the time to live of the fields it names.
public enum FieldExpiryChange: Sendable, Equatable {
    /// Drop it (HSETEX without an option, as HSET); HGETEX without an option leaves it.
    case discard
    /// Leave it (HSETEX KEEPTTL).
    case keep
    /// Remove it (HGETEX PERSIST).
    case persist
    /// Expire at this Unix time in milliseconds (EX, PX, EXAT, PXAT).
    case at(Int64)
}

/// What HSETEX did.
public enum HashSetWithExpiryResult: Sendable, Equatable {
    /// FNX or FXX did not hold: nothing changed.
    case notSet
    /// The fields were set (their times to live dropped or kept).
    case set
    /// The fields were set and expire at this time.
    case setWithExpiry(Int64)
    /// The fields were set with a time already past, so they were deleted.
    case setAndDeleted
}

/// What HGETEX read and changed.
public struct HashGetWithExpiryResult: Sendable, Equatable {
    /// Each named field's value before the change; nil for a field that is not there.
    public var values: [Bytes?]
    /// How many fields had their time to live set, removed, or were deleted by it.
    public var changed: Int
    /// Whether a time already past deleted the fields.
    public var deleted: Bool
}
