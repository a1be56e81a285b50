// Writing log segments and snapshots. Both are used from one thread at a time; the server's
// log writer thread owns a `SegmentWriter`, a snapshot thread owns a `SnapshotWriter`.
//
// Invariants: a segment exists under its final name only with a complete, fsynced header
// and a fsynced directory entry. A snapshot exists under its final name only after its
// trailer was written and the file fsynced; until then it carries the `.tmp` suffix, which
// recovery ignores.

/// Appends batches of framed records to the log segment of one generation.
public final class SegmentWriter {
    public let generation: Generation
    public let path: String
    private let disk: Disk
    private var file: DiskFile?
    /// Bytes in the file, header included.
    public private(set) var bytesWritten: Int

    /// Creates the segment file (replacing a file of that name), writes and fsyncs its header
    /// and fsyncs the directory, so the segment survives a crash before its first record.
    public init(directory: String, generation: Generation, disk: Disk) throws(StorageError) {
        self.generation = generation
        self.path = joinPath(directory, FileNaming.logName(generation))
        self.disk = disk
        do {
            let file = try disk.open(path, mode: .createTruncate)
            self.file = file
            let header = Framing.fileHeader(.log, generation: generation)
            try disk.append(file, header)
            try disk.sync(file)
            try disk.syncDirectory(directory)
            bytesWritten = header.count
        } catch {
            throw .disk(error)
        }
    }

    private func openFile(_ operation: DiskError.Operation) throws(StorageError) -> DiskFile {
        guard let file else { throw .disk(DiskError(operation, path: path, code: -9, message: "segment is closed")) }
        return file
    }

    /// Appends already framed records with one write.
    public func append(_ framed: [UInt8]) throws(StorageError) {
        let file = try openFile(.write)
        do { try disk.append(file, framed) } catch { throw .disk(error) }
        bytesWritten += framed.count
    }

    public func sync() throws(StorageError) {
        let file = try openFile(.fsync)
        do { try disk.sync(file) } catch { throw .disk(error) }
    }

    public func close() {
        if let file { disk.close(file) }
        file = nil
    }

    deinit { close() }
}

/// What a finished snapshot holds.
public struct SnapshotSummary: Sendable, Equatable {
    public var generation: Generation
    public var recordCount: Int
    public var fileBytes: Int
}

/// Writes a snapshot to a temporary file and publishes it with `finish()`.
public final class SnapshotWriter {
    public let generation: Generation
    private let directory: String
    private let disk: Disk
    private var file: DiskFile?
    private var pending: [UInt8] = []
    private var recordCount = 0
    private var bodyBytes = 0
    private var temporaryPath: String { joinPath(directory, FileNaming.temporarySnapshotName(generation)) }
    public var finalPath: String { joinPath(directory, FileNaming.snapshotName(generation)) }

    public init(directory: String, generation: Generation, disk: Disk) throws(StorageError) {
        self.generation = generation
        self.directory = directory
        self.disk = disk
        do {
            let file = try disk.open(joinPath(directory, FileNaming.temporarySnapshotName(generation)), mode: .createTruncate)
            self.file = file
            pending = Framing.fileHeader(.snapshot, generation: generation)
        } catch {
            throw .disk(error)
        }
    }

    private func flush() throws(StorageError) {
        guard let file else {
            throw .disk(DiskError(.write, path: temporaryPath, code: -9, message: "snapshot is closed"))
        }
        do { try disk.append(file, pending) } catch { throw .disk(error) }
        pending.removeAll(keepingCapacity: true)
    }

    public func add(_ payload: [UInt8]) throws(StorageError) {
        guard payload.count <= StorageLimits.recordBytesMax else { throw .recordTooLarge(bytes: payload.count) }
        Framing.appendRecord(payload, to: &pending)
        recordCount += 1
        bodyBytes += Framing.framedSize(payload.count)
        if pending.count >= StorageLimits.readChunkBytes { try flush() }
    }

    /// Writes the trailer, fsyncs, renames to the final name and fsyncs the directory.
    public func finish() throws(StorageError) -> SnapshotSummary {
        pending += Framing.snapshotTrailer(recordCount: UInt64(recordCount), bodyBytes: UInt64(bodyBytes))
        try flush()
        guard let file else { throw .disk(DiskError(.fsync, path: temporaryPath, code: -9, message: "snapshot is closed")) }
        do {
            try disk.sync(file)
            disk.close(file)
            self.file = nil
            try disk.rename(temporaryPath, to: finalPath)
            try disk.syncDirectory(directory)
        } catch {
            throw .disk(error)
        }
        let fileBytes = Framing.fileHeaderBytes + bodyBytes + Framing.trailerBytes
        return SnapshotSummary(generation: generation, recordCount: recordCount, fileBytes: fileBytes)
    }

    /// Closes and deletes the temporary file after a failure; errors are ignored because
    /// recovery ignores temporary snapshots anyway.
    public func abandon() {
        if let file { disk.close(file) }
        file = nil
        try? disk.remove(temporaryPath)
    }

    /// Writes a complete snapshot of `entries`.
    @discardableResult
    public static func write<Entries: Sequence>(
        _ entries: Entries, directory: String, generation: Generation, disk: Disk
    ) throws(StorageError) -> SnapshotSummary where Entries.Element == [UInt8] {
        let writer = try SnapshotWriter(directory: directory, generation: generation, disk: disk)
        do {
            for entry in entries { try writer.add(entry) }
            return try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
    }
}
