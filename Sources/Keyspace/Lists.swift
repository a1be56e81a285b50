// List commands over a PackedList (PackedList.swift), head (LEFT) first. Argument parsing happens in
// the engine; these functions take typed, already validated arguments.
//
// Invariants: a stored list is never empty (a command that removes the last element
// deletes the key, as in Redis); a command that changes nothing records no modification,
// so it neither aborts a WATCH nor produces a log record. Index arithmetic on client
// numbers cannot overflow: a negative index is added to a non-negative length, and every
// range is clamped to the list before it is used.
/// Which end of a list a command works on: LEFT is the head, RIGHT the tail.
public enum ListEnd: Sendable, Equatable {
    case head, tail
}

extension Keyspace {
    // MARK: - Access

    /// The list under `key`; nil if absent; `wrongType` for another type.
    mutating func listValue(_ key: Bytes, now: Int64) throws(KeyspaceError) -> PackedList? {
        guard let entry = lookup(key, now: now) else { return nil }
        guard case .list(let elements) = entry.value else { throw .wrongType }
        return elements
    }

    /// Whether a list is stored under `key` (false if absent); `wrongType` for another type.
    /// Lets the engine answer for an absent key or another type before parsing arguments,
    /// in Redis's order.
    public mutating func isList(_ key: Bytes, now: Int64) throws(KeyspaceError) -> Bool {
        try listValue(key, now: now) != nil
    }

    /// The whole list head to tail; nil if absent.
    public mutating func listElements(_ key: Bytes, now: Int64) throws(KeyspaceError) -> [Bytes]? {
        try listValue(key, now: now).map(Array.init)
    }

    /// LLEN: 0 for an absent key.
    public mutating func listLength(_ key: Bytes, now: Int64) throws(KeyspaceError) -> Int {
        try listValue(key, now: now)?.count ?? 0
    }

    /// Applies `body` to the list under `key` (created empty if absent and `create`) and
    /// stores the result, deleting the key if the list became empty. `body` sets `changed`
    /// when it modified the list; only then is the key recorded as modified. Returns nil
    /// without calling `body` when the key is absent and `create` is false.
    private mutating func modifyList<Result>(_ key: Bytes, now: Int64, create: Bool,
                                             _ body: (inout PackedList, inout Bool) throws(KeyspaceError) -> Result) throws(KeyspaceError) -> Result? {
        var stored = try listValue(key, now: now)
        let existing = stored != nil
        guard existing || create else { return nil }
        // Take the value out of `stored` so `elements` holds the only reference besides the
        // keyspace's, which is dropped next: the mutation must not copy the collection.
        var elements = stored.take() ?? []
        // Drop the stored reference (untracked) so the mutation does not copy the list.
        if existing { replaceValueUntracked(key, .list([])) }
        var changed = false
        let result: Result
        do {
            result = try body(&elements, &changed)
        } catch {
            if existing { replaceValueUntracked(key, .list(elements)) }
            throw error
        }
        if !changed {
            if existing { replaceValueUntracked(key, .list(elements)) }
        } else if elements.isEmpty {
            if existing { delete(key, now: now) }
        } else if !existing {
            store(key, Entry(value: .list(elements)))
        } else {
            replaceValue(key, .list(elements))
        }
        return result
    }

    // MARK: - Push and pop

    /// LPUSH / RPUSH (and the X forms with `onlyIfExists`): pushes each element in turn at
    /// `end`. Returns the new length; 0 when `onlyIfExists` and the key is absent.
    public mutating func listPush(_ key: Bytes, _ elements: [Bytes], at end: ListEnd, onlyIfExists: Bool = false,
                                  now: Int64) throws(KeyspaceError) -> Int {
        try modifyList(key, now: now, create: !onlyIfExists) { list, changed in
            switch end {
            case .head: for element in elements { list.prepend(element) }
            case .tail: list.append(contentsOf: elements)
            }
            changed = !elements.isEmpty
            return list.count
        } ?? 0
    }

