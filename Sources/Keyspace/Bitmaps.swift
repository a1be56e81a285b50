// Bit operations on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP. Bit 0 is the most
// significant bit of byte 0, as in Redis. Offsets and ranges come from clients: they are
// range-checked before any arithmetic, and a string never grows past the string limit.

/// Whether a BITCOUNT / BITPOS range counts bytes or bits.
public enum BitRangeUnit: Sendable { case byte, bit }

/// BITOP's operations.
public enum BitOperation: Sendable { case and, or, xor, not }

extension Keyspace {
    /// The largest bit offset SETBIT accepts (the string limit, in bits).
    public static let bitOffsetMax = Int64(KeyspaceLimits.stringBytesMax) * 8 - 1

    /// SETBIT: sets or clears one bit, growing the string with zero bytes; returns the old bit.
    public mutating func setBit(_ key: Bytes, offset: Int64, to bit: Bool, now: Int64) throws(KeyspaceError) -> Bool {
        guard offset >= 0, offset <= Self.bitOffsetMax else { throw .offsetOutOfRange }
        let existing = try getString(key, now: now)
        let byteIndex = Int(offset >> 3)
        let mask = UInt8(0x80) >> UInt8(offset & 7)
        var bytes = existing ?? []
        if bytes.count <= byteIndex { bytes.append(contentsOf: repeatElement(0, count: byteIndex + 1 - bytes.count)) }
        let old = bytes[byteIndex] & mask != 0
        if bit { bytes[byteIndex] |= mask } else { bytes[byteIndex] &= ~mask }
        if existing == nil {
            store(key, Entry(value: .string(bytes), rawString: true))
        } else if bytes != existing {
            replaceValue(key, .string(bytes), rawString: true)
        }
        return old
    }

    /// GETBIT: 0 past the end or for an absent key.
    public mutating func getBit(_ key: Bytes, offset: Int64, now: Int64) throws(KeyspaceError) -> Bool {
        guard offset >= 0, offset <= Self.bitOffsetMax else { throw .offsetOutOfRange }
        guard let bytes = try getString(key, now: now), Int(offset >> 3) < bytes.count else { return false }
        return bytes[Int(offset >> 3)] & (UInt8(0x80) >> UInt8(offset & 7)) != 0
    }

    /// A BITCOUNT / BITPOS range as an inclusive range of bit positions, or nil when empty.
    /// Negative indexes count from the end; the range is clamped to the string.
    static func bitRange(length: Int, start: Int64, end: Int64, unit: BitRangeUnit) -> ClosedRange<Int>? {
        // Both negative and crossed: empty before clamping (Redis 7.2), else clamping
        // could turn them into the first byte.
        if start < 0, end < 0, start > end { return nil }
        let total = Int64(length) * (unit == .bit ? 8 : 1)
        var first = start < 0 ? total + max(start, -total) : start
        var last = end < 0 ? total + max(end, -total) : end
        if first < 0 { first = 0 }
        if last < 0 { last = 0 }
        if last >= total { last = total - 1 }
        guard first <= last, total > 0 else { return nil }
        if unit == .byte {
            first *= 8
            last = last * 8 + 7
        }
        return Int(first)...Int(last)
    }

    /// BITCOUNT over `range` (start, end, unit), or the whole string.
    public mutating func bitCount(_ key: Bytes, range: (Int64, Int64, BitRangeUnit)?, now: Int64) throws(KeyspaceError) -> Int {
        guard let bytes = try getString(key, now: now) else { return 0 }
        guard let (start, end, unit) = range else { return bytes.reduce(0) { $0 + $1.nonzeroBitCount } }
        guard let bits = Self.bitRange(length: bytes.count, start: start, end: end, unit: unit) else { return 0 }
        var count = 0
        var position = bits.lowerBound
        while position <= bits.upperBound {
            if position & 7 == 0, position + 7 <= bits.upperBound {
                count += bytes[position >> 3].nonzeroBitCount
                position += 8
            } else {
                if bytes[position >> 3] & (UInt8(0x80) >> UInt8(position & 7)) != 0 { count += 1 }
                position += 1
            }
        }
        return count
    }

    /// BITPOS: the first bit equal to `bit` in the range, or -1. Looking for a clear bit
    /// in a string of set bits answers the position just past the string when no end was
    /// given (Redis treats the string as padded with zeros), -1 when one was.
    public mutating func bitPosition(_ key: Bytes, bit: Bool, range: (start: Int64, end: Int64?, unit: BitRangeUnit)?,
                                     now: Int64) throws(KeyspaceError) -> Int64 {
        guard let bytes = try getString(key, now: now) else { return bit ? -1 : 0 }
        let endGiven = range?.end != nil
        let start = range?.start ?? 0
        let unit = range?.unit ?? .byte
        let end = range?.end ?? (unit == .bit ? Int64(bytes.count) * 8 - 1 : Int64(bytes.count) - 1)
        guard let bits = Self.bitRange(length: bytes.count, start: start, end: end, unit: unit) else { return -1 }
        var position = bits.lowerBound
        while position <= bits.upperBound {
            if position & 7 == 0, position + 7 <= bits.upperBound, bytes[position >> 3] == (bit ? 0 : 0xff) {
                position += 8
                continue
            }
            if (bytes[position >> 3] & (UInt8(0x80) >> UInt8(position & 7)) != 0) == bit { return Int64(position) }
            position += 1
        }
        return !bit && !endGiven ? Int64(bits.upperBound + 1) : -1
    }

    /// BITOP: combines the sources (absent ones are empty strings, shorter ones are padded
    /// with zeros) into `destination`; returns its length. An empty result deletes it.
    public mutating func bitOperation(_ operation: BitOperation, destination: Bytes, sources: [Bytes], now: Int64) throws(KeyspaceError) -> Int {
        var values: [Bytes] = []
        for source in sources { values.append(try getString(source, now: now) ?? []) }
        let length = values.map(\.count).max() ?? 0
        var result = [UInt8](repeating: 0, count: length)
        for index in 0..<length {
            func byte(_ value: Bytes) -> UInt8 { index < value.count ? value[index] : 0 }
            switch operation {
            case .not: result[index] = ~byte(values[0])
            case .and: result[index] = values.reduce(0xff) { $0 & byte($1) }
            case .or: result[index] = values.reduce(0) { $0 | byte($1) }
            case .xor: result[index] = values.reduce(0) { $0 ^ byte($1) }
            }
        }
        if result.isEmpty {
            _ = delete(destination, now: now)
        } else {
            _ = try set(destination, result, now: now)
        }
        return length
    }
}
