// Read-only views of a node for checkers (the simulator's convergence check) and tests.
import Cluster
import Consensus
import Core
import Keyspace
import Logging
import Wire

/// One data replica as seen by a checker: two replicas of a shard at the same applied index
/// must hold the same content.
public struct ReplicaState: Sendable, Equatable {
    public var shard: ShardID
    public var appliedIndex: LogIndex
    public var isLeader: Bool
    /// CRC-32C over the replica's entries in key order and its newest record time.
    public var contentChecksum: UInt32
    public var keyCount: Int
    /// What the replica knows committed, and its log's members (voters and learners).
    public var commitIndex: LogIndex
    public var members: [NodeID]
}

extension Node {
    /// Every data replica hosted here, in shard order. Serializes each replica: for checks
    /// at the end of a simulated run, never on a serving path.
    public func replicaStates() -> [ReplicaState] {
        replicas.keys.sorted().compactMap { shard in
            guard let replica = replicas[shard], let data = replica.data else { return nil }
            return ReplicaState(shard: shard, appliedIndex: replica.raft.appliedIndex, isLeader: replica.isLeader,
                                contentChecksum: Self.contentChecksum(data), keyCount: data.engine.keyspace.keyCount,
                                commitIndex: replica.raft.commitIndex,
                                members: replica.raft.membership.voters + replica.raft.membership.learners)
        }
    }

    /// Independent of the order a keyspace iterates in (which depends on insertion history).
    static func contentChecksum(_ data: DataMachine) -> UInt32 {
        let records = data.engine.keyspace.snapshotRecords(now: Int64.min).sorted { $0.lexicographicallyPrecedes($1) }
        var crc = CRC32C.checksum(withUnsafeBytes(of: data.lastRecordTime.littleEndian) { Array($0) })
        for record in records { crc = CRC32C.update(crc, record) }
        var migration = ByteWriter(capacity: 64)
        data.migration.encode(into: &migration)
        crc = CRC32C.update(crc, migration.bytes)
        for (index, keyspace) in data.engine.databaseImage.databases where index != 0 && keyspace.keyCount > 0 {
            crc = CRC32C.update(crc, withUnsafeBytes(of: UInt32(index).littleEndian) { Array($0) })
            for record in keyspace.snapshotRecords(now: Int64.min).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                crc = CRC32C.update(crc, record)
            }
        }
        return crc
    }

    /// Keys held by a data replica here whose slot `map` assigns to another shard, with
    /// the replica's shard and applied index (a checker compares the most advanced
    /// replica of each shard against the final map).
    public func keysOutsideOwnedSlots(_ map: ClusterMap) -> [(shard: ShardID, applied: LogIndex, key: Bytes)] {
        var misplaced: [(ShardID, LogIndex, Bytes)] = []
        for shard in replicas.keys.sorted() {
            guard let replica = replicas[shard], let data = replica.data else { continue }
            for record in data.engine.keyspace.snapshotRecords(now: Int64.min) {
                guard let (key, _) = try? EntryCodec.decode(record), map.shardID(forSlot: HashSlot.of(key: key)) != shard else { continue }
                misplaced.append((shard, replica.raft.appliedIndex, key))
            }
        }
        return misplaced
    }

    /// The leader this node knows for each shard of its map (`.none` if unknown).
    public func knownLeaders() -> [ShardID: NodeID] {
        guard let map else { return [:] }
        var leaders: [ShardID: NodeID] = [:]
        for shard in map.shards { leaders[shard.id] = leader(of: shard.id) }
        return leaders
    }

    /// The protocol limits new client connections get (CONFIG SET may change them).
    public var protocolLimits: ProtocolLimits { front.settings.limits }

    /// The shell bound the client port it was asked for as 0 to `port`: CONFIG GET port
    /// and INFO report it, as Redis reports the port it listens on.
    public func listening(onPort port: Int) {
        front.settings.port = port
    }

    /// Keys in the data replicas this node leads.
    public var keyCount: Int {
        replicas.values.filter(\.isLeader).reduce(0) { $0 + ($1.data?.engine.databaseImage.keyCount ?? 0) }
    }
}

extension Node {
    /// Where `redis.log` from a script goes: the node's log, at the matching level. Every
    /// replica that applies a script logs its lines (scripts run on each replica).
    static func scriptLogger(_ logger: Logger) -> (Int, String) -> Void {
        { level, message in
            switch level {
            case 0: logger.debug("\(message)", metadata: ["source": "script"])
            case 1: logger.info("\(message)", metadata: ["source": "script"])
            case 2: logger.notice("\(message)", metadata: ["source": "script"])
            default: logger.warning("\(message)", metadata: ["source": "script"])
            }
        }
    }
}
