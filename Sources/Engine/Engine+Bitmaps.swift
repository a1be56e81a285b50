// SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO, with Redis 7.0's argument order
// (BITCOUNT and BITPOS look the key up before parsing their range) and error texts.
import Core
import Keyspace
import Wire

extension Engine {
    func runBitmapCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try runBitmapCommandThrowing(id, arguments, now: now) }
    }

    static let bitOffsetError = CommandError.message("ERR bit offset is not an integer or out of range")

    private static func bitOffset(_ argument: Bytes) throws(CommandError) -> Int64 {
        guard let offset = Numbers.parseInteger(argument), offset >= 0, offset <= Keyspace.bitOffsetMax else { throw bitOffsetError }
        return offset
    }

    /// BITFIELD's GET/SET/INCRBY/OVERFLOW words, all checked before anything runs.
    static func bitfieldOperations(_ arguments: [Bytes], readOnly: Bool) throws(CommandError) -> [BitfieldOperation] {
        var operations: [BitfieldOperation] = []
        var overflow = BitfieldOverflow.wrap
        var index = 2
        while index < arguments.count {
            let word = Arguments.lowercased(arguments[index])
            if readOnly, word != "get" { throw .message("ERR BITFIELD_RO only supports the GET subcommand") }
            switch word {
            case "get" where index + 2 < arguments.count:
                let type = try bitfieldType(arguments[index + 1])
                operations.append(.get(type, offset: try bitfieldOffset(arguments[index + 2], type)))
                index += 3
            case "set" where index + 3 < arguments.count, "incrby" where index + 3 < arguments.count:
                let type = try bitfieldType(arguments[index + 1])
                let offset = try bitfieldOffset(arguments[index + 2], type)
                guard let value = Numbers.parseInteger(arguments[index + 3]) else { throw .notInteger }
                operations.append(word == "set" ? .set(type, offset: offset, value: value, overflow: overflow)
                                                : .incrby(type, offset: offset, increment: value, overflow: overflow))
                index += 4
            case "overflow" where index + 1 < arguments.count:
                switch Arguments.lowercased(arguments[index + 1]) {
                case "wrap": overflow = .wrap
                case "sat": overflow = .sat
                case "fail": overflow = .fail
                default: throw .message("ERR Invalid OVERFLOW type specified")
                }
                index += 2
            default:
                throw .syntax
            }
        }
        return operations
    }

    private static func bitfieldType(_ argument: Bytes) throws(CommandError) -> BitfieldType {
        let invalid = CommandError.message("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
        guard let sign = argument.first, sign == UInt8(ascii: "i") || sign == UInt8(ascii: "u"),
              argument.count >= 2, argument.count <= 3, argument.dropFirst().allSatisfy({ (48...57).contains($0) }),
              let bits = Int(String(decoding: argument.dropFirst(), as: UTF8.self)),
              let type = BitfieldType(signed: sign == UInt8(ascii: "i"), bits: bits) else { throw invalid }
        return type
    }

    /// A bit offset, or `#N` for the N-th field of the type's width.
    private static func bitfieldOffset(_ argument: Bytes, _ type: BitfieldType) throws(CommandError) -> Int64 {
        var offset: Int64
        if argument.first == UInt8(ascii: "#") {
            guard let fields = Numbers.parseInteger(Array(argument.dropFirst())), fields >= 0 else { throw bitOffsetError }
            let (product, overflowed) = fields.multipliedReportingOverflow(by: Int64(type.bits))
            guard !overflowed else { throw bitOffsetError }
            offset = product
        } else {
            guard let parsed = Numbers.parseInteger(argument), parsed >= 0 else { throw bitOffsetError }
            offset = parsed
        }
        guard offset <= Keyspace.bitOffsetMax - Int64(type.bits) + 1 else { throw bitOffsetError }
        return offset
    }

    private static func rangeUnit(_ argument: Bytes) throws(CommandError) -> BitRangeUnit {
        if Arguments.isKeyword(argument, "byte") { return .byte }
        if Arguments.isKeyword(argument, "bit") { return .bit }
        throw .syntax
    }

    private func runBitmapCommandThrowing(_ id: CommandID, _ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let key = arguments[1]
        switch id {
        case .setbit:
            let offset = try Self.bitOffset(arguments[2])
            guard arguments[3] == Array("0".utf8) || arguments[3] == Array("1".utf8) else {
                throw CommandError.message("ERR bit is not an integer or out of range")
            }
            return .integer(try keyspace.setBit(key, offset: offset, to: arguments[3] == Array("1".utf8), now: now) ? 1 : 0)
        case .getbit:
            return .integer(try keyspace.getBit(key, offset: try Self.bitOffset(arguments[2]), now: now) ? 1 : 0)
        case .bitcount:
            // The arguments are checked before the key is looked up, as Redis 7.
            var range: (Int64, Int64, BitRangeUnit)? = nil
            switch arguments.count {
            case 2: break
            case 4, 5:
                let start = try Arguments.integer(arguments[2]), end = try Arguments.integer(arguments[3])
                range = (start, end, arguments.count == 5 ? try Self.rangeUnit(arguments[4]) : .byte)
            default: throw CommandError.syntax
            }
            guard try keyspace.getString(key, now: now) != nil else { return .integer(0) }
            return .integer(try keyspace.bitCount(key, range: range, now: now))
        case .bitfield, .bitfield_ro:
            let operations = try Self.bitfieldOperations(arguments, readOnly: id == .bitfield_ro)
            return .array(try keyspace.bitfield(key, operations, now: now).map { $0.map { .integer(Int($0)) } ?? .null })
        case .bitpos:
            let bit = try Arguments.integer(arguments[2])
            guard bit == 0 || bit == 1 else { throw CommandError.message("ERR The bit argument must be 1 or 0.") }
            var range: (start: Int64, end: Int64?, unit: BitRangeUnit)? = nil
            switch arguments.count {
            case 3: break
            case 4, 5, 6:
                let start = try Arguments.integer(arguments[3])
                let unit = arguments.count == 6 ? try Self.rangeUnit(arguments[5]) : .byte
                range = (start, arguments.count >= 5 ? try Arguments.integer(arguments[4]) : nil, unit)
            default: throw CommandError.syntax
            }
            guard try keyspace.getString(key, now: now) != nil else { return .integer(bit == 1 ? -1 : 0) }
            return .integer(try keyspace.bitPosition(key, bit: bit == 1, range: range, now: now))
        default:
            let operation: BitOperation
            switch Arguments.lowercased(arguments[1]) {
            case "and": operation = .and
            case "or": operation = .or
            case "xor": operation = .xor
            case "not": operation = .not
            default: throw CommandError.syntax
            }
            let sources = Array(arguments[3...])
            if operation == .not, sources.count != 1 {
                throw CommandError.message("ERR BITOP NOT must be called with a single source key.")
            }
            return .integer(try keyspace.bitOperation(operation, destination: arguments[2], sources: sources, now: now))
        }
    }
}
