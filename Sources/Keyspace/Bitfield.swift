// BITFIELD: integers of 1 to 64 bits (unsigned up to 63) at any bit offset of a string,
// most significant bit first as SETBIT numbers them, with Redis's overflow rules (WRAP,
// SAT, FAIL) for SET and INCRBY. All arithmetic is done on wrapping UInt64/Int64 values.

/// One field's type: `i<bits>` (1...64) or `u<bits>` (1...63).
public struct BitfieldType: Sendable, Equatable {
    public let signed: Bool
    public let bits: Int

    public init?(signed: Bool, bits: Int) {
        guard bits >= 1, bits <= (signed ? 64 : 63) else { return nil }
        self.signed = signed
        self.bits = bits
    }
}

public enum BitfieldOverflow: Sendable, Equatable { case wrap, sat, fail }

public enum BitfieldOperation: Sendable, Equatable {
    case get(BitfieldType, offset: Int64)
    case set(BitfieldType, offset: Int64, value: Int64, overflow: BitfieldOverflow)
    case incrby(BitfieldType, offset: Int64, increment: Int64, overflow: BitfieldOverflow)

    var isWrite: Bool { if case .get = self { return false } else { return true } }

    var lastBit: Int64 {
        switch self {
        case let .get(type, offset), let .set(type, offset, _, _), let .incrby(type, offset, _, _):
            return offset + Int64(type.bits) - 1
        }
    }
}

extension Keyspace {
    /// Runs BITFIELD's operations in order; one reply per operation (nil: a FAIL overflow,
    /// nothing written). Offsets must be validated by the caller (offset + bits within the
    /// largest string). A key with only GETs is neither created nor changed.
    public mutating func bitfield(_ key: Bytes, _ operations: [BitfieldOperation], now: Int64) throws(KeyspaceError) -> [Int64?] {
        let existing = try getString(key, now: now)
        var bytes = existing ?? []
        let writes = operations.contains { $0.isWrite }
        if writes, let last = operations.filter(\.isWrite).map(\.lastBit).max() {
            let needed = Int(last >> 3) + 1
            if bytes.count < needed { bytes.append(contentsOf: repeatElement(0, count: needed - bytes.count)) }
        }
        var replies: [Int64?] = []
        for operation in operations {
            switch operation {
            case let .get(type, offset):
                replies.append(Self.readField(bytes, type, offset))
            case let .set(type, offset, value, overflow):
                let old = Self.readField(bytes, type, offset)
                guard let stored = Self.fit(value, adding: 0, type, overflow) else { replies.append(nil); continue }
                Self.writeField(&bytes, type, offset, stored)
                replies.append(old)
            case let .incrby(type, offset, increment, overflow):
                let old = Self.readField(bytes, type, offset)
                guard let stored = Self.fit(old, adding: increment, type, overflow) else { replies.append(nil); continue }
                Self.writeField(&bytes, type, offset, stored)
                replies.append(stored)
            }
        }
        if writes {
            if existing == nil {
                store(key, Entry(value: .string(bytes), rawString: true))
            } else if bytes != existing {
                replaceValue(key, .string(bytes), rawString: true)
            }
        }
        return replies
    }

    /// The field's value (bits past the end of the string read as 0).
    static func readField(_ bytes: Bytes, _ type: BitfieldType, _ offset: Int64) -> Int64 {
        var raw: UInt64 = 0
        for index in 0..<Int64(type.bits) {
            let position = offset + index
            let byte = Int(position >> 3)
            let bit: UInt64 = byte < bytes.count && bytes[byte] & (UInt8(0x80) >> UInt8(position & 7)) != 0 ? 1 : 0
            raw = (raw << 1) | bit
        }
        guard type.signed, type.bits < 64, raw & (UInt64(1) << UInt64(type.bits - 1)) != 0 else {
            return Int64(bitPattern: raw)
        }
        return Int64(bitPattern: raw | (UInt64.max << UInt64(type.bits)))  // sign-extend
    }

    static func writeField(_ bytes: inout Bytes, _ type: BitfieldType, _ offset: Int64, _ value: Int64) {
        let raw = UInt64(bitPattern: value)
        for index in 0..<Int64(type.bits) {
            let position = offset + index
            let mask = UInt8(0x80) >> UInt8(position & 7)
            let set = (raw >> UInt64(Int64(type.bits) - 1 - index)) & 1 == 1
            if set { bytes[Int(position >> 3)] |= mask } else { bytes[Int(position >> 3)] &= ~mask }
        }
    }

    /// `value + increment` as the type stores it under `overflow`: the exact sum when it
    /// fits, else wrapped or saturated, or nil under FAIL (Redis's overflow checks).
    static func fit(_ value: Int64, adding increment: Int64, _ type: BitfieldType, _ overflow: BitfieldOverflow) -> Int64? {
        let bits = UInt64(type.bits)
        let sum = UInt64(bitPattern: value) &+ UInt64(bitPattern: increment)
        if type.signed {
            let max: Int64 = type.bits == 64 ? .max : (Int64(1) << Int64(type.bits - 1)) - 1
            let min = -max - 1
            let (exact, overflowed) = value.addingReportingOverflow(increment)
            let over = overflowed ? increment > 0 : exact > max
            let under = overflowed ? increment < 0 : exact < min
            guard over || under else { return exact }
            switch overflow {
            case .fail: return nil
            case .sat: return over ? max : min
            case .wrap:
                guard type.bits < 64 else { return Int64(bitPattern: sum) }
                let signBit = UInt64(1) << (bits - 1)
                let mask = UInt64.max << bits
                return Int64(bitPattern: sum & signBit != 0 ? sum | mask : sum & ~mask)
            }
        }
        let max = (UInt64(1) << bits) - 1
        let unsignedValue = UInt64(bitPattern: value)
        let overflows: Bool
        let tooLow: Bool
        if unsignedValue > max {
            (overflows, tooLow) = (true, false)
        } else if increment > 0 {
            (overflows, tooLow) = (UInt64(increment) > max - unsignedValue, false)
        } else if increment < 0 {
            (overflows, tooLow) = (false, increment.magnitude > unsignedValue)
        } else {
            (overflows, tooLow) = (false, false)
        }
        guard overflows || tooLow else { return Int64(bitPattern: sum) }
        switch overflow {
        case .fail: return nil
        case .sat: return overflows ? Int64(max) : 0
        case .wrap: return Int64(bitPattern: sum & max)
        }
    }
}
