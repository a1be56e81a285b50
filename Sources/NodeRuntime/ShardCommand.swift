// What a data shard's log entries carry. A client write names the node and request that
// proposed it, so that whichever replica applies it can tell whether it owes a reply; the
// leader's expiry decisions travel as reclaim records, so replicas never disagree about
// which keys exist. Format version 1, little-endian; see docs/FORMAT.md.
import Core
import Engine
import Keyspace

/// Identifies one proposal: the proposing node and its request counter.
struct RequestTag: Hashable, Sendable {
    var origin: NodeID
    var request: UInt64
}

enum ShardCommand: Equatable, Sendable {
    /// Client commands run together at `time` (several for MULTI/EXEC), starting in the
    /// numbered database `database` (always 0 on a cluster node).
    case write(tag: RequestTag, time: Int64, transaction: Bool, watches: [WatchedValue], commands: [[Bytes]], database: Int = 0)
    /// Independent client writes proposed together as one entry (plain writes queued in
    /// one turn): each runs in `database` at `time` as if it were an entry of its own, and
    /// each has its own reply. Encoded as a write whose transaction byte is 2.
    case batch(tag: RequestTag, time: Int64, commands: [[Bytes]], database: Int = 0)
    /// Remove these keys of `database` if they are expired at `time`.
    case reclaim(time: Int64, keys: [Bytes], database: Int = 0)
    /// A step of moving slots to or from this shard (SlotMigration.swift).
    case migrate(tag: RequestTag, step: MigrationStep)
    /// Remove these keys of `database` (the leader's choice under `maxmemory-policy`).
    case evict(time: Int64, keys: [Bytes], database: Int)

    static let formatVersion: UInt8 = 1
    /// A write's transaction byte: 0 plain, 1 MULTI/EXEC, this for a batch.
    static let batchMode: UInt8 = 2
    /// Most commands or keys in one entry.
    static let itemsMax = 1 << 20

    /// Whether `payload` encodes a reclaim (expired keys' removal), without decoding it.
    static func isReclaim(_ payload: [UInt8]) -> Bool {
        payload.count > 1 && payload[0] == formatVersion && (payload[1] == 2 || payload[1] == 5)
    }

    func encoded() -> [UInt8] {
        switch self {
        case let .write(tag, time, transaction, watches, commands, database):
            return Self.encodedWrite(tag: tag, time: time, mode: transaction ? 1 : 0, watches: watches, commands: commands,
                                     database: database)
        case let .batch(tag, time, commands, database):
            return Self.encodedWrite(tag: tag, time: time, mode: Self.batchMode, watches: [], commands: commands, database: database)
        default:
            break
        }
        var writer = ByteWriter(capacity: 64)
        switch self {
        case .write, .batch:
            assertionFailure("a write is encoded by encodedWrite")
        case let .reclaim(time, keys, database):
            writer.write(Self.formatVersion)
            // Kind 5 is kind 2 with a database number after the time.
            writer.write(UInt8(database == 0 ? 2 : 5))
            writer.write(time)
            if database != 0 { writer.write(UInt32(database)) }
            Self.writeKeys(keys, into: &writer)
        case let .evict(time, keys, database):
            writer.write(Self.formatVersion)
            writer.write(UInt8(6))
            writer.write(time)
            writer.write(UInt32(database))
            Self.writeKeys(keys, into: &writer)
        case let .migrate(tag, step):
            writer.write(Self.formatVersion)
            writer.write(UInt8(3))
            writer.write(tag.origin.rawValue)
            writer.write(tag.request)
            step.encode(into: &writer)
        }
        return writer.bytes
    }

    /// A client write, the entry every write request becomes: its exact size first, then
    /// one pass with no growth checks.
    private static func encodedWrite(tag: RequestTag, time: Int64, mode: UInt8, watches: [WatchedValue],
                                     commands: [[Bytes]], database: Int) -> [UInt8] {
        var size = 35 + (database == 0 ? 0 : 4)
        for watch in watches { size += 4 + watch.key.count + 8 }
        for command in commands {
            size += 4
            for argument in command { size += 4 + argument.count }
        }
        return SizedByteWriter.bytes(count: size) { writer in
            writer.write(formatVersion)
            // Kind 4 is kind 1 with a database number after the time (databases other than 0).
            writer.write(UInt8(database == 0 ? 1 : 4))
            writer.write(tag.origin.rawValue)
            writer.write(tag.request)
            writer.write(time)
            if database != 0 { writer.write(UInt32(database)) }
            writer.write(mode)
            writer.write(UInt32(watches.count))
            for watch in watches { writer.writeBlob(watch.key); writer.write(watch.digest) }
            writer.write(UInt32(commands.count))
            for command in commands {
                writer.write(UInt32(command.count))
                for argument in command { writer.writeBlob(argument) }
            }
        }
    }

