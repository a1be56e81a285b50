// Streams: entries ordered by ID (milliseconds-sequence), each a flat list of field/value
// pairs. Unlike the other containers a stream may be stored empty (XDEL of every entry,
// trimming to 0), and it remembers its last ID, the entries ever added and the largest
// deleted ID, as Redis does; beside the entries, Redis's listpack nodes as counts, which
// decide what `~` trimming removes (StreamNodes.swift).
//
// Invariants: `entries` is in strictly increasing ID order and every ID is at most
// `lastID`; IDs come from the command's time (the entry's stamp on a replica), never a
// clock, so replicas generate the same IDs.
import Collections

/// A stream entry ID: milliseconds and a sequence number.
public struct StreamID: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var milliseconds: UInt64
    public var sequence: UInt64
    public init(_ milliseconds: UInt64, _ sequence: UInt64) { self.milliseconds = milliseconds; self.sequence = sequence }

    public static let zero = StreamID(0, 0)
    public static let max = StreamID(.max, .max)

    public static func < (lhs: StreamID, rhs: StreamID) -> Bool {
        (lhs.milliseconds, lhs.sequence) < (rhs.milliseconds, rhs.sequence)
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    /// The next ID after this one, nil at the maximum.
    public var successor: StreamID? {
        if sequence < .max { return StreamID(milliseconds, sequence + 1) }
        if milliseconds < .max { return StreamID(milliseconds + 1, 0) }
        return nil
    }

    /// The ID before this one, nil at 0-0.
    public var predecessor: StreamID? {
        if sequence > 0 { return StreamID(milliseconds, sequence - 1) }
        if milliseconds > 0 { return StreamID(milliseconds - 1, .max) }
        return nil
    }
}

public struct StreamEntry: Equatable, Sendable {
    public var id: StreamID
    /// Field, value, field, value...
    public var fields: [Bytes]
    public init(id: StreamID, fields: [Bytes]) { self.id = id; self.fields = fields }
}

/// Binary search: the first position in `items` (ascending by `id`) whose ID is at least `id`.
func firstIndex<Items: RandomAccessCollection>(in items: Items, notBelow id: StreamID, _ idOf: (Items.Element) -> StreamID) -> Int
where Items.Index == Int {
    var low = items.startIndex, high = items.endIndex
    while low < high {
        let middle = low + (high - low) / 2
        if idOf(items[middle]) < id { low = middle + 1 } else { high = middle }
    }
    return low - items.startIndex
}

/// A delivered, unacknowledged entry of a consumer group.
public struct PendingEntry: Equatable, Sendable {
    public var consumer: Bytes
    /// Milliseconds (the command's time) of the last delivery.
    public var deliveredAt: Int64
    public var deliveries: UInt64
    public init(consumer: Bytes, deliveredAt: Int64, deliveries: UInt64) {
        self.consumer = consumer
        self.deliveredAt = deliveredAt
        self.deliveries = deliveries
    }
}

public struct StreamConsumer: Equatable, Sendable {
    public var name: Bytes
    /// Last time the consumer was seen (any group command naming it) and last time it read.
    public var seenAt: Int64
    public var activeAt: Int64
    public init(name: Bytes, seenAt: Int64, activeAt: Int64) { self.name = name; self.seenAt = seenAt; self.activeAt = activeAt }
}

/// A consumer group: its last delivered ID, its pending entries list (by ID) and its
/// consumers (by name). Kept in sorted arrays, so every replica iterates them alike.
public struct ConsumerGroup: Equatable, Sendable {
    public var name: Bytes
    public var lastDeliveredID: StreamID
    /// Entries read by the group (-1: unknown), as Redis 7 keeps it for XINFO's lag.
    public var entriesRead: Int64
    public var pending: [(id: StreamID, entry: PendingEntry)] = []
    public var consumers: [StreamConsumer] = []

