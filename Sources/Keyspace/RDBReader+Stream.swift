// A stream in Redis's RDB encodings: type 15 (Redis 5 and 6), 19 (7.0: first and maximal
// deleted IDs, entries added, each group's entries read) and 21 (7.2: each consumer's
// active time). RDBWriter+Stream.swift describes the node listpacks; an entry flagged
// deleted is skipped, one flagged "same fields" takes the master entry's field names.
//
// What the older types lack is filled in as Redis fills it: entries added is the
// length, the maximal deleted ID 0-0, a group's entries read estimated from its last
// delivered ID (-1, unknown, when it cannot be), a consumer's active time its seen time.
import Core

extension RDBReader {
    static let streamEntryDeleted: Int64 = 1, streamEntrySameFields: Int64 = 2

    mutating func stream(type: UInt8) throws(Failure) -> Stream {
        var stream = Stream()
        let nodes = try count(each: 2)
        for _ in 0..<nodes {
            let key = try string()
            guard key.count == 16 else { throw Failure("stream node key of \(key.count) bytes") }
            var keyReader = RDBReader(key)
            let master = StreamID(try keyReader.bigEndian(8), try keyReader.bigEndian(8))
            let elements = try Self.listpack(try string())
            try Self.appendStreamNode(elements, master: master, to: &stream)
        }
        let length = try self.length()
        guard length == UInt64(stream.entries.count) else { throw Failure("stream length disagrees with its entries") }
        // Nodes as the payload had them; laid out anew if its deleted entries' IDs do not fit.
        if !stream.nodesAreConsistent { stream.rebuildNodes(.redisDefault) }
        stream.lastID = StreamID(try self.length(), try self.length())
        guard stream.entries.last.map({ $0.id <= stream.lastID }) ?? true else { throw Failure("stream entry past its last ID") }
        if type >= Self.typeStream2 {
            _ = (try self.length(), try self.length())  // the first entry's ID, derived from the entries
            stream.maxDeletedID = StreamID(try self.length(), try self.length())
            stream.entriesAdded = try self.length()
        } else {
            stream.entriesAdded = length
        }
        let groupCount = try count(each: 4)
        for _ in 0..<groupCount {
            var group = try consumerGroup(type: type)
            if type < Self.typeStream2 { group.entriesRead = stream.estimatedEntriesRead(through: group.lastDeliveredID) }
            let index = Self.sortedPosition(of: group.name, in: stream.groups.lazy.map(\.name))
            guard index == stream.groups.count || stream.groups[index].name != group.name else { throw Failure("duplicate consumer group") }
            stream.groups.insert(group, at: index)
        }
        return stream
    }

    /// One node's entries, appended after those already read (IDs must keep growing).
    static func appendStreamNode(_ elements: [Bytes], master: StreamID, to stream: inout Stream) throws(Failure) {
        var cursor = elements.makeIterator()
        func next() throws(Failure) -> Bytes {
            guard let element = cursor.next() else { throw Failure("stream node ends inside an entry") }
            return element
        }
        func integer() throws(Failure) -> Int64 {
            guard let value = Int64(String(decoding: try next(), as: UTF8.self)) else { throw Failure("stream node number expected") }
            return value
        }
        func fieldCount() throws(Failure) -> Int {
            let count = try integer()
            guard count >= 0, count <= elements.count else { throw Failure("stream field count \(count)") }
            return Int(count)
        }
        let valid = try integer(), deleted = try integer()
        // Each entry takes at least 5 elements: counts beyond that are lies (and must not
        // overflow when added).
        guard (0...Int64(elements.count)).contains(valid), (0...Int64(elements.count)).contains(deleted), valid + deleted > 0 else {
            throw Failure("stream node counts \(valid) and \(deleted)")
        }
        var masterFields: [Bytes] = []
        for _ in 0..<(try fieldCount()) { masterFields.append(try next()) }
        guard try integer() == 0 else { throw Failure("stream master entry not terminated") }
        var seen: Int64 = 0, live: Int64 = 0
        var node: StreamNode? = nil
        while seen < valid + deleted {
            let flags = try integer()
            let id = StreamID(master.milliseconds &+ UInt64(bitPattern: try integer()), master.sequence &+ UInt64(bitPattern: try integer()))
            var fields: [Bytes] = []
            if flags & streamEntrySameFields != 0 {
                for name in masterFields { fields += [name, try next()] }
            } else {
                for _ in 0..<(try fieldCount()) { fields += [try next(), try next()] }
            }
            _ = try integer()  // the entry's element count, for walking backwards
            seen += 1
            if node == nil { node = StreamNode(first: id, fields: fields) } else { node?.append(id: id, fields: fields) }
            guard flags & streamEntryDeleted == 0 else {
                node?.markDeleted(1)
                continue
            }
            guard stream.entries.last.map({ $0.id < id }) ?? true else { throw Failure("stream IDs out of order") }
            stream.entries.append(StreamEntry(id: id, fields: fields))
            live += 1
        }
        guard live == valid, cursor.next() == nil else { throw Failure("stream node disagrees with its counts") }
        if let node, node.live > 0 { stream.nodes.append(node) }
    }

