// The limits under which Redis keeps a small value in a compact encoding (listpack,
// intset). Trestle stores every value one way; OBJECT ENCODING names the encoding Redis
// would use under these limits, and CONFIG SET changes them as in Redis
// (`hash-max-listpack-entries` and the rest, with their `ziplist` aliases).
import Core
import Keyspace

public struct EncodingLimits: Sendable, Equatable {
    public var hashMaxListpackEntries = 128
    public var hashMaxListpackValue = 64
    public var setMaxIntsetEntries = 512
    public var setMaxListpackEntries = 128
    public var setMaxListpackValue = 64
    public var zsetMaxListpackEntries = 128
    public var zsetMaxListpackValue = 64
    /// `list-max-listpack-size`: a positive number caps a listpack's entries, -1 ... -5 its
    /// bytes (4 KiB ... 64 KiB).
    public var listMaxListpackSize = -2
    /// `list-compress-depth`: reported only (Trestle does not compress list nodes).
    public var listCompressDepth = 0

    public init() {}

    /// Redis's `SIZE_SAFETY_LIMIT`: a list node never grows past 8 KiB when its limit is a count.
    static let listNodeSafetyBytes = 8192
    /// Redis's quicklist `optimization_level`: bytes per node for sizes -1 ... -5.
    static let listNodeBytesBySize = [4096, 8192, 16384, 32768, 65536]

    /// The encoding name Redis gives the value of `entry`: a string changed in place is raw,
    /// and a set, hash or sorted set keeps the largest encoding it grew to (its floor).
    public func encodingName(_ entry: Entry) -> String {
        if entry.rawString, case .string = entry.value { return "raw" }
        let natural = encodingName(entry.value)
        guard entry.encodingFloor > Self.rank(natural) else { return natural }
        switch entry.value {
        case .set: return entry.encodingFloor >= Self.largestRank ? "hashtable" : "listpack"
        case .hash: return "hashtable"
        case .zset: return "skiplist"
        case .list: return "quicklist"
        default: return natural
        }
    }

    /// An encoding's rank among its type's (Entry.encodingFloor): 0 for an intset, 1 for
    /// a listpack, 2 (`largestRank`) for a hash table or skip list; others rank 0.
    static func rank(_ encoding: String) -> UInt8 {
        switch encoding {
        case "hashtable", "skiplist", "quicklist": return largestRank
        case "listpack", "listpackex": return 1
        default: return 0
        }
    }

    static let largestRank: UInt8 = 2

    /// The rank of the encoding Redis gives `value` now, for the floor a write raises
    /// (0 for values other than sets, hashes and sorted sets).
    public func encodingRank(_ value: Value) -> UInt8 {
        switch value {
        case .set, .hash, .zset: return Self.rank(encodingName(value))
        default: return 0
        }
    }

    /// The encoding name Redis 7.2 gives `value` under these limits.
    public func encodingName(_ value: Value) -> String {
        switch value {
        case .string(let bytes):
            if bytes.count <= 20, Numbers.parseInteger(bytes) != nil { return "int" }
            // A HyperLogLog is raw in Redis once PFADD/PFMERGE made or changed it (only a
            // short one just SET would still be embstr there).
            if bytes.count <= 44, HyperLogLog(validating: bytes) == nil { return "embstr" }
            return "raw"
        case .list(let list):
            return listFitsOneListpack(list) ? "listpack" : "quicklist"
        case .set(let members):
            if members.count <= setMaxIntsetEntries, members.allSatisfy({ Self.isIntsetMember($0.bytes) }) { return "intset" }
            return members.count <= setMaxListpackEntries && members.allSatisfy({ $0.bytes.count <= setMaxListpackValue })
                ? "listpack" : "hashtable"
        case .hash(let fields):
            let small = fields.count <= hashMaxListpackEntries
                && fields.allSatisfy({ $0.key.count <= hashMaxListpackValue && $0.value.count <= hashMaxListpackValue })
            // Redis 7.4: a small hash with field expiries is a listpackex.
            return small ? (fields.hasExpirations ? "listpackex" : "listpack") : "hashtable"
        case .zset(let sortedSet):
            return sortedSet.count <= zsetMaxListpackEntries && sortedSet.all.allSatisfy({ $0.member.count <= zsetMaxListpackValue })
                ? "listpack" : "skiplist"
        case .stream:
            return "stream"
        }
    }

    /// Redis's quicklistNodeExceedsLimit, negated: whether a list of `count` elements
    /// taking `bytes` as one listpack stays one listpack.
    func listFitsOneListpack(count: Int, bytes: Int) -> Bool {
        if listMaxListpackSize >= 0 {
            return count <= max(1, listMaxListpackSize) && bytes <= Self.listNodeSafetyBytes
        }
        let level = min(-listMaxListpackSize - 1, Self.listNodeBytesBySize.count - 1)
        return bytes <= Self.listNodeBytesBySize[level]
    }

