// String commands: argument parsing over the Keyspace's typed string functions.
import Keyspace
import Wire

extension Engine {
    func runStringCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try runStringCommandThrowing(id, arguments, now: now) }
    }

    private func runStringCommandThrowing(_ id: CommandID, _ arguments: [Bytes], now: Int64) throws -> RESPValue {
        switch id {
        case .get:
            let value = try keyspace.getString(arguments[1], now: now)
            countHit(value != nil)
            return .bulkOrNull(value)
        case .set: return try set(arguments, now: now)
        case .setnx:
            return .integer(try keyspace.set(arguments[1], arguments[2], condition: .ifAbsent, now: now).written ? 1 : 0)
        case .setex, .psetex:
            let unit: Int64 = id == .setex ? 1000 : 1
            let expireAt = try Arguments.expiry(arguments[2], unitMilliseconds: unit, relative: true, now: now, command: id.rawValue)
            _ = try keyspace.set(arguments[1], arguments[3], expiry: .at(expireAt), now: now)
            return .ok
        case .getset:
            return .bulkOrNull(try keyspace.set(arguments[1], arguments[2], returnOld: true, now: now).old)
        case .getdel: return .bulkOrNull(try keyspace.getDelete(arguments[1], now: now))
        case .getex: return try getex(arguments, now: now)
        case .mget:
            return .array(arguments.dropFirst().map { key in
                guard let entry = keyspace.lookup(key, now: now), case .string(let bytes) = entry.value else { return .null }
                return .bulk(bytes)
            })
        case .mset, .msetnx:
            guard arguments.count % 2 == 1 else { throw CommandError.wrongArity(command: id.rawValue) }
            let pairs = stride(from: 1, to: arguments.count, by: 2).map { (arguments[$0], arguments[$0 + 1]) }
            if id == .msetnx, pairs.contains(where: { keyspace.exists($0.0, now: now) }) { return .integer(0) }
            for (key, value) in pairs { _ = try keyspace.set(key, value, now: now) }
            return id == .mset ? .ok : .integer(1)
        case .append: return .integer(try keyspace.append(arguments[1], arguments[2], now: now))
        case .strlen: return .integer(try keyspace.stringLength(arguments[1], now: now))
        case .getrange, .substr:
            let start = try Arguments.integer(arguments[2]), end = try Arguments.integer(arguments[3])
            return .bulk(try keyspace.getRange(arguments[1], start: start, end: end, now: now))
        case .setrange:
            let offset = try Arguments.integer(arguments[2])
            guard offset >= 0 else { throw CommandError.message("ERR offset is out of range") }
            return .integer(try keyspace.setRange(arguments[1], offset: offset, arguments[3], now: now))
        case .incr: return .integer(try keyspace.increment(arguments[1], by: 1, now: now))
        case .decr: return .integer(try keyspace.increment(arguments[1], by: -1, now: now))
        case .incrby: return .integer(try keyspace.increment(arguments[1], by: try Arguments.integer(arguments[2]), now: now))
        case .decrby:
            let amount = try Arguments.integer(arguments[2])
            guard amount != Int64.min else { throw CommandError.message("ERR decrement would overflow") }
            return .integer(try keyspace.increment(arguments[1], by: -amount, now: now))
        case .incrbyfloat:
            // Redis checks the key's type before parsing the increment.
            _ = try keyspace.getString(arguments[1], now: now)
            let delta = try Arguments.longDouble(arguments[2])
            return .bulk(try keyspace.incrementFloat(arguments[1], by: delta, now: now))
        default:
            throw CommandError.syntax
        }
    }

    func countHit(_ hit: Bool) {
        if hit { stats.keyspaceHits += 1 } else { stats.keyspaceMisses += 1 }
    }

    /// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
    private func set(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        var condition = SetCondition.always
        var expiry = ExpiryChange.clear
        var expirySeen = false, returnOld = false
        var index = 3
        while index < arguments.count {
            let option = arguments[index]
            let hasNext = index + 1 < arguments.count
            if Arguments.isKeyword(option, "nx"), condition == .always {
                condition = .ifAbsent
            } else if Arguments.isKeyword(option, "xx"), condition == .always {
                condition = .ifPresent
            } else if Arguments.isKeyword(option, "get"), !returnOld {
                returnOld = true
            } else if Arguments.isKeyword(option, "keepttl"), !expirySeen {
                expirySeen = true
                expiry = .keep
            } else if !expirySeen, hasNext, let (unit, relative) = Self.expiryOption(option) {
                expirySeen = true
                expiry = .at(try Arguments.expiry(arguments[index + 1], unitMilliseconds: unit, relative: relative, now: now, command: "set"))
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        let result = try keyspace.set(arguments[1], arguments[2], condition: condition, expiry: expiry, returnOld: returnOld, now: now)
        if returnOld { return .bulkOrNull(result.old) }
        return result.written ? .ok : .null
    }

    /// EX / PX / EXAT / PXAT → (milliseconds per unit, relative?).
    static func expiryOption(_ option: Bytes) -> (Int64, Bool)? {
        if Arguments.isKeyword(option, "ex") { return (1000, true) }
        if Arguments.isKeyword(option, "px") { return (1, true) }
        if Arguments.isKeyword(option, "exat") { return (1000, false) }
        if Arguments.isKeyword(option, "pxat") { return (1, false) }
        return nil
    }

    /// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]
    private func getex(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        var change = ExpiryChange.keep
        if arguments.count == 3, Arguments.isKeyword(arguments[2], "persist") {
            change = .clear
        } else if arguments.count == 4, let (unit, relative) = Self.expiryOption(arguments[2]) {
            change = .at(try Arguments.expiry(arguments[3], unitMilliseconds: unit, relative: relative, now: now, command: "getex"))
        } else if arguments.count != 2 {
            throw CommandError.syntax
        }
        return .bulkOrNull(try keyspace.getAndChangeExpiry(arguments[1], change, now: now))
    }
}
