// Redis's stream nodes, kept as counts beside the entries.
//
// Redis stores a stream's entries in listpack nodes: XADD appends to the last node until it
// holds `stream-node-max-entries` entries (deleted ones included) or its listpack would
// pass `stream-node-max-bytes`, and trimming with `~` removes whole nodes only, from the
// oldest, stopping at the first node it cannot remove whole or whose entries would pass
// the LIMIT. So how many entries `XADD ... MAXLEN ~ 1000` keeps depends on where the nodes
// begin. Trestle keeps the entries in one ordered array and, beside them, what decides
// that: each node's live and deleted counts, its first (master) and last IDs, its master
// entry's field names and its listpack's size as Redis would encode it.
//
// Invariants (checked by `nodesAreConsistent`):
// - The nodes cover `entries` in order: node i holds the next `nodes[i].live` entries, and
//   every one of them has an ID in [masterID, lastID].
// - `live + deleted >= 1`; a node with no live entry remains only as Redis leaves one (an
//   exact MINID trim that marked every entry of its first node deleted).
// - The layout is a pure function of the commands applied and the limits they ran with,
//   so replicas that apply the same log hold the same nodes; snapshots carry it.
import Collections

/// `stream-node-max-entries` and `stream-node-max-bytes`.
public struct StreamNodeLimits: Sendable, Equatable {
    /// Entries a node takes, deleted ones included (0: no limit).
    public var entries: Int
    /// Listpack bytes a node stays under (0: the listpack's own maximum).
    public var bytes: Int

    public init(entries: Int, bytes: Int) {
        self.entries = entries
        self.bytes = bytes
    }

    /// Redis's defaults.
    public static let redisDefault = StreamNodeLimits(entries: 100, bytes: 4096)
    /// The largest listpack a node may grow to (Redis's STREAM_LISTPACK_MAX_SIZE).
    static let listpackBytesMax = 1 << 30

    /// The work a `~` trim without LIMIT may do: 100 nodes' worth of entries, as Redis
    /// (10,000 when nodes are unbounded; at most 1,000,000).
    public var defaultTrimLimit: Int {
        let limit = entries.multipliedReportingOverflow(by: 100)
        if limit.overflow { return 1_000_000 }
        if limit.partialValue <= 0 { return 10_000 }
        return min(limit.partialValue, 1_000_000)
    }
}

/// One listpack node of a stream, as counts (see the file comment).
public struct StreamNode: Equatable, Sendable {
    /// Entries of the node not deleted: the next `live` entries of the stream.
    public internal(set) var live: Int
    /// Entries marked deleted that the node still holds (they count toward its fullness).
    public internal(set) var deleted: Int
    /// The node's key: the ID of the first entry ever added to it.
    public internal(set) var masterID: StreamID
    /// The ID of the last entry added to it, deleted or not.
    public internal(set) var lastID: StreamID
    /// The field names of its first entry: an entry with the same names stores only values.
    public internal(set) var masterFields: [Bytes]
    /// Listpack bytes but the live and deleted counters (which change as entries go).
    var bodyBytes: Int

    /// A node started by the entry `id` with `fields`.
    init(first id: StreamID, fields: [Bytes]) {
        let names = stride(from: 0, to: fields.count, by: 2).map { fields[$0] }
        live = 0
        deleted = 0
        masterID = id
        lastID = id
        masterFields = names
        // Header and end byte, the field count, the names and the master entry's 0.
        bodyBytes = ListpackSize.header + ListpackSize.integer(Int64(names.count))
            + names.reduce(0) { $0 + ListpackSize.string($1) } + ListpackSize.integer(0)
        append(id: id, fields: fields)
    }

    /// A node as a snapshot stored it (its reader checks it against the entries).
    init(live: Int, deleted: Int, masterID: StreamID, lastID: StreamID, masterFields: [Bytes], bodyBytes: Int) {
        self.live = live
        self.deleted = deleted
        self.masterID = masterID
        self.lastID = lastID
        self.masterFields = masterFields
        self.bodyBytes = bodyBytes
    }

