// The byte layouts shared by log segments and snapshots (docs/FORMAT.md is the reference):
// the 32-byte file header, the 12-byte record frame and the 32-byte snapshot trailer.
// All integers are little-endian. These functions are pure; they never trust a length
// they decode, callers check it against limits and the file size first.

import Core

public enum FileKind: Sendable {
    case log, snapshot

    var magic: [UInt8] {
        switch self {
        case .log: return Array("TRESTLOG".utf8)
        case .snapshot: return Array("TRESTSNP".utf8)
        }
    }
}

public enum Framing {
    /// The only format version this build writes and reads.
    public static let formatVersion: UInt32 = 1
    public static let fileHeaderBytes = 32
    public static let recordHeaderBytes = 12
    public static let trailerBytes = 32
    static let trailerMagic = Array("TRESTEND".utf8)

    // MARK: Checksums and integers

    /// CRC-32C of `bytes[range]` through Core's raw-memory path (the generic path is not
    /// specialised across modules and is many times slower on large payloads).
    static func checksum(_ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        bytes.withUnsafeBytes { CRC32C.update(0, UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 { checksum(bytes, 0..<bytes.count) }

    static func put32(_ value: UInt32, into bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    static func put64(_ value: UInt64, into bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    static func get32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[at + index]) << UInt32(8 * index) }
        return value
    }

    static func get64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[at + index]) << UInt64(8 * index) }
        return value
    }

    // MARK: File header

    public static func fileHeader(_ kind: FileKind, generation: Generation) -> [UInt8] {
        var bytes = kind.magic
        put32(formatVersion, into: &bytes)
        put32(0, into: &bytes)  // flags, none defined
        put64(generation.rawValue, into: &bytes)
        put32(0, into: &bytes)  // reserved
        put32(checksum(bytes), into: &bytes)
        assert(bytes.count == fileHeaderBytes)
        return bytes
    }

    /// Checks a file header read from `file`; `bytes` must hold at least `fileHeaderBytes`.
    public static func checkFileHeader(
        _ bytes: [UInt8], kind: FileKind, generation: Generation, file: String
    ) -> StorageError? {
        precondition(bytes.count >= fileHeaderBytes, "caller reads a whole header")
        if !bytes[0..<8].elementsEqual(kind.magic) { return .badMagic(file: file) }
        if checksum(bytes, 0..<28) != get32(bytes, 28) { return .corruptHeader(file: file) }
        let version = get32(bytes, 8)
        if version != formatVersion { return .unsupportedVersion(file: file, version: version) }
        if get64(bytes, 16) != generation.rawValue { return .corruptHeader(file: file) }
        return nil
    }

    // MARK: Record frame

    /// Appends one framed record to `bytes`.
    public static func appendRecord(_ payload: [UInt8], to bytes: inout [UInt8]) {
        precondition(payload.count <= StorageLimits.recordBytesMax, "caller bounds records")
        let start = bytes.count
        put32(UInt32(payload.count), into: &bytes)
        put32(checksum(payload), into: &bytes)
        put32(checksum(bytes, start..<(start + 8)), into: &bytes)
        bytes.append(contentsOf: payload)
    }

    public static func framedSize(_ payloadBytes: Int) -> Int { recordHeaderBytes + payloadBytes }

    /// A record header that passed its own checksum.
    struct RecordHeader {
        var payloadBytes: Int
        var payloadChecksum: UInt32
    }

    /// Decodes the record header at `at`; nil if its checksum does not match or its length
    /// exceeds `recordBytesMax`. `bytes` must hold `recordHeaderBytes` from `at`.
    static func recordHeader(_ bytes: [UInt8], at: Int) -> RecordHeader? {
        let expected = get32(bytes, at + 8)
        let actual = checksum(bytes, at..<(at + 8))
        guard expected == actual else { return nil }
        let length = Int(get32(bytes, at))
        guard length <= StorageLimits.recordBytesMax else { return nil }
        return RecordHeader(payloadBytes: length, payloadChecksum: get32(bytes, at + 4))
    }

    // MARK: Snapshot trailer

    public static func snapshotTrailer(recordCount: UInt64, bodyBytes: UInt64) -> [UInt8] {
        var bytes = trailerMagic
        put64(recordCount, into: &bytes)
        put64(bodyBytes, into: &bytes)
        put32(0, into: &bytes)  // reserved
        put32(checksum(bytes), into: &bytes)
        assert(bytes.count == trailerBytes)
        return bytes
    }

    /// The record count and body size of a trailer, or nil if it is damaged.
    public static func decodeTrailer(_ bytes: [UInt8]) -> (recordCount: UInt64, bodyBytes: UInt64)? {
        guard bytes.count == trailerBytes, bytes[0..<8].elementsEqual(trailerMagic) else { return nil }
        guard checksum(bytes, 0..<28) == get32(bytes, 28) else { return nil }
        return (get64(bytes, 8), get64(bytes, 16))
    }
}
