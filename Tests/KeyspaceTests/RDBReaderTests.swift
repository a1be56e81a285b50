import Collections
import Testing
@testable import Core
@testable import Keyspace

@Suite struct RDBReaderTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func sampleStream() -> Stream {
        var stream = Stream()
        for index in 0..<230 {
            stream.appendEntry(StreamEntry(id: StreamID(UInt64(1_000 + index / 3), UInt64(index % 3)),
                                           fields: index % 2 == 0 ? [bytes("n"), bytes("\(index)")] : [bytes("a"), bytes("1"), bytes("b"), bytes("")]),
                               limits: .redisDefault)
        }
        stream.lastID = StreamID(5_000, 1)
        stream.entriesAdded = 240
        stream.maxDeletedID = StreamID(4_000, 0)
        var group = ConsumerGroup(name: bytes("workers"), lastDeliveredID: StreamID(1_001, 2), entriesRead: 6)
        group.consumers = [StreamConsumer(name: bytes("alice"), seenAt: 77, activeAt: 70),
                           StreamConsumer(name: bytes("bob"), seenAt: 80, activeAt: -1)]
        group.pending = [(StreamID(1_000, 1), PendingEntry(consumer: bytes("bob"), deliveredAt: 60, deliveries: 2)),
                         (StreamID(1_001, 0), PendingEntry(consumer: bytes("alice"), deliveredAt: 65, deliveries: 1))]
        stream.groups = [ConsumerGroup(name: bytes("audit"), lastDeliveredID: .zero, entriesRead: -1), group]
        return stream
    }

    private func sampleValues() -> [Value] {
        var sortedSet = SortedSet()
        sortedSet.set(bytes("low"), score: -.infinity)
        sortedSet.set(bytes("mid"), score: 2.5)
        sortedSet.set(bytes("high"), score: 1e300)
        return [
            .string(bytes("plain")), .string([]), .string(Array(repeating: 0xAB, count: 70_000)),
            .list(PackedList([bytes("a"), [], bytes("c")])),
            .set(OrderedSet([Key(bytes("x")), Key(bytes("12"))])),
            .hash(HashFields([(bytes("f"), bytes("v")), (bytes("g"), [])])),
            .zset(sortedSet),
            .stream(sampleStream()), .stream(Stream()),
        ]
    }

    @Test func everyValueSurvivesADumpPayload() throws {
        for value in sampleValues() {
            #expect(try DumpPayload.decode(DumpPayload.encode(value)) == value)
        }
    }

    @Test func payloadFooterIsVersionThenCRC64() {
        let payload = DumpPayload.encode(.string(bytes("v")))
        #expect(Array(payload.prefix(5)) == [0x00, 0x01, 0x76, 0x09, 0x00])
        let crc = CRC64.checksum(payload.prefix(5))
        #expect(Array(payload.suffix(8)) == (0..<8).map { UInt8(truncatingIfNeeded: crc >> UInt64($0 * 8)) })
        #expect(DumpPayload.encode(.stream(Stream())).first == 21)
    }

    @Test func hashWithFieldExpirationsUsesTrestlesOwnPayload() throws {
        var fields = HashFields([(bytes("f"), bytes("v"))])
        fields.setExpiry(bytes("f"), at: 9_999)
        let payload = DumpPayload.encode(.hash(fields))
        #expect(Array(payload.suffix(7).prefix(3)) == bytes("TR") + [1])
        #expect(try DumpPayload.decode(payload) == .hash(fields))
    }

    @Test func damagedPayloadsAreRefused() {
        var payload = DumpPayload.encode(.string(bytes("value")))
        payload[2] ^= 1
        #expect(throws: DumpPayload.Failure.versionOrChecksum) { try DumpPayload.decode(payload) }
        #expect(throws: DumpPayload.Failure.versionOrChecksum) { try DumpPayload.decode([1, 2, 3]) }
    }

    @Test func version15StreamsGetWhatRedisFillsIn() throws {
        var out: [UInt8] = []
        try RDBWriter.writeObject(.stream(sampleStream()), key: nil, streamType: RDBWriter.typeStream, into: &out)
        var reader = RDBReader(out)
        guard case .stream(let stream) = try reader.object() else { Issue.record("not a stream"); return }
        let original = sampleStream()
        #expect(stream.entries == original.entries)
        #expect(stream.lastID == original.lastID)
        #expect(stream.entriesAdded == UInt64(original.entries.count))
        #expect(stream.maxDeletedID == .zero)
        // "audit" read nothing yet (0-0 precedes the first entry): none of the 230 read.
        // "workers" stopped inside the stream: unknown.
        #expect(stream.groups.map(\.entriesRead) == [0, -1])
        #expect(stream.groups[1].consumers.map(\.activeAt) == [77, 80])
        #expect(stream.groups[1].pending.map(\.entry) == original.groups[1].pending.map(\.entry))
    }

    @Test func stringEncodings() throws {
        func read(_ payload: [UInt8]) throws -> [UInt8] {
            var reader = RDBReader(payload)
            return try reader.string()
        }
        #expect(try read([0xC0, 0xF6]) == bytes("-10"))
        #expect(try read([0xC1, 0x39, 0x30]) == bytes("12345"))
        #expect(try read([0xC2, 0xFF, 0xFF, 0xFF, 0x7F]) == bytes("2147483647"))
        // LZF: a literal "ab" (control 1), then a back-reference of 6 bytes at distance 2.
        #expect(try read([0xC3, 0x05, 0x08, 0x01, 0x61, 0x62, 0x80, 0x01]) == bytes("abababab"))
        // A compressed length near 2^64 is refused, not multiplied into an overflow.
        #expect(throws: RDBReader.Failure.self) { try read([0xC3, 0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x05, 0x00]) }
        #expect(throws: RDBReader.Failure.self) { try read([0xC3, 0x02, 0x05, 0x20, 0x00]) }
    }

    @Test func listpackIntegersOfEveryWidthReadBack() throws {
        let numbers: [Int64] = [0, 127, -1, 128, -4096, 4095, 4096, Int64(Int16.min), Int64(Int16.max), -(1 << 23), (1 << 23) - 1,
                                Int64(Int32.min), Int64(Int32.max), Int64.min, Int64.max]
        var writer = ListpackWriter()
        for number in numbers { writer.append(number) }
        writer.append(Array(repeating: 0x61, count: 70))
        writer.append(Array(repeating: 0x62, count: 5_000))
        let elements = try RDBReader.listpack(writer.finished())
        #expect(elements.dropLast(2).map { String(decoding: $0, as: UTF8.self) } == numbers.map { String($0) })
        #expect(elements.suffix(2).map(\.count) == [70, 5_000])
    }

    @Test func ziplistAndIntsetDecode() throws {
        // A ziplist of "ab", 7 (immediate), -2 (int8), 300 (int16), then the end.
        let entries: [UInt8] = [0x00, 0x02, 0x61, 0x62, 0x04, 0xF8, 0x02, 0xFE, 0xFE, 0x03, 0xC0, 0x2C, 0x01]
        var ziplist: [UInt8] = []
        for value in [UInt32(10 + entries.count + 1), 0] { ziplist += (0..<4).map { UInt8(truncatingIfNeeded: value >> UInt32($0 * 8)) } }
        ziplist += [4, 0] + entries + [0xFF]
        #expect(try RDBReader.ziplist(ziplist) == [bytes("ab"), bytes("7"), bytes("-2"), bytes("300")])
        #expect(throws: RDBReader.Failure.self) { try RDBReader.ziplist(Array(ziplist.dropLast(2)) + [0xFF]) }
        let intset: [UInt8] = [2, 0, 0, 0, 2, 0, 0, 0, 0xFE, 0xFF, 0x05, 0x00]
        #expect(try RDBReader.intset(intset) == [bytes("-2"), bytes("5")])
        #expect(throws: RDBReader.Failure.self) { try RDBReader.intset([2, 0, 0, 0, 2, 0, 0, 0, 0x05, 0x00, 0xFE, 0xFF]) }
    }

    @Test func everyPrefixOfAPayloadFailsCleanly() {
        for value in sampleValues() {
            let payload = DumpPayload.encode(value)
            let object = Array(payload.dropLast(10))
            for cut in 0..<object.count where cut % 97 == 0 || object.count - cut < 40 {
                var reader = RDBReader(Array(object.prefix(cut)))
                #expect(throws: RDBReader.Failure.self) { try reader.object() }
            }
        }
    }
}