    public init(name: Bytes, lastDeliveredID: StreamID, entriesRead: Int64) {
        self.name = name
        self.lastDeliveredID = lastDeliveredID
        self.entriesRead = entriesRead
    }

    public static func == (lhs: ConsumerGroup, rhs: ConsumerGroup) -> Bool {
        lhs.name == rhs.name && lhs.lastDeliveredID == rhs.lastDeliveredID && lhs.entriesRead == rhs.entriesRead
            && lhs.consumers == rhs.consumers && lhs.pending.count == rhs.pending.count
            && zip(lhs.pending, rhs.pending).allSatisfy { $0.id == $1.id && $0.entry == $1.entry }
    }

    func pendingIndex(_ id: StreamID) -> Int { firstIndex(in: pending, notBelow: id) { $0.id } }

    /// The consumer's index, creating it (seen now) when absent.
    mutating func consumer(_ name: Bytes, now: Int64, create: Bool = true) -> Int? {
        if let index = consumers.firstIndex(where: { $0.name == name }) {
            consumers[index].seenAt = now
            return index
        }
        guard create else { return nil }
        let index = consumers.firstIndex(where: { !$0.name.lexicographicallyPrecedes(name) }) ?? consumers.count
        consumers.insert(StreamConsumer(name: name, seenAt: now, activeAt: -1), at: index)
        return index
    }

    public func pendingCount(of consumer: Bytes) -> Int { pending.reduce(0) { $0 + ($1.entry.consumer == consumer ? 1 : 0) } }
}

public struct Stream: Equatable, Sendable {
    /// The entries in ID order. Changed only through `appendEntry`, `removeEntry` and
    /// `trim` (StreamNodes.swift), which keep `nodes` in step.
    public internal(set) var entries: Deque<StreamEntry> = []
    /// Redis's listpack nodes over `entries`, as counts (StreamNodes.swift).
    public internal(set) var nodes: Deque<StreamNode> = []
    public var lastID = StreamID.zero
    public var entriesAdded: UInt64 = 0
    public var maxDeletedID = StreamID.zero
    /// Consumer groups in name order.
    public var groups: [ConsumerGroup] = []
    public init() {}

    public func groupIndex(_ name: Bytes) -> Int? { groups.firstIndex { $0.name == name } }

    /// Advances group `index`'s entries-read counter past the delivered entry `id` (called
    /// before the group's last delivered ID moves to it), as Redis 8.0 does: one more
    /// while the counter is known, the group's last delivered ID is not before the first
    /// entry and no deleted entry lies at or after it; otherwise an estimate of `id`'s
    /// distance from the first entry ever added.
    mutating func countRead(_ id: StreamID, group index: Int) {
        let last = groups[index].lastDeliveredID
        if groups[index].entriesRead >= 0, let first = entries.first?.id, last >= first, !hasTombstone(from: last) {
            // Saturating: ENTRIESREAD may have been set to any value up to Int64.max.
            let (sum, overflowed) = groups[index].entriesRead.addingReportingOverflow(1)
            groups[index].entriesRead = overflowed ? .max : sum
        } else if entriesAdded > 0 {
            groups[index].entriesRead = estimatedEntriesRead(through: id)
        }
    }

    /// XINFO's lag of group `index`: entries added but not yet read by it; nil when the
    /// stream's deletions make it unknowable (Redis 8.0's streamReplyWithCGLag).
    public func lag(ofGroup index: Int) -> Int64? {
        let added = Int64(clamping: entriesAdded)
        guard entriesAdded > 0, let first = entries.first?.id else { return 0 }
        let group = groups[index]
        // Both the group and every deletion behind the first entry: the rest is unread.
        if group.lastDeliveredID < first, maxDeletedID < first { return Int64(entries.count) }
        if group.entriesRead >= 0, !hasTombstone(from: group.lastDeliveredID) { return added - group.entriesRead }
        let read = estimatedEntriesRead(through: group.lastDeliveredID)
        return read >= 0 ? added - read : nil
    }