    /// LPOP / RPOP: removes up to `count` elements from `end`, in pop order. Nil when the
    /// key is absent (so the engine can tell "no key" from "count 0"). `count` >= 0.
    public mutating func listPop(_ key: Bytes, from end: ListEnd, count: Int, now: Int64) throws(KeyspaceError) -> [Bytes]? {
        assert(count >= 0, "pop count must be non-negative")
        return try modifyList(key, now: now, create: false) { list, changed in
            let taken = min(count, list.count)
            var popped: [Bytes] = []
            popped.reserveCapacity(taken)
            for _ in 0..<taken {
                guard let element = end == .head ? list.popFirst() : list.popLast() else { break }
                popped.append(element)
            }
            changed = !popped.isEmpty
            return popped
        }
    }

    /// LMOVE / RPOPLPUSH: pops one element from `source`'s `from` end and pushes it at
    /// `destination`'s `to` end; returns it, or nil when the source is absent. Both keys'
    /// types are checked before anything changes. Source and destination may be the same
    /// key (a rotation, which keeps the key and its expiry).
    public mutating func listMove(_ source: Bytes, _ destination: Bytes, from: ListEnd, to: ListEnd,
                                  now: Int64) throws(KeyspaceError) -> Bytes? {
        guard try listValue(source, now: now) != nil else { return nil }
        if source == destination {
            return try modifyList(source, now: now, create: false) { list, changed in
                guard let element = from == .head ? list.popFirst() : list.popLast() else { return nil }
                if to == .head { list.prepend(element) } else { list.append(element) }
                changed = true
                return element
            } ?? nil
        }
        _ = try listValue(destination, now: now)  // WRONGTYPE before the source changes
        guard let element = try listPop(source, from: from, count: 1, now: now)?.first else { return nil }
        _ = try listPush(destination, [element], at: to, now: now)
        // One change in Redis's count (rdb_changes_since_last_save), as it counts elements
        // moved, where the pop and the push each counted one.
        changeCount -= 1
        return element
    }

    // MARK: - Reading by index and range

    /// LRANGE with Redis's index rules: negative indexes count from the tail, the range is
    /// clamped, an empty or inverted range is empty.
    public mutating func listRange(_ key: Bytes, start: Int64, end: Int64, now: Int64) throws(KeyspaceError) -> [Bytes] {
        guard let list = try listValue(key, now: now), let range = Self.clampedRange(start: start, end: end, count: list.count) else {
            return []
        }
        return list.elements(in: range)
    }

    /// The indexes `start...end` select in a collection of `count` elements (Redis's
    /// LRANGE / LTRIM rules), nil for an empty selection.
    static func clampedRange(start: Int64, end: Int64, count: Int) -> ClosedRange<Int>? {
        let length = Int64(count)
        var first = start < 0 ? length + start : start  // a negative plus a non-negative: no overflow
        var last = end < 0 ? length + end : end
        if first < 0 { first = 0 }
        if first > last || first >= length { return nil }
        if last >= length { last = length - 1 }
        return Int(first)...Int(last)
    }

    /// The position `index` designates in a collection of `count` elements, negative
    /// counting from the tail; nil when outside.
    static func position(of index: Int64, count: Int) -> Int? {
        let resolved = index < 0 ? Int64(count) + index : index
        guard resolved >= 0, resolved < Int64(count) else { return nil }
        return Int(resolved)
    }

    /// LINDEX: nil for an absent key or an index outside the list.
    public mutating func listIndex(_ key: Bytes, _ index: Int64, now: Int64) throws(KeyspaceError) -> Bytes? {
        guard let list = try listValue(key, now: now), let position = Self.position(of: index, count: list.count) else { return nil }
        return list.element(at: position)
    }

    // MARK: - Editing

    /// LSET: `noSuchKey` for an absent key, `indexOutOfRange` outside the list.
    public mutating func listSet(_ key: Bytes, index: Int64, _ element: Bytes, now: Int64) throws(KeyspaceError) {
        let done: Void? = try modifyList(key, now: now, create: false) { list, changed throws(KeyspaceError) in
            guard let position = Self.position(of: index, count: list.count) else { throw .indexOutOfRange }
            list.replace(at: position, with: element)
            changed = true
        }
        if done == nil { throw .noSuchKey }
    }

