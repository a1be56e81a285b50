import Consensus
import Core
import Storage
import Testing
@testable import RaftStorage

@Suite struct DropShardTests {
    @Test func aDroppedShardIsNotRecoveredAndItsFilesGo() throws {
        let disk = makeDisk()
        let limits = RaftStorageLimits(segmentBytesMax: 4096)
        let (store, _) = try openStore(disk, limits: limits)
        let gone = ShardID(1), kept = ShardID(2)
        store.stage(shard: gone, entries: entries(1, 80, term: 1), hardState: HardState(term: Term(1)))
        store.stage(shard: kept, entries: entries(1, 3, term: 1), hardState: nil)
        try store.commit(sync: true)
        try store.saveSnapshot(shard: gone, snapshot(40, term: 1))
        try store.saveSnapshot(shard: kept, snapshot(3, term: 1))
        try store.dropShard(gone)
        #expect(try snapshotNames(disk) == [SnapshotFile.name(shard: kept, index: LogIndex(3))])
        let (_, recovery) = try openStore(disk, limits: limits)
        #expect(recovery.shards[gone] == nil)
        #expect(recovery.shards[kept]?.snapshot?.metadata.index == LogIndex(3))
        #expect(try walNames(disk).count == 1, "no shard needs the old segments")
    }

    @Test func aShardAddedAgainAfterADropStartsFresh() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        let shard = ShardID(9)
        store.stage(shard: shard, entries: entries(1, 10, term: 1), hardState: HardState(term: Term(1)))
        try store.commit(sync: true)
        try store.dropShard(shard)
        store.stage(shard: shard, entries: [], hardState: HardState(term: Term(4)))
        try store.saveSnapshot(shard: shard, snapshot(50, term: 4))
        store.stage(shard: shard, entries: entries(51, 52, term: 4), hardState: nil)
        try store.commit(sync: true)
        let (_, recovery) = try openStore(disk)
        #expect(views(recovery)[shard] == ShardView(hardState: HardState(term: Term(4)), snapshot: snapshot(50, term: 4), entries: entries(51, 52, term: 4)))
    }

    @Test func aDropIsDurableWhenItReturns() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        store.stage(shard: ShardID(1), entries: entries(1, 2, term: 1), hardState: nil)
        try store.commit(sync: true)
        try store.dropShard(ShardID(1))
        disk.crash()
        let (_, recovery) = try openStore(disk)
        #expect(recovery.shards.isEmpty)
    }
}
