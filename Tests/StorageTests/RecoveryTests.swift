import Core
import Testing
@testable import Storage

@Suite struct RecoveryTests {
    /// Byte offsets where each record of `payloads` ends in a segment file.
    func recordEnds(_ payloads: [[UInt8]]) -> [Int] {
        var end = Framing.fileHeaderBytes
        return payloads.map { payload in
            end += Framing.framedSize(payload.count)
            return end
        }
    }

    @Test func everyPrefixRecoversExactlyTheCompleteRecords() throws {
        let payloads = samplePayloads(12)
        let source = makeDisk()
        let path = try writeSegment(source, generation: .first, payloads)
        let full = try #require(source.contents(path))
        let ends = recordEnds(payloads)
        for length in 0...full.count {
            let disk = makeDisk()
            disk.setContents(path, Array(full[0..<length]))
            let state = try Recovery.load(directory: testDirectory, disk: disk, repair: false)
            let complete = ends.filter { $0 <= length }.count
            #expect(state.logRecords == Array(payloads[0..<complete]), "prefix \(length)")
            let kept = length < Framing.fileHeaderBytes ? 0 : (complete == 0 ? Framing.fileHeaderBytes : ends[complete - 1])
            #expect(state.report.bytesDropped == length - kept, "prefix \(length)")
            if length < Framing.fileHeaderBytes {
                #expect(disk.contents(path) == nil, "a segment without a whole header is removed")
            } else {
                #expect(disk.contents(path)?.count == kept, "file truncated at the last good record")
            }
            // Recovering again finds nothing more to drop.
            let again = try Recovery.load(directory: testDirectory, disk: disk, repair: false)
            #expect(again.logRecords == state.logRecords)
            #expect(again.report.truncations.isEmpty)
        }
    }

    @Test func bitFlipsInTheLastRecordAreTruncatedAsATornTail() throws {
        let payloads = samplePayloads(10)
        let ends = recordEnds(payloads)
        let lastStart = ends[8]
        var random = SeededRandom(seed: 42)
        for _ in 0..<200 {
            let disk = makeDisk()
            let path = try writeSegment(disk, generation: .first, payloads)
            let offset = random.int(in: lastStart...(ends[9] - 1))
            disk.flipBit(path, byte: offset, bit: random.int(in: 0...7))
            let state = try Recovery.load(directory: testDirectory, disk: disk, repair: false)
            #expect(state.logRecords == Array(payloads[0..<9]), "flip at \(offset)")
            #expect(state.report.truncations.count == 1)
            #expect(state.report.truncations.first?.offset == lastStart)
            #expect(state.report.truncations.first?.kind == .tornTail)
            #expect(state.report.bytesDropped == ends[9] - lastStart)
        }
    }

