// The payload of one append-only log record: the time a write executed and the commands
// it consisted of (one for a plain write, several for MULTI/EXEC, which is atomic in the
// log). Replaying runs the same pure command functions at the same time, so replay
// reproduces the state exactly. Format in docs/FORMAT.md ("Command records").
import Core
import Keyspace

public struct LogRecord: Equatable, Sendable {
    public static let formatVersion: UInt8 = 1
    /// Most commands in one record; a transaction larger than this cannot be logged.
    public static let commandsMax = 1 << 20

    public var time: Int64
    public var commands: [[Bytes]]

    public init(time: Int64, commands: [[Bytes]]) {
        self.time = time
        self.commands = commands
    }

    public func encoded() -> [UInt8] {
        var size = 16
        for command in commands { size += 4 + command.reduce(0) { $0 + 4 + $1.count } }
        var writer = ByteWriter(capacity: size)
        writer.write(Self.formatVersion)
        writer.write(time)
        writer.write(UInt32(commands.count))
        for command in commands {
            writer.write(UInt32(command.count))
            for argument in command { writer.writeBlob(argument) }
        }
        return writer.bytes
    }

    public struct DecodeError: Error, Equatable, Sendable { public var reason: String }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> LogRecord {
        var reader = ByteReader(bytes)
        do {
            let version = try reader.readByte()
            guard version == formatVersion else { throw DecodeError(reason: "unknown command record version \(version)") }
            let time = try reader.read(Int64.self)
            let count = Int(try reader.read(UInt32.self))
            guard count <= reader.remaining / 4 else { throw DecodeError(reason: "command count exceeds record") }
            var commands: [[Bytes]] = []
            for _ in 0..<count {
                let argumentCount = Int(try reader.read(UInt32.self))
                guard argumentCount >= 1, argumentCount <= reader.remaining / 4 else { throw DecodeError(reason: "argument count exceeds record") }
                var command: [Bytes] = []
                for _ in 0..<argumentCount { command.append(try reader.readBlob()) }
                commands.append(command)
            }
            guard reader.isAtEnd else { throw DecodeError(reason: "trailing bytes in command record") }
            return LogRecord(time: time, commands: commands)
        } catch let error as DecodeError {
            throw error
        } catch {
            throw DecodeError(reason: "truncated command record")
        }
    }
}
