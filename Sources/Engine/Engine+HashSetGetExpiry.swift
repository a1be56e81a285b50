// HSETEX and HGETEX (Redis 8.0): set or read hash fields and set their time to live in
// one command, with Redis's argument grammar, checks in its order and its error texts.
import Keyspace
import Wire

extension Engine {
    /// The latest field expiry HSETEX and HGETEX accept, in Unix milliseconds (Redis's
    /// HFE_MAX_ABS_TIME_MSEC, 2^46 - 1: two bits of the 48 are reserved).
    static let fieldSetExpiryMax: Int64 = (1 << 46) - 1

    /// HSETEX key [FNX|FXX] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] FIELDS numfields field value...
    /// Replies 1 when the fields were set, 0 when FNX or FXX did not hold.
    func hashSetWithExpiry(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let command = HashSetWithExpiryArguments.self
        let parsed = try command.parse(arguments, now: now)
        let result = try keyspace.hashSetWithExpiry(arguments[1], parsed.pairs, condition: parsed.condition,
                                                    expiry: parsed.expiry, now: now)
        hashExpireDeletedFields = result == .setAndDeleted
        return .integer(result == .notSet ? 0 : 1)
    }

    /// HGETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] FIELDS numfields field...: the values
    /// (nil for a field that is not there), then the time to live of those present
    /// changed. As Redis, the key's type is checked before the arguments.
    func hashGetWithExpiry(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        _ = try keyspace.hash(arguments[1], now: now)  // WRONGTYPE first
        var change = FieldExpiryChange.keep
        var fieldsAt = 2
        let word = Arguments.lowercased(arguments[2])
        if word == "persist" {
            change = .persist
            fieldsAt = 3
        } else if let option = FieldTimeOption(word) {
            change = .at(try Self.fieldExpiryTime(option, arguments[3], command: "hgetex", now: now))  // arity -5: it is there
            fieldsAt = 4
        }
        let fields = try Self.fieldsArgument(arguments, from: fieldsAt)
        let result = try keyspace.hashGetWithExpiry(arguments[1], fields, change: change, now: now)
        hashExpireDeletedFields = result.deleted
        return .array(result.values.map(RESPValue.bulkOrNull))
    }

    /// The time `value` names under `option`, in Unix milliseconds, checked as Redis's
    /// parseExpireTime for hash fields (no arithmetic can overflow: each bound is checked
    /// before the multiplication or addition it guards).
    static func fieldExpiryTime(_ option: FieldTimeOption, _ value: Bytes, command: String, now: Int64) throws -> Int64 {
        var amount = try Arguments.integer(value)
        guard amount >= 0 else { throw CommandError.message("ERR invalid expire time, must be >= 0") }
        let invalid = CommandError.message("ERR invalid expire time in '\(command)' command")
        if option.inSeconds {
            guard amount <= fieldSetExpiryMax / 1000 else { throw invalid }
            amount *= 1000
        }
        let base = option.isRelative ? now : 0
        guard amount <= fieldSetExpiryMax - base else { throw invalid }
        return amount + base
    }

    /// An HSETEX or HGETEX with an expiry option as a replica replays it, read back from
    /// the state it left: HSETEX ... PXAT time, HPEXPIREAT, HPERSIST, or HDEL of the named
    /// fields when a time already past deleted them.
    func hashFieldExpiryForm(_ id: CommandID, _ command: [Bytes], now: Int64) -> [Bytes] {
        func word(_ text: String) -> Bytes { Array(text.utf8) }
        guard let fieldsAt = command.indices.dropFirst(2).first(where: { Arguments.isKeyword(command[$0], "fields") }) else {
            return command
        }
        let key = command[1]
        let tail = Array(command[fieldsAt...])
        let names = id == .hsetex ? stride(from: fieldsAt + 2, to: command.count, by: 2).map { command[$0] }
                                  : Array(command[(fieldsAt + 2)...])
        guard let entry = keyspace.peek(key, now: now), case .hash(let fields) = entry.value,
              let kept = names.first(where: { fields[$0] != nil }) else {
            return [word("HDEL"), key] + names
        }
        if id == .hgetex, Self.hashExpiryOption(command) == "persist" { return [word("HPERSIST"), key] + tail }
        guard let time = fields.expireAt(kept) else { return command }
        let stamp = word(String(time))
        return id == .hsetex ? [word("HSETEX"), key, word("PXAT"), stamp] + tail : [word("HPEXPIREAT"), key, stamp] + tail
    }

