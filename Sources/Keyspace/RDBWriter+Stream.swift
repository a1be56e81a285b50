// A stream in Redis's RDB format (type 15, RDB_TYPE_STREAM_LISTPACKS, as version 9 files
// hold it): its entries in listpack nodes, the stream's own (StreamNodes.swift), keyed
// by their first live entry's ID, its length and last ID, then each consumer group with its last
// delivered ID, pending entries (ID, delivery time, delivery count) and consumers (name,
// seen time, the IDs they hold).
//
// A node's listpack starts with the master entry (valid count, deleted count 0, the first
// entry's field names, a 0 terminator); each entry then is flags 0 (its own fields), its
// ID's distance from the node's first ID (milliseconds, sequence, as 64-bit two's
// complement), the field count, field/value pairs and the count of the entry's listpack
// elements. Redis loading a type-15 stream counts entries_added as its length, the maximal
// deleted ID as 0-0 and each group's entries_read as unknown (what Trestle tracks beyond
// that is not carried).
import Core

extension RDBWriter {
    static let typeStream: UInt8 = 15, typeStream3: UInt8 = 21

    /// The value of a stream of `type` 15 or 21 (which adds the first and maximal deleted
    /// IDs, entries added, groups' entries read and consumers' active times).
    static func writeStream(_ stream: Stream, type: UInt8, into out: inout [UInt8]) {
        let extended = type == typeStream3
        let entries = Array(stream.entries)
        // The stream's own nodes (StreamNodes.swift), each with its live entries only.
        var nodes: [ArraySlice<StreamEntry>] = []
        var start = 0
        for node in stream.nodes where node.live > 0 {
            nodes.append(entries[start..<(start + node.live)])
            start += node.live
        }
        assert(start == entries.count, "nodes that do not cover the entries")
        writeLength(UInt64(nodes.count), into: &out)
        for node in nodes {
            guard let first = node.first else { continue }
            writeString(streamIDKey(first.id), into: &out)
            writeString(listpack(node, master: first), into: &out)
        }
        writeLength(UInt64(entries.count), into: &out)
        writeLength(stream.lastID.milliseconds, into: &out)
        writeLength(stream.lastID.sequence, into: &out)
        if extended {
            let first = entries.first?.id ?? .zero
            for part in [first.milliseconds, first.sequence, stream.maxDeletedID.milliseconds, stream.maxDeletedID.sequence, stream.entriesAdded] {
                writeLength(part, into: &out)
            }
        }
        writeLength(UInt64(stream.groups.count), into: &out)
        for group in stream.groups {
            writeString(group.name, into: &out)
            writeLength(group.lastDeliveredID.milliseconds, into: &out)
            writeLength(group.lastDeliveredID.sequence, into: &out)
            if extended { writeLength(UInt64(bitPattern: group.entriesRead), into: &out) }
            writeLength(UInt64(group.pending.count), into: &out)
            for (id, pending) in group.pending {
                out.append(contentsOf: streamIDKey(id))
                writeMilliseconds(pending.deliveredAt, into: &out)
                writeLength(pending.deliveries, into: &out)
            }
            writeLength(UInt64(group.consumers.count), into: &out)
            for consumer in group.consumers {
                writeString(consumer.name, into: &out)
                writeMilliseconds(consumer.seenAt, into: &out)
                if extended { writeMilliseconds(consumer.activeAt, into: &out) }
                let held = group.pending.filter { $0.entry.consumer == consumer.name }
                writeLength(UInt64(held.count), into: &out)
                for (id, _) in held { out.append(contentsOf: streamIDKey(id)) }
            }
        }
    }

