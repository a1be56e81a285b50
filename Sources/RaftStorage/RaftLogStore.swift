// The durable Raft log of one node: every hosted shard (Raft group) appends into one
// segmented write-ahead log, so one fdatasync per event-loop turn covers all of them (group
// commit across shards). Snapshots live in their own files, one per shard. Format and
// recovery rules: docs/FORMAT.md, "Raft log store".
//
// Serves the host contract of Consensus/Ready.swift: for each Ready, `saveSnapshot` (if
// any), then `stage` entries and hard state; once per turn `commit(sync:)` writes every
// shard's staged records with one write and syncs once if any Ready had `mustSync`.
//
// Invariants:
// - Records reach the active segment in staging order; a batch never spans two segments.
// - Every segment starts with a segment-start record holding every live shard's hard state
//   and snapshot point, made durable before anything depends on it, so a segment is kept
//   only for the entries it holds: it is removed (oldest first) once every shard's entries
//   in it are covered by that shard's snapshot, or the shard was dropped.
// - After a failed write or sync the store is failed: every later call throws the first
//   error (what reached the disk is unknown; the node must restart and recover).
// Not thread-safe: one event loop owns the store.

import Consensus
import Core
import Storage

public final class RaftLogStore {
    public let directory: String
    public let limits: RaftStorageLimits
    private let disk: Disk
    public private(set) var stats = RaftStoreStats()

    private var shards: [ShardID: ShardLog] = [:]
    /// The index of each shard's published snapshot file.
    private var snapshotFiles: [ShardID: LogIndex] = [:]
    /// Segments on disk, oldest first; the last is the active one. For each, the largest
    /// entry index each shard appended to it.
    private var segments: [(generation: Generation, pins: [ShardID: LogIndex])] = []
    private var writer: SegmentWriter?
    /// Framed records staged since the last commit.
    private var pending: [UInt8] = []
    /// Bytes written to the active segment since its last sync.
    private var unsyncedBytes = 0
    private var failure: StorageError?
    private var recovered = false

    /// Capacity above which the staging buffer is released after a commit rather than kept.
    static let pendingCapacityKeptBytesMax = 8 * 1024 * 1024

    public init(directory: String, disk: Disk, limits: RaftStorageLimits = RaftStorageLimits()) {
        self.directory = directory
        self.disk = disk
        self.limits = limits
    }

    // MARK: - Appending

    /// Buffers entries and/or a hard state for one shard (no I/O). Stored entries of the shard
    /// at or after `entries[0].index` are replaced when this is replayed. Requires `recover`
    /// first. An entry too large for one record fails the store (reported by `commit`).
    public func stage(shard: ShardID, entries: [Entry], hardState: HardState?) {
        precondition(recovered, "recover(repair:) must run before anything is staged")
        guard failure == nil, !entries.isEmpty || hardState != nil else { return }
        do {
            try WALEncoder.append(
                shard: shard, entries: entries, hardState: hardState,
                recordBytesTarget: limits.appendRecordBytesTarget, into: &pending)
        } catch {
            failure = error
            return
        }
        // Mutated in place: copying a ShardLog out and back would copy its terms each time.
        if let first = entries.first, let last = entries.last {
            shards[shard, default: ShardLog()].append(first: first.index, terms: entries.lazy.map(\.term))
            let active = segments.count - 1
            segments[active].pins[shard] = max(segments[active].pins[shard] ?? .zero, last.index)
        }
        if let hardState { shards[shard, default: ShardLog()].hardState = hardState }
    }

    /// Writes everything staged, for all shards, with one write; fdatasyncs once if `sync`
    /// (also covering earlier unsynced commits). Rotates to a new segment when the active one
    /// reached `segmentBytesMax`. Returns the bytes of staged records written.
    @discardableResult
    public func commit(sync: Bool) throws(StorageError) -> Int {
        if let failure { throw failure }
        precondition(recovered, "recover(repair:) must run before commit")
        let written = pending.count
        guard written > 0 || (sync && unsyncedBytes > 0) else { return 0 }
        do {
            if written > 0 {
                try activeWriter().append(pending)
                stats.bytesWritten += written
                stats.commits += 1
                unsyncedBytes += written
                if pending.capacity > Self.pendingCapacityKeptBytesMax {
                    pending = []
                } else {
                    pending.removeAll(keepingCapacity: true)
                }
            }
            if sync { try syncActive() }
            if let writer, writer.bytesWritten >= limits.segmentBytesMax { try rotate() }
        } catch {
            failure = error
            throw error
        }
        return written
    }

