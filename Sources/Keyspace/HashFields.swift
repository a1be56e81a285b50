// The fields of a hash. A small hash keeps its fields in the order they were first added,
// as a Redis listpack hash does, so HGETALL, HKEYS, HVALS and HSCAN list them as Redis
// would; past `orderedCountMax` fields the hash moves to a plain dictionary (O(1) deletes
// at any size) and stays there, as Redis's conversion to a hashtable is one-way and its
// order is then arbitrary.
import Collections
import Core

public struct HashFields: Sendable {
    /// Fields kept in insertion order at most (Redis's default hash-max-listpack-entries).
    /// Fixed, not the configured limit: every replica must make the same choice.
    public static let orderedCountMax = 128

    enum Storage: Sendable {
        case ordered(OrderedDictionary<Bytes, Bytes>)
        case unordered([Bytes: Bytes])
    }

    private(set) var storage: Storage
    /// Fields with a time to live (HEXPIRE and friends, Redis 7.4): the Unix time in
    /// milliseconds at which each expires. A field past it is gone for every reader; it
    /// is dropped from storage at the hash's next write.
    public private(set) var expirations: [Bytes: Int64] = [:]

    public init() { storage = .ordered([:]) }

    /// Fields in the order of `pairs` (a later duplicate updates the earlier one's value).
    public init(_ pairs: some Sequence<(Bytes, Bytes)>) {
        self.init()
        for (field, value) in pairs { self[field] = value }
    }

    public var count: Int {
        switch storage {
        case .ordered(let fields): fields.count
        case .unordered(let fields): fields.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// Whether the fields still keep their insertion order.
    public var isOrdered: Bool {
        if case .ordered = storage { return true }
        return false
    }

    public subscript(field: Bytes) -> Bytes? {
        get {
            switch storage {
            case .ordered(let fields): fields[field]
            case .unordered(let fields): fields[field]
            }
        }
        set {
            if let newValue { updateValue(newValue, forKey: field) } else { removeValue(forKey: field) }
        }
    }

    /// Sets `field` (a new field goes last); returns the value it replaced, if any.
    @discardableResult
    public mutating func updateValue(_ value: Bytes, forKey field: Bytes) -> Bytes? {
        switch storage {
        case .ordered(var fields):
            storage = .unordered([:])  // no second reference while mutating
            let old = fields.updateValue(value, forKey: field)
            if fields.count > Self.orderedCountMax {
                storage = .unordered(Dictionary(uniqueKeysWithValues: fields.lazy.map { ($0.key, $0.value) }))
            } else {
                storage = .ordered(fields)
            }
            return old
        case .unordered(var fields):
            storage = .unordered([:])
            let old = fields.updateValue(value, forKey: field)
            storage = .unordered(fields)
            return old
        }
    }

    // MARK: - Field expiry

    public var hasExpirations: Bool { !expirations.isEmpty }

    /// When the first field with a time to live expires, if any has one.
    public var earliestExpiry: Int64? { expirations.values.min() }

    /// When `field` expires (Unix milliseconds), if it has a time to live.
    public func expireAt(_ field: Bytes) -> Int64? { expirations[field] }

    /// Gives `field` (which must be present) a time to live.
    public mutating func setExpiry(_ field: Bytes, at time: Int64) {
        assert(self[field] != nil, "an expiry for a missing field")
        expirations[field] = time
    }

    /// Removes `field`'s time to live; returns whether it had one.
    @discardableResult
    public mutating func removeExpiry(_ field: Bytes) -> Bool {
        expirations.removeValue(forKey: field) != nil
    }

    /// Whether `field` is present and not expired at `now`.
    public func isLive(_ field: Bytes, at now: Int64) -> Bool {
        guard self[field] != nil else { return false }
        guard let time = expirations[field] else { return true }
        return time > now
    }

    /// Whether every field has expired at `now` (a hash in that state is gone).
    public func isFullyExpired(at now: Int64) -> Bool {
        guard expirations.count == count, count > 0 else { return false }
        return expirations.values.allSatisfy { $0 <= now }
    }

    /// The fields as readers see them at `now`: without the expired ones.
    public func visible(at now: Int64) -> HashFields {
        guard !expirations.isEmpty, expirations.values.contains(where: { $0 <= now }) else { return self }
        var copy = self
        copy.purgeExpired(at: now)
        return copy
    }

    /// Drops the fields expired at `now`; returns them, in no particular order.
    @discardableResult
    public mutating func purgeExpired(at now: Int64) -> [Bytes] {
        let expired = expirations.filter { $0.value <= now }.map(\.key)
        for field in expired { removeValue(forKey: field) }
        return expired
    }

    /// Removes `field`; returns its value, if it was there.
    @discardableResult
    public mutating func removeValue(forKey field: Bytes) -> Bytes? {
        if !expirations.isEmpty { expirations.removeValue(forKey: field) }
        switch storage {
        case .ordered(var fields):
            storage = .unordered([:])
            let old = fields.removeValue(forKey: field)
            storage = .ordered(fields)
            return old
        case .unordered(var fields):
            storage = .unordered([:])
            let old = fields.removeValue(forKey: field)
            storage = .unordered(fields)
            return old
        }
    }

    public var keys: [Bytes] { map(\.key) }
    public var values: [Bytes] { map(\.value) }
}

extension HashFields: Sequence {
    public typealias Element = (key: Bytes, value: Bytes)

    public struct Iterator: IteratorProtocol {
        var ordered: OrderedDictionary<Bytes, Bytes>.Iterator?
        var unordered: Dictionary<Bytes, Bytes>.Iterator?

        public mutating func next() -> Element? {
            if ordered != nil { return ordered!.next() }
            return unordered?.next()
        }
    }

    public func makeIterator() -> Iterator {
        switch storage {
        case .ordered(let fields): Iterator(ordered: fields.makeIterator(), unordered: nil)
        case .unordered(let fields): Iterator(ordered: nil, unordered: fields.makeIterator())
        }
    }

    public var underestimatedCount: Int { count }
}

extension HashFields: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (Bytes, Bytes)...) {
        self.init(elements)
    }
}

/// Equal when they hold the same fields with the same values and times to live, whatever
/// their order.
extension HashFields: Equatable {
    public static func == (lhs: HashFields, rhs: HashFields) -> Bool {
        guard lhs.count == rhs.count, lhs.expirations == rhs.expirations else { return false }
        return lhs.allSatisfy { rhs[$0.key] == $0.value }
    }
}