    /// A list's encoding floor after a write (Entry.encodingFloor: `largestRank` for a
    /// quicklist, 0 for a listpack), as Redis 7.2's listTypeTryConversion: a listpack
    /// becomes a quicklist when it outgrows one listpack; a quicklist becomes a listpack
    /// again only after a command that removes or replaces elements (`shrinks`) leaves it
    /// within half the limits, so a list near the limit does not flip at every push and
    /// pop. `added`: an element LSET wrote, which Redis checks as one more element before
    /// replacing (a full listpack converts even though its length stays).
    func listFloor(_ entry: Entry, shrinks: Bool, added: Bytes? = nil) -> UInt8 {
        guard case .list(let list) = entry.value else { return entry.encodingFloor }
        var quicklist = entry.encodingFloor >= Self.largestRank || !listFitsOneListpack(list)
        if !quicklist, let added {
            // LSET's check, as one more element (the list fits one listpack, so this
            // measures at most a listpack's worth of elements).
            let bytes = list.reduce(Self.listpackHeaderBytes) { $0 + Self.listpackEntryBytes($1) } + Self.listpackEntryBytes(added)
            quicklist = !listFitsOneListpack(count: list.count + 1, bytes: bytes)
        }
        if shrinks, quicklist, listFitsHalfListpack(list) { quicklist = false }
        return quicklist ? Self.largestRank : 0
    }

    /// `listFitsOneListpack` for a stored list, measuring its elements only when its packed
    /// size does not settle the answer (a write to a long list costs O(chunks), not O(n)).
    func listFitsOneListpack(_ list: PackedList) -> Bool {
        if listMaxListpackSize >= 0 {
            guard list.count <= max(1, listMaxListpackSize) else { return false }
            return Self.listpackBytes(list, atMost: Self.listNodeSafetyBytes)
        }
        return Self.listpackBytes(list, atMost: listNodeByteLimit)
    }

    /// Redis's listTypeTryConvertQuicklist test when shrinking: half the count limit, or
    /// half the byte limit.
    func listFitsHalfListpack(_ list: PackedList) -> Bool {
        if listMaxListpackSize >= 0 { return list.count <= max(1, listMaxListpackSize) / 2 }
        return Self.listpackBytes(list, atMost: listNodeByteLimit / 2)
    }

    /// The byte limit of one list node under a negative `list-max-listpack-size`.
    var listNodeByteLimit: Int {
        Self.listNodeBytesBySize[min(-listMaxListpackSize - 1, Self.listNodeBytesBySize.count - 1)]
    }

    /// Whether `list` written as one listpack takes at most `limit` bytes, in O(1) for a
    /// list longer than `limit` / 2 and O(chunks) unless near the limit. An element's
    /// listpack entry takes at most 5 bytes more than its packed form (a string) and at
    /// most 12 fewer (a 20-digit integer), so the packed size decides unless it is close.
    static func listpackBytes(_ list: PackedList, atMost limit: Int) -> Bool {
        // Every entry takes at least 2 bytes: a long list is settled by its count alone
        // (a pop from a long quicklist must not walk its chunks).
        if listpackHeaderBytes + 2 * list.count > limit { return false }
        let packed = listpackHeaderBytes + list.packedBytes
        if packed + 5 * list.count <= limit { return true }
        if packed - 12 * list.count > limit { return false }
        var bytes = listpackHeaderBytes
        for element in list {
            bytes += listpackEntryBytes(element)
            if bytes > limit { return false }
        }
        return true
    }

    /// A listpack's total header (6 bytes) and end marker (1 byte).
    static let listpackHeaderBytes = 7

    /// The bytes one element takes in a listpack: its encoding and data, then the
    /// back-length of both (Redis's listpack.c).
    static func listpackEntryBytes(_ element: Bytes) -> Int {
        let payload: Int
        if element.count <= 20, let integer = Numbers.parseInteger(element) {
            switch integer {
            case 0...127: payload = 1
            case -4096...4095: payload = 2
            case -32768...32767: payload = 3
            case -8_388_608...8_388_607: payload = 4
            case -2_147_483_648...2_147_483_647: payload = 5
            default: payload = 9
            }
        } else if element.count < 64 {
            payload = 1 + element.count
        } else if element.count < 4096 {
            payload = 2 + element.count
        } else {
            payload = 5 + element.count
        }
        let backLength = payload < 128 ? 1 : payload < 16384 ? 2 : payload < 2_097_152 ? 3 : payload < 268_435_456 ? 4 : 5
        return payload + backLength
    }

    /// Whether a set member fits an intset: a 64-bit integer in its canonical form.
    static func isIntsetMember(_ bytes: Bytes) -> Bool {
        bytes.count <= 20 && Numbers.parseInteger(bytes) != nil
    }
}
