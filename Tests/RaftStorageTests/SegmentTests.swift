import Consensus
import Core
import Storage
import Testing
@testable import RaftStorage

@Suite struct SegmentTests {
    let limits = RaftStorageLimits(segmentBytesMax: 2048)

    /// Stages `count` entries for `shard` in commits of 5, starting after `after`.
    func fill(_ store: RaftLogStore, _ shard: ShardID, after: UInt64, count: UInt64, term: UInt64 = 1) throws {
        var next = after + 1
        while next <= after + count {
            let last = min(next + 4, after + count)
            store.stage(shard: shard, entries: entries(next, last, term: term), hardState: nil)
            try store.commit(sync: true)
            next = last + 1
        }
    }

    @Test func segmentsRotateAndAreDeletedOnceEveryShardsSnapshotCoversThem() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk, limits: limits)
        let a = ShardID(1), b = ShardID(2)
        store.stage(shard: a, entries: entries(1, 50, term: 1), hardState: HardState(term: Term(1), vote: NodeID(3), commit: LogIndex(50)))
        try store.commit(sync: true)
        try fill(store, b, after: 0, count: 400)
        #expect(store.stats.segmentsCreated > 2)
        let segmentsBefore = try walNames(disk).count
        #expect(segmentsBefore == store.stats.liveSegments)

        try store.saveSnapshot(shard: b, snapshot(400, term: 1))
        #expect(try walNames(disk).count == segmentsBefore, "shard a still needs the first segment")
        try store.saveSnapshot(shard: a, snapshot(20, term: 1))
        #expect(try walNames(disk).count == segmentsBefore, "a's entries 21...50 are still needed")
        try store.saveSnapshot(shard: a, snapshot(50, term: 1))
        #expect(try walNames(disk).count == 1, "only the active segment is left")
        #expect(store.stats.segmentsDeleted == segmentsBefore - 1)

        let (_, recovery) = try openStore(disk, limits: limits)
        #expect(recovery.shards[a]?.hardState == HardState(term: Term(1), vote: NodeID(3), commit: LogIndex(50)), "hard state from a segment start")
        #expect(recovery.shards[a]?.snapshot == snapshot(50, term: 1))
        #expect(recovery.shards[a]?.entries == [])
        #expect(recovery.shards[b]?.snapshot?.metadata.index == LogIndex(400))
        #expect(recovery.shards[b]?.entries == [])
    }

    @Test func hardStateIsRecoveredFromTheNewestSegmentAfterOldOnesAreGone() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk, limits: limits)
        let quiet = ShardID(5), busy = ShardID(6)
        let hard = HardState(term: Term(7), vote: NodeID(2), commit: .zero)
        store.stage(shard: quiet, entries: [], hardState: hard)
        try store.commit(sync: true)
        try fill(store, busy, after: 0, count: 300)
        try store.saveSnapshot(shard: busy, snapshot(300, term: 1))
        let names = try walNames(disk)
        #expect(names.count == 1)
        #expect(!names.contains(FileNaming.logName(.first)), "the segment that recorded the hard state is gone")
        let (_, recovery) = try openStore(disk, limits: limits)
        #expect(recovery.shards[quiet]?.hardState == hard)
        #expect(recovery.shards[busy]?.entries == [])
    }

    @Test func recoveryContinuesInANewSegmentAndKeepsAllEntries() throws {
        let disk = makeDisk()
        var expected: [Entry] = []
        for round in 0..<3 {
            let (store, recovery) = try openStore(disk, limits: limits)
            #expect(recovery.shards[ShardID(1)]?.entries ?? [] == expected)
            try fill(store, ShardID(1), after: UInt64(expected.count), count: 40, term: UInt64(round + 1))
            expected += entries(UInt64(expected.count + 1), UInt64(expected.count + 40), term: UInt64(round + 1))
        }
        let (_, recovery) = try openStore(disk, limits: limits)
        #expect(recovery.shards[ShardID(1)]?.entries == expected)
        #expect(recovery.report.truncations.isEmpty)
    }

    @Test func segmentsWrittenBeforeARestartAreDeletedOnceCoveredAfterIt() throws {
        let disk = makeDisk()
        let a = ShardID(1), b = ShardID(2)
        do {
            let (store, _) = try openStore(disk, limits: limits)
            store.stage(shard: a, entries: entries(1, 30, term: 1), hardState: nil)
            try store.commit(sync: true)
            try fill(store, b, after: 0, count: 200)
        }
        let (store, recovery) = try openStore(disk, limits: limits)
        let segmentsAfterRestart = try walNames(disk).count
        #expect(segmentsAfterRestart > 2)
        #expect(recovery.shards[a]?.entries == entries(1, 30, term: 1))
        try store.saveSnapshot(shard: b, snapshot(200, term: 1))
        #expect(try walNames(disk).count == segmentsAfterRestart, "a's entries pin the first segment")
        try store.saveSnapshot(shard: a, snapshot(30, term: 1))
        #expect(try walNames(disk).count == 1)
        let (_, again) = try openStore(disk, limits: limits)
        #expect(again.shards[a]?.snapshot?.metadata.index == LogIndex(30))
        #expect(again.shards[b]?.snapshot?.metadata.index == LogIndex(200))
        #expect(again.report.anomalies.isEmpty)
    }
}
