// Redis's HyperLogLog, stored as a plain string value in Redis's own byte layout so that
// GET / SET round trips and values written by Redis behave the same here.
//
// Layout: a 16-byte header ("HYLL", an encoding byte, 3 unused bytes, an 8-byte
// little-endian cached cardinality whose top bit set means "cache invalid"), then the
// 16384 six-bit registers, either dense (12288 bytes, register i in bits 6i..6i+5 counted
// from the least significant bit of byte 0) or sparse (run-length opcodes, see
// HyperLogLog+Sparse.swift).
//
// A value may come from a client's SET, so nothing here trusts it: the header is checked
// before use, every read is bounds-checked, and corrupt register data is reported, not
// followed. Where Redis reads one byte past the string (the last dense register, an
// XZERO opcode cut off at the end) these read zero: the same result for the register, and
// for the opcode what Redis reads unless an earlier change left another byte there.

public struct HyperLogLog: Sendable {
    /// Number of registers (2^14).
    public static let registerCount = 1 << indexBits
    /// Bits of the hash that choose the register.
    static let indexBits = 14
    /// Largest value a dense register holds.
    static let registerMax: UInt8 = 63
    /// Header bytes before the registers.
    static let headerSize = 16
    /// Length of a dense value: the header and 16384 six-bit registers.
    public static let denseSize = headerSize + registerCount * 6 / 8
    /// Default of `hll-sparse-max-bytes`: a sparse value may grow to this many bytes
    /// (header included) before it is converted to dense.
    public static let sparseBytesMaxDefault = 3000
    static let magic: Bytes = Array("HYLL".utf8)
    static let encodingOffset = 4
    static let cardinalityOffset = 8
    static let cacheInvalidFlag: UInt8 = 0x80

    public enum Encoding: UInt8, Sendable { case dense = 0, sparse = 1 }

    /// The whole value: header and registers.
    public internal(set) var bytes: Bytes

    /// A value that passes Redis's type check (magic, known encoding, exact dense length),
    /// nil otherwise. Sparse register data is checked only when used.
    public init?(validating bytes: Bytes) {
        guard bytes.count >= Self.headerSize, Array(bytes[0..<4]) == Self.magic,
              let encoding = Encoding(rawValue: bytes[Self.encodingOffset]) else { return nil }
        if encoding == .dense, bytes.count != Self.denseSize { return nil }
        self.bytes = bytes
    }

    /// A new, empty HyperLogLog: sparse, one XZERO run over every register, cached
    /// cardinality 0 (valid).
    public init() {
        var bytes = Self.magic + [Encoding.sparse.rawValue] + Bytes(repeating: 0, count: Self.headerSize - 5)
        bytes += HyperLogLogSparse.xzero(Self.registerCount)
        self.bytes = bytes
    }

    public var encoding: Encoding { bytes[Self.encodingOffset] == Encoding.dense.rawValue ? .dense : .sparse }

    // MARK: - Cached cardinality

    /// The cached cardinality, nil when the header marks it invalid.
    public var cachedCardinality: UInt64? {
        guard bytes[Self.cardinalityOffset + 7] & Self.cacheInvalidFlag == 0 else { return nil }
        var value: UInt64 = 0
        for offset in 0..<8 { value |= UInt64(bytes[Self.cardinalityOffset + offset]) << (8 * UInt64(offset)) }
        return value
    }

    /// Stores `cardinality` as the valid cached value.
    public mutating func cacheCardinality(_ cardinality: UInt64) {
        for offset in 0..<8 { bytes[Self.cardinalityOffset + offset] = UInt8(truncatingIfNeeded: cardinality >> (8 * UInt64(offset))) }
    }

    /// Marks the cached cardinality invalid (the other cache bytes are left as they are).
    public mutating func invalidateCache() {
        bytes[Self.cardinalityOffset + 7] |= Self.cacheInvalidFlag
    }

    // MARK: - Dense registers

    /// Register `index` of dense register bytes starting at `base` in `bytes`.
    static func denseRegister(_ bytes: Bytes, base: Int, _ index: Int) -> UInt8 {
        let bit = index * 6, byte = base + bit / 8, shift = UInt16(bit & 7)
        let low = UInt16(bytes[byte])
        let high = byte + 1 < bytes.count ? UInt16(bytes[byte + 1]) : 0
        return UInt8(truncatingIfNeeded: ((low | high << 8) >> shift) & UInt16(registerMax))
    }

