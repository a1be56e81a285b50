// The state machines a replica can run: a data shard (the engine over its keyspace) or the
// cluster directory (the cluster map). Both apply committed entries deterministically,
// say which proposer is owed which reply, and round-trip through snapshot bytes.
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Wire

/// A reply owed to whoever proposed an entry.
struct OwedReply {
    var tag: RequestTag
    var reply: RESPValue
}

protocol ReplicaMachine: AnyObject {
    /// Applies the command payload of the committed entry at `index`; the owed reply is
    /// shaped for a client speaking `version` (the state change never depends on it).
    func apply(_ payload: [UInt8], index: LogIndex, version: ProtocolVersion) -> OwedReply?
    func snapshot() -> [UInt8]
    func restore(_ data: [UInt8]) throws
}

/// A data shard: the engine (its keyspace holds only this shard's slots).
final class DataMachine: ReplicaMachine {
    private(set) var engine: Engine
    /// The newest record time applied: the leader never stamps an older one, so time in a
    /// shard's log never runs backwards (a key once expired stays expired).
    private(set) var lastRecordTime: Int64 = 0
    private let settings: Settings
    private let scriptLog: (Int, String) -> Void
    private let slotsMayMeet: ((HashSlot, HashSlot) -> Bool)?
    /// Entries applied since this machine was made, a batch counting each of its writes:
    /// what the snapshot rule counts (Node+Housekeeping.swift), so batching does not let
    /// the log grow further between snapshots.
    private(set) var appliedWrites: UInt64 = 0
    /// This shard's part in moving slots (replicated; in the snapshot).
    var migration = MigrationState()
    /// Test-only rule breakers (the planted migration bugs).
    var mutations = NodeMutations()
    /// Version 2 adds the migration state after the records, version 3 the incoming
    /// copy's attempt after it, version 4 the numbered databases other than 0 after that;
    /// versions 1 to 3 are still read.
    static let snapshotVersion: UInt8 = 4

    init(settings: Settings, scriptLog: @escaping (Int, String) -> Void = { _, _ in },
         slotsMayMeet: ((HashSlot, HashSlot) -> Bool)? = nil) {
        self.settings = settings
        self.scriptLog = scriptLog
        self.slotsMayMeet = slotsMayMeet
        engine = Engine.replica(settings: settings, now: 0)
        engine.hooks.scriptLog = scriptLog
        engine.scriptSlotsMayMeet = slotsMayMeet
    }

    func apply(_ payload: [UInt8], index: LogIndex, version: ProtocolVersion) -> OwedReply? {
        guard let command = try? ShardCommand.decode(payload) else { return nil }
        return apply(command, index: index, version: version)
    }

    /// Applies a decoded command (the leader keeps what it proposed; see Replica.apply).
    func apply(_ command: ShardCommand, index: LogIndex, version: ProtocolVersion) -> OwedReply? {
        if case .batch(_, _, let commands, _) = command { appliedWrites &+= UInt64(commands.count) } else { appliedWrites &+= 1 }
        switch command {
        case let .write(tag, time, transaction, watches, commands, database):
            lastRecordTime = max(lastRecordTime, time)
            if refusesWrite(commands) {
                return OwedReply(tag: tag, reply: Redirect.tryAgain("the slot is moving to another shard; retry").reply)
            }
            engine.scriptEntrySeed = index.rawValue
            let reply = engine.applyCommitted(commands: commands, time: time, transaction: transaction, watches: watches,
                                              database: database, version: version)
            return OwedReply(tag: tag, reply: reply)
        case let .batch(tag, time, commands, database):
            lastRecordTime = max(lastRecordTime, time)
            var replies = applyBatch(commands, time: time, database: database, version: version, index: index)
            if mutations.batchRepliesReversed, case .array(let items) = replies { replies = .array(items.reversed()) }
            return OwedReply(tag: tag, reply: replies)
        case let .reclaim(time, keys, database):
            lastRecordTime = max(lastRecordTime, time)
            engine.reclaimExpired(keys, database: database, now: time)
            if engine.recordsPropagation { engine.closePropagatedEntry() }
            return nil
        case let .evict(time, keys, database):
            lastRecordTime = max(lastRecordTime, time)
            engine.evictKeys(keys, database: database, now: time)
            if engine.recordsPropagation { engine.closePropagatedEntry() }
            return nil
        case let .migrate(tag, step):
            return OwedReply(tag: tag, reply: apply(step))
        }
    }

