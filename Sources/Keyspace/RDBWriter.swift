// Redis's RDB format, written from a keyspace image: the payload of a full
// resynchronization (SYNC / PSYNC), which Redis replicas and `redis-cli --rdb` load.
//
// Version 9 with the plain encodings every Redis since 4.0 still loads: strings (type 0),
// lists (1), sets (2), hashes (4), sorted sets with binary scores (5) and streams in
// listpacks (15, RDBWriter+Stream.swift), each key preceded by its expiry in milliseconds
// (opcode 0xFC) when it has one, each database by SELECTDB (0xFE) and RESIZEDB (0xFB), the
// file by auxiliary fields (0xFA) and ended by EOF (0xFF) and the CRC-64 of everything
// before it, little-endian. Hashes with field expirations have no such encoding: a dataset
// holding one is refused rather than sent without them.
import Core

public enum RDBWriter {
    public enum Failure: Error, Equatable, Sendable {
        /// A key whose value the format written here cannot carry.
        case unsupported(key: Bytes, type: String)
    }

    static let magic = Array("REDIS0009".utf8)
    static let opAux: UInt8 = 0xFA, opResizeDB: UInt8 = 0xFB, opExpireMilliseconds: UInt8 = 0xFC
    static let opSelectDB: UInt8 = 0xFE, opEOF: UInt8 = 0xFF
    static let typeString: UInt8 = 0, typeList: UInt8 = 1, typeSet: UInt8 = 2, typeHash: UInt8 = 4, typeSortedSet: UInt8 = 5

    /// The RDB bytes of `databases` as they are at `now` (keys expired at `now` are left
    /// out), with `aux` as auxiliary fields.
    public static func encode(_ databases: [(index: Int, keyspace: Keyspace)], now: Int64,
                              aux: [(String, String)]) throws(Failure) -> [UInt8] {
        var out = magic
        for (name, value) in aux {
            out.append(opAux)
            writeString(Array(name.utf8), into: &out)
            writeString(Array(value.utf8), into: &out)
        }
        for (index, keyspace) in databases where keyspace.keyCount > 0 {
            out.append(opSelectDB)
            writeLength(UInt64(index), into: &out)
            out.append(opResizeDB)
            writeLength(UInt64(keyspace.keyCount), into: &out)
            writeLength(UInt64(keyspace.expiringCount), into: &out)
            for partition in keyspace.slots {
                for (key, entry) in partition where !entry.isExpired(at: now) {
                    try writeEntry(key.bytes, entry, into: &out)
                }
            }
        }
        out.append(opEOF)
        let crc = CRC64.checksum(out)
        writeLittleEndian(crc, into: &out)
        return out
    }

    private static func writeEntry(_ key: Bytes, _ entry: Entry, into out: inout [UInt8]) throws(Failure) {
        if let expireAt = entry.expireAt {
            out.append(opExpireMilliseconds)
            writeLittleEndian(UInt64(bitPattern: expireAt), into: &out)
        }
        try writeObject(entry.value, key: key, streamType: typeStream, into: &out)
    }

    /// One object: its type, `key` when given (an RDB file's entry; a DUMP payload has
    /// none), then its value. Streams as `streamType`: 15 in version 9 files, 21 (with
    /// what Redis 7.2 keeps) in DUMP payloads.
    static func writeObject(_ value: Value, key: Bytes?, streamType: UInt8, into out: inout [UInt8]) throws(Failure) {
        func start(_ type: UInt8) {
            out.append(type)
            if let key { writeString(key, into: &out) }
        }
        switch value {
        case .string(let bytes):
            start(typeString)
            writeString(bytes, into: &out)
        case .list(let elements):
            start(typeList)
            writeStrings(count: elements.count, elements, into: &out)
        case .set(let members):
            start(typeSet)
            writeStrings(count: members.count, members.lazy.map(\.bytes), into: &out)
        case .hash(let fields):
            guard !fields.hasExpirations else { throw .unsupported(key: key ?? [], type: "hash with field expirations") }
            start(typeHash)
            writeLength(UInt64(fields.count), into: &out)
            for (field, value) in fields {
                writeString(field, into: &out)
                writeString(value, into: &out)
            }
        case .zset(let sortedSet):
            start(typeSortedSet)
            writeLength(UInt64(sortedSet.count), into: &out)
            for element in sortedSet.all {
                writeString(element.member, into: &out)
                writeLittleEndian(element.score.bitPattern, into: &out)
            }
        case .stream(let stream):
            start(streamType)
            writeStream(stream, type: streamType, into: &out)
        }
    }

    /// A list's or set's element count, then each element as a string.
    private static func writeStrings<Elements: Sequence<Bytes>>(count: Int, _ elements: Elements, into out: inout [UInt8]) {
        writeLength(UInt64(count), into: &out)
        for element in elements { writeString(element, into: &out) }
    }

    /// RDB's length encoding: 6 bits, 14 bits, or a 32- or 64-bit big-endian number.
    static func writeLength(_ length: UInt64, into out: inout [UInt8]) {
        if length < 1 << 6 {
            out.append(UInt8(length))
        } else if length < 1 << 14 {
            out.append(0x40 | UInt8(length >> 8))
            out.append(UInt8(truncatingIfNeeded: length))
        } else if length <= UInt64(UInt32.max) {
            out.append(0x80)
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        } else {
            out.append(0x81)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        }
    }

    /// Eight bytes, little-endian: a millisecond time, a binary double, the checksum.
    static func writeLittleEndian(_ value: UInt64, into out: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    /// A raw string: its length, then its bytes.
    static func writeString(_ bytes: Bytes, into out: inout [UInt8]) {
        writeLength(UInt64(bytes.count), into: &out)
        out.append(contentsOf: bytes)
    }
}