    /// Sets register `index` of dense register bytes starting at `base` to `value` (<= 63).
    static func setDenseRegister(_ bytes: inout Bytes, base: Int, _ index: Int, _ value: UInt8) {
        let bit = index * 6, byte = base + bit / 8, shift = UInt16(bit & 7)
        let mask = UInt16(registerMax) << shift, shifted = UInt16(value & registerMax) << shift
        bytes[byte] = (bytes[byte] & ~UInt8(truncatingIfNeeded: mask)) | UInt8(truncatingIfNeeded: shifted)
        if byte + 1 < bytes.count {
            bytes[byte + 1] = (bytes[byte + 1] & ~UInt8(truncatingIfNeeded: mask >> 8)) | UInt8(truncatingIfNeeded: shifted >> 8)
        }
    }

    /// Raises dense register `index` to `count`; returns whether it changed.
    mutating func denseRaise(_ index: Int, to count: UInt8) -> Bool {
        guard count > Self.denseRegister(bytes, base: Self.headerSize, index) else { return false }
        Self.setDenseRegister(&bytes, base: Self.headerSize, index, count)
        return true
    }

    // MARK: - Elements

    /// The register an element updates and the count it offers: the low 14 bits of the
    /// hash choose the register; the count is 1 + the number of trailing zero bits of the
    /// remaining 50 bits, with a sentinel bit so it is at most 51.
    static func registerAndCount(_ element: Bytes) -> (index: Int, count: UInt8) {
        let hash = MurmurHash64A.hash(element, seed: 0xadc8_3b19)
        let index = Int(hash & UInt64(registerCount - 1))
        let rest = (hash >> UInt64(indexBits)) | (1 << UInt64(64 - indexBits))
        return (index, UInt8(rest.trailingZeroBitCount + 1))
    }

    /// What adding to or setting a register did.
    public enum Update: Sendable { case unchanged, updated, corrupt }

    /// PFADD of one element. A sparse value longer than `sparseBytesMax` after the change,
    /// or needing a count above 32, is converted to dense first.
    public mutating func add(_ element: Bytes, sparseBytesMax: Int) -> Update {
        let (index, count) = Self.registerAndCount(element)
        return raise(index, to: count, sparseBytesMax: sparseBytesMax)
    }

    /// Raises register `index` to `count` if it is lower.
    public mutating func raise(_ index: Int, to count: UInt8, sparseBytesMax: Int) -> Update {
        switch encoding {
        case .dense: return denseRaise(index, to: count) ? .updated : .unchanged
        case .sparse: return sparseRaise(index, to: count, sparseBytesMax: sparseBytesMax)
        }
    }

    // MARK: - Conversion and reading

    /// Converts a sparse value to dense, keeping the header (cache included). False when
    /// the sparse data does not describe exactly 16384 registers (the value is unchanged).
    public mutating func convertToDense() -> Bool {
        guard encoding == .sparse else { return true }
        var dense = Array(bytes[0..<Self.headerSize]) + Bytes(repeating: 0, count: Self.denseSize - Self.headerSize)
        dense[Self.encodingOffset] = Encoding.dense.rawValue
        let complete = HyperLogLogSparse.forEachRun(bytes, from: Self.headerSize) { start, length, value in
            guard value > 0 else { return }
            for index in start..<(start + length) { Self.setDenseRegister(&dense, base: Self.headerSize, index, value) }
        }
        guard complete else { return false }
        bytes = dense
        return true
    }

    /// Raises each of `registers` (16384 entries) to this value's registers (PFMERGE and
    /// multi-key PFCOUNT). False when the sparse data is corrupt.
    public func merge(into registers: inout [UInt8]) -> Bool {
        switch encoding {
        case .dense:
            for index in 0..<Self.registerCount {
                let value = Self.denseRegister(bytes, base: Self.headerSize, index)
                if value > registers[index] { registers[index] = value }
            }
            return true
        case .sparse:
            return HyperLogLogSparse.forEachRun(bytes, from: Self.headerSize) { start, length, value in
                guard value > 0 else { return }
                for index in start..<(start + length) where value > registers[index] { registers[index] = value }
            }
        }
    }

    /// How many registers hold each value (64 entries), nil when the sparse data is corrupt.
    public func histogram() -> [Int]? {
        var histogram = [Int](repeating: 0, count: 64)
        switch encoding {
        case .dense:
            for index in 0..<Self.registerCount { histogram[Int(Self.denseRegister(bytes, base: Self.headerSize, index))] += 1 }
            return histogram
        case .sparse:
            let complete = HyperLogLogSparse.forEachRun(bytes, from: Self.headerSize) { _, length, value in
                histogram[Int(value)] += length
            }
            return complete ? histogram : nil
        }
    }

    /// The estimated cardinality, nil when the sparse data is corrupt.
    public func cardinality() -> UInt64? {
        histogram().map(HyperLogLogEstimator.estimate)
    }
}
