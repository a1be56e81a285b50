// The thread glue of durability: the event-loop thread appends records (cheap: they go to
// an in-memory queue), a dedicated writer thread writes whatever has gathered with one
// write() and, under `--fsync always`, one fsync(), then reports the batch durable. Records
// from every connection that arrive while a batch is being written share the next fsync
// (group commit). All ordering rules live in `GroupCommitQueue` (module Storage), which is
// tested there; this file only locks, waits and performs I/O.
//
// Durability reporting per policy:
// - always:   `onDurable(n)` is called after records 1...n were written and fsynced.
// - everysec: `onDurable(n)` is called right after the write; an fsync follows within about
//             a second, so a power loss can lose up to about a second of acknowledged writes.
// - no:       `onDurable(n)` is called after the write; the OS decides when data reaches disk.
// Every policy fsyncs a segment before moving to the next one and on `close()`.
//
// Backpressure: `append` never refuses a record. When `pendingBytes` exceeds
// `StorageLimits.pendingBytesSoftMax` (`isOverSoftLimit`), the server should stop reading
// from client sockets until it drops.
//
// Failure: if a write or fsync fails, nothing after it is reported durable, `failure` is set,
// `onFailure` is called once, and the writer stops. The data on disk is then of unknown
// state (after a failed fsync the kernel may have dropped the pages), so the server must
// stop and let recovery sort it out on restart.

import Dispatch
import Foundation
import Logging
import Storage

/// The server's append-only log with group commit and background compaction.
///
/// `@unchecked Sendable`: every mutable stored property is guarded by `condition` (its
/// lock), except `segment`, which only the writer thread touches after `init` returns.
public final class DurableLog: @unchecked Sendable {
    public typealias DurableHandler = @Sendable (LogSequenceNumber) -> Void
    public typealias FailureHandler = @Sendable (StorageError) -> Void
    public typealias SnapshotCompletion = @Sendable (Result<SnapshotSummary, StorageError>) -> Void

    public let directory: String
    public let fsyncPolicy: FsyncPolicy
    private let disk: PosixDisk
    private let logger: Logger
    private let condition = NSCondition()
    private let writerStopped = DispatchSemaphore(value: 0)
    private let everysecInterval: TimeInterval = 1.0

    // Guarded by `condition`.
    private var queue: GroupCommitQueue
    private var closing = false
    private var storedFailure: StorageError?
    private var openedGeneration: Generation
    private var snapshotRunning = false
    private var storedLastSnapshotBytes: Int
    /// Log bytes written before a rotation whose snapshot then failed; still uncompacted.
    private var uncompactedBytesCarried: Int
    private var durableHandler: DurableHandler?
    private var failureHandler: FailureHandler?

    // Owned by the writer thread (or, with `writesOnCaller`, by the thread calling
    // `writeOnCaller`, `flush` and `close`).
    private var segment: SegmentWriter
    private var callerUnsynced = false
    private var callerLastSync = Date()

    /// When true there is no writer thread: `flush()` writes (and under `always` fsyncs) on
    /// the calling thread, as Redis does at the end of each event-loop turn. The server
    /// uses it for `always` and `no`; `everysec` keeps the writer thread so the periodic
    /// fsync never blocks the event loop.
    /// That saves two cross-thread wake-ups per batch, which on a small machine cost more
    /// than the overlap a writer thread buys.
    public let writesOnCaller: Bool

    /// Opens the log in `directory` (created if missing) and starts the writer thread.
    /// Call after `Recovery.load` succeeded on the same directory: records go to a new
    /// segment after every existing one, and files made obsolete by the newest snapshot
    /// (older segments and snapshots, temporary snapshots) are removed.
    /// - Parameter lastSequence: the sequence before the first record appended here.
    public init(
        directory: String, fsync: FsyncPolicy, logger: Logger, lastSequence: LogSequenceNumber = .zero,
        onDurable: DurableHandler? = nil, onFailure: FailureHandler? = nil, writesOnCaller: Bool = false
    ) throws(StorageError) {
        self.writesOnCaller = writesOnCaller
        self.directory = directory
        self.fsyncPolicy = fsync
        self.logger = logger
        self.durableHandler = onDurable
        self.failureHandler = onFailure
        let disk = PosixDisk()
        self.disk = disk
        do { try disk.makeDirectory(directory) } catch { throw .disk(error) }
        let listing = try DirectoryListing.scan(directory, disk: disk)
        let newestSnapshot = listing.snapshots.last ?? .zero
        try DirectoryListing.remove(
            listing.obsoleteNames(before: newestSnapshot) + listing.temporarySnapshots.map(FileNaming.temporarySnapshotName),
            in: directory, disk: disk)
        storedLastSnapshotBytes = listing.snapshots.last.map {
            Self.fileSize(joinPath(directory, FileNaming.snapshotName($0)), disk: disk)
        } ?? 0
        uncompactedBytesCarried = listing.logs.filter { $0 >= newestSnapshot }.reduce(0) {
            $0 + Self.fileSize(joinPath(directory, FileNaming.logName($1)), disk: disk)
        }
        let generation = listing.newestGeneration.next
        segment = try SegmentWriter(directory: directory, generation: generation, disk: disk)
        openedGeneration = generation
        queue = GroupCommitQueue(generation: generation, lastSequence: lastSequence)
        if !writesOnCaller {
            let thread = Thread { [self] in self.writerLoop() }
            thread.name = "trestle-log-writer"
            thread.start()
        }
        logger.info("log opened", metadata: ["segment": "\(segment.path)", "fsync": "\(fsync.rawValue)"])
    }

