// A backup to start a new cluster from (`--restore DIR`): each backed-up shard's snapshot
// bytes and the slots it owned. The new cluster need not have the same shards: its
// bootstrap deals every key to the new shard that owns the key's slot.
//
// Invariant (checked by `validate`): the backed-up shards' slots do not overlap and cover
// all 16384 slots, so every key of the backup lands in exactly one new shard.
import Cluster
import Core
import Engine
import Keyspace

public struct RestoreImage: Sendable {
    public struct Shard: Sendable {
        /// Where the bytes came from, for error messages (a file name).
        public var source: String
        public var slots: [SlotRange]
        /// A data shard's snapshot bytes (DataMachine's snapshot layout).
        public var data: [UInt8]
        public init(source: String, slots: [SlotRange], data: [UInt8]) {
            self.source = source
            self.slots = slots
            self.data = data
        }
    }

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public var shards: [Shard]
    /// The function libraries, as a FUNCTION DUMP payload, if the backup has them.
    public var functions: [UInt8]?
    public init(shards: [Shard], functions: [UInt8]? = nil) {
        self.shards = shards
        self.functions = functions
    }

    /// Checks that the shards' slots partition the slot space and that every shard's bytes
    /// decode; returns the number of keys.
    @discardableResult
    public func validate() throws(Invalid) -> Int {
        var owner = [String?](repeating: nil, count: HashSlot.count)
        for shard in shards {
            for range in shard.slots {
                guard range.first <= range.last, Int(range.last) < HashSlot.count else {
                    throw Invalid(description: "\(shard.source): slot range \(range) is not within 0-\(HashSlot.count - 1)")
                }
                for slot in Int(range.first)...Int(range.last) {
                    if let other = owner[slot] { throw Invalid(description: "slot \(slot) is in both \(other) and \(shard.source)") }
                    owner[slot] = shard.source
                }
            }
        }
        if let missing = owner.firstIndex(where: { $0 == nil }) { throw Invalid(description: "no shard of the backup holds slot \(missing)") }
        var keys = 0
        for shard in shards { keys += try Self.decode(shard).image.keyCount }
        return keys
    }

    /// Snapshot bytes for each new shard, holding the backup's keys of its slots, in their
    /// numbered databases. Keys a backed-up shard holds outside the slots it owned are left
    /// out. A database the new server does not have (a cluster has database 0 only) that
    /// holds keys is refused: its keys would be lost.
    func partition(into targets: [ShardInfo], settings: Settings) throws(Invalid) -> [ShardID: [UInt8]] {
        let empty = Engine.replica(settings: settings, now: 0).keyspace
        var keyspaces: [ShardID: [Int: Keyspace]] = [:]
        for target in targets { keyspaces[target.id] = [0: empty] }
        var lastRecordTime: Int64 = 0
        for shard in shards {
            let decoded = try Self.decode(shard)
            lastRecordTime = max(lastRecordTime, decoded.lastRecordTime)
            for (database, keyspace) in decoded.image.databases where keyspace.keyCount > 0 {
                guard database < max(settings.databases, 1) else {
                    throw Invalid(description: "\(shard.source): database \(database) holds \(keyspace.keyCount) keys, and this server "
                                  + "has databases 0 to \(max(settings.databases, 1) - 1) (a cluster has database 0 only)")
                }
                for target in targets {
                    for owned in shard.slots {
                        for wanted in target.slots {
                            let first = max(owned.first, wanted.first), last = min(owned.last, wanted.last)
                            guard first <= last else { continue }
                            for record in keyspace.records(inSlots: first...last) {
                                do { try keyspaces[target.id, default: [:]][database, default: empty].load(record: record) } catch {
                                    throw Invalid(description: "\(shard.source): a key record does not decode (\(error))")
                                }
                            }
                        }
                    }
                }
            }
        }
        return keyspaces.mapValues {
            DataMachine.encode(DatabaseImage(databases: $0), lastRecordTime: lastRecordTime, migration: MigrationState())
        }
    }

    private static func decode(_ shard: Shard) throws(Invalid) -> (image: DatabaseImage, lastRecordTime: Int64) {
        let machine = DataMachine(settings: Settings())
        do { try machine.restore(shard.data) } catch {
            throw Invalid(description: "\(shard.source) does not hold a shard snapshot Trestle can read (\(error))")
        }
        return (machine.engine.databaseImage, machine.lastRecordTime)
    }
}
