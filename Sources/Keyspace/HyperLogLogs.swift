// PFADD, PFCOUNT and PFMERGE on the keyspace. A HyperLogLog is a string value (see
// HyperLogLog.swift); a string that is not one is `notHyperLogLog`, one whose sparse
// register data is damaged is `corruptHyperLogLog`.

extension Keyspace {
    /// The HyperLogLog under `key`, nil if absent.
    mutating func hyperLogLog(_ key: Bytes, now: Int64) throws(KeyspaceError) -> HyperLogLog? {
        guard let bytes = try getString(key, now: now) else { return nil }
        guard let hll = HyperLogLog(validating: bytes) else { throw .notHyperLogLog }
        return hll
    }

    /// PFADD: adds `elements`, creating the key when absent. Returns whether the value
    /// changed (a created key counts as a change). When an element meets corrupt sparse
    /// data, the changes made before it are kept (as Redis, which changes in place) and
    /// the error is thrown.
    public mutating func hyperLogLogAdd(_ key: Bytes, _ elements: [Bytes], sparseBytesMax: Int, now: Int64) throws(KeyspaceError) -> Bool {
        let existing = try hyperLogLog(key, now: now)
        var hll = existing ?? HyperLogLog()
        var updated = existing == nil
        var corrupt = false
        for element in elements {
            switch hll.add(element, sparseBytesMax: sparseBytesMax) {
            case .updated: updated = true
            case .unchanged: break
            case .corrupt: corrupt = true
            }
            if corrupt { break }
        }
        if corrupt {
            if let existing, existing.bytes != hll.bytes { replaceValue(key, .string(hll.bytes)) }
            throw .corruptHyperLogLog
        }
        guard updated else { return false }
        hll.invalidateCache()
        if existing == nil { store(key, Entry(value: .string(hll.bytes))) } else { replaceValue(key, .string(hll.bytes)) }
        return true
    }

    /// PFCOUNT of one key: the cached cardinality when valid, else the estimate, which is
    /// then cached in the value when `cache` (a write: the value changes). Reported as
    /// Redis does, as a signed 64-bit number of the same bits.
    public mutating func hyperLogLogCount(_ key: Bytes, cache: Bool, now: Int64) throws(KeyspaceError) -> Int64 {
        guard var hll = try hyperLogLog(key, now: now) else { return 0 }
        if let cached = hll.cachedCardinality { return Int64(bitPattern: cached) }
        guard let cardinality = hll.cardinality() else { throw .corruptHyperLogLog }
        if cache {
            hll.cacheCardinality(cardinality)
            replaceValue(key, .string(hll.bytes))
        }
        return Int64(bitPattern: cardinality)
    }

    /// PFCOUNT of several keys: the estimate of their union; absent keys count as empty.
    public mutating func hyperLogLogUnionCount(_ keys: [Bytes], now: Int64) throws(KeyspaceError) -> Int64 {
        var registers = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
        for key in keys {
            guard let hll = try hyperLogLog(key, now: now) else { continue }
            guard hll.merge(into: &registers) else { throw .corruptHyperLogLog }
        }
        var histogram = [Int](repeating: 0, count: 64)
        for value in registers { histogram[Int(value)] += 1 }
        return Int64(bitPattern: HyperLogLogEstimator.estimate(histogram))
    }

    /// PFMERGE: stores in `destination` the union of `sources` and `destination` itself,
    /// creating it (empty, sparse) when absent, dense when any input is dense. Always
    /// rewrites the destination with its cache invalidated, keeping its expiry.
    public mutating func hyperLogLogMerge(_ destination: Bytes, sources: [Bytes], sparseBytesMax: Int, now: Int64) throws(KeyspaceError) {
        var registers = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
        var anyDense = false
        for key in [destination] + sources {
            guard let hll = try hyperLogLog(key, now: now) else { continue }
            if hll.encoding == .dense { anyDense = true }
            guard hll.merge(into: &registers) else { throw .corruptHyperLogLog }
        }
        let existing = try hyperLogLog(destination, now: now)
        var merged = existing ?? HyperLogLog()
        if anyDense, !merged.convertToDense() { throw .corruptHyperLogLog }
        for (index, value) in registers.enumerated() where value > 0 {
            // The destination's own registers are in the union, so this cannot meet corruption.
            _ = merged.raise(index, to: value, sparseBytesMax: sparseBytesMax)
        }
        merged.invalidateCache()
        if existing == nil { store(destination, Entry(value: .string(merged.bytes))) } else { replaceValue(destination, .string(merged.bytes)) }
    }
}