    private func activeWriter() throws(StorageError) -> SegmentWriter {
        guard let writer else {
            throw .disk(DiskError(.write, path: directory, code: -9, message: "no active WAL segment"))
        }
        return writer
    }

    private func syncActive() throws(StorageError) {
        guard unsyncedBytes > 0 else { return }
        try activeWriter().sync()
        stats.syncs += 1
        unsyncedBytes = 0
    }

    // MARK: - Segments

    /// Makes the active segment durable, starts the next one with a durable segment-start
    /// record, and removes segments no shard needs.
    private func rotate() throws(StorageError) {
        try syncActive()
        writer?.close()
        writer = nil
        let generation = (segments.last?.generation ?? .zero).next
        try openSegment(generation)
        try collectGarbage()
    }

    /// Creates segment `generation` and writes and syncs its segment-start record.
    private func openSegment(_ generation: Generation) throws(StorageError) {
        let segment = try SegmentWriter(directory: directory, generation: generation, disk: disk)
        writer = segment
        segments.append((generation, [:]))
        stats.segmentsCreated += 1
        stats.liveSegments = segments.count
        stats.bytesWritten += Framing.fileHeaderBytes
        let baselines = shards.keys.sorted().compactMap { id -> ShardBaseline? in
            guard let log = shards[id] else { return nil }
            return ShardBaseline(
                shard: id, hardState: log.hardState, snapshotIndex: log.snapshotIndex, snapshotTerm: log.snapshotTerm)
        }
        var record: [UInt8] = []
        try WALEncoder.segmentStart(generation, baselines, into: &record)
        try segment.append(record)
        stats.bytesWritten += record.count
        unsyncedBytes += record.count
        try syncActive()
    }

    /// Removes the oldest segments while every shard's entries in them are covered by its
    /// snapshot (or the shard is gone). The active segment is never removed. Each removal is
    /// made durable before the next, so the segments on disk always form a contiguous run.
    @discardableResult
    private func collectGarbage() throws(StorageError) -> [String] {
        var removed: [String] = []
        while segments.count > 1 {
            let covered = segments[0].pins.allSatisfy { shard, last in
                guard let log = shards[shard] else { return true }
                return last <= log.snapshotIndex
            }
            guard covered else { break }
            let name = FileNaming.logName(segments[0].generation)
            do {
                try disk.remove(joinPath(directory, name))
                try disk.syncDirectory(directory)
            } catch {
                throw .disk(error)
            }
            segments.removeFirst()
            removed.append(name)
            stats.segmentsDeleted += 1
            stats.liveSegments = segments.count
        }
        return removed
    }

    // MARK: - Snapshots and shards

    /// Persists a snapshot of one shard durably (own file: temporary name, fsync, rename,
    /// directory fsync), then records it in the WAL with a synced commit (which also writes
    /// and syncs whatever other shards staged). If the stored log holds the snapshot's index
    /// with its term, entries after it stay; otherwise every stored entry of the shard is
    /// stale and dropped (Raft's rule for installing a leader's snapshot). Entries at or below
    /// the snapshot index are no longer needed. A snapshot not newer than the shard's current
    /// one is ignored.
    public func saveSnapshot(shard: ShardID, _ snapshot: Snapshot) throws(StorageError) {
        if let failure { throw failure }
        precondition(recovered, "recover(repair:) must run before saveSnapshot")
        guard snapshot.metadata.index > (shards[shard]?.snapshotIndex ?? .zero) else { return }
        let bytes = try SnapshotFile.write(snapshot, shard: shard, directory: directory, disk: disk, limits: limits)
        try recordSnapshot(shard: shard, snapshot.metadata, fileBytes: bytes)
    }

    /// Writes, fsyncs and publishes a snapshot file without recording it in the WAL: it
    /// touches nothing but its own file, so it may run on another thread than the store's
    /// (a snapshot serialized off the event loop). Returns the bytes written. Follow it with
    /// `recordSnapshot` on the store's thread, or `discardSnapshotFile`.
    public static func writeSnapshotFile(_ snapshot: Snapshot, shard: ShardID, directory: String, disk: Disk,
                                         limits: RaftStorageLimits) throws(StorageError) -> Int {
        try SnapshotFile.write(snapshot, shard: shard, directory: directory, disk: disk, limits: limits)
    }

