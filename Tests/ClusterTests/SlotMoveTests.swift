// Moving slots in the directory's map: a move begins only on slots one shard owns, a
// shard takes part in one move at a time, and finishing flips ownership in one step.
import Core
import Testing
@testable import Cluster

@Suite struct SlotMoveTests {
    static func map() -> ClusterMap {
        ClusterMap.initial(name: "t", nodes: PlacementTests.nodes(3), shardCount: 4, replicationFactor: 3)
    }

    @Test func aMoveFlipsOwnershipOnlyWhenItFinishes() throws {
        var map = Self.map()
        let source = try #require(map.shardID(forSlot: HashSlot(100)))
        let target = try #require(map.shardID(forSlot: HashSlot(16000)))
        try map.apply(.beginMove(slots: SlotRange(100, 200), target: target))
        let move = try #require(map.move(forSlot: HashSlot(150)))
        #expect(move.source == source && move.target == target && move.id == map.version)
        #expect(map.shardID(forSlot: HashSlot(150)) == source)
        try map.apply(.finishMove(id: move.id))
        #expect(map.moves.isEmpty)
        #expect(map.shardID(forSlot: HashSlot(100)) == target)
        #expect(map.shardID(forSlot: HashSlot(200)) == target)
        #expect(map.shardID(forSlot: HashSlot(99)) == source)
        #expect(map.shardID(forSlot: HashSlot(201)) == source)
        #expect(map.shards.reduce(0) { $0 + $1.slots.reduce(0) { $0 + $1.count } } == HashSlot.count)
        #expect(throws: DirectoryCommand.Rejection.unknownMove(move.id)) { try map.apply(.finishMove(id: move.id)) }
    }