    /// A stream ID as Redis keys its radix trees: milliseconds then sequence, big-endian.
    static func streamIDKey(_ id: StreamID) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { key.append(UInt8(truncatingIfNeeded: id.milliseconds >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { key.append(UInt8(truncatingIfNeeded: id.sequence >> UInt64(shift))) }
        return key
    }

    /// RDB's millisecond time: 8 bytes, little-endian.
    static func writeMilliseconds(_ time: Int64, into out: inout [UInt8]) {
        writeLittleEndian(UInt64(bitPattern: time), into: &out)
    }

    /// One stream node's listpack.
    static func listpack(_ node: ArraySlice<StreamEntry>, master: StreamEntry) -> [UInt8] {
        var writer = ListpackWriter()
        let masterFields = stride(from: 0, to: master.fields.count, by: 2).map { master.fields[$0] }
        writer.append(Int64(node.count))
        writer.append(0)  // deleted entries
        writer.append(Int64(masterFields.count))
        for field in masterFields { writer.append(field) }
        writer.append(0)  // the master entry's terminator
        for entry in node {
            let pairs = entry.fields.count / 2
            writer.append(0)  // flags: the entry lists its own fields
            writer.append(Int64(bitPattern: entry.id.milliseconds &- master.id.milliseconds))
            writer.append(Int64(bitPattern: entry.id.sequence &- master.id.sequence))
            writer.append(Int64(pairs))
            for item in entry.fields.prefix(pairs * 2) { writer.append(item) }
            writer.append(Int64(pairs * 2 + 4))  // flags, two ID parts, field count, pairs
        }
        return writer.finished()
    }
}

/// Redis's listpack: a 6-byte header (total bytes, element count, little-endian), each
/// element as its encoding, data and back-length, then 0xFF.
struct ListpackWriter {
    private var body: [UInt8] = []
    private var count = 0

    mutating func append(_ value: Int64) {
        var element: [UInt8]
        switch value {
        case 0...127:
            element = [UInt8(value)]
        case -4096...4095:
            let bits = UInt16(bitPattern: Int16(value)) & 0x1FFF
            element = [0xC0 | UInt8(bits >> 8), UInt8(truncatingIfNeeded: bits)]
        case Int64(Int16.min)...Int64(Int16.max):
            element = [0xF1] + Self.littleEndian(UInt64(bitPattern: value), bytes: 2)
        case -(1 << 23)...((1 << 23) - 1):
            element = [0xF2] + Self.littleEndian(UInt64(bitPattern: value), bytes: 3)
        case Int64(Int32.min)...Int64(Int32.max):
            element = [0xF3] + Self.littleEndian(UInt64(bitPattern: value), bytes: 4)
        default:
            element = [0xF4] + Self.littleEndian(UInt64(bitPattern: value), bytes: 8)
        }
        add(element)
    }

    mutating func append(_ bytes: [UInt8]) {
        var element: [UInt8]
        if bytes.count < 64 {
            element = [0x80 | UInt8(bytes.count)]
        } else if bytes.count < 4096 {
            element = [0xE0 | UInt8(bytes.count >> 8), UInt8(truncatingIfNeeded: bytes.count)]
        } else {
            element = [0xF0] + Self.littleEndian(UInt64(bytes.count), bytes: 4)
        }
        element += bytes
        add(element)
    }

    private mutating func add(_ element: [UInt8]) {
        body += element
        body += Self.backLength(element.count)
        count += 1
    }

    /// The element's length, read backwards: 7 bits per byte, the last byte first.
    static func backLength(_ length: Int) -> [UInt8] {
        var groups: [UInt8] = []
        var rest = length
        repeat {
            groups.append(UInt8(rest & 127))
            rest >>= 7
        } while rest > 0
        // groups[0] is the lowest 7 bits; it is stored last, and every byte but the first
        // stored carries the continuation bit.
        var stored = groups.reversed().map { $0 }
        for index in stored.indices.dropFirst() { stored[index] |= 128 }
        return stored
    }

    static func littleEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> UInt64($0 * 8)) }
    }

    func finished() -> [UInt8] {
        let total = 6 + body.count + 1
        return Self.littleEndian(UInt64(total), bytes: 4) + Self.littleEndian(UInt64(min(count, 65_535)), bytes: 2) + body + [0xFF]
    }
}
