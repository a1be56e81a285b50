// Little-endian binary writing and bounds-checked reading, shared by the on-disk record
// formats. The reader never trusts a length: it fails instead of reading past the end or
// allocating more than the bytes that are actually there.

public struct ByteWriter: Sendable {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    @inlinable public mutating func write(_ value: UInt8) { bytes.append(value) }

    @inlinable public mutating func write<Integer: FixedWidthInteger>(_ value: Integer) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// A 32-bit length followed by the bytes.
    @inlinable public mutating func writeBlob(_ blob: [UInt8]) {
        write(UInt32(blob.count))
        bytes.append(contentsOf: blob)
    }

    /// A blob whose bytes `body` writes in place: the same bytes as `writeBlob` of what
    /// `body` would have written to a writer of its own, without that writer's array.
    @inlinable public mutating func writeBlob(_ body: (inout ByteWriter) -> Void) {
        let start = bytes.count
        write(UInt32(0))
        body(&self)
        let length = UInt32(bytes.count - start - 4)
        withUnsafeBytes(of: length.littleEndian) { lengthBytes in
            for index in 0..<4 { bytes[start + index] = lengthBytes[index] }
        }
    }
}

/// Writes into an array allocated once at its final size: no growth check per write.
/// For encodings whose size is computed beforehand (a log entry on the hot path); writing
/// past the size computed is a programming error and traps.
public struct SizedByteWriter {
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let capacity: Int
    @usableFromInline var offset = 0

    @usableFromInline init(base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// The `count` bytes `body` writes (exactly `count`: fewer is a trap too).
    @inlinable public static func bytes(count: Int, _ body: (inout SizedByteWriter) -> Void) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let base = buffer.baseAddress else {
                precondition(count == 0, "no room for the bytes")
                initialized = 0
                return
            }
            var writer = SizedByteWriter(base: UnsafeMutableRawPointer(base), capacity: count)
            body(&writer)
            precondition(writer.offset == count, "wrote \(writer.offset) bytes of \(count)")
            initialized = count
        }
    }

    @inlinable public mutating func write<Integer: FixedWidthInteger>(_ value: Integer) {
        let size = MemoryLayout<Integer>.size
        precondition(capacity - offset >= size, "write past the computed size")
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: Integer.self)
        offset += size
    }

    /// A 32-bit length followed by the bytes (as `ByteWriter.writeBlob`).
    @inlinable public mutating func writeBlob(_ blob: [UInt8]) {
        write(UInt32(blob.count))
        precondition(capacity - offset >= blob.count, "write past the computed size")
        blob.withUnsafeBytes { source in
            if let address = source.baseAddress { (base + offset).copyMemory(from: address, byteCount: source.count) }
        }
        offset += blob.count
    }
}

/// Reading past the end or a length beyond the remaining bytes.
public struct ByteReaderError: Error, Equatable, Sendable {
    public var offset: Int
    @inlinable public init(offset: Int) { self.offset = offset }
}

public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    @inlinable public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset >= bytes.count }

    @inlinable public mutating func readByte() throws(ByteReaderError) -> UInt8 {
        guard offset < bytes.count else { throw ByteReaderError(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    @inlinable public mutating func read<Integer: FixedWidthInteger>(_ type: Integer.Type) throws(ByteReaderError) -> Integer {
        let size = MemoryLayout<Integer>.size
        guard remaining >= size else { throw ByteReaderError(offset: offset) }
        var value = Integer.zero
        for index in 0..<size { value |= Integer(truncatingIfNeeded: bytes[offset + index]) << (8 * index) }
        offset += size
        return value
    }

    /// Reads a 32-bit length and that many bytes.
    @inlinable public mutating func readBlob() throws(ByteReaderError) -> [UInt8] {
        let length = Int(try read(UInt32.self))
        guard length <= remaining else { throw ByteReaderError(offset: offset) }
        defer { offset += length }
        return Array(bytes[offset..<(offset + length)])
    }
}