    /// Whether a deleted entry may lie at or after `id` (Redis's streamRangeHasTombstones
    /// up to the end of the stream).
    func hasTombstone(from id: StreamID) -> Bool {
        guard !entries.isEmpty, maxDeletedID != .zero else { return false }
        return id <= maxDeletedID
    }

    /// How many entries were added up to and including `id` (-1: unknown), Redis 8.0's
    /// streamEstimateDistanceFromFirstEverEntry.
    func estimatedEntriesRead(through id: StreamID) -> Int64 {
        let added = Int64(clamping: entriesAdded)
        guard entriesAdded > 0 else { return 0 }
        if entries.isEmpty, id <= lastID { return added }
        if id != .zero, id < maxDeletedID { return -1 }  // deletions between `id` and the end
        if id == lastID { return added }
        if id > lastID { return -1 }
        guard let first = entries.first?.id else { return -1 }
        if maxDeletedID == .zero || maxDeletedID < first {
            if id < first { return added - Int64(entries.count) }
            if id == first { return added - Int64(entries.count) + 1 }
        }
        return -1
    }

    /// The index of the first entry with an ID at least `id`.
    func lowerBound(_ id: StreamID) -> Int { firstIndex(in: entries, notBelow: id) { $0.id } }
}

/// How XADD names the new entry's ID.
public enum StreamIDRequest: Sendable, Equatable {
    /// `*`: from the time, after the last ID.
    case automatic
    /// `ms-*`: this millisecond, the next sequence.
    case sequenceAutomatic(UInt64)
    case explicit(StreamID)
}

/// XADD / XTRIM trimming: MAXLEN or MINID, exact or approximate (`~`: whole nodes only,
/// StreamNodes.swift).
public struct StreamTrim: Sendable, Equatable {
    public enum Strategy: Sendable, Equatable { case maxLength(UInt64), minimumID(StreamID) }
    public var strategy: Strategy
    public var approximate: Bool
    /// LIMIT: the most entries an approximate trim removes (0: no limit; nil: not given,
    /// 100 nodes' worth). Exact trims take none.
    public var limit: Int?
    public init(strategy: Strategy, approximate: Bool, limit: Int?) {
        self.strategy = strategy
        self.approximate = approximate
        self.limit = limit
    }

}

public enum StreamError: Error, Equatable, Sendable {
    case idNotGreater
    case idZero
}

extension Keyspace {
    /// The stream under `key`; nil if absent; `wrongType` for another type.
    public mutating func streamValue(_ key: Bytes, now: Int64) throws(KeyspaceError) -> Stream? {
        guard let entry = lookup(key, now: now) else { return nil }
        guard case .stream(let stream) = entry.value else { throw .wrongType }
        return stream
    }

    private mutating func modifyStream<Result>(_ key: Bytes, now: Int64, create: Bool,
                                               _ body: (inout Stream, inout Bool) throws -> Result) throws -> Result? {
        var stored = try streamValue(key, now: now)
        let existing = stored != nil
        guard existing || create else { return nil }
        var stream = stored.take() ?? Stream()
        if existing { replaceValueUntracked(key, .stream(Stream())) }
        var changed = false
        let result: Result
        do {
            result = try body(&stream, &changed)
        } catch {
            if existing { replaceValueUntracked(key, .stream(stream)) }
            throw error
        }
        if !changed {
            if existing { replaceValueUntracked(key, .stream(stream)) }
        } else if !existing {
            store(key, Entry(value: .stream(stream)))
        } else {
            replaceValue(key, .stream(stream))
        }
        return result
    }

