import Consensus
import Core
import Storage
import Testing
@testable import RaftStorage

@Suite struct CorruptionTests {
    /// One segment holding three synced commits of shard 1; returns the segment's path and
    /// the file offsets where each commit ends.
    func threeCommits(_ disk: SimulatedDisk) throws -> (path: String, ends: [Int]) {
        let (store, _) = try openStore(disk)
        var ends: [Int] = []
        let path = joinPath(storeDirectory, try walNames(disk)[0])
        for round in 0..<3 {
            store.stage(shard: ShardID(1), entries: entries(UInt64(round * 5 + 1), UInt64(round * 5 + 5), term: 1), hardState: nil)
            try store.commit(sync: true)
            ends.append(disk.contents(path)?.count ?? 0)
        }
        return (path, ends)
    }

    @Test func aTornTailIsTruncatedAndReported() throws {
        let disk = makeDisk()
        let (path, ends) = try threeCommits(disk)
        let full = try #require(disk.contents(path))
        disk.setContents(path, Array(full[0..<(ends[2] - 7)]))
        let (_, recovery) = try openStore(disk)
        #expect(recovery.shards[ShardID(1)]?.entries == entries(1, 10, term: 1))
        #expect(recovery.report.truncations.count == 1)
        #expect(recovery.report.truncations.first?.kind == .tornTail)
        #expect(disk.contents(path)?.count == ends[1])
    }

    @Test func damageInTheMiddleIsRefusedUnlessRepairing() throws {
        let disk = makeDisk()
        let (path, ends) = try threeCommits(disk)
        disk.flipBit(path, byte: ends[0] + 20, bit: 1)
        #expect(throws: StorageError.self) { _ = try openStore(disk) }
        do {
            _ = try openStore(disk)
        } catch {
            guard case .corruptionInMiddle? = error as? StorageError else {
                Issue.record("expected corruptionInMiddle, got \(error)")
                return
            }
        }
        let (_, recovery) = try openStore(disk, repair: true)
        #expect(recovery.shards[ShardID(1)]?.entries == entries(1, 5, term: 1))
        #expect(recovery.report.truncations.first?.kind == .repaired)
        let (_, again) = try openStore(disk)
        #expect(again.shards[ShardID(1)]?.entries == entries(1, 5, term: 1), "the repair is durable")
    }
}
