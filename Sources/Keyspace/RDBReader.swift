// Redis's RDB object encodings, read: the values of DUMP payloads made by Redis (RESTORE
// of a key copied from a Redis server, by a migration tool or MIGRATE) and by Trestle.
//
// Every encoding Redis 2.6 to 7.4 writes for the core types is understood: strings (plain,
// integer-encoded, LZF-compressed), lists (linked list 1, ziplist 10, quicklist 14 and
// 18), sets (1 per member 2, intset 11, listpack 20), sorted sets (text scores 3, binary
// scores 5, ziplist 12, listpack 17), hashes (4, zipmap 9, ziplist 13, listpack 16) and
// streams (15, 19, 21; RDBReader+Stream.swift). Modules' types and hashes with field
// expirations (22-25) are refused.
//
// The input is untrusted: every count is checked against the bytes that remain before
// anything is reserved, every offset inside a packed structure is bounds-checked, and a
// value Redis would refuse (an empty collection, a duplicate member, a NaN score) fails
// with `Failure.malformed`, which RESTORE reports as Redis's "Bad data format".
import Collections
import Core

public struct RDBReader {
    public struct Failure: Error, Equatable, Sendable {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    /// The longest string a payload may decompress to (Redis's `proto-max-bulk-len`).
    public static let stringBytesMax = 512 * 1024 * 1024
    /// LZF turns 3 bytes into at most 264: a claimed length beyond this ratio is a lie.
    static let lzfExpansionMax = 88

    let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    // MARK: - Primitives

    mutating func byte() throws(Failure) -> UInt8 {
        guard offset < bytes.count else { throw Failure("unexpected end of payload") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func raw(_ count: Int) throws(Failure) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw Failure("unexpected end of payload") }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func littleEndian(_ width: Int) throws(Failure) -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in try raw(width).enumerated() { value |= UInt64(byte) << UInt64(shift * 8) }
        return value
    }

    mutating func bigEndian(_ width: Int) throws(Failure) -> UInt64 {
        var value: UInt64 = 0
        for byte in try raw(width) { value = value << 8 | UInt64(byte) }
        return value
    }

    /// RDB's length: 6 bits, 14 bits, a 32- or 64-bit big-endian number; or, with the top
    /// bits 11, a special string encoding (`encoded` true, the encoding in `value`).
    mutating func lengthOrEncoding() throws(Failure) -> (value: UInt64, encoded: Bool) {
        let first = try byte()
        switch first >> 6 {
        case 0: return (UInt64(first & 0x3F), false)
        case 1: return (UInt64(first & 0x3F) << 8 | UInt64(try byte()), false)
        case 2:
            switch first {
            case 0x80: return (try bigEndian(4), false)
            case 0x81: return (try bigEndian(8), false)
            default: throw Failure("unknown length encoding \(first)")
            }
        default: return (UInt64(first & 0x3F), true)
        }
    }

    mutating func length() throws(Failure) -> UInt64 {
        let (value, encoded) = try lengthOrEncoding()
        guard !encoded else { throw Failure("a string encoding where a length belongs") }
        return value
    }

    /// A length used as a count of things that each take at least `minimumBytes` more
    /// bytes of this payload: never larger than what remains could hold.
    mutating func count(each minimumBytes: Int) throws(Failure) -> Int {
        let value = try length()
        guard value <= UInt64(remaining / max(minimumBytes, 1)) else { throw Failure("a count of \(value) exceeds the payload") }
        return Int(value)
    }

    /// A string: raw, an integer written as one, or LZF-compressed.
    mutating func string() throws(Failure) -> Bytes {
        let (value, encoded) = try lengthOrEncoding()
        guard encoded else { return Array(try raw(Self.checkedLength(value, remaining: remaining))) }
        switch value {
        case 0: return Array(String(Int8(bitPattern: try byte())).utf8)
        case 1: return Array(String(Int16(truncatingIfNeeded: try littleEndian(2))).utf8)
        case 2: return Array(String(Int32(truncatingIfNeeded: try littleEndian(4))).utf8)
        case 3:
            let compressed = try length()
            let expanded = try length()
            // Checked before the ratio: a claimed length near 2^64 must not overflow it.
            guard compressed <= UInt64(remaining) else { throw Failure("unexpected end of payload") }
            guard expanded <= UInt64(Self.stringBytesMax), expanded <= compressed * UInt64(Self.lzfExpansionMax) + 1 else {
                throw Failure("an LZF string claims \(expanded) bytes from \(compressed)")
            }
            return try Self.lzfDecompress(try raw(Int(compressed)), length: Int(expanded))
        default: throw Failure("unknown string encoding \(value)")
        }
    }