    /// LINSERT: inserts `element` before or after the first `pivot` from the head. Returns
    /// the new length, 0 for an absent key, -1 when the pivot is not found.
    public mutating func listInsert(_ key: Bytes, before: Bool, pivot: Bytes, _ element: Bytes, now: Int64) throws(KeyspaceError) -> Int {
        try modifyList(key, now: now, create: false) { list, changed in
            guard let position = list.enumerated().first(where: { $0.element == pivot })?.offset else { return -1 }
            list.insert(element, at: before ? position : position + 1)
            changed = true
            return list.count
        } ?? 0
    }

    /// LREM: removes up to |count| occurrences of `element` (0: all), from the head when
    /// count >= 0, from the tail when negative. Returns how many were removed.
    public mutating func listRemove(_ key: Bytes, count: Int64, _ element: Bytes, now: Int64) throws(KeyspaceError) -> Int {
        try modifyList(key, now: now, create: false) { list, changed in
            let limit = count.magnitude  // UInt64: Int64.min has a magnitude too
            var removed: UInt64 = 0
            var kept = PackedList()
            if count >= 0 {
                for item in list {
                    if item == element, limit == 0 || removed < limit { removed += 1 } else { kept.append(item) }
                }
            } else {
                var keptFromTail: [Bytes] = []
                for item in list.reversed() {
                    if item == element, removed < limit { removed += 1 } else { keptFromTail.append(item) }
                }
                kept = PackedList(keptFromTail.reversed())
            }
            if removed > 0 {
                list = kept
                changed = true
            }
            return Int(removed)
        } ?? 0
    }

    /// LTRIM: keeps only `start...end` (Redis's index rules); an empty selection deletes
    /// the key. An absent key is left absent.
    public mutating func listTrim(_ key: Bytes, start: Int64, end: Int64, now: Int64) throws(KeyspaceError) {
        _ = try modifyList(key, now: now, create: false) { list, changed in
            guard let range = Self.clampedRange(start: start, end: end, count: list.count) else {
                list.removeAll()
                changed = true
                return
            }
            let fromTail = list.count - 1 - range.upperBound
            if fromTail > 0 { list.removeLast(fromTail) }
            if range.lowerBound > 0 { list.removeFirst(range.lowerBound) }
            changed = fromTail > 0 || range.lowerBound > 0
        }
    }

    // MARK: - Search

    /// LPOS: the indexes (from the head) of matches of `element`. Scans from the head for
    /// a positive `rank`, from the tail for a negative one, skipping the first |rank| - 1
    /// matches; returns at most `count` indexes (0: all of them) and compares at most
    /// `maxLength` elements (0: the whole list). Nil for an absent key.
    /// `rank` is non-zero and not Int64.min; `count` and `maxLength` are non-negative.
    public mutating func listPositions(_ key: Bytes, _ element: Bytes, rank: Int64, count: Int64, maxLength: Int64,
                                       now: Int64) throws(KeyspaceError) -> [Int]? {
        assert(rank != 0 && rank != Int64.min && count >= 0 && maxLength >= 0, "LPOS arguments are validated by the caller")
        guard let list = try listValue(key, now: now) else { return nil }
        let skip = rank.magnitude - 1
        var matches: UInt64 = 0
        var found: [Int] = []
        var compared: Int64 = 0
        let length = list.count
        // Walk the list once in scan order (a packed list has no O(1) index).
        let scan: AnySequence<Bytes> = rank > 0 ? AnySequence(list) : AnySequence(list.reversed())
        for (step, item) in scan.enumerated() {
            if maxLength != 0, compared >= maxLength { break }
            compared += 1
            let index = rank > 0 ? step : length - 1 - step
            guard item == element else { continue }
            matches += 1
            guard matches > skip else { continue }
            found.append(index)
            if count != 0, Int64(found.count) >= count { break }
        }
        return found
    }
}
