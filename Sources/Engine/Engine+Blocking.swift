// BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP, BZPOPMIN, BZPOPMAX and BZMPOP as the engine runs
// them: once, without waiting. A shard applies them like their non-blocking forms and
// answers the "nothing to pop" reply when every key is empty (what Redis answers inside
// MULTI); the node that served the request then waits for a committed write to one of the
// keys and runs the command again (Node+Blocking.swift). Each run is a committed write,
// so every replica pops the same element.
import Core
import Keyspace
import Wire

extension Engine {
    func runBlockingCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        _ = try Self.blockingTimeout(arguments, id: id)
        return try mappingErrors { try runBlockingOnce(id, arguments, session, now: now) }
    }

    /// The timeout a blocking command names, in milliseconds (0: wait forever), checked as
    /// Redis checks it: a number of seconds, not negative, representable in milliseconds.
    public static func blockingTimeout(_ arguments: [Bytes], id: CommandID) throws(CommandError) -> Int64 {
        if id == .xread { return try parseRead(arguments).block ?? 0 }
        if id == .xreadgroup { return try parseReadGroup(arguments).block ?? 0 }
        let index = (id == .blmpop || id == .bzmpop) ? 1 : arguments.count - 1
        guard let seconds = Numbers.parseDouble(arguments[index]), !seconds.isNaN else {
            throw .message("ERR timeout is not a float or out of range")
        }
        let milliseconds = (seconds * 1000).rounded(.up)
        // As Redis 7.2+: too large for milliseconds since the epoch is out of range (7.0
        // said "negative" for it too).
        guard milliseconds.isFinite, milliseconds < 9.2e18 else { throw .message("ERR timeout is out of range") }
        guard seconds >= 0 else { throw .message("ERR timeout is negative") }
        return Int64(milliseconds)
    }

    /// Whether this request waits when there is nothing to pop (XREAD only with BLOCK).
    public static func blocks(_ arguments: [Bytes], id: CommandID) -> Bool {
        if id == .xreadgroup { return (try? parseReadGroup(arguments))?.block != nil }
        guard id == .xread else { return true }
        return (try? parseRead(arguments))?.block != nil
    }

    /// XREAD's `$` IDs replaced by each stream's last ID now in `database` (the client's),
    /// so a retry after new entries reads what came after the moment it blocked.
    public func resolvingLastIDs(_ arguments: [Bytes], database: Int, now: Int64) -> [Bytes] {
        guard let request = try? Self.parseRead(arguments) else { return arguments }
        var resolved = arguments
        inDatabase(database) {
            for (offset, id) in request.ids.enumerated() where id == Array("$".utf8) {
                let key = request.keys[offset]
                let last = (try? keyspace.streamValue(key, now: now))??.lastID ?? .zero
                resolved[request.keysStart + request.keys.count + offset] = Array(last.description.utf8)
            }
        }
        return resolved
    }

    /// The reply that means "nothing to pop" for `id` (what EXEC shows for it).
    public static func nothingToPop(_ id: CommandID) -> RESPValue {
        id == .brpoplpush || id == .blmove ? .null : .nullArray
    }

    private func runBlockingOnce(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        switch id {
        case .blpop, .brpop:
            let end: ListEnd = id == .blpop ? .head : .tail
            for key in arguments[1..<(arguments.count - 1)] {
                guard let popped = try keyspace.listPop(key, from: end, count: 1, now: now)?.first else { continue }
                return .array([.bulk(key), .bulk(popped)])
            }
            return .nullArray
        case .brpoplpush:
            return .bulkOrNull(try keyspace.listMove(arguments[1], arguments[2], from: .tail, to: .head, now: now))
        case .blmove:
            let from = try Self.listEnd(arguments[3]), to = try Self.listEnd(arguments[4])
            return .bulkOrNull(try keyspace.listMove(arguments[1], arguments[2], from: from, to: to, now: now))
        case .blmpop:
            return try runListCommand(.lmpop, Self.withoutTimeout(arguments, "LMPOP"), session, now: now)
        case .bzmpop:
            return try runSortedSetCommand(.zmpop, Self.withoutTimeout(arguments, "ZMPOP"), session, now: now)
        default:
            let highest = id == .bzpopmax
            for key in arguments[1..<(arguments.count - 1)] {
                guard try keyspace.isSortedSet(key, now: now),
                      let popped = try keyspace.sortedSetPop(key, count: 1, highest: highest, now: now)?.first else { continue }
                return .array([.bulk(key), .bulk(popped.member), .double(popped.score)])
            }
            return .nullArray
        }
    }

    /// BLMPOP / BZMPOP arguments as LMPOP / ZMPOP's: the timeout (argument 1) removed.
    private static func withoutTimeout(_ arguments: [Bytes], _ name: String) -> [Bytes] {
        [Array(name.utf8)] + Array(arguments[2...])
    }
}
