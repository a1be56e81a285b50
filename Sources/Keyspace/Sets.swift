// Set commands over an OrderedSet of members. Argument parsing happens in the engine.
//
// Invariants:
// - A stored set is never empty: removing the last member deletes the key.
// - The stored order is a function of the commands applied: SADD appends, removal swaps
//   the last member into the hole (O(1), and still deterministic), the set operations
//   build their result by walking their inputs in stored order. Nothing depends on hash
//   seeds, so replicas hold identical sets.
// - SPOP picks by index with a generator seeded from the key, the set's size and the
//   command's time (see `popSeed`): every replica, and a replay of the log, makes the same
//   pick. Read-only picks (SRANDMEMBER) take the engine's generator, since they change
//   nothing.
import Collections
import Core

/// How SINTERSTORE, SUNIONSTORE and SDIFFSTORE combine their sources.
public enum SetCombination: Sendable {
    case intersection, union, difference
}

extension Keyspace {
    // MARK: - Access

    /// The set under `key`; nil if absent; `wrongType` for another type.
    mutating func setValue(_ key: Bytes, now: Int64) throws(KeyspaceError) -> OrderedSet<Key>? {
        guard let entry = lookup(key, now: now) else { return nil }
        guard case .set(let members) = entry.value else { throw .wrongType }
        return members
    }

    /// Whether a set is stored under `key` (false if absent); `wrongType` for another type.
    public mutating func isSet(_ key: Bytes, now: Int64) throws(KeyspaceError) -> Bool {
        try setValue(key, now: now) != nil
    }

    /// SMEMBERS: the members in stored order; nil if absent.
    public mutating func setMembers(_ key: Bytes, now: Int64) throws(KeyspaceError) -> [Bytes]? {
        try setValue(key, now: now).map { $0.map(\.bytes) }
    }

    /// SCARD: 0 for an absent key.
    public mutating func setCardinality(_ key: Bytes, now: Int64) throws(KeyspaceError) -> Int {
        try setValue(key, now: now)?.count ?? 0
    }

    /// SISMEMBER / SMISMEMBER: whether each member is in the set (all false if absent).
    public mutating func setContains(_ key: Bytes, _ members: [Bytes], now: Int64) throws(KeyspaceError) -> [Bool] {
        let set = try setValue(key, now: now)
        return members.map { set?.contains(Key($0)) ?? false }
    }

    /// Applies `body` to the set under `key` (created empty if absent and `create`),
    /// deleting the key if the set became empty; records a modification only when `body`
    /// sets `changed`. Nil without calling `body` when absent and not `create`.
    private mutating func modifySet<Result>(_ key: Bytes, now: Int64, create: Bool,
                                            _ body: (inout OrderedSet<Key>, inout Bool) throws(KeyspaceError) -> Result) throws(KeyspaceError) -> Result? {
        var stored = try setValue(key, now: now)
        let existing = stored != nil
        guard existing || create else { return nil }
        // Take the value out of `stored` so `members` holds the only reference besides the
        // keyspace's, which is dropped next: the mutation must not copy the collection.
        var members = stored.take() ?? []
        if existing { replaceValueUntracked(key, .set([])) }  // no copy on mutation
        var changed = false
        let result: Result
        do {
            result = try body(&members, &changed)
        } catch {
            if existing { replaceValueUntracked(key, .set(members)) }
            throw error
        }
        if !changed {
            if existing { replaceValueUntracked(key, .set(members)) }
        } else if members.isEmpty {
            if existing { delete(key, now: now) }
        } else if !existing {
            store(key, Entry(value: .set(members)))
        } else {
            replaceValue(key, .set(members))
        }
        return result
    }

    /// Removes the member at `index` by moving the last member into its place: O(1), and
    /// the resulting order depends only on the order before.
    static func swapRemove(_ members: inout OrderedSet<Key>, at index: Int) -> Key {
        let last = members.count - 1
        if index != last { members.swapAt(index, last) }
        return members.removeLast()
    }

    // MARK: - Adding and removing

    /// SADD: returns how many members were new.
    public mutating func setAdd(_ key: Bytes, _ newMembers: [Bytes], now: Int64) throws(KeyspaceError) -> Int {
        try modifySet(key, now: now, create: true) { members, changed in
            var added = 0
            for member in newMembers where members.append(Key(member)).inserted { added += 1 }
            changed = added > 0
            return added
        } ?? 0
    }

    /// SREM: returns how many members were removed.
    public mutating func setRemove(_ key: Bytes, _ oldMembers: [Bytes], now: Int64) throws(KeyspaceError) -> Int {
        try modifySet(key, now: now, create: false) { members, changed in
            var removed = 0
            for member in oldMembers {
                guard let index = members.firstIndex(of: Key(member)) else { continue }
                _ = Self.swapRemove(&members, at: index)
                removed += 1
            }
            changed = removed > 0
            return removed
        } ?? 0
    }

    /// SMOVE: moves `member` from `source` to `destination`; returns whether it was in the
    /// source. As Redis: an absent source answers false before the destination's type is
    /// checked; otherwise both types are checked before anything changes; with the same
    /// key the answer is whether the member is there.
    public mutating func setMove(_ source: Bytes, _ destination: Bytes, _ member: Bytes, now: Int64) throws(KeyspaceError) -> Bool {
        guard let sourceMembers = try setValue(source, now: now) else { return false }
        _ = try setValue(destination, now: now)
        if source == destination { return sourceMembers.contains(Key(member)) }
        guard try setRemove(source, [member], now: now) == 1 else { return false }
        _ = try setAdd(destination, [member], now: now)
        return true
    }

    // MARK: - Random members

