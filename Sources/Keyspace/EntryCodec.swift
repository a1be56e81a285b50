// The binary form of one key and its entry inside a snapshot (see docs/FORMAT.md,
// "Snapshot records"). Decoding validates every length and tag; a malformed record is an
// error, never a crash.
import Core

public enum EntryCodec {
    static let tagString: UInt8 = 1
    static let tagHash: UInt8 = 2

    public struct DecodeError: Error, Equatable, Sendable {
        public var reason: String
    }

    public static func encode(key: Bytes, entry: Entry) -> [UInt8] {
        var writer = ByteWriter(capacity: key.count + 32)
        switch entry.value {
        case .string(let bytes):
            writer.write(tagString)
            writer.writeBlob(key)
            writer.write(entry.expireAt ?? -1)
            writer.writeBlob(bytes)
        case .hash(let fields):
            writer.write(tagHash)
            writer.writeBlob(key)
            writer.write(entry.expireAt ?? -1)
            writer.write(UInt32(fields.count))
            for (field, value) in fields {
                writer.writeBlob(field)
                writer.writeBlob(value)
            }
        }
        return writer.bytes
    }

    public static func decode(_ record: [UInt8]) throws(DecodeError) -> (key: Bytes, entry: Entry) {
        var reader = ByteReader(record)
        do {
            let tag = try reader.readByte()
            let key = try reader.readBlob()
            let expireRaw = try reader.read(Int64.self)
            let expireAt: Int64? = expireRaw < 0 ? nil : expireRaw
            let value: Value
            switch tag {
            case tagString:
                value = .string(try reader.readBlob())
            case tagHash:
                let count = Int(try reader.read(UInt32.self))
                // Each field needs at least 8 bytes of lengths: never trust a count beyond that.
                guard count <= reader.remaining / 8 else { throw DecodeError(reason: "hash field count \(count) exceeds record") }
                var fields: [Bytes: Bytes] = [:]
                fields.reserveCapacity(count)
                for _ in 0..<count { fields[try reader.readBlob()] = try reader.readBlob() }
                value = .hash(fields)
            default:
                throw DecodeError(reason: "unknown value tag \(tag)")
            }
            guard reader.isAtEnd else { throw DecodeError(reason: "trailing bytes in entry record") }
            return (key, Entry(value: value, expireAt: expireAt))
        } catch let error as DecodeError {
            throw error
        } catch {
            throw DecodeError(reason: "truncated entry record")
        }
    }
}

extension Keyspace {
    /// Every live entry as snapshot records, slot by slot. Call on a copy: the copy is
    /// immutable and may be read from another thread while the original keeps changing.
    public func snapshotRecords(now: Int64) -> AnySequence<[UInt8]> {
        AnySequence(SnapshotRecords(slots: slots, now: now))
    }

    /// Loads one snapshot record.
    public mutating func load(record: [UInt8]) throws(EntryCodec.DecodeError) {
        let (key, entry) = try EntryCodec.decode(record)
        store(key, entry)
    }
}

/// The records of a keyspace copy, produced one at a time (a concrete iterator: generic
/// lazy adaptors cost a metadata lookup per element across module boundaries).
struct SnapshotRecords: Sequence {
    let slots: [[Key: Entry]]
    let now: Int64

    struct Iterator: IteratorProtocol {
        let slots: [[Key: Entry]]
        let now: Int64
        var slot = 0
        var inner: Dictionary<Key, Entry>.Iterator? = nil

        mutating func next() -> [UInt8]? {
            while true {
                if let (key, entry) = inner?.next() {
                    if entry.isExpired(at: now) { continue }
                    return EntryCodec.encode(key: key.bytes, entry: entry)
                }
                guard slot < slots.count else { return nil }
                inner = slots[slot].makeIterator()
                slot += 1
            }
        }
    }

    func makeIterator() -> Iterator { Iterator(slots: slots, now: now) }
}
