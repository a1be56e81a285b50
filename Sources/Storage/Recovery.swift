// Start-up recovery: load the newest snapshot, then replay the log segments written after
// it, in generation order, handing every record to the caller as it is read (no file is
// held in memory whole).
//
// Rules (docs/FORMAT.md, "Recovery"):
// - Damage that no valid record follows, in any later position of the log, is a torn tail:
//   the file is truncated there (a segment with a damaged header is removed) and the
//   dropped bytes are reported.
// - Damage followed by a valid record is corruption in the middle: recovery refuses with
//   `StorageError.corruptionInMiddle`, unless `repair` is set, in which case the segment is
//   truncated at the damage and every later segment is renamed to `<name>.dropped`.
// - A missing segment between the snapshot and the newest segment is refused unless
//   repairing (then the segments after the gap are renamed to `.dropped`).
// - A snapshot is published only after it was fsynced, so a damaged snapshot is always
//   refused; temporary snapshots are ignored.

/// Where a recovered record came from.
public enum RecordSource: Sendable, Equatable {
    case snapshot
    case log
}

/// One piece of data recovery dropped.
public struct Truncation: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// An incomplete or damaged tail, as a crash during a write leaves.
        case tornTail
        /// Damage in the middle, cut off because `repair` was requested.
        case repaired
    }
    public var file: String
    /// Where the kept data ends.
    public var offset: Int
    public var bytesDropped: Int
    public var reason: String
    public var kind: Kind

    public var description: String {
        let what = kind == .tornTail ? "truncated torn tail" : "repair truncated"
        return "\(what) of \(file) at offset \(offset): dropped \(bytesDropped) bytes (\(reason))"
    }
}

public struct RecoveryReport: Sendable, Equatable {
    public var snapshotGeneration: Generation?
    public var snapshotRecords = 0
    public var logRecords = 0
    public var segmentsReplayed = 0
    public var truncations: [Truncation] = []
    /// The newest generation any file in the directory used before recovery.
    public var newestGeneration = Generation.zero

    public var bytesDropped: Int { truncations.reduce(0) { $0 + $1.bytesDropped } }

    public init() {}
}

/// Everything recovered, for callers that want arrays rather than a stream.
public struct RecoveredState: Sendable {
    public var snapshotRecords: [[UInt8]] = []
    public var logRecords: [[UInt8]] = []
    public var report = RecoveryReport()
}

public enum Recovery {
    /// Streams every recovered record to `onRecord`: first the snapshot's records, then the
    /// log's, in order. Throws `StorageError`, or whatever `onRecord` throws.
    public static func load(
        directory: String, disk: Disk, repair: Bool,
        onRecord: (RecordSource, [UInt8]) throws -> Void
    ) throws -> RecoveryReport {
        var run = RecoveryRun(directory: directory, disk: disk, repair: repair)
        try run.run(onRecord)
        return run.report
    }

    /// Collects the recovered records into arrays; convenient for tests and small stores.
    public static func load(directory: String, disk: Disk, repair: Bool) throws(StorageError) -> RecoveredState {
        var state = RecoveredState()
        do {
            state.report = try load(directory: directory, disk: disk, repair: repair) { source, payload in
                switch source {
                case .snapshot: state.snapshotRecords.append(payload)
                case .log: state.logRecords.append(payload)
                }
            }
        } catch let error as StorageError {
            throw error
        } catch {
            // Unreachable: the collecting callback does not throw, and recovery throws only
            // StorageError. Reported rather than trapped, as on every I/O path.
            throw .disk(DiskError(.read, path: directory, code: -1, message: "unexpected error: \(error)"))
        }
        return state
    }
}

private struct RecoveryRun {
    let directory: String
    let disk: Disk
    let repair: Bool
    var report = RecoveryReport()

    init(directory: String, disk: Disk, repair: Bool) {
        self.directory = directory
        self.disk = disk
        self.repair = repair
    }