    /// XADD: appends an entry and trims; returns its ID, or nil when `createIfMissing` is
    /// false and the key is absent. Throws `StreamError` for an ID not after the last one.
    public mutating func streamAdd(_ key: Bytes, id request: StreamIDRequest, fields: [Bytes], trim: StreamTrim?,
                                   createIfMissing: Bool, nodeLimits: StreamNodeLimits = .redisDefault, now: Int64) throws -> StreamID? {
        try modifyStream(key, now: now, create: createIfMissing) { stream, changed in
            let id = try Self.nextID(stream.lastID, request, now: now)
            stream.appendEntry(StreamEntry(id: id, fields: fields), limits: nodeLimits)
            stream.lastID = id
            stream.entriesAdded &+= 1
            if let trim { _ = stream.trim(trim, limits: nodeLimits) }
            changed = true
            return id
        }
    }

    static func nextID(_ last: StreamID, _ request: StreamIDRequest, now: Int64) throws -> StreamID {
        switch request {
        case .automatic:
            let milliseconds = UInt64(max(0, now))
            if milliseconds > last.milliseconds { return StreamID(milliseconds, 0) }
            guard let next = last.successor else { throw StreamError.idNotGreater }
            return next
        case .sequenceAutomatic(let milliseconds):
            if milliseconds > last.milliseconds { return StreamID(milliseconds, milliseconds == 0 ? 1 : 0) }
            guard milliseconds == last.milliseconds, last.sequence < .max else { throw StreamError.idNotGreater }
            return StreamID(milliseconds, last.sequence + 1)
        case .explicit(let id):
            guard id > .zero else { throw StreamError.idZero }
            guard id > last else { throw StreamError.idNotGreater }
            return id
        }
    }

    /// XTRIM: returns how many entries were removed.
    public mutating func streamTrim(_ key: Bytes, _ trim: StreamTrim, nodeLimits: StreamNodeLimits = .redisDefault,
                                    now: Int64) throws -> Int {
        try modifyStream(key, now: now, create: false) { stream, changed in
            let removed = stream.trim(trim, limits: nodeLimits)
            changed = removed > 0
            return removed
        } ?? 0
    }

    /// XDEL: removes the entries with these IDs; returns how many existed.
    public mutating func streamDelete(_ key: Bytes, ids: [StreamID], now: Int64) throws -> Int {
        try modifyStream(key, now: now, create: false) { stream, changed in
            var removed = 0
            for id in ids {
                let index = stream.lowerBound(id)
                guard index < stream.entries.count, stream.entries[index].id == id else { continue }
                stream.removeEntry(at: index)
                stream.maxDeletedID = max(stream.maxDeletedID, id)
                removed += 1
            }
            changed = removed > 0
            return removed
        } ?? 0
    }

    /// XSETID: sets the stream's last ID and, when given, its entries-added count and its
    /// largest deleted ID (a zero ID leaves that as it is); the caller has checked them
    /// against the stream. False when there is no such key.
    public mutating func streamSetID(_ key: Bytes, lastID: StreamID, entriesAdded: UInt64?, maxDeletedID: StreamID?,
                                     now: Int64) throws -> Bool {
        try modifyStream(key, now: now, create: false) { stream, changed in
            stream.lastID = lastID
            if let entriesAdded { stream.entriesAdded = entriesAdded }
            if let maxDeletedID, maxDeletedID != .zero { stream.maxDeletedID = maxDeletedID }
            changed = true
            return true
        } ?? false
    }

    /// XRANGE / XREVRANGE: entries with IDs in [start, end], ascending or descending, at most
    /// `count` (nil: all).
    public mutating func streamRange(_ key: Bytes, start: StreamID, end: StreamID, count: Int?, reverse: Bool,
                                     now: Int64) throws -> [StreamEntry] {
        guard let stream = try streamValue(key, now: now), start <= end, count != 0 else { return [] }
        let first = stream.lowerBound(start)
        let afterLast = end == .max ? stream.entries.count : stream.lowerBound(end.successor ?? .max)
        guard first < afterLast else { return [] }
        let limit = count ?? Int.max
        if reverse {
            return Array(stream.entries[first..<afterLast].reversed().prefix(limit))
        }
        return Array(stream.entries[first..<afterLast].prefix(limit))
    }
}
