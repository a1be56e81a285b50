import Consensus
import Core
import Storage
import Testing
@testable import RaftStorage

@Suite struct SnapshotTests {
    @Test func aNewerSnapshotReplacesTheOlderFileAndAnOlderOneIsIgnored() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        let shard = ShardID(3)
        store.stage(shard: shard, entries: entries(1, 20, term: 2), hardState: HardState(term: Term(2), vote: .none, commit: LogIndex(20)))
        try store.commit(sync: true)
        try store.saveSnapshot(shard: shard, snapshot(10, term: 2, data: [10]))
        try store.saveSnapshot(shard: shard, snapshot(15, term: 2, data: [15]))
        try store.saveSnapshot(shard: shard, snapshot(12, term: 2, data: [12]))
        #expect(try snapshotNames(disk) == [SnapshotFile.name(shard: shard, index: LogIndex(15))])
        let (_, recovery) = try openStore(disk)
        #expect(recovery.shards[shard]?.snapshot == snapshot(15, term: 2, data: [15]))
        #expect(recovery.shards[shard]?.entries == entries(16, 20, term: 2))
        #expect(recovery.report.snapshotsLoaded == 1)
    }

    @Test func largeSnapshotDataAndMembershipRoundTrip() throws {
        let disk = makeDisk()
        let limits = RaftStorageLimits(snapshotChunkBytes: 1000)
        let (store, _) = try openStore(disk, limits: limits)
        let data = (0..<10_500).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let membership = Membership(voters: [NodeID(1), NodeID(5)], learners: [NodeID(9)])
        try store.saveSnapshot(shard: ShardID(0), snapshot(99, term: 4, data: data, membership: membership))
        let (_, recovery) = try openStore(disk, limits: limits)
        #expect(recovery.shards[ShardID(0)]?.snapshot == snapshot(99, term: 4, data: data, membership: membership))
    }

    @Test func aLeadersSnapshotThatDoesNotMatchTheLogDiscardsTheStoredEntries() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        let shard = ShardID(1)
        store.stage(shard: shard, entries: entries(1, 40, term: 1), hardState: nil)
        try store.commit(sync: true)
        try store.saveSnapshot(shard: shard, snapshot(30, term: 2))
        let (_, afterSave) = try openStore(disk)
        #expect(afterSave.shards[shard]?.entries == [], "entries 31...40 of term 1 are stale")
    }

    @Test func aSnapshotMatchingTheLogKeepsTheEntriesAfterIt() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        let shard = ShardID(1)
        store.stage(shard: shard, entries: entries(1, 40, term: 1), hardState: nil)
        try store.commit(sync: true)
        try store.saveSnapshot(shard: shard, snapshot(30, term: 1))
        store.stage(shard: shard, entries: entries(41, 42, term: 1), hardState: nil)
        try store.commit(sync: true)
        let (_, recovery) = try openStore(disk)
        #expect(recovery.shards[shard]?.entries == entries(31, 42, term: 1))
    }

    /// A snapshot file published just before a crash, before its WAL record was synced.
    @Test func aSnapshotFileWithoutItsLogRecordIsJudgedByRaftsRule() throws {
        for (term, expected) in [(UInt64(1), entries(31, 40, term: 1)), (UInt64(2), [Entry]())] {
            let disk = makeDisk()
            let (store, _) = try openStore(disk)
            let shard = ShardID(4)
            store.stage(shard: shard, entries: entries(1, 40, term: 1), hardState: nil)
            try store.commit(sync: true)
            // The file is published; the crash comes before its WAL record is written.
            _ = try SnapshotFile.write(snapshot(30, term: term), shard: shard, directory: storeDirectory, disk: disk, limits: RaftStorageLimits())
            _ = store
            disk.crash()
            let (_, recovery) = try openStore(disk)
            #expect(recovery.shards[shard]?.snapshot?.metadata.index == LogIndex(30))
            #expect(recovery.shards[shard]?.entries == expected, "snapshot term \(term)")
        }
    }

    @Test func aDamagedSnapshotIsRefusedAndWithRepairSetAside() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        try store.saveSnapshot(shard: ShardID(2), snapshot(5, term: 1, data: [UInt8](repeating: 9, count: 100)))
        let name = SnapshotFile.name(shard: ShardID(2), index: LogIndex(5))
        disk.flipBit(joinPath(storeDirectory, name), byte: 80, bit: 3)
        #expect(throws: StorageError.self) { _ = try openStore(disk) }
        let (_, repaired) = try openStore(disk, repair: true)
        #expect(repaired.shards[ShardID(2)]?.snapshot == nil)
        #expect(!repaired.report.anomalies.isEmpty)
        #expect(try disk.list(storeDirectory).contains(name + ".damaged"))
    }

    @Test func temporarySnapshotFilesAreRemovedAtRecovery() throws {
        let disk = makeDisk()
        _ = try openStore(disk)
        let temporary = joinPath(storeDirectory, SnapshotFile.name(shard: ShardID(1), index: LogIndex(3)) + ".tmp")
        disk.setContents(temporary, [1, 2, 3])
        let (_, recovery) = try openStore(disk)
        #expect(recovery.shards.isEmpty)
        #expect(disk.contents(temporary) == nil)
    }

    @Test func snapshotFileNamesParseBack() {
        let name = SnapshotFile.name(shard: ShardID(0xabc), index: LogIndex(77))
        #expect(name == "snap-0000000000000abc-000000000000004d.rsnap")
        #expect(SnapshotFile.parse(name) == SnapshotFile.Name(shard: ShardID(0xabc), index: LogIndex(77), temporary: false))
        #expect(SnapshotFile.parse(name + ".tmp")?.temporary == true)
        #expect(SnapshotFile.parse(name + ".damaged") == nil)
        #expect(SnapshotFile.parse("snap-0000000000000ABC-000000000000004d.rsnap") == nil)
        #expect(SnapshotFile.parse("snap-0000000000000abc-0000000000000000.rsnap") == nil)
    }
}