    func path(_ name: String) -> String { joinPath(directory, name) }

    func wrap<T>(_ body: () throws(DiskError) -> T) throws(StorageError) -> T {
        do { return try body() } catch { throw .disk(error) }
    }

    mutating func run(_ onRecord: (RecordSource, [UInt8]) throws -> Void) throws {
        let listing = try DirectoryListing.scan(directory, disk: disk)
        report.newestGeneration = listing.newestGeneration
        if let snapshot = listing.snapshots.last {
            report.snapshotGeneration = snapshot
            try loadSnapshot(snapshot, onRecord)
        }
        let base = report.snapshotGeneration ?? listing.logs.first ?? .first
        let segments = listing.logs.filter { $0 >= base }
        var expected = base
        for (index, generation) in segments.enumerated() {
            if generation != expected {
                guard repair else { throw StorageError.missingSegment(generation: expected) }
                try quarantine(Array(segments[index...]), reason: "segment \(expected) is missing")
                return
            }
            expected = generation.next
            let keepGoing = try replaySegment(generation, later: Array(segments[(index + 1)...]), onRecord)
            if !keepGoing { return }
        }
    }

    // MARK: Snapshot

    mutating func loadSnapshot(_ generation: Generation, _ onRecord: (RecordSource, [UInt8]) throws -> Void) throws {
        let name = FileNaming.snapshotName(generation)
        let file = try wrap { () throws(DiskError) in try disk.open(path(name), mode: .read) }
        defer { disk.close(file) }
        let size = try wrap { () throws(DiskError) in try disk.size(file) }
        let minimum = Framing.fileHeaderBytes + Framing.trailerBytes
        guard size >= minimum else { throw StorageError.corruptSnapshot(file: name, offset: 0, reason: "file too short") }
        let header = try wrap { () throws(DiskError) in try disk.read(file, offset: 0, count: Framing.fileHeaderBytes) }
        switch Framing.checkFileHeader(header, kind: .snapshot, generation: generation, file: name) {
        case nil: break
        case .corruptHeader?: throw StorageError.corruptSnapshot(file: name, offset: 0, reason: "file header damaged")
        case let error?: throw error
        }
        let trailerOffset = size - Framing.trailerBytes
        let trailerBytes = try wrap { () throws(DiskError) in
            try disk.read(file, offset: trailerOffset, count: Framing.trailerBytes)
        }
        guard let trailer = Framing.decodeTrailer(trailerBytes),
            trailer.bodyBytes == UInt64(trailerOffset - Framing.fileHeaderBytes)
        else {
            throw StorageError.corruptSnapshot(file: name, offset: trailerOffset, reason: "trailer damaged")
        }
        var reader = RecordReader(disk: disk, file: file, start: Framing.fileHeaderBytes, end: trailerOffset)
        var count: UInt64 = 0
        while true {
            switch try reader.next() {
            case .record(let payload):
                count += 1
                report.snapshotRecords += 1
                try onRecord(.snapshot, payload)
            case .damaged(let offset, let reason):
                throw StorageError.corruptSnapshot(file: name, offset: offset, reason: reason)
            case .end:
                guard count == trailer.recordCount else {
                    throw StorageError.corruptSnapshot(file: name, offset: trailerOffset, reason: "record count mismatch")
                }
                return
            }
        }
    }
}

// MARK: Log segments

