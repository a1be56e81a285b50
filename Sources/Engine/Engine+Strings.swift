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
            let value: Bytes?
            do {
                value = try keyspace.getString(arguments[1], now: now)
            } catch {
                countLookup(arguments[1], hit: true)  // a key of another type is a hit, as in Redis
                throw error
            }
            countLookup(arguments[1], hit: value != nil)
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

    /// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
    private func set(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let options = try StringOptions.parse(arguments, from: 3, for: .set)
        // As Redis: every option is parsed before the expiry's number is read, and the
        // expiry is checked before the key is looked at.
        var expiry = options.keepTTL ? ExpiryChange.keep : .clear
        if let time = try options.expiryTime(now: now, command: "set") { expiry = .at(time) }
        let result = try keyspace.set(arguments[1], arguments[2], condition: options.condition, expiry: expiry,
                                      returnOld: options.returnOld, now: now)
        if options.returnOld { return .bulkOrNull(result.old) }
        return result.written ? .ok : .null
    }

    /// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]. As Redis, an absent key
    /// answers nil and another type WRONGTYPE before the expiry's number is read.
    private func getex(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let options = try StringOptions.parse(arguments, from: 2, for: .getex)
        guard try keyspace.getString(arguments[1], now: now) != nil else { return .null }
        var change = options.persist ? ExpiryChange.clear : .keep
        if let time = try options.expiryTime(now: now, command: "getex") { change = .at(time) }
        return .bulkOrNull(try keyspace.getAndChangeExpiry(arguments[1], change, now: now))
    }
}

/// The options SET and GETEX share, read as Redis's parseExtendedStringArgumentsOrReply
/// reads them: a flag may repeat, and so may one expiry form (the last amount wins), but
/// NX excludes XX, the expiry forms exclude each other, KEEPTTL and PERSIST. The amount
/// stays unparsed until `expiryTime`, so a syntax error anywhere wins over a bad number.
struct StringOptions {
    enum Command { case set, getex }

    enum ExpiryForm {
        case seconds, milliseconds, unixSeconds, unixMilliseconds

        /// (milliseconds per unit, relative to now?)
        var scale: (unitMilliseconds: Int64, relative: Bool) {
            switch self {
            case .seconds: return (1000, true)
            case .milliseconds: return (1, true)
            case .unixSeconds: return (1000, false)
            case .unixMilliseconds: return (1, false)
            }
        }

        init?(_ option: Bytes) {
            if Arguments.isKeyword(option, "ex") { self = .seconds }
            else if Arguments.isKeyword(option, "px") { self = .milliseconds }
            else if Arguments.isKeyword(option, "exat") { self = .unixSeconds }
            else if Arguments.isKeyword(option, "pxat") { self = .unixMilliseconds }
            else { return nil }
        }
    }

    var ifAbsent = false, ifPresent = false, returnOld = false, keepTTL = false, persist = false
    var expiryForm: ExpiryForm? = nil
    var expiryAmount: Bytes? = nil

    var condition: SetCondition { ifAbsent ? .ifAbsent : ifPresent ? .ifPresent : .always }

    static func parse(_ arguments: [Bytes], from start: Int, for command: Command) throws(CommandError) -> StringOptions {
        var options = StringOptions()
        var index = start
        while index < arguments.count {
            let option = arguments[index]
            let next = index + 1 < arguments.count ? arguments[index + 1] : nil
            if command == .set, Arguments.isKeyword(option, "nx"), !options.ifPresent {
                options.ifAbsent = true
            } else if command == .set, Arguments.isKeyword(option, "xx"), !options.ifAbsent {
                options.ifPresent = true
            } else if command == .set, Arguments.isKeyword(option, "get") {
                options.returnOld = true
            } else if command == .set, Arguments.isKeyword(option, "keepttl"), options.expiryForm == nil {
                options.keepTTL = true
            } else if command == .getex, Arguments.isKeyword(option, "persist"), options.expiryForm == nil {
                options.persist = true
            } else if let form = ExpiryForm(option), let next, !options.keepTTL, !options.persist,
                      options.expiryForm == nil || options.expiryForm == form {
                options.expiryForm = form
                options.expiryAmount = next
                index += 1
            } else {
                throw .syntax
            }
            index += 1
        }
        return options
    }

    /// The absolute expiry in milliseconds the options ask for, nil for none.
    func expiryTime(now: Int64, command: String) throws(CommandError) -> Int64? {
        guard let expiryForm, let expiryAmount else { return nil }
        let (unit, relative) = expiryForm.scale
        return try Arguments.expiry(expiryAmount, unitMilliseconds: unit, relative: relative, now: now, command: command)
    }
}
