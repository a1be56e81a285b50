import Core
import Testing
@testable import Storage

@Suite struct FramingTests {
    @Test func recordsRoundTripThroughAFile() throws {
        let disk = makeDisk()
        let payloads = samplePayloads(50)
        try writeSegment(disk, generation: .first, payloads)
        let state = try Recovery.load(directory: testDirectory, disk: disk, repair: false)
        #expect(state.logRecords == payloads)
        #expect(state.report.truncations.isEmpty)
        #expect(state.report.logRecords == 50)
    }

    @Test func frameLayoutIsLengthChecksumHeaderChecksumPayload() {
        var bytes: [UInt8] = []
        Framing.appendRecord([1, 2, 3], to: &bytes)
        #expect(bytes.count == 15)
        #expect(Array(bytes[0..<4]) == [3, 0, 0, 0])
        #expect(Framing.get32(bytes, 4) == CRC32C.checksum([1, 2, 3]))
        #expect(Framing.get32(bytes, 8) == CRC32C.checksum(bytes[0..<8]))
        #expect(Framing.recordHeader(bytes, at: 0)?.payloadBytes == 3)
        bytes[1] ^= 0x40
        #expect(Framing.recordHeader(bytes, at: 0) == nil)
    }

    @Test func zeroFilledBytesAreNotAValidRecord() {
        #expect(Framing.recordHeader([UInt8](repeating: 0, count: 12), at: 0) == nil)
    }

    @Test func fileHeaderChecksAllFields() {
        let header = Framing.fileHeader(.log, generation: Generation(5))
        #expect(header.count == Framing.fileHeaderBytes)
        #expect(Framing.checkFileHeader(header, kind: .log, generation: Generation(5), file: "f") == nil)
        #expect(Framing.checkFileHeader(header, kind: .snapshot, generation: Generation(5), file: "f") == .badMagic(file: "f"))
        #expect(Framing.checkFileHeader(header, kind: .log, generation: Generation(6), file: "f") == .corruptHeader(file: "f"))
        var future = Array(header[0..<28])
        future[8] = 2
        future += [0, 0, 0, 0]
        let crc = CRC32C.checksum(future[0..<28])
        future.replaceSubrange(28..<32, with: (0..<4).map { UInt8(truncatingIfNeeded: crc >> UInt32(8 * $0)) })
        #expect(Framing.checkFileHeader(future, kind: .log, generation: Generation(5), file: "f")
            == .unsupportedVersion(file: "f", version: 2))
    }

    @Test func namesSortByGenerationAndParseBack() {
        #expect(FileNaming.logName(Generation(0x1f)) == "log-000000000000001f.tlog")
        #expect(FileNaming.parse("log-000000000000001f.tlog") == .log(Generation(0x1f)))
        #expect(FileNaming.parse("snapshot-0000000000000002.tsnap") == .snapshot(Generation(2)))
        #expect(FileNaming.parse("snapshot-0000000000000002.tsnap.tmp") == .temporarySnapshot(Generation(2)))
        #expect(FileNaming.parse("log-000000000000001F.tlog") == nil)
        #expect(FileNaming.parse("log-0000000000000000.tlog") == nil)
        #expect(FileNaming.parse("log-000000000000001f.tlog.dropped") == nil)
        #expect(FileNaming.parse("notes.txt") == nil)
    }

    @Test func trailerRoundTripsAndDetectsDamage() {
        var trailer = Framing.snapshotTrailer(recordCount: 9, bodyBytes: 1234)
        #expect(Framing.decodeTrailer(trailer)?.recordCount == 9)
        #expect(Framing.decodeTrailer(trailer)?.bodyBytes == 1234)
        trailer[10] ^= 1
        #expect(Framing.decodeTrailer(trailer) == nil)
    }
}
