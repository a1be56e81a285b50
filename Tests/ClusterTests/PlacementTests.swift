// Placement and the directory's map: balanced, zone-aware, stable under change.
import Core
import Testing
@testable import Cluster

@Suite struct PlacementTests {
    static func nodes(_ count: Int, zones: [String] = []) -> [NodeInfo] {
        (1...count).map { id in
            NodeInfo(id: NodeID(UInt64(id)), host: "127.0.0.1", port: 7000 + id, peerPort: 17000 + id,
                     zone: zones.isEmpty ? "" : zones[(id - 1) % zones.count])
        }
    }

    static func load(_ map: ClusterMap) -> [NodeID: Int] {
        var load: [NodeID: Int] = [:]
        for shard in map.shards { for id in shard.replicas { load[id, default: 0] += 1 } }
        return load
    }

    @Test func initialMapCoversEverySlotOnce() {
        let map = ClusterMap.initial(name: "t", nodes: Self.nodes(3), shardCount: 16, replicationFactor: 3)
        #expect(map.shards.count == 16)
        #expect(map.shards.reduce(0) { $0 + $1.slots.reduce(0) { $0 + $1.count } } == HashSlot.count)
        for slot in [0, 1, 1023, 1024, 8191, 16383] {
            #expect(map.shard(forSlot: HashSlot(UInt16(slot))) != nil)
        }
        for shard in map.shards { #expect(Set(shard.replicas).count == 3) }
    }

    @Test func preferredLeadersAreSpread() {
        let map = ClusterMap.initial(name: "t", nodes: Self.nodes(3), shardCount: 16, replicationFactor: 3)
        var leaders: [NodeID: Int] = [:]
        for shard in map.shards { leaders[shard.replicas[0], default: 0] += 1 }
        #expect(leaders.values.max()! - leaders.values.min()! <= 1)
    }

    /// Seen on a cluster grown from 3 to 12 nodes: a greedy choice left n2 leading two
    /// shards and n11 none (n11's shards' other replicas all led one already).
    @Test func everyNodeLeadsAShardWhenTheReplicasAllowIt() {
        let lists: [[UInt64]] = [[1, 4, 6], [2, 3, 6], [3, 5, 7], [4, 5, 7], [8, 3, 9], [2, 4, 8],
                                 [5, 9, 10], [6, 10, 11], [7, 11, 12], [12, 1, 8], [9, 1, 2], [10, 11, 12]]
        var map = ClusterMap.initial(name: "t", nodes: Self.nodes(12), shardCount: 12, replicationFactor: 3)
        for (index, list) in lists.enumerated() { map.shards[index].replicas = list.map { NodeID($0) } }
        let planned = Placement.plan(map)
        let leaders = planned.map { $0.replicas[0] }
        #expect(Set(leaders).count == 12, "\(leaders)")
        // Only the shards on the augmenting path change leader.
        let changed = zip(map.shards, planned).filter { $0.replicas[0] != $1.replicas[0] }.count
        #expect(changed <= 6)
        for (before, after) in zip(map.shards, planned) { #expect(Set(before.replicas) == Set(after.replicas)) }
    }

    /// Placement is a fixed point: the directory leader re-plans every second, and a plan
    /// that changed its own answer would move leaders back and forth.
    @Test func planningAgainChangesNothing() {
        for nodes in 1...12 {
            for shards in [1, 2, 3, 4, 5, 7, 12, 16, 20] {
                let map = ClusterMap.initial(name: "t", nodes: Self.nodes(nodes), shardCount: shards, replicationFactor: min(3, nodes))
                var again = map
                again.shards = Placement.plan(map)
                #expect(again.shards.map(\.replicas) == map.shards.map(\.replicas), "\(nodes) nodes, \(shards) shards")
                var leaders: [NodeID: Int] = [:]
                for shard in map.shards { leaders[shard.replicas[0], default: 0] += 1 }
                if shards >= nodes { #expect(leaders.count == nodes, "\(nodes) nodes, \(shards) shards: \(leaders)") }
                #expect((leaders.values.max() ?? 0) - (leaders.values.min() ?? 0) <= 1)
            }
        }
    }

    @Test func addingANodeMovesReplicasOntoItAndKeepsBalance() throws {
        var map = ClusterMap.initial(name: "t", nodes: Self.nodes(3), shardCount: 16, replicationFactor: 3)
        let before = map.shards
        try map.apply(.addNode(Self.nodes(4)[3]))
        let planned = Placement.plan(map)
        map.shards = planned
        let load = Self.load(map)
        #expect(load[NodeID(4)] ?? 0 >= 11)
        #expect(load.values.max()! - load.values.min()! <= 1)
        // Each shard changes at most one replica.
        for (old, new) in zip(before, planned) {
            #expect(Set(old.replicas).subtracting(new.replicas).count <= 1)
        }
        // A second plan is a fixed point.
        #expect(Placement.plan(map) == planned)
    }

    @Test func drainingANodeMovesEverythingOff() throws {
        var map = ClusterMap.initial(name: "t", nodes: Self.nodes(4), shardCount: 16, replicationFactor: 3)
        try map.apply(.drainNode(NodeID(2)))
        map.shards = Placement.plan(map)
        #expect(Self.load(map)[NodeID(2)] == nil)
        for shard in map.shards { #expect(Set(shard.replicas).count == 3) }
        #expect(throws: DirectoryCommand.Rejection.self) { try map.apply(.forgetNode(NodeID(3))) }
    }

    @Test func drainRefusedBelowReplicationFactor() {
        var map = ClusterMap.initial(name: "t", nodes: Self.nodes(3), shardCount: 4, replicationFactor: 3)
        #expect(throws: DirectoryCommand.Rejection.tooFewNodes(needed: 3, available: 2)) { try map.apply(.drainNode(NodeID(1))) }
    }

    @Test func zonesAreDistinctWhenPossible() {
        let map = ClusterMap.initial(name: "t", nodes: Self.nodes(6, zones: ["a", "b", "c"]), shardCount: 12, replicationFactor: 3)
        let zones = Dictionary(uniqueKeysWithValues: map.nodes.map { ($0.id, $0.zone) })
        for shard in map.shards { #expect(Set(shard.replicas.map { zones[$0]! }).count == 3) }
    }

    @Test func directoryVotersStayOdd() throws {
        var map = ClusterMap.initial(name: "t", nodes: Self.nodes(3), shardCount: 4, replicationFactor: 3)
        try map.apply(.addNode(Self.nodes(4)[3]))
        #expect(Placement.directoryVoters(map).count == 3)
        try map.apply(.addNode(Self.nodes(5)[4]))
        #expect(Placement.directoryVoters(map).count == 5)
    }

    @Test func mapAndCommandsRoundTrip() throws {
        var map = ClusterMap.initial(name: "t", nodes: Self.nodes(3, zones: ["x"]), shardCount: 16, replicationFactor: 3)
        try map.apply(.addNode(Self.nodes(4)[3]))
        #expect(try ClusterMap.decode(map.encoded()) == map)
        let commands: [DirectoryCommand] = [.addNode(Self.nodes(5)[4]), .drainNode(NodeID(2)), .forgetNode(NodeID(2)),
                                            .setReplicas([ShardID(1): [NodeID(1), NodeID(4)]]), .setDirectoryVoters([NodeID(1)])]
        for command in commands { #expect(try DirectoryCommand.decode(command.encoded()) == command) }
        #expect(throws: ClusterCodecError.self) { try ClusterMap.decode([1, 2, 3]) }
    }

    @Test func aclUsersRoundTripAndOlderMapsStillDecode() throws {
        var map = ClusterMap.initial(name: "t", nodes: Self.nodes(3), shardCount: 2, replicationFactor: 3)
        let before = map.encoded()
        try map.apply(.putACLUser(name: "alice", line: "user alice on ~app:* +@all"))
        try map.apply(.putACLUser(name: "bob", line: "user bob off -@all"))
        try map.apply(.deleteACLUsers(["bob", "ghost"]))
        #expect(map.aclUsers == ["alice": "user alice on ~app:* +@all"])
        #expect(try ClusterMap.decode(map.encoded()) == map)
        // A map without users encodes exactly as format 1 did, and decodes with none.
        let plain = try ClusterMap.decode(before)
        #expect(plain.aclUsers.isEmpty && plain.encoded() == before)
        for command: DirectoryCommand in [.putACLUser(name: "x", line: "user x on nopass"), .deleteACLUsers(["x", "y"])] {
            #expect(try DirectoryCommand.decode(command.encoded()) == command)
        }
        #expect(throws: ClusterCodecError.self) { try ClusterMap.decode(map.encoded() + [0]) }
    }

    @Test func nodeSpecsParse() {
        let nodes = NodeInfo.parseList("1@127.0.0.1:7001,2@127.0.0.1:7002:17999/z2")
        #expect(nodes?.count == 2)
        #expect(nodes?[0].peerPort == 17001)
        #expect(nodes?[1].peerPort == 17999)
        #expect(nodes?[1].zone == "z2")
        #expect(NodeInfo.parseList("1@127.0.0.1:7001,1@127.0.0.1:7002") == nil)
        #expect(NodeInfo.parseList("x@h:1") == nil)
        #expect(NodeInfo.parseList("1@h:99999") == nil)
    }
}
