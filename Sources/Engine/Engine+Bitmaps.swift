// SETBIT GETBIT BITCOUNT BITPOS BITOP, with Redis 7.0's argument order (BITCOUNT and BITPOS
// look the key up before parsing their range) and error texts. BITFIELD is not built yet.
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
            guard try keyspace.getString(key, now: now) != nil else { return .integer(0) }
            var range: (Int64, Int64, BitRangeUnit)? = nil
            switch arguments.count {
            case 2: break
            case 4, 5:
                let start = try Arguments.integer(arguments[2]), end = try Arguments.integer(arguments[3])
                range = (start, end, arguments.count == 5 ? try Self.rangeUnit(arguments[4]) : .byte)
            default: throw CommandError.syntax
            }
            return .integer(try keyspace.bitCount(key, range: range, now: now))
        case .bitpos:
            let bit = try Arguments.integer(arguments[2])
            guard bit == 0 || bit == 1 else { throw CommandError.message("ERR The bit argument must be 1 or 0.") }
            guard try keyspace.getString(key, now: now) != nil else { return .integer(bit == 1 ? -1 : 0) }
            var range: (start: Int64, end: Int64?, unit: BitRangeUnit)? = nil
            switch arguments.count {
            case 3: break
            case 4, 5, 6:
                let start = try Arguments.integer(arguments[3])
                let unit = arguments.count == 6 ? try Self.rangeUnit(arguments[5]) : .byte
                range = (start, arguments.count >= 5 ? try Arguments.integer(arguments[4]) : nil, unit)
            default: throw CommandError.syntax
            }
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
