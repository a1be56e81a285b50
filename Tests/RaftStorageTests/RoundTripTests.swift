import Consensus
import Core
import Storage
import Testing
@testable import RaftStorage

@Suite struct RoundTripTests {
    @Test func everyPayloadKindAndHardStateSurviveARestart() throws {
        let disk = makeDisk()
        let (store, first) = try openStore(disk)
        #expect(first.shards.isEmpty)
        let written = [
            Entry(term: Term(1), index: LogIndex(1), payload: .empty),
            command(1, 2, "SET a 1"),
            Entry(term: Term(2), index: LogIndex(3), payload: .command([])),
            Entry(
                term: Term(2), index: LogIndex(4),
                payload: .configChange(ConfigChange(.addLearner, NodeID(4)), Membership(voters: [NodeID(1), NodeID(2)], learners: [NodeID(4)]))),
            Entry(term: Term(2), index: LogIndex(5), payload: .configChange(ConfigChange(.promote, NodeID(4)), Membership(voters: [NodeID(1), NodeID(2), NodeID(4)]))),
            Entry(term: Term(3), index: LogIndex(6), payload: .configChange(ConfigChange(.remove, NodeID(2)), Membership(voters: [NodeID(1), NodeID(4)]))),
        ]
        let hardState = HardState(term: Term(3), vote: NodeID(4), commit: LogIndex(5))
        store.stage(shard: ShardID(7), entries: written, hardState: hardState)
        store.stage(shard: ShardID(0), entries: [], hardState: HardState(term: Term(9), vote: NodeID(1), commit: .zero))
        let bytes = try store.commit(sync: true)
        #expect(bytes > 0)
        #expect(store.stats.commits == 1)

        let (_, recovery) = try openStore(disk)
        #expect(views(recovery) == [
            ShardID(7): ShardView(hardState: hardState, entries: written),
            ShardID(0): ShardView(hardState: HardState(term: Term(9), vote: NodeID(1), commit: .zero)),
        ])
        #expect(recovery.report.truncations.isEmpty)
    }

    @Test func manyShardsInOneCommitAreWrittenWithOneWriteAndOneSync() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        let appendsBefore = disk.appendCount
        let syncsBefore = disk.syncCount
        for shard in 0..<16 {
            store.stage(shard: ShardID(UInt64(shard)), entries: entries(1, 10, term: 1), hardState: nil)
        }
        try store.commit(sync: true)
        #expect(disk.appendCount - appendsBefore == 1)
        #expect(disk.syncCount - syncsBefore == 1)
        #expect(try store.commit(sync: true) == 0, "nothing staged: no write")
        #expect(disk.syncCount - syncsBefore == 1, "nothing unsynced: no fsync")
        let (_, recovery) = try openStore(disk)
        #expect(recovery.shards.count == 16)
        for shard in 0..<16 {
            #expect(recovery.shards[ShardID(UInt64(shard))]?.entries == entries(1, 10, term: 1))
        }
    }

    @Test func aLargeStageIsSplitIntoSeveralRecordsAndReadBackWhole() throws {
        let disk = makeDisk()
        let (store, _) = try openStore(disk)
        let big = (1...40).map { Entry(term: Term(1), index: LogIndex($0), payload: .command([UInt8](repeating: UInt8($0), count: 100_000))) }
        store.stage(shard: ShardID(1), entries: big, hardState: HardState(term: Term(1), vote: .none, commit: LogIndex(40)))
        try store.commit(sync: true)
        let (_, recovery) = try openStore(disk)
        #expect(recovery.shards[ShardID(1)]?.entries == big)
        #expect(recovery.shards[ShardID(1)]?.hardState.commit == LogIndex(40))
        #expect(recovery.report.log.logRecords >= 4, "4 MB of entries take several 1 MiB records")
    }

    @Test func walRecordsDecodeToWhatWasEncoded() throws {
        let limits = RaftStorageLimits()
        var bytes: [UInt8] = []
        let baseline = ShardBaseline(shard: ShardID(3), hardState: HardState(term: Term(4), vote: NodeID(2), commit: LogIndex(9)), snapshotIndex: LogIndex(5), snapshotTerm: Term(3))
        try WALEncoder.segmentStart(Generation(12), [baseline], into: &bytes)
        try WALEncoder.snapshot(shard: ShardID(3), index: LogIndex(5), term: Term(3), discardsLog: true, into: &bytes)
        try WALEncoder.dropShard(ShardID(8), into: &bytes)
        try WALEncoder.append(shard: ShardID(3), entries: [], hardState: HardState(term: Term(5)), recordBytesTarget: 1 << 20, into: &bytes)
        let expected: [WALRecord] = [
            .segmentStart(generation: Generation(12), shards: [baseline]),
            .snapshot(shard: ShardID(3), index: LogIndex(5), term: Term(3), discardsLog: true),
            .dropShard(ShardID(8)),
            .append(shard: ShardID(3), firstIndex: .zero, entries: [], hardState: HardState(term: Term(5))),
        ]
        var offset = 0
        var decoded: [WALRecord] = []
        while offset < bytes.count {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            let payload = Array(bytes[(offset + 12)..<(offset + 12 + length)])
            decoded.append(try WALRecord.decode(payload, limits: limits))
            offset += 12 + length
        }
        #expect(decoded == expected)
    }

    @Test func truncatedOrGarbageRecordPayloadsAreErrorsNotCrashes() throws {
        let limits = RaftStorageLimits()
        var bytes: [UInt8] = []
        try WALEncoder.append(shard: ShardID(1), entries: entries(1, 3, term: 2), hardState: HardState(term: Term(2)), recordBytesTarget: 1 << 20, into: &bytes)
        let payload = Array(bytes[12...])
        for length in 0..<payload.count {
            #expect(throws: WALDecodeError.self) { try WALRecord.decode(Array(payload[0..<length]), limits: limits) }
        }
        #expect(throws: WALDecodeError.self) { try WALRecord.decode([99], limits: limits) }
        #expect(throws: WALDecodeError.self) { try WALRecord.decode([2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF], limits: limits) }
    }
}