    /// A batch's writes, each as if it were its own entry: one to a slot this shard is
    /// moving away (fenced) is refused with -TRYAGAIN, the others run.
    private func applyBatch(_ commands: [[Bytes]], time: Int64, database: Int, version: ProtocolVersion, index: LogIndex) -> RESPValue {
        guard refusesWrite(commands) else {
            return engine.applyCommittedBatch(commands: commands, time: time, database: database, version: version, entrySeed: index.rawValue)
        }
        let refused = commands.map { refusesWrite([$0]) }
        let kept = commands.indices.filter { !refused[$0] }.map { commands[$0] }
        let ran = kept.isEmpty ? .array([])
            : engine.applyCommittedBatch(commands: kept, time: time, database: database, version: version, entrySeed: index.rawValue)
        guard case .array(var answers) = ran else { return ran }
        answers.reverse()
        let refusal = Redirect.tryAgain("the slot is moving to another shard; retry").reply
        return .array(refused.map { $0 ? refusal : answers.removeLast() })
    }

    /// Layout: version byte, last record time (i64), record count (u64), then each
    /// keyspace entry of database 0 as an EntryCodec blob (expired entries included:
    /// replicas must store the same keys), then the migration state and the incoming
    /// copy's attempt (u64), then the count (u32) of other databases holding keys and for
    /// each its number (u32), record count (u64) and records.
    func snapshot() -> [UInt8] {
        Self.encode(engine.databaseImage, lastRecordTime: lastRecordTime, migration: migration)
    }

    /// The state now, captured in O(1) (the keyspace is copy-on-write), to encode later on
    /// any thread.
    func capture() -> () -> [UInt8] {
        let image = engine.databaseImage
        let time = lastRecordTime
        let migration = migration
        return { Self.encode(image, lastRecordTime: time, migration: migration) }
    }

    static func encode(_ image: DatabaseImage, lastRecordTime: Int64, migration: MigrationState) -> [UInt8] {
        let databases = image.databases
        assert(databases.first?.index == 0, "a snapshot is taken between commands, with database 0 selected")
        var writer = ByteWriter(capacity: 64 + image.keyCount * 48)
        writer.write(Self.snapshotVersion)
        writer.write(lastRecordTime)
        let first = databases.first { $0.index == 0 }?.keyspace ?? Keyspace()
        writer.write(UInt64(first.keyCount))
        first.writeSnapshotRecords(now: Int64.min, into: &writer)
        migration.encode(into: &writer)
        writer.write(migration.incoming?.attempt ?? 0)
        let others = databases.filter { $0.index != 0 && $0.keyspace.keyCount > 0 }
        writer.write(UInt32(others.count))
        for (index, keyspace) in others {
            writer.write(UInt32(index))
            writer.write(UInt64(keyspace.keyCount))
            keyspace.writeSnapshotRecords(now: Int64.min, into: &writer)
        }
        return writer.bytes
    }