    struct DecodeError: Error, Equatable { var reason: String }

    /// A database number other than 0, below `Settings.databasesMax`.
    private static func readDatabase(_ reader: inout ByteReader) throws -> Int {
        let database = Int(try reader.read(UInt32.self))
        guard database > 0, database < Settings.databasesMax else { throw DecodeError(reason: "database number") }
        return database
    }

    /// A key list (reclaim, eviction): the count, then each key as a blob.
    private static func writeKeys(_ keys: [Bytes], into writer: inout ByteWriter) {
        writer.write(UInt32(keys.count))
        for key in keys { writer.writeBlob(key) }
    }

    private static func readKeys(_ reader: inout ByteReader) throws -> [Bytes] {
        let count = Int(try reader.read(UInt32.self))
        guard count <= itemsMax, count <= reader.remaining / 4 else { throw DecodeError(reason: "key count") }
        var keys: [Bytes] = []
        for _ in 0..<count { keys.append(try reader.readBlob()) }
        return keys
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ShardCommand {
        var reader = ByteReader(bytes)
        do {
            guard try reader.readByte() == formatVersion else { throw DecodeError(reason: "unknown shard command version") }
            switch try reader.readByte() {
            case let kind where kind == 1 || kind == 4:
                let tag = RequestTag(origin: NodeID(try reader.read(UInt64.self)), request: try reader.read(UInt64.self))
                let time = try reader.read(Int64.self)
                let database = kind == 4 ? try readDatabase(&reader) : 0
                let mode = try reader.readByte()
                guard mode <= batchMode else { throw DecodeError(reason: "write mode") }
                let watchCount = Int(try reader.read(UInt32.self))
                guard watchCount <= reader.remaining / 12 else { throw DecodeError(reason: "watch count") }
                var watches: [WatchedValue] = []
                for _ in 0..<watchCount { watches.append(WatchedValue(key: try reader.readBlob(), digest: try reader.read(UInt64.self))) }
                let count = Int(try reader.read(UInt32.self))
                guard count <= itemsMax, count <= reader.remaining / 4 else { throw DecodeError(reason: "command count") }
                var commands: [[Bytes]] = []
                commands.reserveCapacity(count)
                for _ in 0..<count {
                    let arguments = Int(try reader.read(UInt32.self))
                    guard arguments >= 1, arguments <= reader.remaining / 4 else { throw DecodeError(reason: "argument count") }
                    var command: [Bytes] = []
                    command.reserveCapacity(arguments)
                    for _ in 0..<arguments { command.append(try reader.readBlob()) }
                    commands.append(command)
                }
                if mode == batchMode {
                    guard watches.isEmpty else { throw DecodeError(reason: "a batch with watches") }
                    return .batch(tag: tag, time: time, commands: commands, database: database)
                }
                return .write(tag: tag, time: time, transaction: mode == 1, watches: watches, commands: commands, database: database)
            case let kind where kind == 2 || kind == 5:
                let time = try reader.read(Int64.self)
                let database = kind == 5 ? try readDatabase(&reader) : 0
                return .reclaim(time: time, keys: try readKeys(&reader), database: database)
            case 6:
                let time = try reader.read(Int64.self)
                let database = Int(try reader.read(UInt32.self))
                guard database < Settings.databasesMax else { throw DecodeError(reason: "database number") }
                return .evict(time: time, keys: try readKeys(&reader), database: database)
            case 3:
                let tag = RequestTag(origin: NodeID(try reader.read(UInt64.self)), request: try reader.read(UInt64.self))
                return .migrate(tag: tag, step: try MigrationStep.decode(from: &reader))
            default:
                throw DecodeError(reason: "unknown shard command kind")
            }
        } catch let error as DecodeError {
            throw error
        } catch {
            throw DecodeError(reason: "truncated shard command")
        }
    }
}

/// A directory entry: the command plus who proposed it (for the administrator's reply).
struct DirectoryEntry: Equatable, Sendable {
    var tag: RequestTag
    var command: [UInt8]

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: command.count + 24)
        writer.write(tag.origin.rawValue)
        writer.write(tag.request)
        writer.writeBlob(command)
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) -> DirectoryEntry? {
        var reader = ByteReader(bytes)
        guard let origin = try? reader.read(UInt64.self), let request = try? reader.read(UInt64.self),
              let command = try? reader.readBlob() else { return nil }
        return DirectoryEntry(tag: RequestTag(origin: NodeID(origin), request: request), command: command)
    }
}
