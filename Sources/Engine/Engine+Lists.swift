// List commands: argument parsing and reply shaping over the Keyspace's list functions.
// Arguments are checked in Redis's order (some commands parse their numbers before
// looking at the key, others after), so every error reply matches redis-server's.
import Keyspace
import Wire

extension Engine {
    func runListCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try runListCommandThrowing(id, arguments, now: now) }
    }

    private func runListCommandThrowing(_ id: CommandID, _ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let key = arguments[1]
        switch id {
        case .lpush, .rpush, .lpushx, .rpushx:
            let end: ListEnd = id == .lpush || id == .lpushx ? .head : .tail
            let onlyIfExists = id == .lpushx || id == .rpushx
            return .integer(try keyspace.listPush(key, Array(arguments.dropFirst(2)), at: end, onlyIfExists: onlyIfExists, now: now))
        case .lpop, .rpop: return try pop(arguments, from: id == .lpop ? .head : .tail, now: now)
        case .llen: return .integer(try keyspace.listLength(key, now: now))
        case .lrange:
            let start = try Arguments.integer(arguments[2]), end = try Arguments.integer(arguments[3])
            return .array(try keyspace.listRange(key, start: start, end: end, now: now).map(RESPValue.bulk))
        case .lindex:
            // As Redis: an absent key answers nil and another type WRONGTYPE before the index is read.
            guard try keyspace.isList(key, now: now) else { return .null }
            return .bulkOrNull(try keyspace.listIndex(key, try Arguments.integer(arguments[2]), now: now))
        case .lset:
            guard try keyspace.isList(key, now: now) else { throw CommandError.keyspace(.noSuchKey) }
            try keyspace.listSet(key, index: try Arguments.integer(arguments[2]), arguments[3], now: now)
            return .ok
        case .linsert:
            let before: Bool
            if Arguments.isKeyword(arguments[2], "before") { before = true }
            else if Arguments.isKeyword(arguments[2], "after") { before = false }
            else { throw CommandError.syntax }
            return .integer(try keyspace.listInsert(key, before: before, pivot: arguments[3], arguments[4], now: now))
        case .lrem:
            let count = try Arguments.integer(arguments[2])
            return .integer(try keyspace.listRemove(key, count: count, arguments[3], now: now))
        case .ltrim:
            var start = try Arguments.integer(arguments[2]), end = try Arguments.integer(arguments[3])
            if settings.plantedTrimFromHead, start < 0, end < 0, start <= end {
                (start, end) = (0, end - start)  // planted: a tail range resolved from the head
            }
            try keyspace.listTrim(key, start: start, end: end, now: now)
            return .ok
        case .lpos: return try position(arguments, now: now)
        case .lmove:
            let from = try Self.listEnd(arguments[3]), to = try Self.listEnd(arguments[4])
            return .bulkOrNull(try keyspace.listMove(key, arguments[2], from: from, to: to, now: now))
        case .rpoplpush:
            return .bulkOrNull(try keyspace.listMove(key, arguments[2], from: .tail, to: .head, now: now))
        case .lmpop: return try multiPop(arguments, now: now)
        default: throw CommandError.syntax
        }
    }

    /// LEFT or RIGHT, any case; anything else is a syntax error.
    static func listEnd(_ argument: Bytes) throws(CommandError) -> ListEnd {
        if Arguments.isKeyword(argument, "left") { return .head }
        if Arguments.isKeyword(argument, "right") { return .tail }
        throw .syntax
    }

    /// LPOP / RPOP key [count]. The count is read first ("must be positive" for anything
    /// but a non-negative integer); without one the reply is a bulk string or nil, with one
    /// an array, or a null array for an absent key (even for count 0).
    private func pop(_ arguments: [Bytes], from end: ListEnd, now: Int64) throws -> RESPValue {
        guard arguments.count <= 3 else { throw CommandError.wrongArity(command: Arguments.lowercased(arguments[0])) }
        guard arguments.count == 3 else {
            return .bulkOrNull(try keyspace.listPop(arguments[1], from: end, count: 1, now: now)?.first)
        }
        let count = try Self.positiveCount(arguments[2], message: "ERR value is out of range, must be positive")
        guard let popped = try keyspace.listPop(arguments[1], from: end, count: count, now: now) else { return .nullArray }
        return .array(popped.map(RESPValue.bulk))
    }

    /// A non-negative integer (Redis's getPositiveLongFromObjectOrReply with a message):
    /// anything else, a non-number included, answers `message`. Clamped to Int, which on
    /// 64-bit platforms is the same range.
    static func positiveCount(_ argument: Bytes, message: String) throws(CommandError) -> Int {
        guard let value = Numbers.parseInteger(argument), value >= 0, let count = Int(exactly: value) else {
            throw .message(message)
        }
        return count
    }

    /// LPOS key element [RANK rank] [COUNT count] [MAXLEN len]. Options are validated
    /// before the key is looked at; without COUNT the reply is an index or nil, with COUNT
    /// an array (empty for an absent key).
    private func position(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        var rank: Int64 = 1, count: Int64? = nil, maxLength: Int64 = 0
        var index = 3
        while index < arguments.count {
            let option = arguments[index]
            guard index + 1 < arguments.count else { throw CommandError.syntax }
            let value = arguments[index + 1]
            if Arguments.isKeyword(option, "rank") {
                rank = try Arguments.integer(value)
                guard rank != Int64.min else {
                    throw CommandError.valueOutOfRangeBetween(minimum: -Int64.max, maximum: Int64.max)
                }
                guard rank != 0 else {
                    throw CommandError.message("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
                }
            } else if Arguments.isKeyword(option, "count") {
                count = Int64(try Self.positiveCount(value, message: "ERR COUNT can't be negative"))
            } else if Arguments.isKeyword(option, "maxlen") {
                maxLength = Int64(try Self.positiveCount(value, message: "ERR MAXLEN can't be negative"))
            } else {
                throw CommandError.syntax
            }
            index += 2
        }
        let found = try keyspace.listPositions(arguments[1], arguments[2], rank: rank, count: count ?? 1,
                                               maxLength: maxLength, now: now)
        if count != nil { return .array((found ?? []).map { .integer($0) }) }
        return found?.first.map { .integer($0) } ?? .null
    }

    /// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the first non-empty
    /// list; the reply is [key, [elements]], or a null array when every list is empty.
    /// Every key before the first non-empty list is type-checked, as Redis does.
    private func multiPop(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let keyCount = try Self.keyCount(arguments[1])
        // The direction follows the keys; a count that leaves no room for it is a syntax error.
        guard keyCount < arguments.count - 2 else { throw CommandError.syntax }
        let keys = Array(arguments[2..<(2 + keyCount)])
        let end = try Self.listEnd(arguments[2 + keyCount])
        var count: Int? = nil
        var index = 3 + keyCount
        while index < arguments.count {
            guard count == nil, Arguments.isKeyword(arguments[index], "count"), index + 1 < arguments.count else {
                throw CommandError.syntax
            }
            let value = Numbers.parseInteger(arguments[index + 1])
            guard let value, value >= 1, let exact = Int(exactly: value) else {
                throw CommandError.message("ERR count should be greater than 0")
            }
            count = exact
            index += 2
        }
        for key in keys {
            guard let popped = try keyspace.listPop(key, from: end, count: count ?? 1, now: now) else { continue }
            return .array([.bulk(key), .array(popped.map(RESPValue.bulk))])
        }
        return .nullArray
    }

    /// A key count (LMPOP, SINTERCARD): a positive integer, else Redis's "numkeys" error.
    static func keyCount(_ argument: Bytes) throws(CommandError) -> Int {
        guard let value = Numbers.parseInteger(argument), value >= 1, let count = Int(exactly: value) else {
            throw .message("ERR numkeys should be greater than 0")
        }
        return count
    }
}
