#if canImport(Glibc)
import Glibc
#endif
import Collections
// Values stored under keys, and the typed errors of command semantics. The engine maps
// each error to Redis's exact reply text in one place.
//
// Every container keeps an order that depends only on the commands applied to it, never
// on per-process hash seeds: a list is a PackedList (head first), a set an OrderedSet whose
// order follows its insertions and swap-removals, a hash of up to 128 fields HashFields in
// insertion order (past that its order is a dictionary's, which nothing replicated reads), a sorted set an AVL tree ordered by
// (score, member bytes) beside a lookup dictionary that is never iterated. Replicas that apply the same commands
// therefore hold identical values, and a random pick by index (SPOP) is the same pick on
// every replica.

/// A binary-safe byte string: keys, values, fields.
public typealias Bytes = [UInt8]

/// The data held under one key.
///
/// Every case's payload is one reference: a string's byte array, or a box holding a
/// container (`indirect`). A Value is then one word, tag in the pointer's spare bits, and
/// an Entry two, so the keyspace's dictionaries spend 24 bytes per bucket rather than the
/// 80 a stream's inline fields would cost every key (most keys are strings), and copying
/// an entry is one retain. A container is taken out of its box to be changed (the
/// keyspace replaces the value first, so the container is not shared and not copied)
/// and boxed again.
public enum Value: Equatable, Sendable {
    case string(Bytes)
    indirect case hash(HashFields)
    /// A list, head (LEFT) first. Never empty while stored.
    indirect case list(PackedList)
    /// A set in its deterministic stored order (see the file comment). Never empty while stored.
    indirect case set(OrderedSet<Key>)
    /// A sorted set (see SortedSet.swift). Never empty while stored.
    indirect case zset(SortedSet)
    /// A stream (see Stream.swift); may be stored empty.
    indirect case stream(Stream)

    /// The name TYPE reports.
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .hash: return "hash"
        case .list: return "list"
        case .set: return "set"
        case .zset: return "zset"
        case .stream: return "stream"
        }
    }
}

/// A key's value plus its absolute expiry time (milliseconds since the epoch, nil: none).
///
/// Stored as 16 bytes (the value's one reference and a plain Int64 where Int64.min means
/// "no expiry"): an optional Int64 would add a byte and pad the entry to 24, which across
/// a sparse hash table costs about 15 bytes per key.
public struct Entry: Equatable, Sendable {
    public var value: Value
    private var storedExpiry: Int64
    /// When the key was last accessed (AccessClock.swift): this node's alone, so `==`
    /// ignores it. 0 (not known) until the keyspace stores or reads the entry.
    public var access = AccessClock()
    /// The string was changed in place (APPEND, SETRANGE, SETBIT, BITFIELD), which Redis
    /// keeps in its raw encoding whatever its content, until a command stores a new value:
    /// only OBJECT ENCODING reads it, so, as `access`, it is not in snapshots and `==`
    /// ignores it.
    public var rawString = false
    /// The least compact encoding rank (EncodingLimits.encodingRank) the value has had
    /// since its key was made: Redis converts a set, hash or sorted set to a larger
    /// encoding as it grows and never back, so OBJECT ENCODING names the larger of this
    /// and the value's own. Set by the engine after commands that add; as `rawString`, it
    /// is not in snapshots and `==` ignores it. For a list it says whether the list is a
    /// quicklist (converted when it outgrew one listpack, back when it shrank to half).
    /// Lists are the exception to "never back" (Engine.adjustListEncodings).
    public var encodingFloor: UInt8 = 0

    private static let noExpiry = Int64.min

    public init(value: Value, expireAt: Int64? = nil, rawString: Bool = false) {
        self.value = value
        self.storedExpiry = expireAt ?? Self.noExpiry
        self.rawString = rawString
    }

    /// The value of a write, `rawString` telling whether it changed a string in place.
    @inline(__always) mutating func replace(with value: Value, rawString: Bool) {
        self.value = value
        self.rawString = rawString
    }

    /// Equal keys and expiries: the access field is local to a node (see AccessClock.swift).
    public static func == (lhs: Entry, rhs: Entry) -> Bool {
        lhs.value == rhs.value && lhs.storedExpiry == rhs.storedExpiry
    }

    public var expireAt: Int64? {
        get { storedExpiry == Self.noExpiry ? nil : storedExpiry }
        set { storedExpiry = newValue ?? Self.noExpiry }
    }

    /// Past its time to live, or a hash whose every field has expired (Redis 7.4 deletes
    /// such a hash).
    @inline(__always) func isExpired(at now: Int64) -> Bool {
        if storedExpiry != Self.noExpiry && storedExpiry <= now { return true }
        if case .hash(let fields) = value, fields.hasExpirations { return fields.isFullyExpired(at: now) }
        return false
    }
}