    /// The listpack's size as Redis would have it.
    public var bytes: Int { bodyBytes + ListpackSize.integer(Int64(live)) + ListpackSize.integer(Int64(deleted)) }

    /// Whether XADD puts an entry whose fields and values total `rawBytes` in this node
    /// (Redis's streamAppendItem: a new node once this one's listpack plus those bytes
    /// reaches the byte limit, or it holds the entry limit, deleted entries included).
    func accepts(rawBytes: Int, _ limits: StreamNodeLimits) -> Bool {
        let bytesMax = limits.bytes <= 0 || limits.bytes > StreamNodeLimits.listpackBytesMax
            ? StreamNodeLimits.listpackBytesMax : limits.bytes
        guard rawBytes < bytesMax, bytes < bytesMax - rawBytes else { return false }
        return limits.entries <= 0 || live + deleted < limits.entries
    }

    /// Adds an entry (a live one) at the node's end.
    mutating func append(id: StreamID, fields: [Bytes]) {
        let pairs = fields.count / 2
        let sameFields = pairs == masterFields.count && (0..<pairs).allSatisfy { fields[2 * $0] == masterFields[$0] }
        var size = ListpackSize.integer(sameFields ? 2 : 0)  // flags
        size += ListpackSize.integer(Int64(bitPattern: id.milliseconds &- masterID.milliseconds))
        size += ListpackSize.integer(Int64(bitPattern: id.sequence &- masterID.sequence))
        if sameFields {
            for index in 0..<pairs { size += ListpackSize.string(fields[2 * index + 1]) }
            size += ListpackSize.integer(Int64(pairs + 3))  // the entry's element count
        } else {
            size += ListpackSize.integer(Int64(pairs))
            for field in fields { size += ListpackSize.string(field) }
            size += ListpackSize.integer(Int64(2 * pairs + 4))
        }
        bodyBytes += size
        live += 1
        lastID = id
    }

    /// Marks `count` of its live entries deleted (XDEL, a trim inside the node).
    mutating func markDeleted(_ count: Int) {
        assert(count >= 0 && count <= live, "deleting more entries than the node holds")
        live -= count
        deleted += count
    }
}

/// Sizes of listpack elements, as Redis's listpack encodes them.
enum ListpackSize {
    /// The listpack's total-bytes and element-count header and its end byte.
    static let header = 7

    /// An integer element: its encoding and its one-byte back length.
    static func integer(_ value: Int64) -> Int {
        switch value {
        case 0...127: return 2
        case -4096...4095: return 3
        case Int64(Int16.min)...Int64(Int16.max): return 4
        case -8_388_608...8_388_607: return 5
        case Int64(Int32.min)...Int64(Int32.max): return 6
        default: return 10
        }
    }

    /// A string element: stored as an integer when it is one in canonical form (as
    /// lpStringToInt64 decides), otherwise its length's encoding, its bytes and its back
    /// length.
    static func string(_ bytes: Bytes) -> Int {
        if let value = canonicalInteger(bytes) { return integer(value) }
        let count = bytes.count
        let encoded = count < 64 ? 1 + count : count < 4096 ? 2 + count : 5 + count
        return encoded + backLength(encoded)
    }

    static func backLength(_ size: Int) -> Int {
        switch size {
        case ..<128: return 1
        case ..<16_384: return 2
        case ..<2_097_152: return 3
        case ..<268_435_456: return 4
        default: return 5
        }
    }

    /// The integer `bytes` spell with no sign but a leading '-', no leading zero and no
    /// other character, within 64 bits; nil otherwise.
    static func canonicalInteger(_ bytes: Bytes) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        let negative = bytes[0] == UInt8(ascii: "-")
        let digits = negative ? bytes.dropFirst() : bytes[...]
        guard let first = digits.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return nil }
        if first == UInt8(ascii: "0") { return digits.count == 1 && !negative ? 0 : nil }
        var magnitude: UInt64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            let (times, overflowed) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carried) = times.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            guard !overflowed, !carried else { return nil }
            magnitude = sum
        }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }
}

