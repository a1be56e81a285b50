import Testing
@testable import Core
@testable import Keyspace

@Suite struct RDBWriterTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func oneStringKeyIsTheDocumentedLayout() throws {
        var keyspace = Keyspace()
        keyspace.store(bytes("k"), Entry(value: .string(bytes("v"))))
        let rdb = try RDBWriter.encode([(index: 0, keyspace: keyspace)], now: 0, aux: [])
        let body = bytes("REDIS0009") + [0xFE, 0x00, 0xFB, 0x01, 0x00, 0x00, 0x01, 0x6B, 0x01, 0x76, 0xFF]
        let crc = CRC64.checksum(body)
        #expect(rdb == body + (0..<8).map { UInt8(truncatingIfNeeded: crc >> UInt64($0 * 8)) })
    }

    @Test func expiryPrecedesTheKeyAndExpiredKeysAreLeftOut() throws {
        var keyspace = Keyspace()
        keyspace.store(bytes("later"), Entry(value: .string(bytes("v")), expireAt: 5_000))
        keyspace.store(bytes("gone"), Entry(value: .string(bytes("v")), expireAt: 1_000))
        let rdb = try RDBWriter.encode([(index: 2, keyspace: keyspace)], now: 2_000, aux: [("redis-bits", "64")])
        #expect(Array(rdb[9..<12]) == [0xFA, 0x0A] + bytes("r"))
        let expiry: [UInt8] = [0xFC, 0x88, 0x13, 0, 0, 0, 0, 0, 0, 0x00, 0x05] + bytes("later")
        #expect(rdb.firstRange(of: expiry) != nil)
        #expect(rdb.firstRange(of: bytes("gone")) == nil)
        #expect(rdb.firstRange(of: [0xFE, 0x02]) != nil)
    }

    @Test func lengthsUseRedisEncodings() {
        func encoded(_ length: UInt64) -> [UInt8] {
            var out: [UInt8] = []
            RDBWriter.writeLength(length, into: &out)
            return out
        }
        #expect(encoded(63) == [0x3F])
        #expect(encoded(64) == [0x40, 0x40])
        #expect(encoded(16_383) == [0x7F, 0xFF])
        #expect(encoded(16_384) == [0x80, 0x00, 0x00, 0x40, 0x00])
        #expect(encoded(1 << 32) == [0x81, 0, 0, 0, 1, 0, 0, 0, 0])
    }

    @Test func aHashWithFieldExpirationsIsRefusedNotDropped() throws {
        var fields = HashFields([(bytes("f"), bytes("v"))])
        fields.setExpiry(bytes("f"), at: 10_000)
        var keyspace = Keyspace()
        keyspace.store(bytes("h"), Entry(value: .hash(fields)))
        #expect(throws: RDBWriter.Failure.unsupported(key: bytes("h"), type: "hash with field expirations")) {
            try RDBWriter.encode([(index: 0, keyspace: keyspace)], now: 0, aux: [])
        }
    }

    @Test func listpackIntegersStringsAndBackLengthsAreRedis() {
        var writer = ListpackWriter()
        writer.append(Int64(5))        // 7-bit
        writer.append(Int64(-1))       // 13-bit: 0xDF 0xFF
        writer.append(Int64(1000))     // 13-bit
        writer.append(Int64(-40_000))  // 24-bit
        writer.append(bytes("ab"))     // 6-bit string
        let packed = writer.finished()
        let body: [UInt8] = [0x05, 0x01, 0xDF, 0xFF, 0x02, 0xC3, 0xE8, 0x02,
                             0xF2, 0xC0, 0x63, 0xFF, 0x04, 0x82, 0x61, 0x62, 0x03]
        #expect(packed == [UInt8(body.count + 7), 0, 0, 0, 5, 0] + body + [0xFF])
        #expect(ListpackWriter.backLength(127) == [127])
        #expect(ListpackWriter.backLength(128) == [0x01, 0x80])
        #expect(ListpackWriter.backLength(16_382) == [0x7F, 0xFE])
    }
}