    /// A length that must fit in what remains (Int.max when it cannot, so `raw` fails).
    static func checkedLength(_ value: UInt64, remaining: Int) -> Int {
        value <= UInt64(remaining) ? Int(value) : Int.max
    }

    /// A sorted-set score of RDB_TYPE_ZSET: a length byte and the number as text (253
    /// NaN, 254 +inf, 255 -inf).
    mutating func textDouble() throws(Failure) -> Double {
        let length = try byte()
        switch length {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        default:
            guard let value = Numbers.parseDouble(Array(try raw(Int(length)))) else { throw Failure("a score that is not a number") }
            return value
        }
    }

    mutating func binaryDouble() throws(Failure) -> Double {
        Double(bitPattern: try littleEndian(8))
    }

    /// LZF (Marc Lehmann's format, as Redis writes it): a control byte below 32 copies
    /// that many plus one literal bytes; otherwise its top 3 bits (plus a byte when all
    /// set) give a back-reference length minus 2, its low 5 bits and the next byte the
    /// distance minus 1.
    static func lzfDecompress(_ input: ArraySlice<UInt8>, length: Int) throws(Failure) -> Bytes {
        var output: Bytes = []
        output.reserveCapacity(length)
        var index = input.startIndex
        while index < input.endIndex {
            let control = Int(input[index])
            index += 1
            if control < 32 {
                let run = control + 1
                guard index + run <= input.endIndex, output.count + run <= length else { throw Failure("corrupt LZF literal") }
                output.append(contentsOf: input[index..<index + run])
                index += run
                continue
            }
            var run = control >> 5
            if run == 7 {
                guard index < input.endIndex else { throw Failure("corrupt LZF reference") }
                run += Int(input[index])
                index += 1
            }
            guard index < input.endIndex else { throw Failure("corrupt LZF reference") }
            let distance = ((control & 0x1F) << 8) + Int(input[index]) + 1
            index += 1
            run += 2
            guard distance <= output.count, output.count + run <= length else { throw Failure("corrupt LZF reference") }
            let start = output.count - distance
            for step in 0..<run { output.append(output[start + step]) }
        }
        guard output.count == length else { throw Failure("LZF data of \(output.count) bytes, \(length) claimed") }
        return output
    }

    // MARK: - Objects

    public static let typeString: UInt8 = 0, typeList: UInt8 = 1, typeSet: UInt8 = 2, typeTextZSet: UInt8 = 3
    public static let typeHash: UInt8 = 4, typeZSet: UInt8 = 5, typeZipmap: UInt8 = 9, typeZiplistList: UInt8 = 10
    public static let typeIntset: UInt8 = 11, typeZiplistZSet: UInt8 = 12, typeZiplistHash: UInt8 = 13
    public static let typeQuicklist: UInt8 = 14, typeStream: UInt8 = 15, typeListpackHash: UInt8 = 16
    public static let typeListpackZSet: UInt8 = 17, typeQuicklist2: UInt8 = 18, typeStream2: UInt8 = 19
    public static let typeListpackSet: UInt8 = 20, typeStream3: UInt8 = 21

    /// One object: its type byte, then its value in that type's encoding.
    public mutating func object() throws(Failure) -> Value {
        let type = try byte()
        return try value(ofType: type)
    }