    /// A consumer group: name, last delivered ID, entries read (19 and later), pending
    /// entries (raw 16-byte ID, delivery time, delivery count), then consumers (name, seen
    /// time, active time from 21 on, the raw IDs they own).
    private mutating func consumerGroup(type: UInt8) throws(Failure) -> ConsumerGroup {
        let name = try string()
        let lastDelivered = StreamID(try length(), try length())
        let entriesRead = type >= Self.typeStream2 ? Int64(bitPattern: try length()) : -1
        var group = ConsumerGroup(name: name, lastDeliveredID: lastDelivered, entriesRead: entriesRead)
        let pendingCount = try count(each: 25)
        for _ in 0..<pendingCount {
            let id = try rawStreamID()
            guard group.pending.last.map({ $0.id < id }) ?? true else { throw Failure("pending entries out of order") }
            let deliveredAt = Int64(bitPattern: try littleEndian(8))
            group.pending.append((id, PendingEntry(consumer: [], deliveredAt: deliveredAt, deliveries: try length())))
        }
        var owned = [Bool](repeating: false, count: group.pending.count)
        let consumerCount = try count(each: 18)
        for _ in 0..<consumerCount {
            let consumerName = try string()
            let seenAt = Int64(bitPattern: try littleEndian(8))
            let activeAt = type >= Self.typeStream3 ? Int64(bitPattern: try littleEndian(8)) : seenAt
            let index = Self.sortedPosition(of: consumerName, in: group.consumers.lazy.map(\.name))
            guard index == group.consumers.count || group.consumers[index].name != consumerName else { throw Failure("duplicate consumer") }
            group.consumers.insert(StreamConsumer(name: consumerName, seenAt: seenAt, activeAt: activeAt), at: index)
            for _ in 0..<(try count(each: 16)) {
                let id = try rawStreamID()
                let position = group.pendingIndex(id)
                guard position < group.pending.count, group.pending[position].id == id, !owned[position] else {
                    throw Failure("a consumer owns an entry its group does not list as pending, or another consumer owns")
                }
                group.pending[position].entry.consumer = consumerName
                owned[position] = true
            }
        }
        guard !owned.contains(false) else { throw Failure("a pending entry without a consumer") }
        return group
    }

    /// Where `name` goes among sorted `names`: at the end at once when it sorts last, as
    /// Redis writes groups and consumers (a search per name would be quadratic).
    static func sortedPosition<Names: BidirectionalCollection<Bytes>>(of name: Bytes, in names: Names) -> Int where Names.Index == Int {
        if names.last.map({ $0.lexicographicallyPrecedes(name) }) ?? true { return names.count }
        return names.firstIndex { !$0.lexicographicallyPrecedes(name) } ?? names.count
    }

    private mutating func rawStreamID() throws(Failure) -> StreamID {
        StreamID(try bigEndian(8), try bigEndian(8))
    }
}
