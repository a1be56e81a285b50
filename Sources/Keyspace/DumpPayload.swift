// DUMP payloads as Redis makes them, so keys move between Redis and Trestle with DUMP and
// RESTORE (or MIGRATE, or a migration tool that uses them): one RDB object (its type byte
// and value, RDBWriter / RDBReader), the RDB version as 2 bytes, then the CRC-64 of all of
// that, 8 bytes, both little-endian.
//
// Written with the oldest version that can carry the value, so older servers load it
// too: 9 (Redis 5 and later) for strings, lists, sets, hashes and sorted sets; 11 (Redis
// 7.2 and later) for streams, whose type 21 keeps entries added, the maximal deleted ID,
// groups' entries read and consumers' active times. Read: every version up to 12.
//
// A hash with field expirations has no encoding in versions up to 11, so its payload is
// Trestle's own (docs/FORMAT.md, "DUMP payloads"): the value as a snapshot record with an
// empty key, "TR", a format byte (1) and a CRC-32C of everything before it. Trestle reads
// both; Redis refuses the second as a foreign version.
import Core

public enum DumpPayload {
    public enum Failure: Error, Equatable, Sendable {
        /// The footer's version is newer than Trestle reads, or the checksum is wrong.
        case versionOrChecksum
        /// The object inside does not decode.
        case badData(String)
    }

    /// The newest RDB version whose objects Trestle reads (Redis 7.4's).
    public static let readableVersionMax: UInt16 = 12
    static let plainVersion: UInt16 = 9, streamVersion: UInt16 = 11
    static let nativeTrailer: [UInt8] = [UInt8(ascii: "T"), UInt8(ascii: "R"), 1]

    public static func encode(_ value: Value) -> Bytes {
        var payload: [UInt8] = []
        do {
            try RDBWriter.writeObject(value, key: nil, streamType: RDBWriter.typeStream3, into: &payload)
        } catch {
            return nativePayload(value)
        }
        var version = plainVersion
        if case .stream = value { version = streamVersion }
        payload.append(UInt8(truncatingIfNeeded: version))
        payload.append(UInt8(truncatingIfNeeded: version >> 8))
        RDBWriter.writeLittleEndian(CRC64.checksum(payload), into: &payload)
        return payload
    }

    public static func decode(_ payload: Bytes) throws(Failure) -> Value {
        if let value = try nativeValue(payload) { return value }
        guard payload.count >= 10 else { throw .versionOrChecksum }
        let footer = payload.count - 10
        let version = UInt16(payload[footer]) | UInt16(payload[footer + 1]) << 8
        var crc: UInt64 = 0
        for (index, byte) in payload.suffix(8).enumerated() { crc |= UInt64(byte) << UInt64(index * 8) }
        guard version <= readableVersionMax, CRC64.checksum(payload[..<(payload.count - 8)]) == crc else {
            throw .versionOrChecksum
        }
        var reader = RDBReader(Array(payload[..<footer]))
        do {
            return try reader.object()
        } catch {
            throw .badData(error.reason)
        }
    }

    // MARK: - Trestle's own payload (hashes with field expirations)

    static func nativePayload(_ value: Value) -> Bytes {
        var payload = EntryCodec.encode(key: [], entry: Entry(value: value))
        payload += nativeTrailer
        let crc = CRC32C.checksum(payload)
        for shift in stride(from: 0, to: 32, by: 8) { payload.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        return payload
    }

    /// The value of a payload in Trestle's own format; nil when the payload is not one.
    static func nativeValue(_ payload: Bytes) throws(Failure) -> Value? {
        guard payload.count > nativeTrailer.count + 4 else { return nil }
        let body = payload.dropLast(4)
        guard Array(body.suffix(nativeTrailer.count)) == nativeTrailer else { return nil }
        var crc: UInt32 = 0
        for (offset, byte) in payload.suffix(4).enumerated() { crc |= UInt32(byte) << UInt32(offset * 8) }
        guard CRC32C.checksum(body) == crc else { return nil }
        guard let decoded = try? EntryCodec.decode(Array(body.dropLast(nativeTrailer.count))), decoded.key.isEmpty else {
            throw .badData("corrupt Trestle payload")
        }
        return decoded.entry.value
    }
}