    /// Disk access for `writeSnapshotFile` (the store's own Disk).
    public var snapshotDisk: Disk { disk }

    /// A snapshot file written by `writeSnapshotFile` that will not be recorded (the shard
    /// moved on meanwhile): removed unless it is the shard's recorded snapshot.
    public func discardSnapshotFile(shard: ShardID, index: LogIndex) {
        guard snapshotFiles[shard] != index else { return }
        try? removeFiles([SnapshotFile.name(shard: shard, index: index)])
    }

    /// Records in the WAL (synced) a snapshot whose file is published, and removes the
    /// shard's older snapshot file. A snapshot at or below the recorded one is discarded.
    public func recordSnapshot(shard: ShardID, _ metadata: SnapshotMetadata, fileBytes bytes: Int) throws(StorageError) {
        if let failure { throw failure }
        precondition(recovered, "recover(repair:) must run before recordSnapshot")
        let index = metadata.index
        guard index > (shards[shard]?.snapshotIndex ?? .zero) else { return discardSnapshotFile(shard: shard, index: index) }
        stats.snapshotsWritten += 1
        stats.snapshotBytesWritten += bytes
        let discards = shards[shard, default: ShardLog()].takeSnapshot(index: index, term: metadata.term)
        if discards { unpin(shard, keepingActive: true) }
        do {
            try WALEncoder.snapshot(shard: shard, index: index, term: metadata.term, discardsLog: discards, into: &pending)
        } catch {
            failure = error
            throw error
        }
        try commit(sync: true)
        let previous = snapshotFiles[shard]
        snapshotFiles[shard] = index
        if let previous, previous != index {
            try removeFiles([SnapshotFile.name(shard: shard, index: previous)])
        }
        try collectGarbage()
    }

    /// The replica of `shard` left this node: records that durably (synced commit, which also
    /// writes what other shards staged), then removes its snapshot. Recovery will not return
    /// the shard unless it is staged again later (a new replica).
    public func dropShard(_ shard: ShardID) throws(StorageError) {
        if let failure { throw failure }
        precondition(recovered, "recover(repair:) must run before dropShard")
        do { try WALEncoder.dropShard(shard, into: &pending) } catch {
            failure = error
            throw error
        }
        // Forgotten before the commit, so that a segment started by it does not list the shard.
        shards[shard] = nil
        unpin(shard, keepingActive: false)
        try commit(sync: true)
        if let index = snapshotFiles.removeValue(forKey: shard) {
            try removeFiles([SnapshotFile.name(shard: shard, index: index)])
        }
        try collectGarbage()
    }

    /// Forgets which segments hold `shard`'s entries (they are stale or void).
    private func unpin(_ shard: ShardID, keepingActive: Bool) {
        let end = keepingActive ? segments.count - 1 : segments.count
        for position in 0..<end { segments[position].pins[shard] = nil }
    }

    private func removeFiles(_ names: [String]) throws(StorageError) {
        guard !names.isEmpty else { return }
        do {
            for name in names { try disk.remove(joinPath(directory, name)) }
            try disk.syncDirectory(directory)
        } catch {
            throw .disk(error)
        }
    }

    // MARK: - Recovery