    func restore(_ data: [UInt8]) throws {
        let fresh = Engine.replica(settings: settings, now: 0)
        fresh.hooks.scriptLog = scriptLog
        fresh.scriptSlotsMayMeet = slotsMayMeet
        var time: Int64 = 0
        var restoredMigration = MigrationState()
        if !data.isEmpty {
            var reader = ByteReader(data)
            let version = try reader.readByte()
            guard (1...Self.snapshotVersion).contains(version) else { throw ShardCommand.DecodeError(reason: "unknown snapshot version") }
            time = try reader.read(Int64.self)
            let count = try reader.read(UInt64.self)
            for _ in 0..<count { try fresh.keyspace.load(record: try reader.readBlob()) }
            if version >= 2 { restoredMigration = try MigrationState.decode(from: &reader) }
            if version >= 3 {
                let attempt = try reader.read(UInt64.self)
                restoredMigration.incoming?.attempt = attempt
            }
            if version >= 4 { try Self.restoreDatabases(from: &reader, into: fresh) }
        }
        engine = fresh
        lastRecordTime = time
        migration = restoredMigration
    }
}

extension DataMachine {
    /// Reads the databases other than 0 of a version 4 snapshot into `engine`.
    static func restoreDatabases(from reader: inout ByteReader, into engine: Engine) throws {
        let count = Int(try reader.read(UInt32.self))
        guard count < Settings.databasesMax else { throw ShardCommand.DecodeError(reason: "database count") }
        for _ in 0..<count {
            let index = Int(try reader.read(UInt32.self))
            guard index > 0, index < Settings.databasesMax else { throw ShardCommand.DecodeError(reason: "database number") }
            var keyspace = engine.keyspace.emptyDatabase()
            let records = try reader.read(UInt64.self)
            for _ in 0..<records { try keyspace.load(record: try reader.readBlob()) }
            engine.restoreDatabase(index, keyspace)
        }
    }
}

/// The directory: the cluster map, changed only by committed directory commands.
final class DirectoryMachine: ReplicaMachine {
    private(set) var map: ClusterMap? {
        didSet { (slotOwners, owners) = Self.slotOwners(of: map) }
    }
    /// Called after every change of the map.
    var onChange: ((ClusterMap) -> Void)?
    /// The map's own table of slot owners (`ClusterMap.slotOwner`: an index into its
    /// shards, `UInt16.max` for none) and those shards' ids, held apart from `map`: routing
    /// asks on every request, and reading `map` copies it (a retain and release of each
    /// array). Two bytes a slot (32 KiB), so a random key's lookup stays in the CPU's cache.
    private var slotOwners: [UInt16]
    private var owners: [ShardID]

    init(map: ClusterMap? = nil) {
        self.map = map
        (slotOwners, owners) = Self.slotOwners(of: map)
    }

    private static func slotOwners(of map: ClusterMap?) -> ([UInt16], [ShardID]) {
        guard let map else { return ([], []) }
        return (map.slotOwner, map.shards.map(\.id))
    }

    /// Whether a map is known.
    var hasMap: Bool { !slotOwners.isEmpty }

    /// The shard owning `slot` in the current map; nil without a map or for a slot it
    /// leaves unassigned.
    func shardID(forSlot slot: HashSlot) -> ShardID? {
        let index = Int(slot.rawValue)
        guard index < slotOwners.count else { return nil }
        let owner = slotOwners[index]
        return owner == UInt16.max ? nil : owners[Int(owner)]
    }

    func apply(_ payload: [UInt8], index: LogIndex, version: ProtocolVersion) -> OwedReply? {
        guard let entry = DirectoryEntry.decode(payload) else { return nil }
        guard var next = map else { return OwedReply(tag: entry.tag, reply: .error("ERR the directory has no cluster map yet")) }
        let reply: RESPValue
        do {
            let command = try DirectoryCommand.decode(entry.command)
            try next.apply(command)
            map = next
            onChange?(next)
            reply = .ok
        } catch let rejection as DirectoryCommand.Rejection {
            reply = .error("ERR \(rejection.description)")
        } catch {
            reply = .error("ERR malformed directory command")
        }
        return OwedReply(tag: entry.tag, reply: reply)
    }

    func snapshot() -> [UInt8] { map?.encoded() ?? [] }

    func restore(_ data: [UInt8]) throws {
        guard !data.isEmpty else { map = nil; return }
        let restored = try ClusterMap.decode(data)
        map = restored
        onChange?(restored)
    }
}
