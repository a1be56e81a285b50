// SORT and SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
// [ALPHA] [STORE destination], as Redis 7.0: numeric sort unless ALPHA (bytes compared as
// unsigned), numeric ties broken by the elements' bytes, `BY nosort` (a pattern without `*`)
// keeps the stored order, `#` in GET is the element itself, `key->field` reads a hash
// field. On a cluster node BY and GET patterns are refused, as Redis 7.0 refuses them in
// cluster mode: they name keys the shard may not hold.
import Core
import Keyspace
import Wire

extension Engine {
    func runSort(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try sort(readOnly: id == .sort_ro, arguments, fromScript: session === scriptSession, now: now) }
    }

    private func sort(readOnly: Bool, _ arguments: [Bytes], fromScript: Bool, now: Int64) throws -> RESPValue {
        var byPattern: Bytes? = nil
        var getPatterns: [Bytes] = []
        var offset: Int64 = 0, count: Int64 = -1
        var descending = false, alpha = false
        var destination: Bytes? = nil
        var index = 2
        while index < arguments.count {
            let option = arguments[index]
            let left = arguments.count - index - 1
            if Arguments.isKeyword(option, "asc") {
                descending = false
            } else if Arguments.isKeyword(option, "desc") {
                descending = true
            } else if Arguments.isKeyword(option, "alpha") {
                alpha = true
            } else if Arguments.isKeyword(option, "limit"), left >= 2 {
                offset = try Arguments.integer(arguments[index + 1])
                count = try Arguments.integer(arguments[index + 2])
                index += 2
            } else if Arguments.isKeyword(option, "store"), left >= 1, !readOnly {
                destination = arguments[index + 1]
                index += 1
            } else if Arguments.isKeyword(option, "by"), left >= 1 {
                byPattern = arguments[index + 1]
                if settings.clusterEnabled, byPattern?.contains(UInt8(ascii: "*")) == true {
                    throw CommandError.message("ERR BY option of SORT denied in Cluster mode.")
                }
                index += 1
            } else if Arguments.isKeyword(option, "get"), left >= 1 {
                if settings.clusterEnabled, arguments[index + 1] != Array("#".utf8) {
                    throw CommandError.message("ERR GET option of SORT denied in Cluster mode.")
                }
                getPatterns.append(arguments[index + 1])
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        let key = arguments[1]
        var elements: [Bytes]
        var sortable = true
        switch keyspace.peek(key, now: now)?.value {
        case nil: elements = []
        case .list: elements = try keyspace.listElements(key, now: now) ?? []
        case .set: elements = try keyspace.setMembers(key, now: now) ?? []
        case .zset(let sortedSet): elements = sortedSet.all.map(\.member)
        default: throw KeyspaceError.wrongType
        }
        if let byPattern, !byPattern.contains(UInt8(ascii: "*")) { sortable = false }
        if sortable {
            elements = try sorted(elements, by: byPattern, alpha: alpha, descending: descending, now: now)
        } else if case .set = keyspace.peek(key, now: now)?.value, destination != nil || offset != 0 || count >= 0 || fromScript {
            // Redis sorts a set's members even with BY nosort when STORE, LIMIT or a script
            // needs a stable order.
            elements.sort { $0.lexicographicallyPrecedes($1) }
        } else if descending, case .zset = keyspace.peek(key, now: now)?.value {
            // A sorted set BY nosort keeps its rank order, which DESC reverses (as Redis).
            elements.reverse()
        }
        let window = Self.sortWindow(length: elements.count, offset: offset, count: count)
        let selected = Array(elements[window])
        var results: [Bytes?] = []
        if getPatterns.isEmpty {
            results = selected
        } else {
            for element in selected {
                for pattern in getPatterns { results.append(try lookupPattern(pattern, element, now: now)) }
            }
        }
        guard let destination else { return .array(results.map(RESPValue.bulkOrNull)) }
        _ = keyspace.delete(destination, now: now)
        if !results.isEmpty {
            _ = try keyspace.listPush(destination, results.map { $0 ?? [] }, at: .tail, now: now)
        }
        return .integer(results.count)
    }

    /// Redis's LIMIT clamping: a negative count means "to the end".
    static func sortWindow(length: Int, offset: Int64, count: Int64) -> Range<Int> {
        guard length > 0 else { return 0..<0 }
        let start = offset < 0 ? 0 : Int(min(offset, Int64(length)))
        guard start < length else { return 0..<0 }
        let end = count < 0 ? length : Int(min(Int64(length), Int64(start) + min(count, Int64(length))))
        return start..<max(start, end)
    }

    private func sorted(_ elements: [Bytes], by pattern: Bytes?, alpha: Bool, descending: Bool, now: Int64) throws -> [Bytes] {
        var keyed: [(element: Bytes, weight: Bytes?)] = []
        keyed.reserveCapacity(elements.count)
        for element in elements {
            keyed.append((element, try pattern.map { try lookupPattern($0, element, now: now) } ?? element))
        }
        var scores: [Double] = []
        if !alpha {
            for item in keyed {
                guard let weight = item.weight, !weight.isEmpty else {
                    scores.append(0)
                    continue
                }
                guard let score = Numbers.parseDouble(weight), !score.isNaN else {
                    throw CommandError.message("ERR One or more scores can't be converted into double")
                }
                scores.append(score)
            }
        }
        let order = keyed.indices.sorted { left, right in
            var comparison: Int
            if alpha {
                let a = keyed[left].weight ?? [], b = keyed[right].weight ?? []
                comparison = a == b ? 0 : (a.lexicographicallyPrecedes(b) ? -1 : 1)
                if keyed[left].weight == nil || keyed[right].weight == nil {
                    comparison = keyed[left].weight == nil ? (keyed[right].weight == nil ? 0 : -1) : 1
                }
            } else {
                comparison = scores[left] < scores[right] ? -1 : (scores[left] > scores[right] ? 1 : 0)
            }
            if comparison == 0, !alpha {
                // Redis breaks numeric ties by the elements' bytes; alphabetic ties keep
                // the stored order here (Redis leaves them to its quicksort).
                let a = keyed[left].element, b = keyed[right].element
                comparison = a == b ? 0 : (a.lexicographicallyPrecedes(b) ? -1 : 1)
            }
            return descending ? comparison > 0 : comparison < 0
        }
        return order.map { keyed[$0].element }
    }

    /// A BY / GET pattern for `element`: `#` is the element; otherwise the first `*` is
    /// replaced by it and the key's string value read, or with `->field` a hash field.
    private func lookupPattern(_ pattern: Bytes, _ element: Bytes, now: Int64) throws -> Bytes? {
        if pattern == Array("#".utf8) { return element }
        guard let star = pattern.firstIndex(of: UInt8(ascii: "*")) else { return nil }
        var key = Array(pattern[..<star]) + element + Array(pattern[(star + 1)...])
        var field: Bytes? = nil
        let arrow: [UInt8] = [UInt8(ascii: "-"), UInt8(ascii: ">")]
        if let position = Self.lastRange(of: arrow, in: key), position > star, position + 2 < key.count {
            field = Array(key[(position + 2)...])
            key = Array(key[..<position])
        }
        guard let entry = keyspace.peek(key, now: now) else { return nil }
        switch (entry.value, field) {
        case (.string(let bytes), nil): return bytes
        case (.hash, let field?): return try keyspace.hashGet(key, field, now: now)
        default: return nil
        }
    }

    private static func lastRange(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in stride(from: haystack.count - needle.count, through: 0, by: -1) where Array(haystack[start..<(start + needle.count)]) == needle {
            return start
        }
        return nil
    }
}
