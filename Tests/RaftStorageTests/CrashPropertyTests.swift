// Property: after a crash at any point of a random sequence of stage / commit / snapshot /
// drop operations, recovery returns exactly the state after some prefix of the records
// staged since the last sync (the same prefix for every shard, since they share one log).
// So nothing synced is ever lost, and nothing is returned that was never staged.

import Consensus
import Core
import Storage
import Testing
@testable import RaftStorage

/// The reference model: what each shard's recovered state should be.
struct ModelShard {
    var view = ShardView()
    var snapshotIndex: UInt64 { view.snapshot.map { $0.metadata.index.rawValue } ?? 0 }
    var lastIndex: UInt64 { view.entries.last?.index.rawValue ?? snapshotIndex }
    var lastTerm: UInt64 { view.entries.last?.term.rawValue ?? view.snapshot?.metadata.term.rawValue ?? 0 }

    func term(at index: UInt64) -> UInt64? {
        if index == snapshotIndex, let snapshot = view.snapshot { return snapshot.metadata.term.rawValue }
        return view.entries.first { $0.index.rawValue == index }?.term.rawValue
    }

    mutating func stage(_ new: [Entry], _ hardState: HardState?) {
        if let first = new.first {
            view.entries.removeAll { $0.index >= first.index }
            view.entries += new
        }
        if let hardState { view.hardState = hardState }
    }

    mutating func saveSnapshot(_ snapshot: Snapshot) {
        let index = snapshot.metadata.index.rawValue
        guard index > snapshotIndex else { return }
        let storedTerm = view.entries.first { $0.index.rawValue == index }?.term
        if storedTerm == snapshot.metadata.term {
            view.entries.removeAll { $0.index.rawValue <= index }
        } else {
            view.entries = []
        }
        view.snapshot = snapshot
    }
}

struct CrashRun {
    var random: SeededRandom
    let disk: SimulatedDisk
    let limits = RaftStorageLimits(segmentBytesMax: 3000)
    var store: RaftLogStore
    var model: [ShardID: ModelShard] = [:]
    /// Model states after each record staged since the last sync; the first is the synced one.
    var candidates: [[ShardID: ModelShard]] = []
    var crashes = 0

    init(seed: UInt64) throws {
        random = SeededRandom(seed: seed)
        disk = SimulatedDisk(seed: seed &+ 1)
        (store, _) = try openStore(disk, limits: limits)
        candidates = [model]
    }

    mutating func step() throws {
        let roll = random.int(in: 0...99)
        let shard = ShardID(UInt64(random.int(in: 0...3)))
        switch roll {
        case 0..<45: stageRandom(shard)
        case 45..<65:
            try store.commit(sync: false)
        case 65..<80:
            try store.commit(sync: true)
            candidates = [model]
        case 80..<88: try snapshotRandom(shard)
        case 88..<91:
            try store.dropShard(shard)
            model[shard] = nil
            candidates = [model]
        default: try crashAndCheck()
        }
    }

    mutating func stageRandom(_ shard: ShardID) {
        var state = model[shard] ?? ModelShard()
        let overwrite = random.int(in: 0...3) == 0 && state.lastIndex > state.snapshotIndex
        let first = overwrite ? UInt64(random.int(in: Int(state.snapshotIndex + 1)...Int(state.lastIndex))) : state.lastIndex + 1
        let term = max(state.lastTerm, 1) + (overwrite ? 1 : UInt64(random.int(in: 0...1)))
        let count = random.int(in: 0...4)
        let new = (0..<count).map { offset -> Entry in
            let index = LogIndex(first + UInt64(offset))
            switch random.int(in: 0...5) {
            case 0: return Entry(term: Term(term), index: index, payload: .empty)
            case 1: return Entry(term: Term(term), index: index, payload: .configChange(ConfigChange(.addLearner, NodeID(9)), threeVoters))
            default: return Entry(term: Term(term), index: index, payload: .command((0..<random.int(in: 0...60)).map { _ in UInt8(truncatingIfNeeded: random.next()) }))
            }
        }
        let hardState = count == 0 || random.int(in: 0...2) == 0
            ? HardState(term: Term(term), vote: NodeID(UInt64(random.int(in: 0...3))), commit: LogIndex(state.snapshotIndex)) : nil
        store.stage(shard: shard, entries: new, hardState: hardState)
        state.stage(new, hardState)
        model[shard] = state
        candidates.append(model)
    }

    mutating func snapshotRandom(_ shard: ShardID) throws {
        let state = model[shard] ?? ModelShard()
        let snapshot: Snapshot
        if state.lastIndex > state.snapshotIndex && random.int(in: 0...3) != 0 {
            // Local compaction at an index the log holds.
            let index = UInt64(random.int(in: Int(state.snapshotIndex + 1)...Int(state.lastIndex)))
            let term = state.term(at: index) ?? 1
            snapshot = RaftStorageTests.snapshot(index, term: term, data: [UInt8(index & 0xFF)])
        } else {
            // A leader's snapshot of a newer term: inside the log (which then holds stale
            // entries after it) or beyond it.
            let index = UInt64(random.int(in: Int(state.snapshotIndex + 1)...Int(state.lastIndex + 3)))
            snapshot = RaftStorageTests.snapshot(index, term: state.lastTerm + 1, data: [0xEE])
        }
        try store.saveSnapshot(shard: shard, snapshot)
        var updated = state
        updated.saveSnapshot(snapshot)
        model[shard] = updated
        candidates = [model]
    }

    mutating func crashAndCheck() throws {
        crashes += 1
        disk.crash(tornWrites: true)
        let recovery: RaftRecovery
        (store, recovery) = try openStore(disk, limits: limits)
        let recovered = views(recovery)
        let match = candidates.lastIndex { candidate in candidate.mapValues(\.view) == recovered }
        guard let match else {
            let expected = candidates.map { $0.mapValues(\.view.description) }
            Issue.record("recovered \(recovered.mapValues(\.description)) is none of \(expected)")
            throw CancellationError()
        }
        #expect(recovery.report.anomalies.isEmpty)
        model = candidates[match]
        candidates = [model]
    }
}

@Suite struct CrashPropertyTests {
    @Test(arguments: 1...40)
    func recoveryReturnsAPrefixOfWhatWasStagedAndEverythingSynced(seed: Int) throws {
        var run = try CrashRun(seed: UInt64(seed))
        for _ in 0..<400 { try run.step() }
        try run.crashAndCheck()
        #expect(run.crashes > 1)
    }
}
