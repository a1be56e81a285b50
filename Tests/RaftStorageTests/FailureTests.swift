import Consensus
import Core
import Storage
import Testing
@testable import RaftStorage

@Suite struct FailureTests {
    @Test func aFailedWriteFailsTheStoreAndACrashKeepsOnlyWhatWasSynced() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        store.stage(shard: ShardID(1), entries: entries(1, 3, term: 1), hardState: nil)
        try store.commit(sync: true)
        store.stage(shard: ShardID(1), entries: entries(4, 6, term: 1), hardState: nil)
        disk.failNextAppend = true
        #expect(throws: StorageError.self) { try store.commit(sync: true) }
        store.stage(shard: ShardID(1), entries: entries(7, 7, term: 1), hardState: nil)
        #expect(throws: StorageError.self) { try store.commit(sync: true) }
        #expect(throws: StorageError.self) { try store.dropShard(ShardID(1)) }
        #expect(throws: StorageError.self) { try store.saveSnapshot(shard: ShardID(1), snapshot(2, term: 1)) }
        disk.crash()
        let (_, recovery) = try openStore(disk)
        #expect(recovery.shards[ShardID(1)]?.entries == entries(1, 3, term: 1))
    }

    @Test func aFailedSyncFailsTheStore() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        store.stage(shard: ShardID(1), entries: entries(1, 3, term: 1), hardState: nil)
        disk.failNextSync = true
        #expect(throws: StorageError.self) { try store.commit(sync: true) }
        #expect(throws: StorageError.self) { try store.commit(sync: true) }
    }

    @Test func aSnapshotOverTheLimitIsRefusedWithoutFailingTheStore() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk, limits: RaftStorageLimits(snapshotBytesMax: 10))
        #expect(throws: StorageError.recordTooLarge(bytes: 11)) {
            try store.saveSnapshot(shard: ShardID(1), snapshot(5, term: 1, data: [UInt8](repeating: 0, count: 11)))
        }
        #expect(try snapshotNames(disk).isEmpty)
        store.stage(shard: ShardID(1), entries: entries(1, 1, term: 1), hardState: nil)
        try store.commit(sync: true)
    }
}