    /// The seed of SPOP's picks: a function of what every replica agrees on (the key, the
    /// set's size and the command's time), never of a generator that reads also advance or
    /// that a restart resets.
    static func popSeed(_ key: Bytes, size: Int, now: Int64) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        for value in [UInt64(size), UInt64(bitPattern: now)] {
            for shift in stride(from: 0, to: 64, by: 8) { hash = (hash ^ ((value >> UInt64(shift)) & 0xff)) &* 0x0000_0100_0000_01b3 }
        }
        return hash
    }

    /// SPOP: removes `count` random members (all of them, deleting the key, when `count`
    /// reaches the size). Nil for an absent key. `count` >= 0.
    public mutating func setPop(_ key: Bytes, count: Int, now: Int64) throws(KeyspaceError) -> [Bytes]? {
        assert(count >= 0, "pop count must be non-negative")
        return try modifySet(key, now: now, create: false) { members, changed in
            if count >= members.count {
                let all = members.map(\.bytes)
                members.removeAll()
                changed = true
                return all
            }
            var random = SeededRandom(seed: Self.popSeed(key, size: members.count, now: now))
            var popped: [Bytes] = []
            popped.reserveCapacity(count)
            for _ in 0..<count {
                popped.append(Self.swapRemove(&members, at: random.int(in: 0...(members.count - 1))).bytes)
            }
            changed = count > 0
            return popped
        }
    }

    /// SRANDMEMBER: `count` >= 0 gives distinct members (all when `count` reaches the
    /// size); a negative count gives |count| members that may repeat, at most
    /// `KeyspaceLimits.randomFieldsRepeatedMax` (checked after the key, as HRANDFIELD).
    /// Empty for an absent key.
    public mutating func setRandomMembers(_ key: Bytes, count: Int, now: Int64, using random: inout SeededRandom) throws(KeyspaceError) -> [Bytes] {
        guard let members = try setValue(key, now: now), !members.isEmpty else { return [] }
        if count >= 0 {
            if count >= members.count { return members.map(\.bytes) }
            // A partial Fisher-Yates over indexes: O(count) draws, the set is not copied.
            var swapped: [Int: Int] = [:]
            var picked: [Bytes] = []
            picked.reserveCapacity(count)
            for step in 0..<count {
                let chosen = random.int(in: step...(members.count - 1))
                let index = swapped[chosen] ?? chosen
                swapped[chosen] = swapped[step] ?? step
                picked.append(members[index].bytes)
            }
            return picked
        }
        guard count.magnitude <= UInt(KeyspaceLimits.randomFieldsRepeatedMax) else { throw .countOutOfRange }
        return (0..<Int(count.magnitude)).map { _ in members[random.int(in: 0...(members.count - 1))].bytes }
    }

    // MARK: - Set algebra

    /// The sources of a set operation, each type-checked first (an absent key is nil).
    private mutating func setSources(_ keys: [Bytes], now: Int64) throws(KeyspaceError) -> [OrderedSet<Key>?] {
        var sources: [OrderedSet<Key>?] = []
        sources.reserveCapacity(keys.count)
        for key in keys { sources.append(try setValue(key, now: now)) }
        return sources
    }

    /// The combination of `sources` in a deterministic order. For an intersection, walks
    /// the smallest source (the first of equal sizes) and stops after `limit` members
    /// (0: no limit).
    static func combine(_ sources: [OrderedSet<Key>?], _ combination: SetCombination, limit: Int = 0) -> OrderedSet<Key> {
        switch combination {
        case .intersection:
            var present: [OrderedSet<Key>] = []
            for source in sources {
                guard let source else { return [] }  // an absent key is an empty set
                present.append(source)
            }
            guard let smallestIndex = present.indices.min(by: { present[$0].count < present[$1].count }) else { return [] }
            var result = OrderedSet<Key>()
            for member in present[smallestIndex] {
                var everywhere = true
                for index in present.indices where index != smallestIndex && !present[index].contains(member) {
                    everywhere = false
                    break
                }
                guard everywhere else { continue }
                result.append(member)
                if limit > 0, result.count >= limit { break }
            }
            return result
        case .union:
            var result = OrderedSet<Key>()
            for source in sources { if let source { result.append(contentsOf: source) } }
            return result
        case .difference:
            guard let first = sources.first, let first else { return [] }
            let others = sources.dropFirst().compactMap { $0 }
            var result = OrderedSet<Key>()
            for member in first where !others.contains(where: { $0.contains(member) }) { result.append(member) }
            return result
        }
    }

    /// SINTER / SUNION / SDIFF: the members of the combination of the sets at `keys`
    /// (absent keys are empty sets; every key is type-checked first).
    public mutating func setCombination(_ combination: SetCombination, of keys: [Bytes], now: Int64) throws(KeyspaceError) -> [Bytes] {
        Self.combine(try setSources(keys, now: now), combination).map(\.bytes)
    }

    /// SINTERCARD: the size of the intersection, counting at most `limit` (0: no limit).
    public mutating func setIntersectionCount(_ keys: [Bytes], limit: Int, now: Int64) throws(KeyspaceError) -> Int {
        Self.combine(try setSources(keys, now: now), .intersection, limit: limit).count
    }

    /// SINTERSTORE / SUNIONSTORE / SDIFFSTORE: stores the combination at `destination`
    /// (replacing any value and its expiry) or deletes `destination` when it is empty.
    /// Returns the result's size. The destination's old type does not matter.
    public mutating func setStore(_ combination: SetCombination, of keys: [Bytes], into destination: Bytes, now: Int64) throws(KeyspaceError) -> Int {
        let result = Self.combine(try setSources(keys, now: now), combination)
        if result.isEmpty {
            delete(destination, now: now)
        } else {
            store(destination, Entry(value: .set(result)))
        }
        return result.count
    }
}
