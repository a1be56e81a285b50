// Stream consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM. Delivery
// times are the command's time (the entry's stamp on a replica), so idle times and claims
// come out the same on every replica.

public enum StreamGroupError: Error, Equatable, Sendable {
    /// The key does not exist (XGROUP without MKSTREAM).
    case noKey
    case groupExists
    case noGroup
}

extension Keyspace {
    /// Runs `body` on the stream under `key` and stores the result. Only a change to the
    /// entries or a group's delivery state counts as a modification (WATCH, blocked
    /// readers); bookkeeping such as a consumer's seen time does not, or a reader that
    /// found nothing would wake every other blocked reader of the key.
    private mutating func withStream<Result>(_ key: Bytes, now: Int64, create: Bool = false,
                                             _ body: (inout Stream) throws -> Result) throws -> Result {
        var stored = try streamValue(key, now: now)
        let existing = stored != nil
        guard existing || create else { throw StreamGroupError.noKey }
        var stream = stored.take() ?? Stream()
        let before = stream.groups.map { ($0.lastDeliveredID, $0.pending.count, $0.consumers.count) }
        if existing { replaceValueUntracked(key, .stream(Stream())) }
        defer {
            let after = stream.groups.map { ($0.lastDeliveredID, $0.pending.count, $0.consumers.count) }
            let changed = before.count != after.count || zip(before, after).contains { $0 != $1 }
            if !existing {
                store(key, Entry(value: .stream(stream)))
            } else if changed {
                replaceValue(key, .stream(stream))
            } else {
                replaceValueUntracked(key, .stream(stream))
            }
        }
        return try body(&stream)
    }

    /// XGROUP CREATE: `id` nil means `$` (the last ID).
    public mutating func groupCreate(_ key: Bytes, group: Bytes, id: StreamID?, makeStream: Bool, entriesRead: Int64?,
                                     now: Int64) throws {
        try withStream(key, now: now, create: makeStream) { stream in
            guard stream.groupIndex(group) == nil else { throw StreamGroupError.groupExists }
            let start = id ?? stream.lastID
            let read = entriesRead ?? -1  // unknown until the group reads, as in Redis
            let index = stream.groups.firstIndex { !$0.name.lexicographicallyPrecedes(group) } ?? stream.groups.count
            stream.groups.insert(ConsumerGroup(name: group, lastDeliveredID: start, entriesRead: read), at: index)
        }
    }

    public mutating func groupDestroy(_ key: Bytes, group: Bytes, now: Int64) throws -> Bool {
        try withStream(key, now: now) { stream in
            guard let index = stream.groupIndex(group) else { return false }
            stream.groups.remove(at: index)
            return true
        }
    }

    public mutating func groupSetID(_ key: Bytes, group: Bytes, id: StreamID?, entriesRead: Int64?, now: Int64) throws {
        try withStream(key, now: now) { stream in
            guard let index = stream.groupIndex(group) else { throw StreamGroupError.noGroup }
            stream.groups[index].lastDeliveredID = id ?? stream.lastID
            stream.groups[index].entriesRead = entriesRead ?? -1
        }
    }

    /// XGROUP CREATECONSUMER: whether it was created.
    public mutating func groupCreateConsumer(_ key: Bytes, group: Bytes, consumer: Bytes, now: Int64) throws -> Bool {
        try withStream(key, now: now) { stream in
            guard let index = stream.groupIndex(group) else { throw StreamGroupError.noGroup }
            guard !stream.groups[index].consumers.contains(where: { $0.name == consumer }) else { return false }
            _ = stream.groups[index].consumer(consumer, now: now)
            return true
        }
    }

    /// XGROUP DELCONSUMER: how many pending entries the consumer had (they are dropped).
    public mutating func groupDeleteConsumer(_ key: Bytes, group: Bytes, consumer: Bytes, now: Int64) throws -> Int {
        try withStream(key, now: now) { stream in
            guard let index = stream.groupIndex(group) else { throw StreamGroupError.noGroup }
            guard let position = stream.groups[index].consumers.firstIndex(where: { $0.name == consumer }) else { return 0 }
            let before = stream.groups[index].pending.count
            stream.groups[index].pending.removeAll { $0.entry.consumer == consumer }
            stream.groups[index].consumers.remove(at: position)
            return before - stream.groups[index].pending.count
        }
    }

