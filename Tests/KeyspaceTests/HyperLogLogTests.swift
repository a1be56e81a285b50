// HyperLogLog: byte-for-byte layouts and counts recorded from redis-server 7.0.15 for the
// same commands (hash, sparse encoding, promotion to dense, estimator), and damaged values
// set by a client (refused or reported, never read out of bounds).
import Core
import Testing
@testable import Keyspace

private func b(_ text: String) -> Bytes { Array(text.utf8) }
private func hex(_ bytes: Bytes) -> String { bytes.map(format2).joined() }
private func format2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
private func sha1(_ bytes: Bytes) -> String { SHA1.hex(bytes) }
private let limit = HyperLogLog.sparseBytesMaxDefault

@Suite struct HyperLogLogTests {
    private func value(_ keyspace: inout Keyspace, _ key: String) throws -> Bytes {
        try #require(try keyspace.getString(b(key), now: 0))
    }

    @Test func oneElementLayoutsMatchRedis() throws {
        // GET after `PFADD x <element>` on redis-server: the sparse value shows the register
        // and count MurmurHash64A gives each element.
        let expected: [(Bytes, String)] = [
            ([], "57318468cc"), (b("a"), "71a6844e57"), (b("hello"), "63ff805bfe"),
            (b("12345678"), "69528856ab"), (b("123456789abcdef"), "47b8887845"), ([0xff, 0x00, 0x80], "4390807c6d"),
        ]
        for (element, opcodes) in expected {
            var keyspace = Keyspace()
            #expect(try keyspace.hyperLogLogAdd(b("x"), [element], sparseBytesMax: limit, now: 0))
            #expect(hex(try value(&keyspace, "x")) == "48594c4c010000000000000000000080" + opcodes)
        }
    }

    @Test func emptyAddCreatesAndCountCachesAsRedis() throws {
        var keyspace = Keyspace()
        #expect(try keyspace.hyperLogLogAdd(b("h"), [], sparseBytesMax: limit, now: 0))
        #expect(hex(try value(&keyspace, "h")) == "48594c4c0100000000000000000000807fff")
        #expect(try keyspace.hyperLogLogCount(b("h"), cache: true, now: 0) == 0)
        #expect(hex(try value(&keyspace, "h")) == "48594c4c0100000000000000000000007fff")
        #expect(try keyspace.hyperLogLogAdd(b("h"), [b("a"), b("b"), b("c")], sparseBytesMax: limit, now: 0))
        #expect(hex(try value(&keyspace, "h")) == "48594c4c01000000000000000000008060f38050b1844bfb80425a")
        #expect(try keyspace.hyperLogLogAdd(b("h"), [b("a")], sparseBytesMax: limit, now: 0) == false)
        #expect(try keyspace.hyperLogLogCount(b("h"), cache: true, now: 0) == 3)
        #expect(hex(try value(&keyspace, "h")) == "48594c4c01000000030000000000000060f38050b1844bfb80425a")
        #expect(try keyspace.hyperLogLogCount(b("absent"), cache: true, now: 0) == 0)
        #expect(keyspace.exists(b("absent"), now: 0) == false)
    }

    @Test func sparseDenseAndMergeMatchRedis() throws {
        var keyspace = Keyspace()
        _ = try keyspace.hyperLogLogAdd(b("k1"), (0..<1000).map { b("e\($0)") }, sparseBytesMax: limit, now: 0)
        var k1 = try value(&keyspace, "k1")
        #expect(k1.count == 1906 && k1[4] == 1 && sha1(k1) == "26dc3c41142e0317d54eb6adc1e29ccff5ca6941")
        #expect(try keyspace.hyperLogLogCount(b("k1"), cache: true, now: 0) == 1008)
        _ = try keyspace.hyperLogLogAdd(b("k2"), (0..<100_000).map { b("e\($0)") }, sparseBytesMax: limit, now: 0)
        let k2 = try value(&keyspace, "k2")
        #expect(k2.count == 12304 && k2[4] == 0 && sha1(k2) == "ec6400bb60029296060157289491545488e0cdd1")
        #expect(try keyspace.hyperLogLogCount(b("k2"), cache: true, now: 0) == 100_853)
        _ = try keyspace.hyperLogLogAdd(b("k3"), (0..<200).map { b("f\($0)") }, sparseBytesMax: limit, now: 0)
        #expect(sha1(try value(&keyspace, "k3")) == "8adcaaf5ebe6309db5c9b541d7ff4aa1c4acb76c")
        #expect(try keyspace.hyperLogLogUnionCount([b("k1"), b("k3")], now: 0) == 1212)
        // k1 now holds a valid cache; merging ignores it.
        k1 = try value(&keyspace, "k1")
        #expect(k1[15] & 0x80 == 0)
        try keyspace.hyperLogLogMerge(b("k4"), sources: [b("k3"), b("k1")], sparseBytesMax: limit, now: 0)
        #expect(sha1(try value(&keyspace, "k4")) == "9110ac33cf74c096543e3adde7073a300157a033")
        #expect(try keyspace.hyperLogLogCount(b("k4"), cache: false, now: 0) == 1212)
    }

