// Helpers shared by the Raft log store tests: a simulated disk, entry builders, and a
// comparable view of recovered state.

import Consensus
import Core
import Storage
@testable import RaftStorage

let storeDirectory = "/raft"

func makeDisk(seed: UInt64 = 1) -> SimulatedDisk {
    SimulatedDisk(seed: seed)
}

/// Opens and recovers a store on `disk`.
func openStore(_ disk: Disk, limits: RaftStorageLimits = RaftStorageLimits(), repair: Bool = false) throws
    -> (RaftLogStore, RaftRecovery)
{
    let store = RaftLogStore(directory: storeDirectory, disk: disk, limits: limits)
    let recovery = try store.recover(repair: repair)
    return (store, recovery)
}

func command(_ term: UInt64, _ index: UInt64, _ text: String) -> Entry {
    Entry(term: Term(term), index: LogIndex(index), payload: .command(Array(text.utf8)))
}

/// Entries `first...last` of `term`, each a command naming its index and term.
func entries(_ first: UInt64, _ last: UInt64, term: UInt64) -> [Entry] {
    (first...last).map { command(term, $0, "t\(term)i\($0)") }
}

let threeVoters = Membership(voters: [NodeID(1), NodeID(2), NodeID(3)])

func snapshot(_ index: UInt64, term: UInt64, data: [UInt8] = [1, 2, 3], membership: Membership = threeVoters) -> Snapshot {
    Snapshot(metadata: SnapshotMetadata(index: LogIndex(index), term: Term(term), membership: membership), data: data)
}

/// An Equatable view of `Consensus.RecoveredState`.
struct ShardView: Equatable, CustomStringConvertible {
    var hardState = HardState()
    var snapshot: Snapshot?
    var entries: [Entry] = []

    init(hardState: HardState = HardState(), snapshot: Snapshot? = nil, entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }

    init(_ state: Consensus.RecoveredState) {
        self.init(hardState: state.hardState, snapshot: state.snapshot, entries: state.entries)
    }

    var description: String {
        let snap = snapshot.map { "snap(\($0.metadata.index),\($0.metadata.term))" } ?? "nosnap"
        let range = entries.isEmpty ? "[]" : "[\(entries[0].index)...\(entries[entries.count - 1].index)]"
        return "hs(\(hardState.term),\(hardState.vote),\(hardState.commit)) \(snap) \(range)"
    }
}

func views(_ recovery: RaftRecovery) -> [ShardID: ShardView] {
    recovery.shards.mapValues(ShardView.init)
}

func walNames(_ disk: SimulatedDisk) throws -> [String] {
    try disk.list(storeDirectory).filter { $0.hasSuffix(".tlog") }
}

func snapshotNames(_ disk: SimulatedDisk) throws -> [String] {
    try disk.list(storeDirectory).filter { $0.hasPrefix("snap-") }
}