extension Stream {
    /// Appends `entry` (its ID after every other) where XADD puts it under `limits`.
    mutating func appendEntry(_ entry: StreamEntry, limits: StreamNodeLimits) {
        let rawBytes = entry.fields.reduce(0) { $0 &+ $1.count }
        if let last = nodes.indices.last, nodes[last].accepts(rawBytes: rawBytes, limits) {
            nodes[last].append(id: entry.id, fields: entry.fields)
        } else {
            nodes.append(StreamNode(first: entry.id, fields: entry.fields))
        }
        entries.append(entry)
    }

    /// Removes the entry at `index` (XDEL): its node counts it deleted, and goes when it
    /// holds no live entry any more, as Redis removes such a node.
    mutating func removeEntry(at index: Int) {
        let id = entries[index].id
        // The node whose master ID is the largest at most `id`.
        let after = id.successor.map { bound in firstIndex(in: nodes, notBelow: bound) { $0.masterID } } ?? nodes.count
        let node = after - 1
        assert(node >= 0, "an entry before every node")
        entries.remove(at: index)
        nodes[node].markDeleted(1)
        if nodes[node].live == 0 { nodes.remove(at: node) }
    }

    /// Removes the first `count` entries, all of the first node's live ones (a trim).
    private mutating func dropFirstNode() -> Int {
        let count = nodes.removeFirst().live
        entries.removeFirst(count)
        return count
    }

    /// XADD / XTRIM's trim, as Redis's streamTrim: whole nodes from the oldest while the
    /// stream is longer than MAXLEN (or the node ends before MINID) and the LIMIT allows;
    /// then, unless approximate, the entries of the next node that must go. Returns how
    /// many entries went.
    mutating func trim(_ trim: StreamTrim, limits: StreamNodeLimits) -> Int {
        let limit = trim.approximate ? trim.limit ?? limits.defaultTrimLimit : 0
        var removed = 0
        while let node = nodes.first {
            if case .maxLength(let length) = trim.strategy, UInt64(entries.count) <= length { break }
            if limit > 0, node.live > limit - removed { break }
            let removesNode: Bool
            switch trim.strategy {
            case .maxLength(let length): removesNode = UInt64(entries.count - node.live) >= length
            case .minimumID(let id): removesNode = node.lastID < id
            }
            if removesNode {
                removed += dropFirstNode()
                continue
            }
            if trim.approximate { break }
            let count: Int
            switch trim.strategy {
            case .maxLength(let length): count = entries.count - Int(length)  // fewer than the node's live entries
            case .minimumID(let id): count = min(lowerBound(id), node.live)
            }
            entries.removeFirst(count)
            nodes[0].markDeleted(count)
            removed += count
            break
        }
        return removed
    }

    /// Lays the entries out as XADD would have under `limits` (a stream read from a
    /// snapshot written before nodes were kept).
    mutating func rebuildNodes(_ limits: StreamNodeLimits) {
        let all = entries
        entries = []
        nodes = []
        for entry in all { appendEntry(entry, limits: limits) }
    }

    /// Replaces the nodes with `nodes` (a snapshot's), if they cover the entries as the
    /// invariants say; false (nothing changed) otherwise.
    mutating func adoptNodes(_ nodes: [StreamNode]) -> Bool {
        let kept = self.nodes
        self.nodes = Deque(nodes)
        guard nodesAreConsistent else {
            self.nodes = kept
            return false
        }
        return true
    }

    /// Whether the nodes cover the entries as the invariants say (snapshot readers, tests).
    public var nodesAreConsistent: Bool {
        var position = 0
        var previous: StreamID? = nil
        for node in nodes {
            guard node.live >= 0, node.deleted >= 0, node.live + node.deleted >= 1, node.masterID <= node.lastID,
                  previous.map({ $0 < node.masterID }) ?? true, node.bodyBytes >= ListpackSize.header,
                  node.live <= entries.count - position else { return false }
            previous = node.lastID
            for entry in entries[(entries.startIndex + position)..<(entries.startIndex + position + node.live)]
            where entry.id < node.masterID || entry.id > node.lastID {
                return false
            }
            position += node.live
        }
        return position == entries.count
    }
}