    private static func fileSize(_ path: String, disk: PosixDisk) -> Int {
        guard let file = try? disk.open(path, mode: .read) else { return 0 }
        defer { disk.close(file) }
        return (try? disk.size(file)) ?? 0
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    // MARK: Event-loop side

    /// Sets the closure called (on the writer thread) when records become durable. It must
    /// not block (hop to the event loop and return), or `close()` may wait on it forever.
    public func setDurableHandler(_ handler: DurableHandler?) { locked { durableHandler = handler } }
    public func setFailureHandler(_ handler: FailureHandler?) { locked { failureHandler = handler } }

    /// Queues one record and returns its sequence. Cheap: no I/O, no framing. The record is
    /// durable when `onDurable` reports a sequence at or after the returned one.
    /// Precondition: `payload.count <= StorageLimits.recordBytesMax`.
    /// The writer is not woken here: call `flush()` once after a burst of appends (the
    /// server does so once per event-loop tick), so a burst costs one wake-up, not one each.
    public func append(_ payload: [UInt8]) -> LogSequenceNumber {
        locked { queue.append(payload) }
    }

    /// Wakes the writer if records are waiting and no batch is being written. (A batch in
    /// flight picks up everything appended meanwhile when it completes.)
    public func flush() {
        if writesOnCaller {
            writeOnCaller()
            return
        }
        locked {
            if !queue.batchInFlight { condition.signal() }
        }
    }

    /// Writes every waiting batch on the calling thread (see `writesOnCaller`).
    private func writeOnCaller() {
        while let batch = locked({ storedFailure == nil ? queue.takeBatch() : nil }) {
            do throws(StorageError) {
                try write(batch, unsynced: &callerUnsynced, lastSync: &callerLastSync)
            } catch {
                fail(error)
                return
            }
        }
    }

    /// Bytes appended but not yet completed by the writer (in flight included).
    public var pendingBytes: Int { locked { queue.pendingBytes } }
    /// True when the server should stop reading from clients (see the file comment).
    public var isOverSoftLimit: Bool { locked { queue.isOverSoftLimit } }
    /// The last sequence reported durable.
    public var durableSequence: LogSequenceNumber { locked { queue.lastCompleted } }
    public var failure: StorageError? { locked { storedFailure } }
    /// Log bytes (frames included) appended since the last successful snapshot's rotation.
    public var logBytesSinceSnapshot: Int { locked { queue.bytesSinceRotation + uncompactedBytesCarried } }
    /// The size of the newest complete snapshot file, 0 if none.
    public var lastSnapshotBytes: Int { locked { storedLastSnapshotBytes } }
    public var isSnapshotRunning: Bool { locked { snapshotRunning } }

    /// True when the log has grown past max(`compactionLogBytesMin`, 2 × last snapshot) and
    /// no snapshot is running: a hint for the server to call `beginSnapshot`.
    public var shouldCompact: Bool {
        locked {
            let threshold = max(StorageLimits.compactionLogBytesMin, 2 * storedLastSnapshotBytes)
            return !snapshotRunning && queue.bytesSinceRotation + uncompactedBytesCarried > threshold
        }
    }
}

/// Where a snapshot started: it holds exactly the records through `through`, and the log
/// continues in segment `generation`.
public struct SnapshotStart: Sendable, Equatable {
    public var generation: Generation
    public var through: LogSequenceNumber
}

// MARK: Writer thread

extension DurableLog {
    private func writerLoop() {
        var lastSync = Date()
        var unsynced = false
        while true {
            condition.lock()
            var timedOut = false
            while !queue.hasBatchReady && !closing && storedFailure == nil && !timedOut {
                if fsyncPolicy == .everysec && unsynced {
                    timedOut = !condition.wait(until: lastSync.addingTimeInterval(everysecInterval))
                } else {
                    condition.wait()
                }
            }
            let batch = storedFailure == nil ? queue.takeBatch() : nil
            let stopping = storedFailure != nil || (closing && batch == nil)
            condition.unlock()
            do throws(StorageError) {
                if let batch { try write(batch, unsynced: &unsynced, lastSync: &lastSync) }
                let due = fsyncPolicy == .everysec && Date().timeIntervalSince(lastSync) >= everysecInterval
                if unsynced && (stopping || due) {
                    try segment.sync()
                    unsynced = false
                    lastSync = Date()
                }
            } catch {
                fail(error)
                break
            }
            if stopping { break }
        }
        segment.close()
        writerStopped.signal()
    }

