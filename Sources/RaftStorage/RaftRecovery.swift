// Start-up recovery of the Raft log store: what it returns and how WAL records are replayed
// onto per-shard state (docs/FORMAT.md, "Raft log store", "Recovery").
//
// Replay rules, applied in WAL order:
// - `segmentStart` sets each listed shard's hard state and snapshot point;
// - `append` drops stored entries at or after its first index, then appends (a gap starts a
//   new run); entries below the shard's snapshot file index are not kept in memory;
// - `snapshot` with `discardsLog` drops every stored entry of the shard;
// - `dropShard` forgets the shard; a later record brings it back as a new replica.
// After replay, a snapshot file newer than the last snapshot record of its shard was saved
// just before a crash, with nothing recorded for the shard after it; Raft's rule decides
// whether it extends the stored log (the log holds its index and term) or replaces it.

import Consensus
import Core
import Storage

/// Everything recovered from a data directory.
public struct RaftRecovery: Sendable {
    /// Every live shard: hard state, newest snapshot, entries after the snapshot.
    public var shards: [ShardID: Consensus.RecoveredState]
    public var report: RaftRecoveryReport
}

public struct RaftRecoveryReport: Sendable, Equatable {
    /// Segments replayed, records read and torn tails or repairs (from Storage's recovery).
    public var log = RecoveryReport()
    /// Snapshot files loaded (one per shard at most).
    public var snapshotsLoaded = 0
    /// Obsolete files removed: older snapshots, temporary snapshots, snapshots of dropped
    /// shards and segments no shard needs any more.
    public var filesRemoved: [String] = []
    /// Inconsistencies that recovery worked around (only expected after a repair), e.g. a
    /// shard whose entries do not continue its snapshot.
    public var anomalies: [String] = []
    /// Torn tails and repaired damage, as Storage reports them.
    public var truncations: [Truncation] { log.truncations }
}

/// One shard's state while the WAL is replayed.
struct ReplayShard {
    var hardState = HardState()
    var snapshotIndex = LogIndex.zero
    var snapshotTerm = Term.zero
    /// Contiguous entries; those below `keepFrom` are not kept.
    var entries: [Entry] = []
    var dropped = false

    mutating func append(_ new: [Entry], keepFrom: LogIndex) {
        guard let first = new.first else { return }
        if let head = entries.first, let last = entries.last {
            if first.index <= last.index {
                let keep = first.index > head.index ? Int(first.index.rawValue - head.index.rawValue) : 0
                entries.removeSubrange(keep...)
            } else if first.index > last.index.next {
                entries.removeAll()
            }
        }
        if first.index >= keepFrom {
            entries.append(contentsOf: new)
        } else {
            entries.append(contentsOf: new.lazy.filter { $0.index >= keepFrom })
        }
    }
}

/// Applies WAL records in order and tracks which segment holds which shard's entries.
struct WALReplay {
    /// Snapshot files found before replay: shard to (index, term).
    let fileSnapshots: [ShardID: (index: LogIndex, term: Term)]
    var shards: [ShardID: ReplayShard] = [:]
    /// Per segment, the largest entry index each shard appended in it.
    var pins: [Generation: [ShardID: LogIndex]] = [:]
    var generation: Generation?

    init(fileSnapshots: [ShardID: (index: LogIndex, term: Term)]) {
        self.fileSnapshots = fileSnapshots
    }

    /// Applies one record. Shards are mutated in place in the dictionary: copying one out
    /// and back would copy its entries for every record (quadratic replay).
    mutating func apply(_ record: WALRecord) throws(WALDecodeError) {
        switch record {
        case .segmentStart(let generation, let baselines):
            self.generation = generation
            pins[generation] = [:]
            for baseline in baselines {
                shards[baseline.shard, default: ReplayShard()].dropped = false
                shards[baseline.shard, default: ReplayShard()].hardState = baseline.hardState
                shards[baseline.shard, default: ReplayShard()].snapshotIndex = baseline.snapshotIndex
                shards[baseline.shard, default: ReplayShard()].snapshotTerm = baseline.snapshotTerm
            }
        case .append(let id, _, let entries, let hardState):
            guard let generation else { throw WALDecodeError(reason: "append record before any segment start") }
            shards[id, default: ReplayShard()].dropped = false
            shards[id, default: ReplayShard()].append(entries, keepFrom: fileSnapshots[id]?.index ?? .zero)
            if let hardState { shards[id, default: ReplayShard()].hardState = hardState }
            if let last = entries.last { pins[generation, default: [:]][id] = max(pins[generation]?[id] ?? .zero, last.index) }
        case .snapshot(let id, let index, let term, let discardsLog):
            shards[id, default: ReplayShard()].dropped = false
            if discardsLog { shards[id, default: ReplayShard()].entries.removeAll() }
            if index > shards[id, default: ReplayShard()].snapshotIndex {
                shards[id, default: ReplayShard()].snapshotIndex = index
                shards[id, default: ReplayShard()].snapshotTerm = term
            }
        case .dropShard(let id):
            var shard = ReplayShard()
            shard.dropped = true
            shards[id] = shard
            for generation in pins.keys { pins[generation]?[id] = nil }
        }
    }
}
