// The cluster's metadata: its nodes, its shards, which hash slots each shard owns and on
// which nodes each shard's replicas should live. The directory's Raft group replicates it;
// every node keeps a copy and learns changes by `version`.
//
// Invariants:
// - every one of the 16384 slots belongs to exactly one shard;
// - a shard's `replicas` are distinct, known nodes; the first is its preferred leader;
// - `version` grows by one with every applied directory command;
// - slots change owner only when a pending move finishes (SlotMove.swift).
import Core

/// A contiguous, inclusive range of hash slots.
public struct SlotRange: Sendable, Equatable, CustomStringConvertible {
    public var first: UInt16
    public var last: UInt16
    public init(_ first: UInt16, _ last: UInt16) { self.first = first; self.last = last }
    public var count: Int { Int(last) - Int(first) + 1 }
    public func contains(_ slot: UInt16) -> Bool { slot >= first && slot <= last }
    public var description: String { first == last ? "\(first)" : "\(first)-\(last)" }
}

public struct ShardInfo: Sendable, Equatable {
    public var id: ShardID
    public var slots: [SlotRange]
    /// Where the shard's voting replicas should live; first = preferred leader.
    public var replicas: [NodeID]
    /// For a shard made by a split: the nodes that start its Raft group (empty, with
    /// these voters) on their own; others join it as learners. Empty for the shards a
    /// cluster was bootstrapped with.
    public var genesis: [NodeID] = []
    /// Set while the shard is being merged into another: its slots move there, range by
    /// range, and then the shard is removed.
    public var mergeInto: ShardID? = nil

    public init(id: ShardID, slots: [SlotRange], replicas: [NodeID]) {
        self.id = id
        self.slots = slots
        self.replicas = replicas
    }
}

public struct ClusterMap: Sendable, Equatable {
    /// The directory's own group.
    public static let directoryShard = ShardID(0)
    /// Most voters the directory group keeps; other nodes follow it as learners.
    public static let directoryVotersMax = 5
    public static let shardsMax = 1024
    public static let replicationFactors = [1, 3, 5]

    public var name: String
    public var version: UInt64
    public var replicationFactor: Int
    public var nodes: [NodeInfo]
    public var shards: [ShardInfo]
    /// Voters of the directory group.
    public var directoryVoters: [NodeID]
    /// ACL users every node enforces, by name: each an ACL file line ("user alice on
    /// #<sha256> ~app:* +@all"). Empty: each node has only its own `default` user.
    public var aclUsers: [String: String] = [:]
    /// Most ACL users the directory holds, and the longest line of one.
    public static let aclUsersMax = 10_000
    public static let aclLineBytesMax = 64 * 1024
    /// Slot moves begun and not yet finished, oldest first.
    public var moves: [SlotMove] = []
    /// The highest shard id ever used: ids are never reused (a node's tombstone of a
    /// shard it dropped must never match a new shard).
    public var shardIDHigh: UInt64 = 0
    /// Splits owed to nodes added while every node could already lead a shard: each such
    /// addition owes one, each split pays one (the directory leader splits while any are
    /// owed and the cluster is settled, unless its node runs with --no-auto-split).
    public var splitsOwed: UInt32 = 0
    /// The id a new shard gets.
    public var nextShardID: ShardID { ShardID(max(shardIDHigh, shards.map(\.id.rawValue).max() ?? 0) + 1) }
    /// Shard index (into `shards`) for every slot; derived from `shards`.
    public private(set) var slotOwner: [UInt16]

    public init(name: String, version: UInt64, replicationFactor: Int, nodes: [NodeInfo], shards: [ShardInfo], directoryVoters: [NodeID]) {
        self.name = name
        self.version = version
        self.replicationFactor = replicationFactor
        self.nodes = nodes.sorted { $0.id < $1.id }
        self.shards = shards.sorted { $0.id < $1.id }
        self.directoryVoters = directoryVoters.sorted()
        slotOwner = []
        rebuildSlotOwners()
    }

    /// The initial map of a new cluster: `shardCount` shards splitting the slots into equal
    /// contiguous ranges, replicas placed by `Placement`.
    public static func initial(name: String, nodes: [NodeInfo], shardCount: Int, replicationFactor: Int) -> ClusterMap {
        let count = max(1, min(shardCount, shardsMax))
        var shards: [ShardInfo] = []
        for index in 0..<count {
            let first = UInt16(index * HashSlot.count / count)
            let last = UInt16((index + 1) * HashSlot.count / count - 1)
            shards.append(ShardInfo(id: ShardID(UInt64(index + 1)), slots: [SlotRange(first, last)], replicas: []))
        }
        let voters = Array(nodes.sorted { $0.id < $1.id }.prefix(directoryVotersMax).map(\.id))
        var map = ClusterMap(name: name, version: 1, replicationFactor: replicationFactor, nodes: nodes, shards: shards, directoryVoters: voters)
        map.shards = Placement.plan(map)
        return map
    }

    mutating func rebuildSlotOwners() {
        var owners = [UInt16](repeating: UInt16.max, count: HashSlot.count)
        for (index, shard) in shards.enumerated() {
            for range in shard.slots { for slot in range.first...range.last { owners[Int(slot)] = UInt16(index) } }
        }
        slotOwner = owners
    }

    // MARK: - Lookups

    public func node(_ id: NodeID) -> NodeInfo? { nodes.first { $0.id == id } }
    public func shard(_ id: ShardID) -> ShardInfo? { shards.first { $0.id == id } }

    /// The shard owning `slot`, or nil if the map leaves it unassigned (never, when valid).
    public func shard(forSlot slot: HashSlot) -> ShardInfo? {
        let index = slotOwner[Int(slot.rawValue)]
        return index == UInt16.max ? nil : shards[Int(index)]
    }

    public func shardID(forSlot slot: HashSlot) -> ShardID? {
        let index = slotOwner[Int(slot.rawValue)]
        return index == UInt16.max ? nil : shards[Int(index)].id
    }

    /// Shards with a replica on `node`.
    public func shards(on node: NodeID) -> [ShardInfo] { shards.filter { $0.replicas.contains(node) } }

    public var activeNodes: [NodeInfo] { nodes.filter { $0.state == .active } }
}