    /// XREADGROUP for one stream. `after` nil means `>`: entries never delivered to the
    /// group, which become pending for `consumer` (unless `noAck`); otherwise the
    /// consumer's pending entries after that ID (a deleted entry comes back without fields),
    /// each still in the stream delivered once more (its time and count), as Redis.
    public mutating func groupRead(_ key: Bytes, group: Bytes, consumer: Bytes, after: StreamID?, count: Int?, noAck: Bool,
                                   now: Int64) throws -> [(id: StreamID, fields: [Bytes]?)] {
        try withStream(key, now: now) { stream in
            guard let index = stream.groupIndex(group) else { throw StreamGroupError.noGroup }
            guard let consumerIndex = stream.groups[index].consumer(consumer, now: now) else { return [] }  // created when absent
            let limit = count ?? Int.max
            guard let after else {
                let first = stream.lowerBound(stream.groups[index].lastDeliveredID.successor ?? .max)
                let delivered = Array(stream.entries[first...].prefix(limit))
                guard !delivered.isEmpty else { return [] }
                stream.groups[index].consumers[consumerIndex].activeAt = now
                for entry in delivered {
                    stream.countRead(entry.id, group: index)
                    stream.groups[index].lastDeliveredID = entry.id
                }
                if !noAck {
                    for entry in delivered {
                        let position = stream.groups[index].pendingIndex(entry.id)
                        let pending = PendingEntry(consumer: consumer, deliveredAt: now, deliveries: 1)
                        if position < stream.groups[index].pending.count, stream.groups[index].pending[position].id == entry.id {
                            stream.groups[index].pending[position].entry = pending
                        } else {
                            stream.groups[index].pending.insert((entry.id, pending), at: position)
                        }
                    }
                }
                return delivered.map { ($0.id, $0.fields) }
            }
            var result: [(id: StreamID, fields: [Bytes]?)] = []
            guard let start = after.successor else { return [] }
            var pendingPosition = stream.groups[index].pendingIndex(start)
            while pendingPosition < stream.groups[index].pending.count, result.count < limit {
                defer { pendingPosition += 1 }
                let item = stream.groups[index].pending[pendingPosition]
                guard item.entry.consumer == consumer else { continue }
                let position = stream.lowerBound(item.id)
                let fields = position < stream.entries.count && stream.entries[position].id == item.id ? stream.entries[position].fields : nil
                if fields != nil {
                    stream.groups[index].pending[pendingPosition].entry.deliveredAt = now
                    stream.groups[index].pending[pendingPosition].entry.deliveries &+= 1
                }
                result.append((item.id, fields))
            }
            return result
        }
    }

    /// XACK: how many of the IDs were pending.
    public mutating func groupAcknowledge(_ key: Bytes, group: Bytes, ids: [StreamID], now: Int64) throws -> Int {
        guard try streamValue(key, now: now) != nil else { return 0 }
        return try withStream(key, now: now) { stream in
            guard let index = stream.groupIndex(group) else { return 0 }
            var acknowledged = 0
            for id in ids {
                let position = stream.groups[index].pendingIndex(id)
                guard position < stream.groups[index].pending.count, stream.groups[index].pending[position].id == id else { continue }
                stream.groups[index].pending.remove(at: position)
                acknowledged += 1
            }
            return acknowledged
        }
    }

    /// The group (for XPENDING and XINFO), or `noGroup`.
    public mutating func group(_ key: Bytes, _ name: Bytes, now: Int64) throws -> ConsumerGroup {
        guard let stream = try streamValue(key, now: now), let index = stream.groupIndex(name) else { throw StreamGroupError.noGroup }
        return stream.groups[index]
    }

    /// XCLAIM / XAUTOCLAIM's core: gives `consumer` the pending entries among `ids` idle for
    /// at least `minIdle` ms. Returns the claimed entries (fields nil when only IDs are
    /// wanted) and the IDs whose entries were deleted (dropped from the pending list).
    public mutating func groupClaim(_ key: Bytes, group: Bytes, consumer: Bytes, minIdle: Int64, ids: [StreamID],
                                    justIDs: Bool, now: Int64) throws -> (claimed: [(id: StreamID, fields: [Bytes]?)], deleted: [StreamID]) {
        try withStream(key, now: now) { stream in
            guard let index = stream.groupIndex(group) else { throw StreamGroupError.noGroup }
            _ = stream.groups[index].consumer(consumer, now: now)
            var claimed: [(id: StreamID, fields: [Bytes]?)] = []
            var deleted: [StreamID] = []
            for id in ids {
                let position = stream.groups[index].pendingIndex(id)
                guard position < stream.groups[index].pending.count, stream.groups[index].pending[position].id == id else { continue }
                let entryPosition = stream.lowerBound(id)
                guard entryPosition < stream.entries.count, stream.entries[entryPosition].id == id else {
                    stream.groups[index].pending.remove(at: position)
                    deleted.append(id)
                    continue
                }
                let pending = stream.groups[index].pending[position].entry
                let idle = now &- pending.deliveredAt
                guard idle >= minIdle else { continue }
                stream.groups[index].pending[position].entry = PendingEntry(
                    consumer: consumer, deliveredAt: now, deliveries: justIDs ? pending.deliveries : pending.deliveries &+ 1)
                claimed.append((id, justIDs ? nil : stream.entries[entryPosition].fields))
            }
            if !claimed.isEmpty, let consumerIndex = stream.groups[index].consumers.firstIndex(where: { $0.name == consumer }) {
                stream.groups[index].consumers[consumerIndex].activeAt = now
            }
            return (claimed, deleted)
        }
    }
}
