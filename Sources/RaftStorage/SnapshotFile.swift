// One shard's Raft snapshot as its own file (docs/FORMAT.md, "Raft log store"):
//   snap-<shard:16 hex>-<index:16 hex>.rsnap       a complete snapshot
//   snap-<shard:16 hex>-<index:16 hex>.rsnap.tmp   one being written (never read)
// Layout: Storage's snapshot file header (generation = the snapshot index), a metadata
// record, the data in records of at most `snapshotChunkBytes`, and Storage's trailer.
//
// Invariants: a file exists under its final name only after its trailer was written and the
// file fsynced, and the rename is made durable before `write` returns. Reading checks the
// header, the trailer, every frame and the data length, and never allocates more than the
// file holds.

import Consensus
import Core
import Storage

enum SnapshotFile {
    static let prefix = "snap-"
    static let suffix = ".rsnap"
    static let temporarySuffix = ".tmp"

    struct Name: Equatable {
        var shard: ShardID
        var index: LogIndex
        var temporary: Bool
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    static func name(shard: ShardID, index: LogIndex) -> String {
        prefix + hex(shard.rawValue) + "-" + hex(index.rawValue) + suffix
    }

    /// What a directory entry is, or nil for a file this store does not own.
    static func parse(_ name: String) -> Name? {
        var rest = Substring(name)
        guard rest.hasPrefix(prefix) else { return nil }
        rest = rest.dropFirst(prefix.count)
        var temporary = false
        if rest.hasSuffix(temporarySuffix) {
            temporary = true
            rest = rest.dropLast(temporarySuffix.count)
        }
        guard rest.hasSuffix(suffix) else { return nil }
        rest = rest.dropLast(suffix.count)
        let parts = rest.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 16 && $0.allSatisfy { $0.isHexDigit && !$0.isUppercase } }),
            let shard = UInt64(parts[0], radix: 16), let index = UInt64(parts[1], radix: 16), index > 0
        else { return nil }
        return Name(shard: ShardID(shard), index: LogIndex(index), temporary: temporary)
    }

    // MARK: Writing

    /// Writes, fsyncs and publishes the snapshot; returns the bytes written. On failure the
    /// temporary file is removed (best effort: recovery ignores temporary files anyway).
    static func write(
        _ snapshot: Snapshot, shard: ShardID, directory: String, disk: Disk, limits: RaftStorageLimits
    ) throws(StorageError) -> Int {
        let index = snapshot.metadata.index
        precondition(index > .zero, "caller rejects snapshots at index 0")
        guard snapshot.data.count <= limits.snapshotBytesMax else { throw .recordTooLarge(bytes: snapshot.data.count) }
        let finalPath = joinPath(directory, name(shard: shard, index: index))
        let temporaryPath = finalPath + temporarySuffix
        let file: DiskFile
        do { file = try disk.open(temporaryPath, mode: .createTruncate) } catch { throw .disk(error) }
        var open = true
        do {
            let written = try writeBody(snapshot, shard: shard, file: file, disk: disk, limits: limits)
            try disk.sync(file)
            disk.close(file)
            open = false
            try disk.rename(temporaryPath, to: finalPath)
            try disk.syncDirectory(directory)
            return written
        } catch {
            if open { disk.close(file) }
            try? disk.remove(temporaryPath)
            if let error = error as? StorageError { throw error }
            if let error = error as? DiskError { throw .disk(error) }
            throw .disk(DiskError(.write, path: temporaryPath, code: -1, message: "unexpected error: \(error)"))
        }
    }

    private static func writeBody(
        _ snapshot: Snapshot, shard: ShardID, file: DiskFile, disk: Disk, limits: RaftStorageLimits
    ) throws -> Int {
        var buffer = Framing.fileHeader(.snapshot, generation: Generation(snapshot.metadata.index.rawValue))
        var written = 0
        var records: UInt64 = 0
        var bodyBytes = 0
        func record(_ encode: (inout [UInt8]) -> Void) throws {
            let start = Framing.beginRecord(in: &buffer)
            encode(&buffer)
            try Framing.finishRecord(in: &buffer, start: start)
            records += 1
            bodyBytes += buffer.count - start
            if buffer.count >= limits.snapshotChunkBytes {
                try disk.append(file, buffer)
                written += buffer.count
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try record { bytes in
            WALEncoder.put64(shard.rawValue, &bytes)
            WALEncoder.put64(snapshot.metadata.index.rawValue, &bytes)
            WALEncoder.put64(snapshot.metadata.term.rawValue, &bytes)
            WALEncoder.putMembership(snapshot.metadata.membership, &bytes)
            WALEncoder.put64(UInt64(snapshot.data.count), &bytes)
        }
        var offset = 0
        while offset < snapshot.data.count {
            let end = min(snapshot.data.count, offset + limits.snapshotChunkBytes)
            try record { bytes in bytes.append(contentsOf: snapshot.data[offset..<end]) }
            offset = end
        }
        buffer += Framing.snapshotTrailer(recordCount: records, bodyBytes: UInt64(bodyBytes))
        try disk.append(file, buffer)
        return written + buffer.count
    }

    // MARK: Reading

    /// Reads and checks a published snapshot; any damage is `corruptSnapshot`.
    static func read(_ fileName: String, expected: Name, directory: String, disk: Disk, limits: RaftStorageLimits)
        throws(StorageError) -> Snapshot
    {
        func corrupt(_ offset: Int, _ reason: String) -> StorageError {
            .corruptSnapshot(file: fileName, offset: offset, reason: reason)
        }
        func wrap<T>(_ body: () throws(DiskError) -> T) throws(StorageError) -> T {
            do { return try body() } catch { throw .disk(error) }
        }
        let file = try wrap { () throws(DiskError) in try disk.open(joinPath(directory, fileName), mode: .read) }
        defer { disk.close(file) }
        let size = try wrap { () throws(DiskError) in try disk.size(file) }
        guard size >= Framing.fileHeaderBytes + Framing.trailerBytes else { throw corrupt(0, "file too short") }
        let header = try wrap { () throws(DiskError) in try disk.read(file, offset: 0, count: Framing.fileHeaderBytes) }
        let generation = Generation(expected.index.rawValue)
        if let error = Framing.checkFileHeader(header, kind: .snapshot, generation: generation, file: fileName) {
            throw error == .corruptHeader(file: fileName) ? corrupt(0, "file header damaged") : error
        }
        let trailerOffset = size - Framing.trailerBytes
        let trailerBytes = try wrap { () throws(DiskError) in try disk.read(file, offset: trailerOffset, count: Framing.trailerBytes) }
        guard let trailer = Framing.decodeTrailer(trailerBytes),
            trailer.bodyBytes == UInt64(trailerOffset - Framing.fileHeaderBytes)
        else { throw corrupt(trailerOffset, "trailer damaged") }
        var reader = RecordReader(disk: disk, file: file, start: Framing.fileHeaderBytes, end: trailerOffset)
        var metadata: SnapshotMetadata?
        var dataBytes = 0
        var data: [UInt8] = []
        var records: UInt64 = 0
        while true {
            let at = reader.position
            switch try reader.next() {
            case .damaged(let offset, let reason):
                throw corrupt(offset, reason)
            case .record(let payload):
                records += 1
                if metadata == nil {
                    guard let decoded = decodeMetadata(payload, limits: limits), decoded.shard == expected.shard,
                        decoded.metadata.index == expected.index
                    else { throw corrupt(at, "metadata record does not decode or does not match the file name") }
                    metadata = decoded.metadata
                    dataBytes = decoded.dataBytes
                    data.reserveCapacity(min(dataBytes, trailerOffset))
                } else {
                    guard data.count + payload.count <= dataBytes else { throw corrupt(at, "more data than the metadata states") }
                    data.append(contentsOf: payload)
                }
            case .end:
                guard let metadata, data.count == dataBytes, records == trailer.recordCount else {
                    throw corrupt(trailerOffset, "record count or data length mismatch")
                }
                return Snapshot(metadata: metadata, data: data)
            }
        }
    }

    private static func decodeMetadata(_ payload: [UInt8], limits: RaftStorageLimits)
        -> (shard: ShardID, metadata: SnapshotMetadata, dataBytes: Int)?
    {
        var reader = ByteReader(payload)
        do {
            let shard = ShardID(try reader.read(UInt64.self))
            let index = LogIndex(try reader.read(UInt64.self))
            let term = Term(try reader.read(UInt64.self))
            let membership = try WALRecord.decodeMembership(&reader, limits: limits)
            let dataBytes = try reader.read(UInt64.self)
            guard reader.isAtEnd, dataBytes <= UInt64(limits.snapshotBytesMax) else { return nil }
            return (shard, SnapshotMetadata(index: index, term: term, membership: membership), Int(dataBytes))
        } catch {
            return nil
        }
    }
}
