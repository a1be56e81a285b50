// The packed structures Redis stores inside RDB strings: ziplist, listpack, intset and
// zipmap, each decoded into its elements (integers as decimal text). Every offset is
// checked against the structure's own bytes; a structure that runs past its end, lacks
// its terminator or disagrees with its header is refused.
import Core

extension RDBReader {
    /// A ziplist: 4-byte total size, 4-byte tail offset, 2-byte count (little-endian),
    /// entries (previous entry's length in 1 or 5 bytes, an encoding, the data), 0xFF.
    static func ziplist(_ bytes: Bytes) throws(Failure) -> [Bytes] {
        guard bytes.count >= 11, bytes.last == 0xFF else { throw Failure("corrupt ziplist header") }
        var reader = RDBReader(bytes, offset: 0)
        guard try reader.littleEndian(4) == UInt64(bytes.count) else { throw Failure("ziplist size disagrees with its header") }
        _ = try reader.littleEndian(4)
        let declared = try reader.littleEndian(2)
        var elements: [Bytes] = []
        while reader.offset < bytes.count - 1 {
            if try reader.byte() == 0xFE { _ = try reader.raw(4) }
            let encoding = try reader.byte()
            switch encoding >> 6 {
            case 0: elements.append(Array(try reader.raw(Int(encoding & 0x3F))))
            case 1: elements.append(Array(try reader.raw(Int(encoding & 0x3F) << 8 | Int(try reader.byte()))))
            case 2:
                guard encoding == 0x80 else { throw Failure("unknown ziplist encoding \(encoding)") }
                elements.append(Array(try reader.raw(Int(try reader.bigEndian(4)))))
            default:
                let number: Int64
                switch encoding {
                case 0xC0: number = Int64(Int16(truncatingIfNeeded: try reader.littleEndian(2)))
                case 0xD0: number = Int64(Int32(truncatingIfNeeded: try reader.littleEndian(4)))
                case 0xE0: number = Int64(bitPattern: try reader.littleEndian(8))
                case 0xF0: number = Int64(Int32(truncatingIfNeeded: try reader.littleEndian(3) << 8) >> 8)
                case 0xFE: number = Int64(Int8(bitPattern: try reader.byte()))
                case 0xF1...0xFD: number = Int64(encoding & 0x0F) - 1
                default: throw Failure("unknown ziplist encoding \(encoding)")
                }
                elements.append(Array(String(number).utf8))
            }
        }
        guard reader.offset == bytes.count - 1 else { throw Failure("ziplist runs past its end") }
        guard declared == 0xFFFF || declared == UInt64(elements.count) else { throw Failure("ziplist count disagrees with its entries") }
        return elements
    }

    /// A listpack: 4-byte total size, 2-byte count (little-endian), elements (an encoding,
    /// the data, the back-length of both in 1 to 5 bytes), 0xFF.
    static func listpack(_ bytes: Bytes) throws(Failure) -> [Bytes] {
        guard bytes.count >= 7, bytes.last == 0xFF else { throw Failure("corrupt listpack header") }
        var reader = RDBReader(bytes, offset: 0)
        guard try reader.littleEndian(4) == UInt64(bytes.count) else { throw Failure("listpack size disagrees with its header") }
        let declared = try reader.littleEndian(2)
        var elements: [Bytes] = []
        while reader.offset < bytes.count - 1 {
            let start = reader.offset
            elements.append(try reader.listpackElement())
            let size = reader.offset - start
            let backLength = size < 128 ? 1 : size < 16_384 ? 2 : size < 2_097_152 ? 3 : size < 268_435_456 ? 4 : 5
            _ = try reader.raw(backLength)
        }
        guard reader.offset == bytes.count - 1 else { throw Failure("listpack runs past its end") }
        guard declared == 0xFFFF || declared == UInt64(elements.count) else { throw Failure("listpack count disagrees with its entries") }
        return elements
    }

    /// One listpack element's encoding and data (integers as decimal text).
    private mutating func listpackElement() throws(Failure) -> Bytes {
        let encoding = try byte()
        let number: Int64
        if encoding & 0x80 == 0 {
            number = Int64(encoding)
        } else if encoding & 0xC0 == 0x80 {
            return Array(try raw(Int(encoding & 0x3F)))
        } else if encoding & 0xE0 == 0xC0 {
            let bits = UInt16(encoding & 0x1F) << 8 | UInt16(try byte())
            number = Int64(Int16(bitPattern: bits << 3) >> 3)
        } else if encoding & 0xF0 == 0xE0 {
            return Array(try raw(Int(encoding & 0x0F) << 8 | Int(try byte())))
        } else {
            switch encoding {
            case 0xF0: return Array(try raw(Int(try littleEndian(4))))
            case 0xF1: number = Int64(Int16(truncatingIfNeeded: try littleEndian(2)))
            case 0xF2: number = Int64(Int32(truncatingIfNeeded: try littleEndian(3) << 8) >> 8)
            case 0xF3: number = Int64(Int32(truncatingIfNeeded: try littleEndian(4)))
            case 0xF4: number = Int64(bitPattern: try littleEndian(8))
            default: throw Failure("unknown listpack encoding \(encoding)")
            }
        }
        return Array(String(number).utf8)
    }

    /// An intset: element width (2, 4 or 8 bytes), count, then the sorted integers, all
    /// little-endian.
    static func intset(_ bytes: Bytes) throws(Failure) -> [Bytes] {
        var reader = RDBReader(bytes, offset: 0)
        let width = Int(try reader.littleEndian(4))
        guard [2, 4, 8].contains(width) else { throw Failure("unknown intset width \(width)") }
        let count = try reader.littleEndian(4)
        guard count > 0, count * UInt64(width) == UInt64(reader.remaining) else { throw Failure("intset size disagrees with its count") }
        var members: [Bytes] = []
        members.reserveCapacity(Int(count))
        var previous: Int64? = nil
        for _ in 0..<count {
            let raw = try reader.littleEndian(width)
            let number = width == 8 ? Int64(bitPattern: raw) : width == 4 ? Int64(Int32(truncatingIfNeeded: raw)) : Int64(Int16(truncatingIfNeeded: raw))
            guard previous.map({ $0 < number }) ?? true else { throw Failure("intset not sorted") }
            previous = number
            members.append(Array(String(number).utf8))
        }
        return members
    }

    /// A zipmap (hashes written before Redis 2.6): a count byte, then field and value as
    /// length-prefixed strings (a value with a free-space byte and padding), then 0xFF.
    static func zipmap(_ bytes: Bytes) throws(Failure) -> [Bytes] {
        var reader = RDBReader(bytes, offset: 0)
        _ = try reader.byte()
        var elements: [Bytes] = []
        func zipmapLength(_ reader: inout RDBReader) throws(Failure) -> Int? {
            let first = try reader.byte()
            switch first {
            case 0xFF: return nil
            case 0xFE: return Int(try reader.littleEndian(4))
            default: return Int(first)
            }
        }
        while let fieldLength = try zipmapLength(&reader) {
            elements.append(Array(try reader.raw(fieldLength)))
            guard let valueLength = try zipmapLength(&reader) else { throw Failure("zipmap field without a value") }
            let free = Int(try reader.byte())
            elements.append(Array(try reader.raw(valueLength)))
            _ = try reader.raw(free)
        }
        guard reader.remaining == 0 else { throw Failure("zipmap runs past its end") }
        return elements
    }
}
