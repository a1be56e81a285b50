// The binary form of one key and its entry inside a snapshot (see docs/FORMAT.md,
// "Snapshot records"). Decoding validates every length and tag; a malformed record is an
// error, never a crash.
//
// The tag byte versions the value's encoding: a new type (or a new encoding of an old
// one) takes a new tag, and a binary that does not know a tag refuses the record instead
// of misreading it. Sorted sets are written in ascending (score, member) order. Lists and sets are written in their stored order, so a replica loaded
// from a snapshot holds exactly the order its leader had (SPOP's pick depends on it).
import Collections
import Core

public enum EntryCodec {
    static let tagString: UInt8 = 1
    static let tagHash: UInt8 = 2
    static let tagList: UInt8 = 3
    static let tagSet: UInt8 = 4
    static let tagSortedSet: UInt8 = 5
    static let tagStream: UInt8 = 6
    /// A hash with fields that have a time to live: the fields as tagHash, then a u32
    /// count and (field, i64 Unix milliseconds) per field with one.
    static let tagHashWithExpiry: UInt8 = 7
    /// A stream as tagStream, then its nodes (StreamNodes.swift): a u32 count and per node
    /// u32 live, u32 deleted, master ID, last ID, u32 body bytes, then its master field
    /// names as a u32 count and blobs. A tagStream record (written before nodes were kept)
    /// is laid out as XADD would have with Redis's default node limits.
    static let tagStreamWithNodes: UInt8 = 8

    public struct DecodeError: Error, Equatable, Sendable {
        public var reason: String
    }

    public static func encode(key: Bytes, entry: Entry) -> [UInt8] {
        var writer = ByteWriter(capacity: key.count + 32)
        encode(key: key, entry: entry, into: &writer)
        return writer.bytes
    }

