// The changes to a node's function libraries since its `functions.trfn` was written, kept
// in `functions.trfl` (docs/FORMAT.md) so that a FUNCTION LOAD costs one appended record,
// not a rewrite of every library (loading 50,000 libraries one by one rewrote the file
// 50,000 times: quadratic).
//
// Layout (little-endian): a header, "TRFL", version 1, and the trailing CRC-32C of the base
// file the records follow (0: no base file); then one record per FUNCTION LOAD, DELETE,
// FLUSH or RESTORE that succeeded: the command as a blob (u32 length; u32 argument count,
// each argument a blob) and the CRC-32C of that blob's bytes. A log whose header names
// another base is stale (a compaction wrote the base and stopped before removing the log).
import Core

enum FunctionLog {
    static let magic = Array("TRFL".utf8)
    static let version: UInt8 = 1
    static let headerBytes = 9
    /// Arguments a recorded command may have (FUNCTION RESTORE payload policy is 4).
    static let argumentsMax = 16

    /// What a log file holds: the base it follows, the commands of its whole records, and
    /// how many of its bytes those cover (a torn or damaged tail is not covered).
    struct Contents: Equatable {
        var base: UInt32
        var commands: [[[UInt8]]]
        var validBytes: Int
    }

    static func header(base: UInt32) -> [UInt8] {
        var writer = ByteWriter(capacity: headerBytes)
        for byte in magic { writer.write(byte) }
        writer.write(version)
        writer.write(base)
        return writer.bytes
    }

    static func record(_ command: [[UInt8]]) -> [UInt8] {
        var body = ByteWriter()
        body.write(UInt32(command.count))
        for argument in command { body.writeBlob(argument) }
        var writer = ByteWriter(capacity: body.bytes.count + 8)
        writer.writeBlob(body.bytes)
        writer.write(CRC32C.checksum(body.bytes))
        return writer.bytes
    }

    /// The contents of a log file; nil when its header is not one this version writes.
    static func decode(_ bytes: [UInt8]) -> Contents? {
        guard bytes.count >= headerBytes, Array(bytes[0..<4]) == magic, bytes[4] == version else { return nil }
        var reader = ByteReader(bytes, offset: 5)
        guard let base = try? reader.read(UInt32.self) else { return nil }
        var contents = Contents(base: base, commands: [], validBytes: headerBytes)
        while !reader.isAtEnd {
            guard let body = try? reader.readBlob(), let checksum = try? reader.read(UInt32.self),
                  checksum == CRC32C.checksum(body), let command = Self.command(body) else { break }
            contents.commands.append(command)
            contents.validBytes = reader.offset
        }
        return contents
    }

    private static func command(_ body: [UInt8]) -> [[UInt8]]? {
        var reader = ByteReader(body)
        guard let count = try? reader.read(UInt32.self), count > 0, count <= argumentsMax else { return nil }
        var command: [[UInt8]] = []
        for _ in 0..<count {
            guard let argument = try? reader.readBlob() else { return nil }
            command.append(argument)
        }
        return reader.isAtEnd ? command : nil
    }

    /// The CRC-32C a log names its base by: a FUNCTION DUMP payload's own trailer.
    static func baseChecksum(_ payload: [UInt8]?) -> UInt32 {
        guard let payload, payload.count >= 4 else { return 0 }
        return payload[(payload.count - 4)...].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
