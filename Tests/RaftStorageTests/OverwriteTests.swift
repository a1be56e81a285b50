import Consensus
import Core
import Storage
import Testing
@testable import RaftStorage

@Suite struct OverwriteTests {
    @Test func entriesAtOrAfterTheFirstNewIndexAreReplaced() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        let shard = ShardID(1)
        store.stage(shard: shard, entries: entries(1, 10, term: 1), hardState: nil)
        try store.commit(sync: true)
        store.stage(shard: shard, entries: entries(6, 8, term: 2), hardState: nil)
        try store.commit(sync: false)
        store.stage(shard: shard, entries: entries(9, 9, term: 2), hardState: nil)
        store.stage(shard: shard, entries: entries(4, 4, term: 3), hardState: HardState(term: Term(3)))
        try store.commit(sync: true)
        let (_, recovery) = try openStore(disk)
        #expect(recovery.shards[shard]?.entries == entries(1, 3, term: 1) + entries(4, 4, term: 3))
        #expect(recovery.shards[shard]?.hardState.term == Term(3))
    }

    @Test func anOverwriteInALaterSegmentReplacesEntriesOfAnEarlierOne() throws {
        let disk = makeDisk()
        let limits = RaftStorageLimits(segmentBytesMax: 1024)
        let (store, _) = try openStore(disk, limits: limits)
        let shard = ShardID(2)
        store.stage(shard: shard, entries: entries(1, 60, term: 1), hardState: nil)
        try store.commit(sync: true)
        #expect(store.stats.segmentsCreated >= 2, "the batch filled a segment")
        store.stage(shard: shard, entries: entries(30, 31, term: 2), hardState: nil)
        try store.commit(sync: true)
        let (_, recovery) = try openStore(disk, limits: limits)
        #expect(recovery.shards[shard]?.entries == entries(1, 29, term: 1) + entries(30, 31, term: 2))
    }

    @Test func overwritesOfOneShardLeaveOtherShardsAlone() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        store.stage(shard: ShardID(1), entries: entries(1, 5, term: 1), hardState: nil)
        store.stage(shard: ShardID(2), entries: entries(1, 5, term: 1), hardState: nil)
        store.stage(shard: ShardID(1), entries: entries(2, 2, term: 2), hardState: nil)
        try store.commit(sync: true)
        let (_, recovery) = try openStore(disk)
        #expect(recovery.shards[ShardID(1)]?.entries == entries(1, 1, term: 1) + entries(2, 2, term: 2))
        #expect(recovery.shards[ShardID(2)]?.entries == entries(1, 5, term: 1))
    }
}