    /// Writes one batch: opens its segment if it starts a new generation, writes the framed
    /// records with one write, fsyncs under `always`, then reports the batch durable.
    private func write(_ batch: GroupCommitBatch, unsynced: inout Bool, lastSync: inout Date) throws(StorageError) {
        if batch.generation != segment.generation {
            // The old segment is complete and durable before the new one exists, so damage
            // can only ever be at the tail of the newest segment after a crash.
            if unsynced { try segment.sync() }
            unsynced = false
            segment.close()
            segment = try SegmentWriter(directory: directory, generation: batch.generation, disk: disk)
            locked {
                openedGeneration = batch.generation
                condition.broadcast()
            }
        }
        if !batch.isEmpty {
            try segment.append(batch.encoded())
            unsynced = true
            if fsyncPolicy == .always {
                try segment.sync()
                unsynced = false
                lastSync = Date()
            }
        }
        let (moved, handler) = locked { (queue.complete(batch), durableHandler) }
        if let moved, let handler { handler(moved) }
    }

    private func fail(_ error: StorageError) {
        let handler = locked { () -> FailureHandler? in
            storedFailure = error
            condition.broadcast()
            return failureHandler
        }
        logger.critical(
            "log write failed; no further writes will be acknowledged", metadata: ["error": "\(error)"])
        handler?(error)
    }
}

// MARK: Compaction and shutdown

extension DurableLog {
    /// Starts a snapshot of the keyspace as it is at this call. Call on the event-loop thread
    /// with a producer over an immutable copy of the keyspace taken at the same moment:
    /// records appended before this call are in the snapshot, records appended after it go
    /// to a new log segment. A background thread then writes the snapshot (temporary name,
    /// fsync, rename, directory fsync) and only then deletes the older segments and
    /// snapshots. `completion` runs on that thread. Returns nil (and does nothing) if a
    /// snapshot is already running, the log is closing, or it has failed.
    @discardableResult
    public func beginSnapshot(
        _ entries: @escaping @Sendable () -> AnySequence<[UInt8]>, completion: @escaping SnapshotCompletion
    ) -> SnapshotStart? {
        let started = locked { () -> (SnapshotStart, carried: Int)? in
            guard !snapshotRunning, !closing, storedFailure == nil else { return nil }
            snapshotRunning = true
            let carried = queue.bytesSinceRotation + uncompactedBytesCarried
            uncompactedBytesCarried = 0
            let rotation = queue.rotate()
            condition.signal()
            return (SnapshotStart(generation: rotation.generation, through: rotation.through), carried)
        }
        guard let (start, carried) = started else { return nil }
        let thread = Thread { [self] in
            let result = writeSnapshot(start.generation, entries)
            locked {
                snapshotRunning = false
                switch result {
                case .success(let summary): storedLastSnapshotBytes = summary.fileBytes
                case .failure: uncompactedBytesCarried += carried
                }
                condition.broadcast()
            }
            switch result {
            case .success(let summary):
                logger.info("snapshot written", metadata: [
                    "generation": "\(summary.generation.rawValue)", "records": "\(summary.recordCount)",
                    "bytes": "\(summary.fileBytes)",
                ])
            case .failure(let error):
                logger.error("snapshot failed; the log is kept", metadata: ["error": "\(error)"])
            }
            completion(result)
        }
        thread.name = "trestle-snapshot"
        thread.start()
        return start
    }

    private func writeSnapshot(
        _ generation: Generation, _ entries: @Sendable () -> AnySequence<[UInt8]>
    ) -> Result<SnapshotSummary, StorageError> {
        do throws(StorageError) {
            let summary = try SnapshotWriter.write(entries(), directory: directory, generation: generation, disk: disk)
            // Older files may go only once the log continues in the new segment.
            let failure = locked { () -> StorageError? in
                while openedGeneration < generation && storedFailure == nil { condition.wait() }
                return storedFailure
            }
            if let failure { throw failure }
            let listing = try DirectoryListing.scan(directory, disk: disk)
            try DirectoryListing.remove(listing.obsoleteNames(before: generation), in: directory, disk: disk)
            return .success(summary)
        } catch {
            return .failure(error)
        }
    }

    /// Writes and fsyncs everything appended, stops the writer thread and waits for a running
    /// snapshot to finish. Call once, from the event-loop thread, after the last `append`.
    public func close() {
        let first = locked { () -> Bool in
            guard !closing else { return false }
            closing = true
            condition.broadcast()
            return true
        }
        guard first else { return }
        if writesOnCaller {
            writeOnCaller()
            if callerUnsynced, storedFailure == nil {
                do throws(StorageError) { try segment.sync() } catch { fail(error) }
            }
            segment.close()
        } else {
            writerStopped.wait()
        }
        locked { while snapshotRunning { condition.wait() } }
        logger.info("log closed", metadata: ["durable": "\(durableSequence.rawValue)"])
    }
}
