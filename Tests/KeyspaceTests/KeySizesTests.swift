// INFO keysizes' counts: bins and labels as Redis 8 prints them, and the counts the
// keyspace keeps equal to a recount after every kind of write.
import Core
import Testing
@testable import Keyspace

private func b(_ text: String) -> Bytes { Array(text.utf8) }

@Suite struct KeySizesTests {
    @Test func binsArePowersOfTwoWithRedisLabels() {
        #expect(KeySizes.bin(of: 0) == 0)
        #expect(KeySizes.bin(of: 1) == 1)
        #expect(KeySizes.bin(of: 2) == 2 && KeySizes.bin(of: 3) == 2)
        #expect(KeySizes.bin(of: 4) == 3 && KeySizes.bin(of: 7) == 3)
        #expect(KeySizes.bin(of: Int.max) == 63)
        #expect((0...12).map(KeySizes.label(bin:)) == ["0", "1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "1K", "2K"])
        #expect(KeySizes.label(bin: 21) == "1M" && KeySizes.label(bin: 31) == "1G" && KeySizes.label(bin: 64) == "8E")
    }

    @Test func histogramShowsEachTypesNonEmptyBins() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("empty"), [], now: 0)
        _ = try keyspace.set(b("s"), b("0123456789ABCDEF"), now: 0)
        _ = try keyspace.listPush(b("l"), [b("a"), b("b"), b("c"), b("d"), b("e")], at: .tail, now: 0)
        _ = try keyspace.hashSet(b("h"), [(b("f"), b("v"))], now: 0)
        #expect(keyspace.keySizes.histogram(.strings) == "0=1,16=1")
        #expect(keyspace.keySizes.histogram(.lists) == "4=1")
        #expect(keyspace.keySizes.histogram(.hashes) == "1=1")
        #expect(keyspace.keySizes.histogram(.sets) == nil)
        _ = try keyspace.set(b("h"), [], now: 0)  // a hash overwritten by a string
        #expect(keyspace.keySizes.histogram(.strings) == "0=2,16=1")
        #expect(keyspace.keySizes.histogram(.hashes) == nil)
        keyspace.removeAll()
        #expect(keyspace.keySizes == KeySizes())
    }

    /// Random writes of every type, pops that empty keys, overwrites, expiries and slot
    /// drops: the kept counts equal a recount after each.
    @Test(arguments: [1, 2, 3, 4]) func keptCountsEqualARecount(seed: UInt64) throws {
        var keyspace = Keyspace()
        var random = SeededRandom(seed: seed)
        for step in 0..<3000 {
            let key = b("k\(random.int(in: 0...39))")
            let member = b("m\(random.int(in: 0...11))")
            let now = Int64(step)
            switch random.int(in: 0...11) {
            case 0: _ = try? keyspace.set(key, Array(repeating: 120, count: random.int(in: 0...69)), now: now)
            case 1: _ = try? keyspace.append(key, member, now: now)
            case 2: _ = try? keyspace.listPush(key, [member, member], at: .head, now: now)
            case 3: _ = try? keyspace.listPop(key, from: .tail, count: random.int(in: 0...2), now: now)
            case 4: _ = try? keyspace.setAdd(key, [member], now: now)
            case 5: _ = try? keyspace.setRemove(key, [member], now: now)
            case 6: _ = try? keyspace.hashSet(key, [(member, member)], now: now)
            case 7: _ = try? keyspace.hashDelete(key, [member], now: now)
            case 8: _ = keyspace.delete(key, now: now)
            case 9: _ = try? keyspace.setRange(key, offset: Int64(random.int(in: 0...89)), member, now: now)
            case 10: _ = try? keyspace.increment(key, by: 1, now: now)
            default: _ = keyspace.setExpiry(key, at: now + Int64(random.int(in: 0...29)), condition: .always, now: now)
            }
            if step % 500 == 499 { _ = keyspace.expireCycle(now: now + 20, limit: 1000) }
            if step == 2500 { keyspace.removeAll(inSlots: 0...8000) }
            #expect(keyspace.keySizes == KeySizes(counting: keyspace), "step \(step)")
        }
    }
}
