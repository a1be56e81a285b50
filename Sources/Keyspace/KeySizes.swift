// INFO keysizes (Redis 8): for each of the five basic types, how many keys of a keyspace
// hold a value of each power-of-two size: a string's length in bytes, a list's, set's,
// sorted set's or hash's number of items (stored items: hash fields past their time to
// live count until they are removed, as Redis counts them). Streams are not counted.
//
// The keyspace keeps it as values are stored, replaced and removed (Keyspace.swift), so
// INFO reads it without visiting a key, as Redis does.

public struct KeySizes: Sendable, Equatable {
    /// The types counted, in INFO's order.
    public enum Kind: Int, CaseIterable, Sendable {
        case strings, lists, sets, zsets, hashes

        /// INFO's field name after `db<N>_`.
        public var fieldName: String {
            switch self {
            case .strings: return "distrib_strings_sizes"
            case .lists: return "distrib_lists_items"
            case .sets: return "distrib_sets_items"
            case .zsets: return "distrib_zsets_items"
            case .hashes: return "distrib_hashes_items"
            }
        }
    }

    /// Bin 0 counts empty values; bin b > 0 counts sizes in [2^(b-1), 2^b).
    public static let binCount = Int.bitWidth + 1
    /// The counts, `binCount` per kind, kind after kind.
    private var counts = [Int](repeating: 0, count: Kind.allCases.count * binCount)

    public init() {}

    /// The counts of every value `keyspace` stores, counted from scratch (what the kept
    /// counts must always equal; the tests compare them).
    init(counting keyspace: Keyspace) {
        for partition in keyspace.slots.indices {
            for entry in keyspace.slots[partition].values { count(in: entry.value.keySizeMeasure, out: nil) }
        }
    }

    /// The bin of a value of `size` items or bytes.
    @inline(__always) static func bin(of size: Int) -> Int {
        size <= 0 ? 0 : Int.bitWidth - size.leadingZeroBitCount
    }

    /// A value measured `new` (nil: none) stored where one measured `old` was (nil: none
    /// was). Callers measure values in place (`Value.keySizeMeasure`): passing the values
    /// instead costs SET two retains and releases.
    @inline(__always) mutating func count(in new: (kind: Int, size: Int)?, out old: (kind: Int, size: Int)?) {
        if let old, old.kind >= 0 {
            let index = old.kind * Self.binCount + Self.bin(of: old.size)
            assert(counts[index] > 0, "a value counted out of key sizes was never counted in")
            counts[index] -= 1
        }
        if let new, new.kind >= 0 { counts[new.kind * Self.binCount + Self.bin(of: new.size)] += 1 }
    }

    /// Every count back to zero (the keyspace was emptied).
    mutating func reset() {
        for index in counts.indices { counts[index] = 0 }
    }

    /// The non-empty bins of `kind`, smallest first, as INFO shows them: `0=2,4=1,1K=3`.
    public func histogram(_ kind: Kind) -> String? {
        var parts: [String] = []
        for bin in 0..<Self.binCount {
            let count = counts[kind.rawValue * Self.binCount + bin]
            if count > 0 { parts.append("\(Self.label(bin: bin))=\(count)") }
        }
        return parts.isEmpty ? nil : parts.joined(separator: ",")
    }

    /// Adds `other`'s counts (a database's keys held by several shards).
    public mutating func merge(_ other: KeySizes) {
        for index in counts.indices { counts[index] += other.counts[index] }
    }

    /// A bin's label, the smallest size it counts: 0, 1, 2, 4 ... 512, 1K ... 512K, 1M ...
    static func label(bin: Int) -> String {
        guard bin > 0 else { return "0" }
        let exponent = bin - 1
        let units = ["", "K", "M", "G", "T", "P", "E"]
        return "\(1 << (exponent % 10))\(units[exponent / 10])"
    }
}

extension Value {
    /// The `KeySizes.Kind` raw value and size of this value; kind -1 for a stream. (A
    /// property of the value, read in place.)
    @inline(__always) var keySizeMeasure: (kind: Int, size: Int) {
        switch self {
        case .string(let bytes): return (KeySizes.Kind.strings.rawValue, bytes.count)
        case .list(let list): return (KeySizes.Kind.lists.rawValue, list.count)
        case .set(let set): return (KeySizes.Kind.sets.rawValue, set.count)
        case .zset(let sortedSet): return (KeySizes.Kind.zsets.rawValue, sortedSet.count)
        case .hash(let fields): return (KeySizes.Kind.hashes.rawValue, fields.count)
        case .stream: return (-1, 0)
        }
    }
}
