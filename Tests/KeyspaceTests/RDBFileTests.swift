import Testing
@testable import Core
@testable import Keyspace

@Suite struct RDBFileTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func withChecksum(_ body: [UInt8]) -> [UInt8] {
        let crc = CRC64.checksum(body)
        return body + (0..<8).map { UInt8(truncatingIfNeeded: crc >> UInt64($0 * 8)) }
    }

    @Test func whatTheWriterWritesReadsBackKeyByKey() throws {
        var first = Keyspace()
        first.store(bytes("s"), Entry(value: .string(bytes("value"))))
        first.store(bytes("l"), Entry(value: .list(PackedList([bytes("a"), bytes("b")])), expireAt: 90_000))
        first.store(bytes("h"), Entry(value: .hash(HashFields([(bytes("f"), bytes("v"))]))))
        var third = Keyspace()
        third.store(bytes("n"), Entry(value: .string(bytes("12345"))))
        let rdb = try RDBWriter.encode([(index: 0, keyspace: first), (index: 3, keyspace: third)], now: 1_000,
                                       aux: [("redis-ver", "7.4.0")])
        let contents = try RDBFile.parse(rdb)
        #expect(contents.aux.map(\.name) == ["redis-ver"])
        #expect(contents.aux.map(\.value) == ["7.4.0"])
        var byKey: [Bytes: RDBFile.Key] = [:]
        for key in contents.keys { byKey[key.key] = key }
        #expect(byKey.count == 4)
        #expect(byKey[bytes("s")]?.value == .string(bytes("value")))
        #expect(byKey[bytes("s")]?.expireAt == nil)
        #expect(byKey[bytes("l")]?.expireAt == 90_000)
        #expect(byKey[bytes("l")]?.value == .list(PackedList([bytes("a"), bytes("b")])))
        #expect(byKey[bytes("h")]?.database == 0)
        #expect(byKey[bytes("n")]?.database == 3)
        #expect(byKey[bytes("n")]?.value == .string(bytes("12345")))
    }

    @Test func redisOpcodesAroundKeysAreReadOrSkipped() throws {
        var body = bytes("REDIS0012")
        body += [0xFA, 0x05] + bytes("ctime") + [0xC2, 0x10, 0x00, 0x00, 0x00]       // aux, integer-encoded
        body += [0xF5, 0x0C] + bytes("#!lua name=x")                                 // a function library
        body += [0xFE, 0x01, 0xFB, 0x02, 0x01]                                        // SELECTDB 1, RESIZEDB
        body += [0xF4, 0x05, 0x02, 0x01]                                              // SLOT_INFO
        body += [0xFD, 0x0A, 0x00, 0x00, 0x00]                                        // EXPIRETIME 10 s
        body += [0xF8, 0x07]                                                          // IDLE
        body += [0x00, 0x01] + bytes("a") + [0x01] + bytes("1")
        body += [0xF9, 0x03]                                                          // FREQ
        body += [0x00, 0x01] + bytes("b") + [0x01] + bytes("2")
        body += [0xFF]
        let contents = try RDBFile.parse(withChecksum(body))
        #expect(contents.aux.first?.value == "16")
        #expect(contents.libraries == [bytes("#!lua name=x")])
        #expect(contents.keys.map(\.key) == [bytes("a"), bytes("b")])
        #expect(contents.keys.map(\.database) == [1, 1])
        #expect(contents.keys.map(\.expireAt) == [10_000, nil])
    }

    @Test func aZeroChecksumIsNoneAndAWrongOneIsRefused() throws {
        let body = bytes("REDIS0009") + [0x00, 0x01] + bytes("k") + [0x01] + bytes("v") + [0xFF]
        #expect(try RDBFile.parse(body + [UInt8](repeating: 0, count: 8)).keys.count == 1)
        var wrong = withChecksum(body)
        wrong[wrong.count - 1] ^= 1
        #expect(throws: RDBReader.Failure.self) { try RDBFile.parse(wrong) }
    }

    @Test func malformedFilesAreRefusedWithAReason() {
        let valid = withChecksum(bytes("REDIS0009") + [0x00, 0x01] + bytes("k") + [0x01] + bytes("v") + [0xFF])
        for cut in 0..<valid.count - 8 {
            #expect(throws: RDBReader.Failure.self) { try RDBFile.parse(Array(valid[..<cut])) }
        }
        #expect(throws: RDBReader.Failure.self) { try RDBFile.parse(bytes("REDIS0013") + [0xFF]) }
        #expect(throws: RDBReader.Failure.self) { try RDBFile.parse(bytes("NOTRDB001") + [0xFF]) }
        #expect(throws: RDBReader.Failure.self) { try RDBFile.parse(bytes("REDIS0009") + [0xF7, 0x01]) }
    }

    @Test func randomBytesNeverTrap() {
        var random = SeededRandom(seed: 7)
        let header = bytes("REDIS0011")
        for _ in 0..<2_000 {
            let count = Int(random.next() % 64)
            let tail = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            _ = try? RDBFile.parse(header + tail)
        }
    }
}
