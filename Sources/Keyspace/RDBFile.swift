// A whole RDB file, as a Redis master sends it in a full resynchronization (and as
// `dump.rdb` holds it): "REDIS" and a four-digit version, then opcodes and keys up to EOF
// and, from version 5, the CRC-64 of everything before it (zero when the master computes
// none). Keys and their values are read with RDBReader (the reader of DUMP payloads);
// what surrounds them is read here:
//
//   0xFA AUX name value      0xFE SELECTDB db          0xFB RESIZEDB size expires
//   0xFC EXPIRETIME_MS 8B    0xFD EXPIRETIME 4B        0xF8 IDLE length   0xF9 FREQ 1B
//   0xF5 FUNCTION2 code      0xF4 SLOT_INFO slot size expires            0xFF EOF
//
// Module data (0xF7, and module value types) cannot be read without the module: a file
// holding any is refused, as a Redis without the module refuses it.
import Core

public enum RDBFile {
    /// One key of the file: its database, name, value and absolute expiry in milliseconds.
    public struct Key: Sendable {
        public var database: Int
        public var key: Bytes
        public var value: Value
        public var expireAt: Int64?
    }

    public struct Contents: Sendable {
        /// The auxiliary fields (redis-ver, ctime...), in file order.
        public var aux: [(name: String, value: String)] = []
        public var keys: [Key] = []
        /// The source code of each function library (FUNCTION LOAD's argument).
        public var libraries: [Bytes] = []
    }

    /// The newest file version read (Redis 7.4's and 8.0's).
    public static let versionMax = 12
    static let opSlotInfo: UInt8 = 0xF4, opFunction2: UInt8 = 0xF5, opFunctionPreGA: UInt8 = 0xF6
    static let opModuleAux: UInt8 = 0xF7, opIdle: UInt8 = 0xF8, opFrequency: UInt8 = 0xF9, opAux: UInt8 = 0xFA
    static let opResizeDB: UInt8 = 0xFB, opExpireMilliseconds: UInt8 = 0xFC, opExpireSeconds: UInt8 = 0xFD
    static let opSelectDB: UInt8 = 0xFE, opEOF: UInt8 = 0xFF
    /// Highest database number accepted from a file (Redis's own limit is `databases`).
    static let databaseMax: UInt64 = 1 << 20

    /// Parses `bytes`, a whole RDB file. Throws with the reason and the offset where
    /// reading stopped; never traps on any input.
    public static func parse(_ bytes: [UInt8]) throws(RDBReader.Failure) -> Contents {
        guard bytes.count >= 9, Array(bytes[0..<5]) == Array("REDIS".utf8),
              let version = Int(String(decoding: bytes[5..<9], as: UTF8.self)), version >= 1 else {
            throw RDBReader.Failure("not an RDB file (no REDIS header)")
        }
        guard version <= versionMax else {
            throw RDBReader.Failure("RDB version \(version) is newer than Trestle reads (\(versionMax))")
        }
        var reader = RDBReader(bytes, offset: 9)
        var contents = Contents()
        var database = 0
        var expireAt: Int64?
        do throws(RDBReader.Failure) {
            while true {
                let type = try reader.byte()
                switch type {
                case opEOF:
                    try verifyChecksum(bytes, at: reader.offset, version: version)
                    return contents
                case opAux:
                    let name = String(decoding: try reader.string(), as: UTF8.self)
                    contents.aux.append((name, String(decoding: try reader.string(), as: UTF8.self)))
                case opSelectDB:
                    let number = try reader.length()
                    guard number <= databaseMax else { throw RDBReader.Failure("database \(number) is out of range") }
                    database = Int(number)
                case opResizeDB:
                    _ = try reader.length()
                    _ = try reader.length()
                case opSlotInfo:
                    for _ in 0..<3 { _ = try reader.length() }
                case opExpireMilliseconds:
                    expireAt = Int64(bitPattern: try reader.littleEndian(8))
                case opExpireSeconds:
                    let (seconds, overflow) = Int64(try reader.littleEndian(4)).multipliedReportingOverflow(by: 1000)
                    expireAt = overflow ? Int64.max : seconds
                case opIdle:
                    _ = try reader.length()
                case opFrequency:
                    _ = try reader.byte()
                case opFunction2:
                    contents.libraries.append(try reader.string())
                case opFunctionPreGA:
                    throw RDBReader.Failure("function libraries of Redis 7.0's release candidates are not supported")
                case opModuleAux:
                    throw RDBReader.Failure("module data (opcode 0xF7) cannot be read without its module")
                default:
                    let key = try reader.string()
                    let value = try reader.value(ofType: type)
                    contents.keys.append(Key(database: database, key: key, value: value, expireAt: expireAt))
                    expireAt = nil
                }
            }
        } catch {
            throw RDBReader.Failure("\(error.reason) (at byte \(reader.offset))")
        }
    }

    /// From version 5 the 8 bytes after EOF are the CRC-64 of the file before them, or zero
    /// when the writer computed none (`rdbchecksum no`).
    private static func verifyChecksum(_ bytes: [UInt8], at offset: Int, version: Int) throws(RDBReader.Failure) {
        guard version >= 5 else { return }
        guard bytes.count - offset >= 8 else { throw RDBReader.Failure("the file ends before its checksum") }
        var stored: UInt64 = 0
        for (index, byte) in bytes[offset..<offset + 8].enumerated() { stored |= UInt64(byte) << UInt64(index * 8) }
        guard stored == 0 || stored == CRC64.checksum(bytes[..<offset]) else {
            throw RDBReader.Failure("the file's checksum does not match its contents")
        }
    }
}
