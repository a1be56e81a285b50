import Core
import Testing
@testable import Storage

/// Files larger than one read chunk, so records and damage straddle chunk boundaries.
@Suite struct LargeFileTests {
    func payloads(count: Int, size: Int) -> [[UInt8]] {
        (0..<count).map { index in (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) } }
    }

    @Test func recordsLargerThanAReadChunkRoundTrip() throws {
        let disk = makeDisk()
        let big = [UInt8](repeating: 0xAB, count: 3 * StorageLimits.readChunkBytes + 17)
        let records = [[1, 2, 3], big, [4], big]
        try writeSegment(disk, generation: .first, records)
        let summary = try SnapshotWriter.write(records, directory: testDirectory, generation: .first, disk: disk)
        #expect(summary.recordCount == 4)
        let state = try Recovery.load(directory: testDirectory, disk: disk, repair: false)
        #expect(state.snapshotRecords == records)
        #expect(state.logRecords == records)
    }

    @Test func damageAcrossChunkBoundariesIsClassifiedCorrectly() throws {
        let records = payloads(count: 6000, size: 500)  // about 3 MiB: several chunks
        let recordBytes = Framing.framedSize(500)
        let source = makeDisk()
        let path = try writeSegment(source, generation: .first, records)
        let full = try #require(source.contents(path))

        // Early damage, valid records follow across many chunks: middle corruption.
        let early = makeDisk()
        early.setContents(path, full)
        let earlyOffset = Framing.fileHeaderBytes + 10 * recordBytes + 3
        early.flipBit(path, byte: earlyOffset, bit: 2)
        #expect(throws: StorageError.self) { try Recovery.load(directory: testDirectory, disk: early, repair: false) }
        let repaired = try Recovery.load(directory: testDirectory, disk: early, repair: true)
        #expect(repaired.logRecords.count == 10)

        // Damage in the last record, beyond the first chunks: torn tail.
        let late = makeDisk()
        late.setContents(path, full)
        late.flipBit(path, byte: full.count - 100, bit: 5)
        let state = try Recovery.load(directory: testDirectory, disk: late, repair: false)
        #expect(state.logRecords == Array(records.dropLast()))
        #expect(state.report.bytesDropped == recordBytes)

        // A cut exactly at a chunk boundary.
        let cut = makeDisk()
        cut.setContents(path, Array(full[0..<StorageLimits.readChunkBytes]))
        let prefix = try Recovery.load(directory: testDirectory, disk: cut, repair: false)
        #expect(prefix.logRecords.count == (StorageLimits.readChunkBytes - Framing.fileHeaderBytes) / recordBytes)
    }
}