    /// `encode(key:entry:)` appended to `writer`.
    public static func encode(key: Bytes, entry: Entry, into writer: inout ByteWriter) {
        switch entry.value {
        case .string(let bytes):
            writer.write(tagString)
            writer.writeBlob(key)
            writer.write(entry.expireAt ?? -1)
            writer.writeBlob(bytes)
        case .hash(let fields):
            writer.write(fields.hasExpirations ? tagHashWithExpiry : tagHash)
            writer.writeBlob(key)
            writer.write(entry.expireAt ?? -1)
            writer.write(UInt32(fields.count))
            for (field, value) in fields {
                writer.writeBlob(field)
                writer.writeBlob(value)
            }
            if fields.hasExpirations {
                writer.write(UInt32(fields.expirations.count))
                for (field, time) in fields.expirations.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                    writer.writeBlob(field)
                    writer.write(time)
                }
            }
        case .list(let elements):
            writeCollection(tagList, key: key, expireAt: entry.expireAt, elements, into: &writer)
        case .set(let members):
            writeCollection(tagSet, key: key, expireAt: entry.expireAt, members.lazy.map(\.bytes), into: &writer)
        case .zset(let sortedSet):
            // Ascending (score, member) order: the order a reader can check in one pass.
            writer.write(tagSortedSet)
            writer.writeBlob(key)
            writer.write(entry.expireAt ?? -1)
            writer.write(UInt32(truncatingIfNeeded: sortedSet.count))
            for element in sortedSet.all {
                writer.writeBlob(element.member)
                writer.write(element.score.bitPattern)
            }
        case .stream(let stream):
            // Last ID, entries added, largest deleted ID, then each entry: its ID and a u32
            // count of field/value blobs.
            writer.write(tagStreamWithNodes)
            writer.writeBlob(key)
            writer.write(entry.expireAt ?? -1)
            for id in [stream.lastID, stream.maxDeletedID] {
                writer.write(id.milliseconds)
                writer.write(id.sequence)
            }
            writer.write(stream.entriesAdded)
            writer.write(UInt32(truncatingIfNeeded: stream.entries.count))
            for element in stream.entries {
                writer.write(element.id.milliseconds)
                writer.write(element.id.sequence)
                writer.write(UInt32(truncatingIfNeeded: element.fields.count))
                for field in element.fields { writer.writeBlob(field) }
            }
            // Consumer groups: name, last delivered ID, entries read, consumers, pending list.
            writer.write(UInt32(truncatingIfNeeded: stream.groups.count))
            for group in stream.groups {
                writer.writeBlob(group.name)
                writer.write(group.lastDeliveredID.milliseconds)
                writer.write(group.lastDeliveredID.sequence)
                writer.write(group.entriesRead)
                writer.write(UInt32(truncatingIfNeeded: group.consumers.count))
                for consumer in group.consumers {
                    writer.writeBlob(consumer.name)
                    writer.write(consumer.seenAt)
                    writer.write(consumer.activeAt)
                }
                writer.write(UInt32(truncatingIfNeeded: group.pending.count))
                for item in group.pending {
                    writer.write(item.id.milliseconds)
                    writer.write(item.id.sequence)
                    writer.writeBlob(item.entry.consumer)
                    writer.write(item.entry.deliveredAt)
                    writer.write(item.entry.deliveries)
                }
            }
            writer.write(UInt32(truncatingIfNeeded: stream.nodes.count))
            for node in stream.nodes {
                writer.write(UInt32(truncatingIfNeeded: node.live))
                writer.write(UInt32(truncatingIfNeeded: node.deleted))
                for id in [node.masterID, node.lastID] {
                    writer.write(id.milliseconds)
                    writer.write(id.sequence)
                }
                writer.write(UInt32(truncatingIfNeeded: node.bodyBytes))
                writer.write(UInt32(truncatingIfNeeded: node.masterFields.count))
                for name in node.masterFields { writer.writeBlob(name) }
            }
        }
    }

    /// Tag, key, expiry, then a u32 count and one blob per element in order. A count
    /// beyond u32 cannot be held in memory by one key (it would take over 64 GiB).
    private static func writeCollection<Elements: Collection>(_ tag: UInt8, key: Bytes, expireAt: Int64?, _ elements: Elements,
                                                             into writer: inout ByteWriter) where Elements.Element == Bytes {
        writer.write(tag)
        writer.writeBlob(key)
        writer.write(expireAt ?? -1)
        writer.write(UInt32(truncatingIfNeeded: elements.count))
        for element in elements { writer.writeBlob(element) }
    }

    /// Reads a u32 count, then that many blobs, refusing a count the record cannot hold
    /// (each blob needs at least its 4 length bytes).
    private static func readElements(_ reader: inout ByteReader, kind: String) throws -> [Bytes] {
        let count = Int(try reader.read(UInt32.self))
        guard count <= reader.remaining / 4 else { throw DecodeError(reason: "\(kind) element count \(count) exceeds record") }
        var elements: [Bytes] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try reader.readBlob()) }
        return elements
    }

    /// Reads a u32 count, then that many (member blob, u64 score bits) pairs in ascending
    /// order; refuses a count the record cannot hold, NaN, a duplicate or out-of-order
    /// member, and an empty set.
    private static func readSortedSet(_ reader: inout ByteReader) throws -> SortedSet {
        let count = Int(try reader.read(UInt32.self))
        // Each pair needs at least 4 length bytes and 8 score bytes.
        guard count <= reader.remaining / 12 else { throw DecodeError(reason: "sorted set member count \(count) exceeds record") }
        guard count > 0 else { throw DecodeError(reason: "empty sorted set") }
        var sortedSet = SortedSet()
        var previous: ScoredMember? = nil
        for _ in 0..<count {
            let member = try reader.readBlob()
            let score = Double(bitPattern: try reader.read(UInt64.self))
            guard !score.isNaN else { throw DecodeError(reason: "sorted set score is NaN") }
            if let previous, !ScoreTree.precedes(previous.score, previous.member, score, member) {
                throw DecodeError(reason: "sorted set members out of order")
            }
            guard sortedSet.set(member, score: score) else { throw DecodeError(reason: "duplicate sorted set member") }
            previous = ScoredMember(member: member, score: score)
        }
        return sortedSet
    }

    /// The nodes a tagStreamWithNodes record ends with, checked against the entries.
    private static func readStreamNodes(_ reader: inout ByteReader, into stream: inout Stream) throws {
        let count = Int(try reader.read(UInt32.self))
        // Each node needs at least 48 bytes.
        guard count <= reader.remaining / 48 else { throw DecodeError(reason: "stream node count \(count) exceeds record") }
        var nodes: [StreamNode] = []
        nodes.reserveCapacity(count)
        for _ in 0..<count {
            let live = Int(try reader.read(UInt32.self)), deleted = Int(try reader.read(UInt32.self))
            let masterID = StreamID(try reader.read(UInt64.self), try reader.read(UInt64.self))
            let lastID = StreamID(try reader.read(UInt64.self), try reader.read(UInt64.self))
            let bodyBytes = Int(try reader.read(UInt32.self))
            let nameCount = Int(try reader.read(UInt32.self))
            guard nameCount <= reader.remaining / 4 else { throw DecodeError(reason: "stream node field count \(nameCount) exceeds record") }
            var names: [Bytes] = []
            names.reserveCapacity(nameCount)
            for _ in 0..<nameCount { names.append(try reader.readBlob()) }
            nodes.append(StreamNode(live: live, deleted: deleted, masterID: masterID, lastID: lastID, masterFields: names,
                                    bodyBytes: bodyBytes))
        }
        guard stream.adoptNodes(nodes) else { throw DecodeError(reason: "stream nodes disagree with its entries") }
    }

    /// A stream's entries and groups; `layingOut`: its nodes laid out as XADD would have
    /// (a record from before nodes were kept), else none (the record's nodes follow).
    private static func readStream(_ reader: inout ByteReader, layingOut: Bool) throws -> Stream {
        var stream = Stream()
        stream.lastID = StreamID(try reader.read(UInt64.self), try reader.read(UInt64.self))
        stream.maxDeletedID = StreamID(try reader.read(UInt64.self), try reader.read(UInt64.self))
        stream.entriesAdded = try reader.read(UInt64.self)
        let count = Int(try reader.read(UInt32.self))
        // Each entry needs at least 20 bytes: never trust a count beyond that.
        guard count <= reader.remaining / 20 else { throw DecodeError(reason: "stream entry count \(count) exceeds record") }
        var previous: StreamID? = nil
        for _ in 0..<count {
            let id = StreamID(try reader.read(UInt64.self), try reader.read(UInt64.self))
            guard previous.map({ $0 < id }) ?? true, id <= stream.lastID else { throw DecodeError(reason: "stream IDs out of order") }
            previous = id
            let fieldCount = Int(try reader.read(UInt32.self))
            guard fieldCount <= reader.remaining / 4 else { throw DecodeError(reason: "stream field count \(fieldCount) exceeds record") }
            var fields: [Bytes] = []
            fields.reserveCapacity(fieldCount)
            for _ in 0..<fieldCount { fields.append(try reader.readBlob()) }
            if layingOut {
                stream.appendEntry(StreamEntry(id: id, fields: fields), limits: .redisDefault)
            } else {
                stream.entries.append(StreamEntry(id: id, fields: fields))
            }
        }
        let groupCount = Int(try reader.read(UInt32.self))
        guard groupCount <= reader.remaining / 28 else { throw DecodeError(reason: "stream group count \(groupCount) exceeds record") }
        for _ in 0..<groupCount {
            let name = try reader.readBlob()
            var group = ConsumerGroup(name: name, lastDeliveredID: StreamID(try reader.read(UInt64.self), try reader.read(UInt64.self)),
                                      entriesRead: try reader.read(Int64.self))
            let consumerCount = Int(try reader.read(UInt32.self))
            guard consumerCount <= reader.remaining / 20 else { throw DecodeError(reason: "consumer count \(consumerCount) exceeds record") }
            for _ in 0..<consumerCount {
                group.consumers.append(StreamConsumer(name: try reader.readBlob(), seenAt: try reader.read(Int64.self),
                                                      activeAt: try reader.read(Int64.self)))
            }
            let pendingCount = Int(try reader.read(UInt32.self))
            guard pendingCount <= reader.remaining / 36 else { throw DecodeError(reason: "pending count \(pendingCount) exceeds record") }
            var previous: StreamID? = nil
            for _ in 0..<pendingCount {
                let id = StreamID(try reader.read(UInt64.self), try reader.read(UInt64.self))
                guard previous.map({ $0 < id }) ?? true else { throw DecodeError(reason: "pending IDs out of order") }
                previous = id
                let entry = PendingEntry(consumer: try reader.readBlob(), deliveredAt: try reader.read(Int64.self),
                                         deliveries: try reader.read(UInt64.self))
                group.pending.append((id, entry))
            }
            stream.groups.append(group)
        }
        return stream
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
            case tagHash, tagHashWithExpiry:
                let count = Int(try reader.read(UInt32.self))
                // Each field needs at least 8 bytes of lengths: never trust a count beyond that.
                guard count <= reader.remaining / 8 else { throw DecodeError(reason: "hash field count \(count) exceeds record") }
                var fields = HashFields()
                for _ in 0..<count { fields[try reader.readBlob()] = try reader.readBlob() }
                if tag == tagHashWithExpiry {
                    let timed = Int(try reader.read(UInt32.self))
                    guard timed <= fields.count, timed <= reader.remaining / 12 else {
                        throw DecodeError(reason: "hash expiry count \(timed) exceeds record")
                    }
                    for _ in 0..<timed {
                        let field = try reader.readBlob()
                        let time = try reader.read(Int64.self)
                        guard fields[field] != nil else { throw DecodeError(reason: "expiry of a missing hash field") }
                        fields.setExpiry(field, at: time)
                    }
                }
                value = .hash(fields)
            case tagList:
                let elements = try readElements(&reader, kind: "list")
                guard !elements.isEmpty else { throw DecodeError(reason: "empty list") }
                value = .list(PackedList(elements))
            case tagSet:
                let elements = try readElements(&reader, kind: "set")
                let members = OrderedSet(elements.map(Key.init))
                guard !members.isEmpty else { throw DecodeError(reason: "empty set") }
                guard members.count == elements.count else { throw DecodeError(reason: "duplicate set member") }
                value = .set(members)
            case tagSortedSet:
                value = .zset(try readSortedSet(&reader))
            case tagStream:
                value = .stream(try readStream(&reader, layingOut: true))
            case tagStreamWithNodes:
                var stream = try readStream(&reader, layingOut: false)
                try readStreamNodes(&reader, into: &stream)
                value = .stream(stream)
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

    /// Every live entry as a snapshot record, each a blob (`ByteWriter.writeBlob`),
    /// encoded in place: the bytes `snapshotRecords` gives, without an array per record.
    /// Returns how many records it wrote.
    @discardableResult
    public func writeSnapshotRecords(now: Int64, into writer: inout ByteWriter) -> Int {
        var written = 0
        for slot in 0..<slots.count {
            for (key, entry) in slots[slot] where !entry.isExpired(at: now) {
                writer.writeBlob { EntryCodec.encode(key: key.bytes, entry: entry, into: &$0) }
                written += 1
            }
        }
        return written
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
    let slots: SlotTable
    let now: Int64

    struct Iterator: IteratorProtocol {
        let slots: SlotTable
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