    public mutating func value(ofType type: UInt8) throws(Failure) -> Value {
        switch type {
        case Self.typeString: return .string(try string())
        case Self.typeList: return try list(try strings(try count(each: 1)))
        case Self.typeZiplistList: return try list(try Self.ziplist(try string()))
        case Self.typeQuicklist, Self.typeQuicklist2: return try quicklist(version2: type == Self.typeQuicklist2)
        case Self.typeSet: return try set(try strings(try count(each: 1)))
        case Self.typeIntset: return try set(try Self.intset(try string()))
        case Self.typeListpackSet: return try set(try Self.listpack(try string()))
        case Self.typeTextZSet, Self.typeZSet: return try sortedSet(binary: type == Self.typeZSet)
        case Self.typeZiplistZSet: return try sortedSet(pairs: try Self.ziplist(try string()))
        case Self.typeListpackZSet: return try sortedSet(pairs: try Self.listpack(try string()))
        case Self.typeHash:
            let fields = try count(each: 2)
            return try hash(try strings(fields.multipliedReportingOverflow(by: 2).partialValue))
        case Self.typeZipmap: return try hash(try Self.zipmap(try string()))
        case Self.typeZiplistHash: return try hash(try Self.ziplist(try string()))
        case Self.typeListpackHash: return try hash(try Self.listpack(try string()))
        case Self.typeStream, Self.typeStream2, Self.typeStream3: return .stream(try stream(type: type))
        case 6, 7: throw Failure("module values are not supported")
        case 22...25: throw Failure("hashes with field expirations (RDB 12) are not supported")
        default: throw Failure("unknown value type \(type)")
        }
    }

    private mutating func strings(_ count: Int) throws(Failure) -> [Bytes] {
        guard count <= remaining else { throw Failure("a count of \(count) exceeds the payload") }
        var elements: [Bytes] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try string()) }
        return elements
    }

    private func list(_ elements: [Bytes]) throws(Failure) -> Value {
        guard !elements.isEmpty else { throw Failure("empty list") }
        return .list(PackedList(elements))
    }

    /// Quicklist nodes: ziplists (14); or, in version 2, a container kind (1 plain
    /// element, 2 listpack) and the node.
    private mutating func quicklist(version2: Bool) throws(Failure) -> Value {
        let nodes = try count(each: 2)
        var elements: [Bytes] = []
        for _ in 0..<nodes {
            let container = version2 ? try length() : 2
            let node = try string()
            switch (version2, container) {
            case (false, _): elements += try Self.ziplist(node)
            case (true, 1): elements.append(node)
            case (true, 2):
                let packed = try Self.listpack(node)
                guard !packed.isEmpty else { throw Failure("empty quicklist node") }
                elements += packed
            default: throw Failure("unknown quicklist container \(container)")
            }
        }
        return try list(elements)
    }

    private func set(_ members: [Bytes]) throws(Failure) -> Value {
        guard !members.isEmpty else { throw Failure("empty set") }
        var set = OrderedSet<Key>(minimumCapacity: members.count)
        for member in members {
            guard set.append(Key(member)).inserted else { throw Failure("duplicate set member") }
        }
        return .set(set)
    }

    private mutating func sortedSet(binary: Bool) throws(Failure) -> Value {
        let count = try count(each: 2)
        var pairs: [(Bytes, Double)] = []
        pairs.reserveCapacity(count)
        for _ in 0..<count {
            let member = try string()
            pairs.append((member, binary ? try binaryDouble() : try textDouble()))
        }
        return try sortedSet(pairs)
    }

    /// A packed sorted set: member, score (as text or an integer), member, score, ...
    private func sortedSet(pairs elements: [Bytes]) throws(Failure) -> Value {
        guard elements.count % 2 == 0 else { throw Failure("a sorted set member without a score") }
        var pairs: [(Bytes, Double)] = []
        pairs.reserveCapacity(elements.count / 2)
        for index in stride(from: 0, to: elements.count, by: 2) {
            guard let score = Numbers.parseDouble(elements[index + 1]) else { throw Failure("a score that is not a number") }
            pairs.append((elements[index], score))
        }
        return try sortedSet(pairs)
    }

    private func sortedSet(_ pairs: [(Bytes, Double)]) throws(Failure) -> Value {
        guard !pairs.isEmpty else { throw Failure("empty sorted set") }
        var sortedSet = SortedSet()
        for (member, score) in pairs {
            guard !score.isNaN else { throw Failure("a NaN score") }
            guard sortedSet.set(member, score: score) else { throw Failure("duplicate sorted set member") }
        }
        return .zset(sortedSet)
    }

    /// Fields and values, alternating.
    private func hash(_ elements: [Bytes]) throws(Failure) -> Value {
        guard !elements.isEmpty else { throw Failure("empty hash") }
        guard elements.count % 2 == 0 else { throw Failure("a hash field without a value") }
        var fields = HashFields()
        for index in stride(from: 0, to: elements.count, by: 2) {
            guard fields.updateValue(elements[index + 1], forKey: elements[index]) == nil else {
                throw Failure("duplicate hash field")
            }
        }
        return .hash(fields)
    }
}