    @Test func estimatorAgreesWithTheEmptyAndFullCases() {
        var histogram = [Int](repeating: 0, count: 64)
        histogram[0] = HyperLogLog.registerCount
        #expect(HyperLogLogEstimator.estimate(histogram) == 0)
    }

    @Test func notAHyperLogLogIsRefused() throws {
        var keyspace = Keyspace()
        for text in ["hello", "HYLL", "HYLL\u{2}xxxxxxxxxxxxxxx", "HYLL\u{0}xxxxxxxxxxxxxxx", "XYLL\u{1}xxxxxxxxxxxxxxx"] {
            _ = try keyspace.set(b("s"), b(text), now: 0)
            #expect(throws: KeyspaceError.notHyperLogLog) { try keyspace.hyperLogLogAdd(b("s"), [b("a")], sparseBytesMax: limit, now: 0) }
            #expect(throws: KeyspaceError.notHyperLogLog) { try keyspace.hyperLogLogCount(b("s"), cache: true, now: 0) }
            #expect(throws: KeyspaceError.notHyperLogLog) { try keyspace.hyperLogLogUnionCount([b("s")], now: 0) }
            #expect(throws: KeyspaceError.notHyperLogLog) { try keyspace.hyperLogLogMerge(b("d"), sources: [b("s")], sparseBytesMax: limit, now: 0) }
        }
        _ = try keyspace.setAdd(b("set"), [b("a")], now: 0)
        #expect(throws: KeyspaceError.wrongType) { try keyspace.hyperLogLogCount(b("set"), cache: true, now: 0) }
    }

    @Test func corruptSparseDataIsReportedNeverFollowed() throws {
        let header: Bytes = b("HYLL") + [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]
        let damaged: [Bytes] = [
            header,                          // no opcodes
            header + [0x7f],                 // an XZERO cut off at the end
            header + [0x7f, 0xff, 0x00],     // one register too many
            header + [0x7f, 0xfe],           // one register short
            header + [0xff, 0xff, 0xff],     // VAL runs only
            header + Bytes(repeating: 0x7f, count: 301),
            header + [0x7f, 0xfe, 0xfd],     // a VAL run past the last register
            header + [0x7f, 0xff, 0x80],     // a VAL run after the last register
        ]
        for bytes in damaged {
            var keyspace = Keyspace()
            _ = try keyspace.set(b("c"), bytes, now: 0)
            #expect(throws: KeyspaceError.corruptHyperLogLog) { try keyspace.hyperLogLogCount(b("c"), cache: true, now: 0) }
            #expect(throws: KeyspaceError.corruptHyperLogLog) { try keyspace.hyperLogLogUnionCount([b("c"), b("x")], now: 0) }
            #expect(throws: KeyspaceError.corruptHyperLogLog) { try keyspace.hyperLogLogMerge(b("d"), sources: [b("c")], sparseBytesMax: limit, now: 0) }
            // PFADD may or may not meet the damage (Redis reads only up to the register it
            // changes); it must not crash, whatever the elements.
            _ = try? keyspace.hyperLogLogAdd(b("c"), (0..<2000).map { b("e\($0)") }, sparseBytesMax: limit, now: 0)
            _ = try? keyspace.hyperLogLogAdd(b("c"), (0..<2000).map { b("e\($0)") }, sparseBytesMax: 100, now: 0)
        }
    }