/// Why a command could not be applied. Rendering to text happens in the engine.
public enum KeyspaceError: Error, Equatable, Sendable {
    case wrongType
    case notInteger
    case notFloat
    case overflow
    case nanOrInfinity
    case hashValueNotInteger
    case hashValueNotFloat
    case noSuchKey
    case stringTooLong
    case offsetOutOfRange
    case invalidExpireTime
    /// A count beyond what the command will build a reply from (HRANDFIELD's negative count).
    case countOutOfRange
    /// LSET's index is outside the list.
    case indexOutOfRange
    /// ZINCRBY or ZADD INCR would make a score NaN (inf plus -inf).
    case scoreNotANumber
    /// A string that is not a HyperLogLog given to PFADD, PFCOUNT or PFMERGE.
    case notHyperLogLog
    /// A HyperLogLog whose sparse register data is damaged.
    case corruptHyperLogLog
}

/// Named bounds of the keyspace.
public enum KeyspaceLimits {
    /// Largest string a command may build (Redis proto-max-bulk-len, 512 MiB).
    public static let stringBytesMax = 512 * 1024 * 1024
    /// Most fields HRANDFIELD returns for a negative count (fields may repeat, so the
    /// count alone sizes the reply; Redis has no bound and would try to build it).
    public static let randomFieldsRepeatedMax = Int(Int32.max) - 1
}

/// A key as stored in the keyspace's dictionaries, or a set's member.
///
/// A key of up to `inlineBytesMax` bytes is held in the value itself (three words: 22
/// bytes, their count and the case), a longer one in an array. Most keys are short, and
/// an inline key is what a dictionary probe compares without following a pointer to a
/// buffer, which is a cache miss per probed key (and an atomic retain of a buffer that is
/// not in the cache) on a keyspace larger than the cache; it also saves the buffer, 48
/// bytes a key. The form is canonical (a key that fits is always inline), so equal keys
/// have equal forms. Hashes its bytes in one call (Array's own hashing feeds the hasher
/// one element at a time, which dominates lookups).
public struct Key: Hashable, Sendable {
    /// The longest key held inline.
    public static let inlineBytesMax = 22

    /// 22 bytes, laid out contiguously (8 + 8 + 4 + 2).
    @usableFromInline typealias Words = (UInt64, UInt64, UInt32, UInt16)

    @usableFromInline enum Storage: Sendable {
        /// The first `count` bytes of the words are the key's; the rest are zero.
        case inline(Words, count: UInt8)
        case heap(Bytes)
    }

    @usableFromInline var storage: Storage

    @inline(__always) public init(_ bytes: Bytes) {
        guard bytes.count <= Self.inlineBytesMax else {
            storage = .heap(bytes)
            return
        }
        var words: Words = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { target in
            bytes.withUnsafeBytes { source in target.copyMemory(from: source) }
        }
        storage = .inline(words, count: UInt8(bytes.count))
    }

    /// The key's bytes (a new array for an inline key).
    public var bytes: Bytes {
        switch storage {
        case .heap(let bytes): return bytes
        case .inline: return withUnsafeBytes { Array($0) }
        }
    }

    /// How many bytes the key has.
    @inline(__always) public var count: Int {
        switch storage {
        case .heap(let bytes): return bytes.count
        case .inline(_, let count): return Int(count)
        }
    }

    /// Calls `body` with the key's bytes, valid only during the call.
    @inline(__always) public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        switch storage {
        case .heap(let bytes):
            return try bytes.withUnsafeBytes(body)
        case .inline(var words, let count):
            return try Swift.withUnsafeBytes(of: &words) { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(Int(count)))) }
        }
    }

    @inline(__always) public static func == (lhs: Key, rhs: Key) -> Bool {
        switch (lhs.storage, rhs.storage) {
        case let (.inline(left, leftCount), .inline(right, rightCount)):
            return leftCount == rightCount && left.0 == right.0 && left.1 == right.1 && left.2 == right.2 && left.3 == right.3
        case let (.heap(left), .heap(right)):
            return sameBytes(left, right)
        default:
            return false  // canonical forms: a short key is never on the heap
        }
    }

    @inline(__always) public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// Whether two arrays hold the same bytes, compared with one `memcmp` (Key's heap form and
/// SharedMember; `==` on arrays compares an element at a time).
@inline(__always) func sameBytes(_ left: Bytes, _ right: Bytes) -> Bool {
    left.withUnsafeBytes { left in
        right.withUnsafeBytes { right in
            left.count == right.count && (left.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0)
        }
    }
}
