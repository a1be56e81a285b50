// Reads framed records from one file in bounded chunks. A record's length is believed only
// after the record header's own checksum matched, the length is within `recordBytesMax` and
// the whole record fits before `end`; only then is memory for the payload taken. Anything
// else stops the reader with `.damaged`, naming the offset where valid data ends.

import Core

public struct RecordReader {
    public enum Step {
        case record([UInt8])
        case end
        case damaged(offset: Int, reason: String)
    }

    private let disk: Disk
    private let file: DiskFile
    /// The file offset where records stop (the file size, or a snapshot's trailer).
    public let end: Int
    /// The file offset of the next record.
    public private(set) var position: Int
    private var buffer: [UInt8] = []
    /// The file offset of `buffer[0]`.
    private var bufferStart: Int

    public init(disk: Disk, file: DiskFile, start: Int, end: Int) {
        precondition(start <= end, "reader range is ordered")
        self.disk = disk
        self.file = file
        self.end = end
        self.position = start
        self.bufferStart = start
    }

    /// Makes `buffer` hold the `count` bytes at `position`. The caller has checked that
    /// `position + count <= end`, so the request is bounded by the real file.
    private mutating func fill(_ count: Int) throws(StorageError) {
        precondition(position + count <= end, "fill stays inside the file")
        let have = bufferStart + buffer.count - position
        if have >= count { return }
        buffer.removeFirst(position - bufferStart)
        bufferStart = position
        let wanted = min(max(count - buffer.count, StorageLimits.readChunkBytes), end - bufferStart - buffer.count)
        let more: [UInt8]
        do { more = try disk.read(file, offset: bufferStart + buffer.count, count: wanted) } catch { throw .disk(error) }
        buffer.append(contentsOf: more)
        if buffer.count < count {
            throw .disk(DiskError(.read, path: "fd \(file.handle)", code: -1, message: "file shrank while reading"))
        }
    }

    public mutating func next() throws(StorageError) -> Step {
        if position == end { return .end }
        if end - position < Framing.recordHeaderBytes {
            return .damaged(offset: position, reason: "incomplete record header")
        }
        try fill(Framing.recordHeaderBytes)
        let at = position - bufferStart
        guard let header = Framing.recordHeader(buffer, at: at) else {
            return .damaged(offset: position, reason: "record header checksum mismatch")
        }
        let total = Framing.framedSize(header.payloadBytes)
        if end - position < total {
            return .damaged(offset: position, reason: "record extends past end of file")
        }
        try fill(total)
        let payloadStart = position - bufferStart + Framing.recordHeaderBytes
        let payloadRange = payloadStart..<(payloadStart + header.payloadBytes)
        if Framing.checksum(buffer, payloadRange) != header.payloadChecksum {
            return .damaged(offset: position, reason: "payload checksum mismatch")
        }
        let payload = Array(buffer[payloadRange])
        position += total
        return .record(payload)
    }

    /// The offset of the first complete, valid record starting after `offset`, or nil.
    /// Used to tell a torn tail (nothing valid follows) from damage in the middle. Each
    /// candidate offset costs one 8-byte checksum, so the scan is linear in the file.
    public static func firstValidRecord(disk: Disk, file: DiskFile, after offset: Int, end: Int) throws(StorageError) -> Int? {
        var chunkStart = offset + 1
        while end - chunkStart >= Framing.recordHeaderBytes {
            let count = min(StorageLimits.readChunkBytes + Framing.recordHeaderBytes, end - chunkStart)
            let chunk: [UInt8]
            do { chunk = try disk.read(file, offset: chunkStart, count: count) } catch { throw .disk(error) }
            guard chunk.count >= Framing.recordHeaderBytes else { return nil }
            for index in 0...(chunk.count - Framing.recordHeaderBytes) {
                guard let header = Framing.recordHeader(chunk, at: index) else { continue }
                let candidate = chunkStart + index
                guard end - candidate >= Framing.framedSize(header.payloadBytes) else { continue }
                var probe = RecordReader(disk: disk, file: file, start: candidate, end: end)
                if case .record = try probe.next() { return candidate }
            }
            chunkStart += StorageLimits.readChunkBytes
        }
        return nil
    }
}