    @Test func randomDamageNeverCrashes() throws {
        var keyspace = Keyspace()
        _ = try keyspace.hyperLogLogAdd(b("src"), (0..<300).map { b("e\($0)") }, sparseBytesMax: limit, now: 0)
        let good = try value(&keyspace, "src")
        var state: UInt64 = 42
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) }
        for round in 0..<300 {
            var bytes = good
            for _ in 0..<(1 + round % 5) { bytes[16 + next() % (bytes.count - 16)] = UInt8(next() & 0xff) }
            if round % 7 == 0 { bytes.removeLast(next() % 20) }
            _ = try keyspace.set(b("c"), bytes, now: 0)
            _ = try? keyspace.hyperLogLogCount(b("c"), cache: true, now: 0)
            _ = try? keyspace.hyperLogLogUnionCount([b("c")], now: 0)
            _ = try? keyspace.hyperLogLogMerge(b("d\(round)"), sources: [b("c")], sparseBytesMax: limit, now: 0)
            _ = try? keyspace.hyperLogLogAdd(b("c"), (0..<50).map { b("n\($0)") }, sparseBytesMax: limit, now: 0)
        }
        // A dense value's registers may hold any 6-bit value: counting still works.
        var dense = b("HYLL") + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]
        dense += Bytes(repeating: 0xff, count: HyperLogLog.denseSize - 16)
        _ = try keyspace.set(b("dense"), dense, now: 0)
        _ = try keyspace.hyperLogLogCount(b("dense"), cache: true, now: 0)
        try keyspace.hyperLogLogMerge(b("dense2"), sources: [b("dense")], sparseBytesMax: limit, now: 0)
    }

    @Test func runsAddingUpPast32BitsAreCorruptNotOutOfBounds() throws {
        // Redis's regression test for the XZERO overflow (CVE-2025-32023): 2^17 + 1000
        // maximal XZERO runs (over 2^31 registers), then a VAL opcode.
        var bytes = b("HYLL") + [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]  // cache invalid
        for _ in 0..<(131_072 + 1000) { bytes += [0x7f, 0xff] }
        bytes.append(0xff)
        var keyspace = Keyspace()
        _ = try keyspace.set(b("hll"), bytes, now: 0)
        #expect(throws: KeyspaceError.corruptHyperLogLog) { try keyspace.hyperLogLogUnionCount([b("hll"), b("hll")], now: 0) }
        #expect(throws: KeyspaceError.corruptHyperLogLog) { try keyspace.hyperLogLogCount(b("hll"), cache: true, now: 0) }
        #expect(throws: KeyspaceError.corruptHyperLogLog) { try keyspace.hyperLogLogDebug(b("hll"), .registers, now: 0) }
        #expect(throws: KeyspaceError.corruptHyperLogLog) { try keyspace.hyperLogLogMerge(b("d"), sources: [b("hll")], sparseBytesMax: limit, now: 0) }
    }

    @Test func debugViewsAsRedis() throws {
        var keyspace = Keyspace()
        _ = try keyspace.hyperLogLogAdd(b("h"), [b("a"), b("b"), b("c")], sparseBytesMax: limit, now: 0)
        #expect(try keyspace.hyperLogLogDebug(b("h"), .encoding, now: 0) == .encoding("sparse"))
        #expect(try keyspace.hyperLogLogDebug(b("h"), .decode, now: 0) == .text("Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"))
        guard case .registers(let registers)? = try keyspace.hyperLogLogDebug(b("h"), .registers, now: 0) else {
            Issue.record("no registers")
            return
        }
        #expect(registers.count == 16384 && registers[8436] == 1 && registers[12711] == 2 && registers.reduce(0, { $0 + Int($1) }) == 4)
        #expect(try keyspace.hyperLogLogDebug(b("h"), .encoding, now: 0) == .encoding("dense"))
        #expect(try keyspace.hyperLogLogDebug(b("h"), .decode, now: 0) == .notSparse)
        #expect(try keyspace.hyperLogLogDebug(b("h"), .toDense, now: 0) == .converted(false))
        #expect(try keyspace.hyperLogLogDebug(b("missing"), .encoding, now: 0) == nil)
    }

    @Test func smallSparseLimitPromotesEarly() throws {
        var keyspace = Keyspace()
        _ = try keyspace.hyperLogLogAdd(b("h"), (0..<50).map { b("e\($0)") }, sparseBytesMax: 60, now: 0)
        #expect(try value(&keyspace, "h").count == HyperLogLog.denseSize)
        #expect(try keyspace.hyperLogLogCount(b("h"), cache: true, now: 0) == HyperLogLogEstimatorCheck.fiftyElements(&keyspace))
    }
}

/// The count of the same 50 elements kept sparse: promotion does not change the estimate.
private enum HyperLogLogEstimatorCheck {
    static func fiftyElements(_ keyspace: inout Keyspace) -> Int64 {
        _ = try? keyspace.hyperLogLogAdd(b("sparse50"), (0..<50).map { b("e\($0)") }, sparseBytesMax: limit, now: 0)
        return (try? keyspace.hyperLogLogCount(b("sparse50"), cache: false, now: 0)) ?? -1
    }
}
