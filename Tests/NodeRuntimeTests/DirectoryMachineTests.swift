// The directory's table of slot owners, read on every request: it must answer as the
// map itself does for every slot, owned or not.
import Cluster
import Core
import Testing
@testable import NodeRuntime

@Suite struct DirectoryMachineTests {
    @Test func theSlotTableAnswersAsTheMapForEverySlot() {
        let node = NodeInfo(id: NodeID(1), host: "127.0.0.1", port: 7001, peerPort: 17001, zone: "")
        // Shard ids out of order and far apart, and slots 9000-9999 owned by no shard.
        let shards = [
            ShardInfo(id: ShardID(12), slots: [SlotRange(0, 4999), SlotRange(15000, 16383)], replicas: [node.id]),
            ShardInfo(id: ShardID(3), slots: [SlotRange(5000, 8999)], replicas: [node.id]),
            ShardInfo(id: ShardID(70000), slots: [SlotRange(10000, 14999)], replicas: [node.id]),
        ]
        let map = ClusterMap(name: "t", version: 1, replicationFactor: 1, nodes: [node], shards: shards, directoryVoters: [node.id])
        let directory = DirectoryMachine(map: map)
        #expect(directory.hasMap)
        for slot in 0..<HashSlot.count {
            let hash = HashSlot(UInt16(slot))
            #expect(directory.shardID(forSlot: hash) == map.shardID(forSlot: hash), "slot \(slot)")
        }
        #expect(directory.shardID(forSlot: HashSlot(9500)) == nil)
        #expect(directory.shardID(forSlot: HashSlot(16383)) == ShardID(12))
        #expect(directory.shardID(forSlot: HashSlot(10000)) == ShardID(70000))

        let empty = DirectoryMachine()
        #expect(!empty.hasMap)
        #expect(empty.shardID(forSlot: HashSlot(0)) == nil)
    }
}