    @Test func invalidMovesAreRefusedWithoutAVersion() throws {
        var map = Self.map()
        let first = map.shards[0], second = map.shards[1]
        let version = map.version
        let straddle = SlotRange(first.slots[0].last, second.slots[0].first)
        #expect(throws: DirectoryCommand.Rejection.slotsSpanShards(straddle)) { try map.apply(.beginMove(slots: straddle, target: second.id)) }
        #expect(throws: DirectoryCommand.Rejection.alreadyOwned(SlotRange(0, 5), first.id)) {
            try map.apply(.beginMove(slots: SlotRange(0, 5), target: first.id))
        }
        #expect(throws: DirectoryCommand.Rejection.unknownShard(ShardID(99))) { try map.apply(.beginMove(slots: SlotRange(0, 5), target: ShardID(99))) }
        #expect(throws: DirectoryCommand.Rejection.badSlots(SlotRange(5, 3))) { try map.apply(.beginMove(slots: SlotRange(5, 3), target: second.id)) }
        #expect(map.version == version)
        try map.apply(.beginMove(slots: SlotRange(0, 5), target: second.id))
        // Both shards are busy until that move finishes.
        #expect(throws: DirectoryCommand.Rejection.self) { try map.apply(.beginMove(slots: SlotRange(10, 20), target: map.shards[2].id)) }
        #expect(throws: DirectoryCommand.Rejection.self) { try map.apply(.beginMove(slots: SlotRange(second.slots[0].first, second.slots[0].first), target: map.shards[3].id)) }
        try map.apply(.beginMove(slots: SlotRange(map.shards[2].slots[0].first, map.shards[2].slots[0].first + 3), target: map.shards[3].id))
        #expect(map.moves.count == 2)
    }

    @Test func slotRangesSubtractAndMerge() {
        #expect(ClusterMap.subtract(SlotRange(5, 9), from: [SlotRange(0, 20)]) == [SlotRange(0, 4), SlotRange(10, 20)])
        #expect(ClusterMap.subtract(SlotRange(0, 20), from: [SlotRange(5, 9)]) == [])
        #expect(ClusterMap.subtract(SlotRange(0, 4), from: [SlotRange(0, 9)]) == [SlotRange(5, 9)])
        #expect(ClusterMap.merge([SlotRange(10, 20), SlotRange(0, 9), SlotRange(30, 31)]) == [SlotRange(0, 20), SlotRange(30, 31)])
    }

    @Test func movesSurviveTheCodecWithOrWithoutACLUsers() throws {
        var map = Self.map()
        try map.apply(.beginMove(slots: SlotRange(1, 2), target: map.shards[3].id))
        #expect(try ClusterMap.decode(map.encoded()) == map)
        map.aclUsers = ["alice": "user alice on nopass +@all ~*"]
        #expect(try ClusterMap.decode(map.encoded()) == map)
        for command in [DirectoryCommand.beginMove(slots: SlotRange(7, 4000), target: ShardID(3)), .finishMove(id: 12)] {
            #expect(try DirectoryCommand.decode(command.encoded()) == command)
        }
        #expect(throws: ClusterCodecError.self) { try DirectoryCommand.decode([8, 9, 0, 1, 0]) }
    }

    @Test func aSplitCreatesAnEmptyShardAndMovesHalfToIt() throws {
        var map = Self.map()
        let nodes = map.nodes.map(\.id)
        let next = map.nextShardID
        #expect(next == ShardID(5))
        #expect(throws: DirectoryCommand.Rejection.badShardID(ShardID(9), expected: next)) {
            try map.apply(.splitShard(source: ShardID(1), slots: SlotRange(2048, 4095), newShard: ShardID(9), replicas: nodes))
        }
        #expect(throws: DirectoryCommand.Rejection.badReplicas) {
            try map.apply(.splitShard(source: ShardID(1), slots: SlotRange(2048, 4095), newShard: next, replicas: [nodes[0], nodes[0]]))
        }
        #expect(throws: DirectoryCommand.Rejection.self) {
            try map.apply(.splitShard(source: ShardID(1), slots: SlotRange(4000, 4200), newShard: next, replicas: nodes))
        }
        #expect(map.shards.count == 4)
        try map.apply(.splitShard(source: ShardID(1), slots: SlotRange(2048, 4095), newShard: next, replicas: nodes))
        let created = try #require(map.shard(next))
        #expect(created.slots.isEmpty && created.genesis == nodes && created.replicas == nodes)
        #expect(map.shardIDHigh == 5 && map.nextShardID == ShardID(6))
        let move = try #require(map.move(forSlot: HashSlot(3000)))
        #expect(move.source == ShardID(1) && move.target == next)
        #expect(try ClusterMap.decode(map.encoded()) == map)
        try map.apply(.finishMove(id: move.id))
        #expect(map.shardID(forSlot: HashSlot(3000)) == next)
        #expect(map.shardID(forSlot: HashSlot(2047)) == ShardID(1))
        let command = DirectoryCommand.splitShard(source: ShardID(2), slots: SlotRange(1, 9), newShard: ShardID(7), replicas: nodes)
        #expect(try DirectoryCommand.decode(command.encoded()) == command)
    }

    @Test func aMergedShardIsRemovedOnceItOwnsNothing() throws {
        var map = Self.map()
        #expect(throws: DirectoryCommand.Rejection.self) { try map.apply(.mergeShard(source: ShardID(1), into: ShardID(1))) }
        #expect(throws: DirectoryCommand.Rejection.unknownShard(ShardID(9))) { try map.apply(.mergeShard(source: ShardID(1), into: ShardID(9))) }
        try map.apply(.mergeShard(source: ShardID(1), into: ShardID(2)))
        #expect(map.shard(ShardID(1))?.mergeInto == ShardID(2))
        // Neither side may take part in another merge meanwhile.
        #expect(throws: DirectoryCommand.Rejection.merging(ShardID(2))) { try map.apply(.mergeShard(source: ShardID(2), into: ShardID(3))) }
        #expect(throws: DirectoryCommand.Rejection.stillOwnsSlots(ShardID(1))) { try map.apply(.removeShard(ShardID(1))) }
        #expect(try ClusterMap.decode(map.encoded()) == map)
        try map.apply(.beginMove(slots: SlotRange(0, 4095), target: ShardID(2)))
        try map.apply(.finishMove(id: map.moves[0].id))
        try map.apply(.removeShard(ShardID(1)))
        #expect(map.shard(ShardID(1)) == nil && map.shards.count == 3)
        #expect(map.shardID(forSlot: HashSlot(0)) == ShardID(2))
        #expect(map.shards.reduce(0) { $0 + $1.slots.reduce(0) { $0 + $1.count } } == HashSlot.count)
        #expect(map.nextShardID == ShardID(5))
        #expect(try ClusterMap.decode(map.encoded()) == map)
        for command in [DirectoryCommand.mergeShard(source: ShardID(3), into: ShardID(4)), .removeShard(ShardID(3))] {
            #expect(try DirectoryCommand.decode(command.encoded()) == command)
        }
    }
}
