// Automatic splits and merges: which shard splits (too many keys, too many bytes, too
// much load, and where its load is halved), when load splits stop, and which small, cold
// shards a split made merge back into a neighbour.
import Cluster
import Core
import Engine
import Testing
@testable import NodeRuntime

@Suite struct ReshapingTests {
    static func map(nodes: Int, shards: Int) -> ClusterMap {
        let infos = (1...nodes).map { NodeInfo(id: NodeID(UInt64($0)), host: "127.0.0.1", port: 7000 + $0, peerPort: 17000 + $0) }
        return ClusterMap.initial(name: "t", nodes: infos, shardCount: shards, replicationFactor: min(3, nodes))
    }

    static func stats(_ figures: [UInt64: (keys: Int, ops: Double)]) -> [ShardID: ShardStats] {
        Dictionary(uniqueKeysWithValues: figures.map { (ShardID($0.key), ShardStats(keys: $0.value.keys, opsPerSecond: $0.value.ops)) })
    }

    @Test func theLargestShardOverAThresholdSplitsFirst() {
        var limits = ReshapeThresholds()
        limits.splitKeys = 1000
        limits.splitBytes = 1 << 20
        let map = Self.map(nodes: 3, shards: 3)
        #expect(Node.splitCandidate(map, stats: Self.stats([1: (10, 0), 2: (900, 0), 3: (20, 0)]), limits: limits) == nil)
        let large = Node.splitCandidate(map, stats: Self.stats([1: (1500, 0), 2: (4000, 0), 3: (20, 0)]), limits: limits)
        #expect(large?.0 == ShardID(2) && large?.hot == false)
        var bytes = Self.stats([1: (10, 0), 2: (10, 0), 3: (10, 0)])
        bytes[ShardID(3)]?.bytes = 2 << 20
        #expect(Node.splitCandidate(map, stats: bytes, limits: limits)?.0 == ShardID(3))
    }

    @Test func aHotShardSplitsUntilEveryNodeHasSeveral() {
        var limits = ReshapeThresholds()
        limits.splitOpsPerSecond = 100
        let hot = Self.stats([1: (10, 50), 2: (10, 500), 3: (10, 150)])
        let split = Node.splitCandidate(Self.map(nodes: 3, shards: 3), stats: hot, limits: limits)
        #expect(split?.0 == ShardID(2) && split?.hot == true)
        // 12 shards on 3 nodes: another one finds no node of its own.
        #expect(Node.splitCandidate(Self.map(nodes: 3, shards: 12), stats: hot, limits: limits) == nil)
    }

    /// One node (`trestle server`, or a cluster of one) never splits for load: the new
    /// shard could not be led from anywhere else. Size still splits it.
    @Test func oneNodeSplitsBySizeOnly() {
        let limits = NodeConfiguration.standalone(settings: Settings()).reshaping
        let map = Self.map(nodes: 1, shards: 1)
        #expect(Node.splitCandidate(map, stats: Self.stats([1: (10, 5_000_000)]), limits: limits) == nil)
        let large = Node.splitCandidate(map, stats: Self.stats([1: (limits.splitKeys + 1, 5_000_000)]), limits: limits)
        #expect(large?.0 == ShardID(1) && large?.hot == false)
        // The same load on a shard of a two-node cluster splits it.
        #expect(Node.splitCandidate(Self.map(nodes: 2, shards: 1), stats: Self.stats([1: (10, 5_000_000)]), limits: limits)?.hot == true)
    }

    @Test func aHotShardSplitsWhereItsLoadIsHalved() {
        var tracker = LoadTracker()
        tracker.roll(now: 1)
        let hot = HashSlot(5000)
        for _ in 0..<900 { tracker.record(slot: hot, key: [1]) }
        for slot in stride(from: 0, to: 8192, by: 64) { tracker.record(slot: HashSlot(UInt16(slot)), key: [2]) }
        tracker.roll(now: 1 + LoadTracker.defaultWindowMilliseconds)
        #expect(tracker.loadMedianSlot(of: [SlotRange(0, 8191)]) == 5000)
        #expect(tracker.loadMedianSlot(of: [SlotRange(9000, 9999)]) == nil)
    }

    @Test func smallColdShardsASplitMadeMergeBackWhenThereAreMoreShardsThanNodes() {
        var limits = ReshapeThresholds()
        limits.splitKeys = 1000
        limits.splitOpsPerSecond = 1000
        var map = Self.map(nodes: 3, shards: 4)
        // Shard 4 came from a split of shard 3 and sits next to it.
        map.shards[3].genesis = [NodeID(1), NodeID(2), NodeID(3)]
        let cold = Self.stats([1: (5, 1), 2: (5, 1), 3: (5, 1), 4: (5, 1)])
        let merge = Node.mergeCandidate(map, stats: cold, limits: limits)
        #expect(merge?.0 == ShardID(4) && merge?.1 == ShardID(3))
        // Not while either is big or busy, nor down to fewer shards than nodes.
        #expect(Node.mergeCandidate(map, stats: Self.stats([1: (5, 1), 2: (5, 1), 3: (500, 1), 4: (5, 1)]), limits: limits) == nil)
        #expect(Node.mergeCandidate(map, stats: Self.stats([1: (5, 1), 2: (5, 1), 3: (5, 1), 4: (5, 400)]), limits: limits) == nil)
        var three = Self.map(nodes: 3, shards: 3)
        three.shards[2].genesis = [NodeID(1)]
        #expect(Node.mergeCandidate(three, stats: cold, limits: limits) == nil)
        // Shards created with the cluster never merge on their own.
        var original = Self.map(nodes: 3, shards: 4)
        original.shards[3].genesis = []
        #expect(Node.mergeCandidate(original, stats: cold, limits: limits) == nil)
    }
}