    /// The expiry option of an HSETEX or HGETEX command (lowercased), if it has one.
    static func hashExpiryOption(_ arguments: [Bytes]) -> String? {
        for argument in arguments.dropFirst(2) {
            let word = Arguments.lowercased(argument)
            if word == "fields" { return nil }
            if ["ex", "px", "exat", "pxat", "persist"].contains(word) { return word }
        }
        return nil
    }
}

/// HSETEX's arguments, parsed left to right as Redis does (so the first bad argument
/// names the error).
struct HashSetWithExpiryArguments {
    var condition = FieldSetCondition.always
    var expiry = FieldExpiryChange.discard
    var pairs: [(Bytes, Bytes)] = []

    static func parse(_ arguments: [Bytes], now: Int64) throws -> HashSetWithExpiryArguments {
        var parsed = HashSetWithExpiryArguments()
        var hasExpiryOption = false
        var index = 2
        while index < arguments.count {
            let word = Arguments.lowercased(arguments[index])
            switch word {
            case "fields":
                parsed.pairs = try pairs(arguments, fieldsAt: index)
                return parsed
            case "ex", "px", "exat", "pxat", "keepttl":
                guard !hasExpiryOption else {
                    throw CommandError.message("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified")
                }
                hasExpiryOption = true
                if let option = FieldTimeOption(word) {
                    guard index + 1 < arguments.count else { throw CommandError.message("ERR missing expire time") }
                    index += 1
                    parsed.expiry = .at(try Engine.fieldExpiryTime(option, arguments[index], command: "hsetex", now: now))
                } else {
                    parsed.expiry = .keep
                }
            case "fnx", "fxx":
                guard parsed.condition == .always else {
                    throw CommandError.message("ERR Only one of FXX or FNX arguments can be specified")
                }
                parsed.condition = word == "fnx" ? .noneExist : .allExist
            default:
                throw CommandError.message("ERR unknown argument: \(Arguments.string(arguments[index]))")
            }
            index += 1
        }
        // Unreachable with HSETEX's arity (-6): the options alone take at most 3 arguments.
        throw CommandError.syntax
    }

    /// `FIELDS numfields field value...` at `index`: Redis counts a numfields that does not
    /// match the pairs as a wrong number of arguments.
    private static func pairs(_ arguments: [Bytes], fieldsAt index: Int) throws -> [(Bytes, Bytes)] {
        guard index < arguments.count - 3 else { throw CommandError.wrongArity(command: "hsetex") }
        guard let count = Numbers.parseInteger(arguments[index + 1]), count >= 1, count <= Int64(Int32.max) else {
            throw CommandError.message("ERR invalid number of fields")
        }
        let remaining = arguments.count - index - 2
        guard remaining % 2 == 0, count == remaining / 2 else { throw CommandError.wrongArity(command: "hsetex") }
        return stride(from: index + 2, to: arguments.count, by: 2).map { (arguments[$0], arguments[$0 + 1]) }
    }
}

/// How a hash field's time is given: EX, PX, EXAT or PXAT (and HEXPIRE, HPEXPIRE,
/// HEXPIREAT, HPEXPIREAT alike).
enum FieldTimeOption {
    case seconds, milliseconds, unixSeconds, unixMilliseconds

    /// The option named by `word` (lowercased); nil for any other word.
    init?(_ word: String) {
        switch word {
        case "ex": self = .seconds
        case "px": self = .milliseconds
        case "exat": self = .unixSeconds
        case "pxat": self = .unixMilliseconds
        default: return nil
        }
    }

    /// The option of an HEXPIRE-family command.
    init(_ id: CommandID) {
        switch id {
        case .hexpire: self = .seconds
        case .hexpireat: self = .unixSeconds
        case .hpexpireat: self = .unixMilliseconds
        default: self = .milliseconds
        }
    }

    var inSeconds: Bool { self == .seconds || self == .unixSeconds }
    /// Counted from the command's time rather than from the Unix epoch.
    var isRelative: Bool { self == .seconds || self == .milliseconds }
}