    @Test func aFlipInTheMiddleRefusesUnlessRepairing() throws {
        let payloads = samplePayloads(10)
        let ends = recordEnds(payloads)
        for offset in ends[4]..<ends[5] {
            let disk = makeDisk()
            let path = try writeSegment(disk, generation: .first, payloads)
            let original = try #require(disk.contents(path))
            disk.flipBit(path, byte: offset, bit: offset % 8)
            #expect(throws: StorageError.corruptionInMiddle(
                file: FileNaming.logName(.first), offset: ends[4],
                reason: offset < ends[4] + Framing.recordHeaderBytes ? "record header checksum mismatch" : "payload checksum mismatch",
                bytesAfter: ends[9] - ends[4])
            ) {
                try Recovery.load(directory: testDirectory, disk: disk, repair: false)
            }
            #expect(disk.contents(path)?.count == original.count, "a refusal changes nothing")
            let repaired = try Recovery.load(directory: testDirectory, disk: disk, repair: true)
            #expect(repaired.logRecords == Array(payloads[0..<5]))
            #expect(repaired.report.truncations.first?.kind == .repaired)
            #expect(repaired.report.bytesDropped == ends[9] - ends[4])
            #expect(disk.contents(path)?.count == ends[4])
        }
    }

    @Test func refusalMessageNamesFileOffsetAndRepair() {
        let error = StorageError.corruptionInMiddle(file: "log-0000000000000001.tlog", offset: 77, reason: "payload checksum mismatch", bytesAfter: 100)
        #expect(error.description.contains("log-0000000000000001.tlog"))
        #expect(error.description.contains("offset 77"))
        #expect(error.description.contains("--repair"))
    }

    @Test func damageInAnOlderSegmentIsMiddleCorruption() throws {
        let disk = makeDisk()
        let first = samplePayloads(5, seed: 1)
        let second = samplePayloads(5, seed: 2)
        let path = try writeSegment(disk, generation: Generation(1), first)
        try writeSegment(disk, generation: Generation(2), second)
        let ends = recordEnds(first)
        disk.flipBit(path, byte: ends[4] - 1, bit: 0)
        #expect(throws: StorageError.self) { try Recovery.load(directory: testDirectory, disk: disk, repair: false) }
        let repaired = try Recovery.load(directory: testDirectory, disk: disk, repair: true)
        #expect(repaired.logRecords == Array(first[0..<4]))
        #expect(disk.contents(logPath(2)) == nil)
        #expect(disk.contents(logPath(2) + ".dropped") != nil, "later segments are kept aside, not deleted")
    }

    @Test func damageFollowedOnlyByEmptySegmentsIsATornTail() throws {
        let disk = makeDisk()
        let payloads = samplePayloads(5)
        let path = try writeSegment(disk, generation: Generation(1), payloads)
        try writeSegment(disk, generation: Generation(2), [])
        disk.flipBit(path, byte: recordEnds(payloads)[4] - 1, bit: 3)
        let state = try Recovery.load(directory: testDirectory, disk: disk, repair: false)
        #expect(state.logRecords == Array(payloads[0..<4]))
    }

    @Test func corruptLengthsNeverCauseLargeReads() throws {
        let payloads = samplePayloads(6)
        let ends = recordEnds(payloads)
        for length: UInt32 in [0xFFFF_FFFF, 0x7FFF_FFFF, UInt32(StorageLimits.recordBytesMax), 5_000] {
            let inner = makeDisk()
            let path = try writeSegment(inner, generation: .first, payloads)
            var bytes = try #require(inner.contents(path))
            // A header with a huge length but a *valid* header checksum, as a buggy writer
            // or an unlucky corruption could leave.
            var header: [UInt8] = []
            Framing.put32(length, into: &header)
            Framing.put32(0, into: &header)
            Framing.put32(CRC32C.checksum(header), into: &header)
            bytes.replaceSubrange(ends[2]..<(ends[2] + 12), with: header)
            inner.setContents(path, bytes)
            let disk = ReadMeasuringDisk(inner)
            let state = try Recovery.load(directory: testDirectory, disk: disk, repair: true)
            #expect(state.logRecords == Array(payloads[0..<3]))
            #expect(disk.largestRead <= bytes.count, "reads stay within the file")
        }
    }

    @Test func snapshotThenSegmentsRecoverInOrder() throws {
        let disk = makeDisk()
        // Segments 1 and 2 are compacted into snapshot 3; 3 and 4 follow it.
        try writeSegment(disk, generation: Generation(1), [[9]])
        try writeSegment(disk, generation: Generation(2), [[9, 9]])
        let snapshot = samplePayloads(20, seed: 3)
        let summary = try SnapshotWriter.write(snapshot, directory: testDirectory, generation: Generation(3), disk: disk)
        #expect(summary.recordCount == 20)
        #expect(disk.contents(snapshotPath(3))?.count == summary.fileBytes)
        let third = samplePayloads(4, seed: 4)
        let fourth = samplePayloads(3, seed: 5)
        try writeSegment(disk, generation: Generation(3), third)
        try writeSegment(disk, generation: Generation(4), fourth)
        let state = try Recovery.load(directory: testDirectory, disk: disk, repair: false)
        #expect(state.snapshotRecords == snapshot)
        #expect(state.logRecords == third + fourth)
        #expect(state.report.snapshotGeneration == Generation(3))
        #expect(state.report.segmentsReplayed == 2)
        #expect(state.report.newestGeneration == Generation(4))

        var order: [RecordSource] = []
        _ = try Recovery.load(directory: testDirectory, disk: disk, repair: false) { source, _ in order.append(source) }
        #expect(order == Array(repeating: .snapshot, count: 20) + Array(repeating: .log, count: 7))
    }

    @Test func temporarySnapshotsAreIgnored() throws {
        let disk = makeDisk()
        let log = samplePayloads(5)
        try writeSegment(disk, generation: Generation(1), log)
        try writeSegment(disk, generation: Generation(2), [])
        let writer = try SnapshotWriter(directory: testDirectory, generation: Generation(2), disk: disk)
        try writer.add([1, 2, 3])
        // Not finished: the process died while writing the snapshot.
        let state = try Recovery.load(directory: testDirectory, disk: disk, repair: false)
        #expect(state.snapshotRecords.isEmpty)
        #expect(state.logRecords == log)
        let listing = try DirectoryListing.scan(testDirectory, disk: disk)
        #expect(listing.temporarySnapshots == [Generation(2)])
        #expect(listing.obsoleteNames(before: Generation(3)).contains(FileNaming.temporarySnapshotName(Generation(2))))
    }

    @Test func aDamagedSnapshotIsRefusedEvenWhenRepairing() throws {
        let disk = makeDisk()
        try SnapshotWriter.write(samplePayloads(8), directory: testDirectory, generation: Generation(2), disk: disk)
        disk.flipBit(snapshotPath(2), byte: 60, bit: 1)
        for repair in [false, true] {
            #expect(throws: StorageError.self) { try Recovery.load(directory: testDirectory, disk: disk, repair: repair) }
        }
        let disk2 = makeDisk()
        try SnapshotWriter.write(samplePayloads(8), directory: testDirectory, generation: Generation(2), disk: disk2)
        let bytes = try #require(disk2.contents(snapshotPath(2)))
        disk2.setContents(snapshotPath(2), Array(bytes.dropLast(5)))
        #expect(throws: StorageError.self) { try Recovery.load(directory: testDirectory, disk: disk2, repair: false) }
    }

    @Test func aMissingSegmentRefusesUnlessRepairing() throws {
        let disk = makeDisk()
        try writeSegment(disk, generation: Generation(1), [[1]])
        try writeSegment(disk, generation: Generation(3), [[3]])
        #expect(throws: StorageError.missingSegment(generation: Generation(2))) {
            try Recovery.load(directory: testDirectory, disk: disk, repair: false)
        }
        let state = try Recovery.load(directory: testDirectory, disk: disk, repair: true)
        #expect(state.logRecords == [[1]])
        #expect(disk.contents(logPath(3) + ".dropped") != nil)
    }

    @Test func anEmptyDirectoryRecoversNothing() throws {
        let state = try Recovery.load(directory: testDirectory, disk: makeDisk(), repair: false)
        #expect(state.logRecords.isEmpty && state.snapshotRecords.isEmpty)
        #expect(state.report.newestGeneration == .zero)
    }
}