extension RecoveryRun {
    /// Replays one segment. Returns false when recovery must stop (a repair cut the log).
    mutating func replaySegment(
        _ generation: Generation, later: [Generation], _ onRecord: (RecordSource, [UInt8]) throws -> Void
    ) throws -> Bool {
        let name = FileNaming.logName(generation)
        let file = try wrap { () throws(DiskError) in try disk.open(path(name), mode: .appendCreate) }
        defer { disk.close(file) }
        let size = try wrap { () throws(DiskError) in try disk.size(file) }
        report.segmentsReplayed += 1
        guard size >= Framing.fileHeaderBytes else {
            return try damaged(name, file: file, size: size, offset: 0, reason: "incomplete file header", later: later)
        }
        let header = try wrap { () throws(DiskError) in try disk.read(file, offset: 0, count: Framing.fileHeaderBytes) }
        switch Framing.checkFileHeader(header, kind: .log, generation: generation, file: name) {
        case nil: break
        case .corruptHeader?:
            return try damaged(name, file: file, size: size, offset: 0, reason: "file header damaged", later: later)
        case let error?: throw error
        }
        var reader = RecordReader(disk: disk, file: file, start: Framing.fileHeaderBytes, end: size)
        while true {
            switch try reader.next() {
            case .record(let payload):
                report.logRecords += 1
                try onRecord(.log, payload)
            case .end:
                return true
            case .damaged(let offset, let reason):
                return try damaged(name, file: file, size: size, offset: offset, reason: reason, later: later)
            }
        }
    }

    /// Decides between a torn tail and corruption in the middle, and acts on it.
    mutating func damaged(
        _ name: String, file: DiskFile, size: Int, offset: Int, reason: String, later: [Generation]
    ) throws(StorageError) -> Bool {
        var validFollows = try RecordReader.firstValidRecord(disk: disk, file: file, after: offset, end: size) != nil
        var laterBytes = 0
        for generation in later {
            let (bytes, valid) = try segmentHasValidRecord(generation)
            laterBytes += bytes
            validFollows = validFollows || valid
        }
        if validFollows && !repair {
            throw .corruptionInMiddle(file: name, offset: offset, reason: reason, bytesAfter: size - offset + laterBytes)
        }
        try cut(name, file: file, size: size, offset: offset)
        let kind: Truncation.Kind = validFollows ? .repaired : .tornTail
        report.truncations.append(
            Truncation(file: name, offset: offset, bytesDropped: size - offset, reason: reason, kind: kind))
        if validFollows {
            try quarantine(later, reason: "follows repaired damage in \(name)")
            return false
        }
        return true
    }

    /// Truncates a segment at `offset` durably, or removes it if not even its header is kept.
    func cut(_ name: String, file: DiskFile, size: Int, offset: Int) throws(StorageError) {
        guard offset < size || offset == 0 else { return }
        try wrap { () throws(DiskError) in
            if offset == 0 {
                try disk.remove(path(name))
                try disk.syncDirectory(directory)
            } else {
                try disk.truncate(file, size: offset)
                try disk.sync(file)
            }
        }
    }

    /// The size of a later segment and whether it holds any valid record.
    func segmentHasValidRecord(_ generation: Generation) throws(StorageError) -> (Int, Bool) {
        let file = try wrap { () throws(DiskError) in try disk.open(path(FileNaming.logName(generation)), mode: .read) }
        defer { disk.close(file) }
        let size = try wrap { () throws(DiskError) in try disk.size(file) }
        let after = Framing.fileHeaderBytes - 1
        let found = try RecordReader.firstValidRecord(disk: disk, file: file, after: after, end: size)
        return (size, found != nil)
    }

    /// Renames segments that can no longer be replayed to `<name>.dropped`, keeping them for
    /// inspection but out of every future recovery.
    mutating func quarantine(_ generations: [Generation], reason: String) throws(StorageError) {
        for generation in generations {
            let name = FileNaming.logName(generation)
            let size = try wrap { () throws(DiskError) -> Int in
                let file = try disk.open(path(name), mode: .read)
                defer { disk.close(file) }
                return try disk.size(file)
            }
            try wrap { () throws(DiskError) in try disk.rename(path(name), to: path(name + ".dropped")) }
            report.truncations.append(
                Truncation(file: name, offset: 0, bytesDropped: size, reason: reason, kind: .repaired))
        }
        if !generations.isEmpty { try wrap { () throws(DiskError) in try disk.syncDirectory(directory) } }
    }
}
