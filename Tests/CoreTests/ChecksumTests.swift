import Testing
@testable import Core

@Suite struct ChecksumTests {
    @Test func crc32cMatchesKnownVector() {
        // The standard check value for CRC-32C over "123456789".
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func crc64MatchesRedisCheckValue() {
        // Redis's crc64.c self-test: crc64(0, "123456789") == 0xe9c6d914c4b8d9ca.
        #expect(CRC64.checksum(Array("123456789".utf8)) == 0xE9C6_D914_C4B8_D9CA)
        let bytes = Array("This is a test of the emergency broadcast system.".utf8)
        #expect(CRC64.update(CRC64.checksum(bytes[0..<10]), bytes[10...]) == CRC64.checksum(bytes))
    }

    @Test func crc32cIsIncremental() {
        let bytes = Array("hello, trestle".utf8)
        let whole = CRC32C.checksum(bytes)
        let split = CRC32C.update(CRC32C.checksum(bytes[0..<5]), bytes[5...])
        #expect(whole == split)
    }

    @Test func slicingBy8MatchesBytewise() {
        var random = SeededRandom(seed: 5)
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8(random.int(in: 0...255)) }
            let fast = bytes.withUnsafeBytes { CRC32C.update(0, $0) }
            #expect(fast == CRC32C.update(0, bytes.lazy.map { $0 }))
        }
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.update(0, $0) } == 0xE306_9283)
    }

    @Test func crc16MatchesRedisClusterSpec() {
        // The Redis Cluster specification gives 0x31C3 for "123456789".
        #expect(CRC16.checksum(Array("123456789".utf8)) == 0x31C3)
        #expect(Array("123456789".utf8).withUnsafeBufferPointer { CRC16.checksum($0) } == 0x31C3)
    }

    @Test func crc16SlicingMatchesTheBytewiseCRC() {
        var random = SeededRandom(seed: 16)
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8(random.int(in: 0...255)) }
            #expect(bytes.withUnsafeBufferPointer { CRC16.checksum($0) } == CRC16.checksum(bytes.lazy.map { $0 }), "length \(length)")
        }
    }

    @Test func hashSlotsHonourHashTags() {
        #expect(HashSlot.of(key: Array("foo".utf8)).rawValue == 12182)
        #expect(HashSlot.of(key: Array("{user1000}.following".utf8)) == HashSlot.of(key: Array("{user1000}.followers".utf8)))
        #expect(HashSlot.of(key: Array("foo{}{bar}".utf8)) == HashSlot.of(key: Array("foo{}{bar}".utf8)))
        // An empty tag hashes the whole key.
        #expect(HashSlot.of(key: Array("foo{}{bar}".utf8)) != HashSlot.of(key: Array("bar".utf8)))
    }
}

@Suite struct RandomTests {
    @Test func sameSeedSameSequence() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
        for _ in 0..<100 { #expect(a.next() == b.next()) }
    }
}
