// Hash commands. A hash that loses its last field is deleted, as in Redis.
import Core

extension Keyspace {
    /// The fields of the hash under `key`; nil if absent; an error for another type.
    public mutating func hash(_ key: Bytes, now: Int64) throws(KeyspaceError) -> HashFields? {
        guard let entry = lookup(key, now: now) else { return nil }
        guard case .hash(let fields) = entry.value else { throw .wrongType }
        return fields
    }

    /// Applies `body` to the hash under `key` (created empty if absent) and stores the
    /// result, deleting the key if the hash became empty. `body` sets `changed` when it
    /// modified the fields; only then is the key recorded as modified (for WATCH and the
    /// log), so a failed or no-op command changes nothing observable.
    private mutating func modifyHash<Result>(_ key: Bytes, now: Int64, create: Bool,
                                             _ body: (inout HashFields, inout Bool) throws(KeyspaceError) -> Result) throws(KeyspaceError) -> Result? {
        var stored = try hash(key, now: now)
        let existing = stored != nil
        guard existing || create else { return nil }
        // Take the value out of `stored`: a second live reference would make the mutation
        // below copy the whole hash.
        var fields = stored.take() ?? [:]
        // Drop the stored reference (without recording a change) so the mutation below
        // does not copy the whole hash.
        if existing { replaceValueUntracked(key, .hash([:])) }
        var changed = false
        let result: Result
        do {
            result = try body(&fields, &changed)
        } catch {
            if existing { replaceValueUntracked(key, .hash(fields)) }
            throw error
        }
        if !changed {
            if existing { replaceValueUntracked(key, .hash(fields)) }
        } else if fields.isEmpty {
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
            for (field, value) in pairs where fields.updateValue(value, forKey: field) == nil { added += 1 }
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
}