    /// Reads snapshots and WAL segments and returns each live shard's state: hard state,
    /// newest snapshot, entries after it with overwrites applied. A torn tail is truncated and
    /// reported; damage followed by valid records throws `corruptionInMiddle` unless `repair`
    /// (then the log is cut there, reported). A damaged snapshot throws `corruptSnapshot`
    /// unless `repair` (then it is renamed `<name>.damaged` and an older one is used if any).
    /// Opens a new active segment. Must be called exactly once, before anything else.
    public func recover(repair: Bool) throws(StorageError) -> RaftRecovery {
        precondition(!recovered, "recover(repair:) runs once")
        shards = [:]
        snapshotFiles = [:]
        segments = []
        do { try disk.makeDirectory(directory) } catch { throw .disk(error) }
        var report = RaftRecoveryReport()
        let snapshots = try loadSnapshots(repair: repair, report: &report)
        var replay = WALReplay(fileSnapshots: snapshots.mapValues { ($0.metadata.index, $0.metadata.term) })
        do {
            report.log = try Recovery.load(directory: directory, disk: disk, repair: repair) { _, payload in
                try replay.apply(WALRecord.decode(payload, limits: self.limits))
            }
        } catch let error as StorageError {
            throw error
        } catch {
            let file = replay.generation.map(FileNaming.logName) ?? directory
            throw .corruptionInMiddle(file: file, offset: 0, reason: "record does not decode: \(error)", bytesAfter: 0)
        }
        var result: [ShardID: Consensus.RecoveredState] = [:]
        var staleSnapshots: [String] = []
        for id in Set(replay.shards.keys).union(snapshots.keys).sorted() {
            let shard = replay.shards[id] ?? ReplayShard()
            let snapshot = snapshots[id]
            if shard.dropped {
                if let snapshot { staleSnapshots.append(SnapshotFile.name(shard: id, index: snapshot.metadata.index)) }
                continue
            }
            let state = finish(id, shard, snapshot: snapshot, report: &report)
            result[id] = state
            shards[id] = ShardLog(
                hardState: state.hardState, snapshotIndex: snapshot?.metadata.index ?? .zero,
                snapshotTerm: snapshot?.metadata.term ?? .zero, entries: state.entries)
            if let snapshot { snapshotFiles[id] = snapshot.metadata.index }
        }
        try removeFiles(staleSnapshots)
        report.filesRemoved += staleSnapshots
        let listing = try DirectoryListing.scan(directory, disk: disk)
        segments = listing.logs.map { ($0, replay.pins[$0] ?? [:]) }
        let newest = max(report.log.newestGeneration, listing.logs.last ?? .zero)
        try openSegment(newest.next)
        report.filesRemoved += try collectGarbage()
        recovered = true
        return RaftRecovery(shards: result, report: report)
    }

    /// Builds one shard's recovered state from its replayed records and snapshot file.
    private func finish(_ id: ShardID, _ replayed: ReplayShard, snapshot: Snapshot?, report: inout RaftRecoveryReport)
        -> Consensus.RecoveredState
    {
        var shard = replayed
        let floor = snapshot?.metadata.index ?? .zero
        if let snapshot, floor > shard.snapshotIndex {
            // Saved just before a crash; nothing was recorded for the shard after it.
            let anchor = shard.entries.first { $0.index == floor }
            if anchor?.term != snapshot.metadata.term { shard.entries.removeAll() }
        } else if shard.snapshotIndex > floor {
            report.anomalies.append("\(id): the log records a snapshot at \(shard.snapshotIndex) but the newest snapshot file is at \(floor)")
        }
        var entries = shard.entries.filter { $0.index > floor }
        if let first = entries.first, first.index != floor.next {
            report.anomalies.append("\(id): entries start at \(first.index), not after the snapshot at \(floor); dropped \(entries.count)")
            entries = []
        }
        return Consensus.RecoveredState(hardState: shard.hardState, snapshot: snapshot, entries: entries)
    }

    /// Loads the newest valid snapshot of every shard and removes older and temporary ones.
    private func loadSnapshots(repair: Bool, report: inout RaftRecoveryReport) throws(StorageError) -> [ShardID: Snapshot] {
        let names: [String]
        do { names = try disk.list(directory) } catch { throw .disk(error) }
        guard names.count <= StorageLimits.directoryEntriesMax else {
            throw .tooManyFiles(directory: directory, count: names.count)
        }
        var candidates: [ShardID: [(name: String, parsed: SnapshotFile.Name)]] = [:]
        var obsolete: [String] = []
        for name in names.sorted() {
            guard let parsed = SnapshotFile.parse(name) else { continue }
            if parsed.temporary { obsolete.append(name) } else { candidates[parsed.shard, default: []].append((name, parsed)) }
        }
        var loaded: [ShardID: Snapshot] = [:]
        for (shard, files) in candidates.sorted(by: { $0.key < $1.key }) {
            for file in files.sorted(by: { $0.parsed.index > $1.parsed.index }) {
                if loaded[shard] != nil {
                    obsolete.append(file.name)
                    continue
                }
                do {
                    loaded[shard] = try SnapshotFile.read(file.name, expected: file.parsed, directory: directory, disk: disk, limits: limits)
                    report.snapshotsLoaded += 1
                } catch {
                    guard repair, case .corruptSnapshot = error else { throw error }
                    report.anomalies.append("\(error); renamed to \(file.name).damaged")
                    do {
                        try disk.rename(joinPath(directory, file.name), to: joinPath(directory, file.name + ".damaged"))
                    } catch { throw .disk(error) }
                }
            }
        }
        try removeFiles(obsolete)
        report.filesRemoved += obsolete
        return loaded
    }
}
