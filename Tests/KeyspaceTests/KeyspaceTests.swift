import Core
import Testing
@testable import Keyspace

private func b(_ text: String) -> Bytes { Array(text.utf8) }

@Suite struct StringTests {
    @Test func setConditionsAndOldValue() throws {
        var keyspace = Keyspace()
        #expect(try keyspace.set(b("k"), b("1"), condition: .ifPresent, now: 0).written == false)
        #expect(try keyspace.set(b("k"), b("1"), condition: .ifAbsent, now: 0).written)
        #expect(try keyspace.set(b("k"), b("2"), condition: .ifAbsent, now: 0).written == false)
        let result = try keyspace.set(b("k"), b("3"), returnOld: true, now: 0)
        #expect(result.old == b("1"))
        #expect(try keyspace.getString(b("k"), now: 0) == b("3"))
    }

    @Test func keepTTLAndExpiryInThePastDeletes() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("k"), b("v"), expiry: .at(1000), now: 0)
        _ = try keyspace.set(b("k"), b("w"), expiry: .keep, now: 10)
        do { let observed = keyspace.expireTime(b("k"), now: 10) == 1000; #expect(observed) }
        _ = try keyspace.set(b("k"), b("x"), now: 10)
        do { let observed = keyspace.expireTime(b("k"), now: 10) == -1; #expect(observed) }
        _ = try keyspace.set(b("k"), b("y"), expiry: .at(5), now: 10)
        do { let observed = keyspace.exists(b("k"), now: 10) == false; #expect(observed) }
    }

    @Test func countersOverflowAndTypes() throws {
        var keyspace = Keyspace()
        #expect(try keyspace.increment(b("n"), by: 5, now: 0) == 5)
        _ = try keyspace.set(b("n"), b(String(Int64.max)), now: 0)
        #expect(throws: KeyspaceError.overflow) { try keyspace.increment(b("n"), by: 1, now: 0) }
        _ = try keyspace.set(b("s"), b("abc"), now: 0)
        #expect(throws: KeyspaceError.notInteger) { try keyspace.increment(b("s"), by: 1, now: 0) }
        _ = try keyspace.set(b("z"), b(" 1"), now: 0)
        #expect(throws: KeyspaceError.notInteger) { try keyspace.increment(b("z"), by: 1, now: 0) }
        _ = try keyspace.hashSet(b("h"), [(b("f"), b("v"))], now: 0)
        #expect(throws: KeyspaceError.wrongType) { try keyspace.getString(b("h"), now: 0) }
    }

    @Test func incrementFloatFormatsLikeRedis() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("f"), b("10.50"), now: 0)
        #expect(try keyspace.incrementFloat(b("f"), by: 0.1, now: 0) == b("10.6"))
        _ = try keyspace.set(b("g"), b("5.0e3"), now: 0)
        #expect(try keyspace.incrementFloat(b("g"), by: 200, now: 0) == b("5200"))
        #expect(Numbers.formatLongDouble(1e20) == b("100000000000000000000"))
        #expect(Numbers.formatLongDouble(1.5e-7) == b("0.00000015"))
        #expect(throws: KeyspaceError.nanOrInfinity) { try keyspace.incrementFloat(b("g"), by: .infinity, now: 0) }
        // Redis's string2ld: an embedded NUL or a leading space is not a number; hex is.
        #expect(Numbers.parseLongDouble(b("5\u{0}")) == nil)
        #expect(Numbers.parseLongDouble(b(" 5")) == nil)
        #expect(Numbers.parseLongDouble(b("0x10")) == 16)
        #expect(Numbers.parseLongDouble(b("nan")) == nil)
    }

    @Test func rangesFollowRedisIndexRules() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("s"), b("This is a string"), now: 0)
        #expect(try keyspace.getRange(b("s"), start: 0, end: 3, now: 0) == b("This"))
        #expect(try keyspace.getRange(b("s"), start: -3, end: -1, now: 0) == b("ing"))
        #expect(try keyspace.getRange(b("s"), start: 0, end: -1, now: 0) == b("This is a string"))
        #expect(try keyspace.getRange(b("s"), start: 10, end: 100, now: 0) == b("string"))
        #expect(try keyspace.getRange(b("s"), start: 5, end: 3, now: 0) == [])
        #expect(try keyspace.setRange(b("p"), offset: 3, b("x"), now: 0) == 4)
        #expect(try keyspace.getString(b("p"), now: 0) == [0, 0, 0, UInt8(ascii: "x")])
    }
}

@Suite struct ExpiryTests {
    @Test func lazyExpiryHidesAndDeletes() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("k"), b("v"), expiry: .at(100), now: 0)
        do { let observed = keyspace.exists(b("k"), now: 99); #expect(observed) }
        do { let observed = keyspace.exists(b("k"), now: 100) == false; #expect(observed) }
        #expect(keyspace.keyCount == 0)
        #expect(keyspace.expiredKeyCount == 1)
    }

    @Test func activeExpiryReclaimsUntouchedKeys() throws {
        var keyspace = Keyspace()
        for index in 0..<1000 { _ = try keyspace.set(b("k\(index)"), b("v"), expiry: .at(Int64(100 + index % 10)), now: 0) }
        _ = try keyspace.set(b("keep"), b("v"), now: 0)
        #expect(keyspace.keyCount == 1001)
        do { let observed = keyspace.expireCycle(now: 200) == 1000; #expect(observed) }
        #expect(keyspace.keyCount == 1)
        #expect(keyspace.expiringCount == 0)
    }

    @Test func staleExpiryMarksDoNotDeleteRefreshedKeys() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("k"), b("v"), expiry: .at(100), now: 0)
        do { let observed = keyspace.setExpiry(b("k"), at: 1000, condition: .always, now: 1); #expect(observed) }
        do { let observed = keyspace.expireCycle(now: 500) == 0; #expect(observed) }
        do { let observed = keyspace.exists(b("k"), now: 500); #expect(observed) }
        do { let observed = keyspace.persist(b("k"), now: 500); #expect(observed) }
        do { let observed = keyspace.expireCycle(now: 5000) == 0; #expect(observed) }
        do { let observed = keyspace.exists(b("k"), now: 5000); #expect(observed) }
    }

    @Test func staleMarksStayBounded() throws {
        var keyspace = Keyspace()
        for round in 0..<10_000 { _ = try keyspace.set(b("k"), b("v"), expiry: .at(Int64(1_000_000 + round)), now: 0) }
        #expect(keyspace.expiryMarkCount <= 2 * keyspace.expiringCount + ExpiryLimits.staleMarksSlack + 1)
    }

    @Test func expireConditions() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("k"), b("v"), now: 0)
        do { let observed = keyspace.setExpiry(b("k"), at: 100, condition: .ifHasExpiry, now: 0) == false; #expect(observed) }
        do { let observed = keyspace.setExpiry(b("k"), at: 100, condition: .ifGreater, now: 0) == false; #expect(observed) }
        do { let observed = keyspace.setExpiry(b("k"), at: 100, condition: .ifLess, now: 0); #expect(observed) }
        do { let observed = keyspace.setExpiry(b("k"), at: 50, condition: .ifGreater, now: 0) == false; #expect(observed) }
        do { let observed = keyspace.setExpiry(b("k"), at: 200, condition: .ifGreater, now: 0); #expect(observed) }
        do { let observed = keyspace.setExpiry(b("k"), at: 300, condition: .ifNoExpiry, now: 0) == false; #expect(observed) }
    }
}

@Suite struct IterationTests {
    @Test func scanVisitsEveryKeyPresentThroughoutDespiteConcurrentChanges() throws {
        var keyspace = Keyspace()
        for index in 0..<3000 { _ = try keyspace.set(b("stable\(index)"), b("v"), now: 0) }
        var seen = Set<Bytes>()
        var cursor = 0
        var round = 0
        repeat {
            cursor = keyspace.scan(cursor: cursor, count: 50, now: 0) { key, _ in seen.insert(key) }
            // Mutate between calls: add and delete other keys.
            _ = try keyspace.set(b("churn\(round)"), b("v"), now: 0)
            keyspace.delete(b("churn\(round / 2)"), now: 0)
            round += 1
        } while cursor != 0
        for index in 0..<3000 { #expect(seen.contains(b("stable\(index)"))) }
    }

    @Test func globMatchesLikeRedis() {
        #expect(Glob.matches(pattern: b("h?llo"), b("hello")))
        #expect(Glob.matches(pattern: b("h*llo"), b("heeeello")))
        #expect(Glob.matches(pattern: b("h[ae]llo"), b("hallo")))
        #expect(Glob.matches(pattern: b("h[^e]llo"), b("hello")) == false)
        #expect(Glob.matches(pattern: b("h[a-b]llo"), b("hbllo")))
        #expect(Glob.matches(pattern: b("h\\*llo"), b("h*llo")))
        #expect(Glob.matches(pattern: b("*"), b("")))
        #expect(Glob.matches(pattern: b("a*b"), b("acd")) == false)
        // A pathological pattern finishes quickly.
        #expect(Glob.matches(pattern: b(String(repeating: "a*", count: 30) + "b"), b(String(repeating: "a", count: 60))) == false)
    }

    @Test func randomKeyIsDeterministicForASeed() throws {
        var keyspace = Keyspace()
        for index in 0..<100 { _ = try keyspace.set(b("k\(index)"), b("v"), now: 0) }
        var first = SeededRandom(seed: 1), second = SeededRandom(seed: 1)
        #expect(keyspace.randomKey(now: 0, using: &first) == keyspace.randomKey(now: 0, using: &second))
        #expect(keyspace.randomKey(now: 0, using: &first) != nil)
    }

    @Test func randomKeyReportsTheExpiredKeysItDraws() throws {
        var keyspace = Keyspace()
        keyspace.store(b("gone"), Entry(value: .string(b("v")), expireAt: 10))
        var random = SeededRandom(seed: 7)
        var met: [Bytes] = []
        #expect(keyspace.randomKey(now: 20, using: &random) { met.append($0) } == nil)
        #expect(!met.isEmpty && met.allSatisfy { $0 == b("gone") })
        #expect(keyspace.keyCount == 1, "a read leaves the removal to its caller")
    }
}

@Suite struct HashTests {
    @Test func hashLifecycle() throws {
        var keyspace = Keyspace()
        #expect(try keyspace.hashSet(b("h"), [(b("a"), b("1")), (b("b"), b("2"))], now: 0) == 2)
        #expect(try keyspace.hashSet(b("h"), [(b("a"), b("3"))], now: 0) == 0)
        #expect(try keyspace.hashIncrement(b("h"), b("a"), by: 2, now: 0) == 5)
        #expect(throws: KeyspaceError.hashValueNotInteger) {
            _ = try keyspace.hashSet(b("h"), [(b("s"), b("x"))], now: 0)
            return try keyspace.hashIncrement(b("h"), b("s"), by: 1, now: 0)
        }
        #expect(try keyspace.hashDelete(b("h"), [b("a"), b("b"), b("s")], now: 0) == 3)
        do { let observed = keyspace.exists(b("h"), now: 0) == false; #expect(observed) }
    }
}

@Suite struct SnapshotCodecTests {
    @Test func recordsWrittenInPlaceAreTheBlobsOfTheRecordSequence() throws {
        var keyspace = Keyspace()
        for index in 0..<300 { _ = try keyspace.set(b("s\(index)"), b(String(repeating: "v", count: index)), now: 0) }
        _ = try keyspace.set(b("gone"), b("x"), expiry: .at(5), now: 0)
        _ = try keyspace.hashSet(b("h"), [(b("f"), b("v")), (b("g"), b("w"))], now: 0)
        _ = try keyspace.listPush(b("l"), [b("a"), b("b")], at: .tail, now: 0)
        _ = try keyspace.setAdd(b("set"), [b("m"), b("n")], now: 0)
        var expected = ByteWriter()
        var count = 0
        for record in keyspace.snapshotRecords(now: 10) {
            expected.writeBlob(record)
            count += 1
        }
        var written = ByteWriter()
        #expect(keyspace.writeSnapshotRecords(now: 10, into: &written) == count)
        #expect(written.bytes == expected.bytes)
        #expect(count == 303)
    }

    @Test func recordsRoundTripAndRejectGarbage() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("s"), b("value"), expiry: .at(99_999), now: 0)
        _ = try keyspace.hashSet(b("h"), [(b("f"), b("v"))], now: 0)
        var restored = Keyspace()
        for record in keyspace.snapshotRecords(now: 0) { try restored.load(record: record) }
        #expect(restored.peek(b("s"), now: 0) == keyspace.peek(b("s"), now: 0))
        #expect(restored.peek(b("h"), now: 0) == keyspace.peek(b("h"), now: 0))
        #expect(restored.keyCount == 2)
        var random = SeededRandom(seed: 3)
        for _ in 0..<2000 {
            let garbage = (0..<random.int(in: 0...40)).map { _ in UInt8(random.int(in: 0...255)) }
            _ = try? EntryCodec.decode(garbage)
        }
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode([2, 1, 0, 0, 0, 65, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255]) }
    }

    @Test func snapshotCopyIsIsolatedFromLaterWrites() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("a"), b("1"), now: 0)
        let copy = keyspace
        _ = try keyspace.set(b("a"), b("2"), now: 0)
        _ = try keyspace.set(b("b"), b("3"), now: 0)
        #expect(copy.peek(b("a"), now: 0)?.value == .string(b("1")))
        #expect(copy.peek(b("b"), now: 0) == nil)
    }
}

@Suite struct WatchedKeyTests {
    /// Reclaiming an expired key is no logical change: a watch on it is not touched (Redis's
    /// "Delete WATCHed stale keys should not fail EXEC"); deleting a live one is.
    @Test func expiryRemovalsDoNotTouchAWatchedKeyButDeletesDo() throws {
        var keyspace = Keyspace()
        keyspace.watchedKeys = [b("lazy"), b("cycle"), b("reclaim"), b("live")]
        for key in ["lazy", "cycle", "reclaim", "live"] {
            _ = try keyspace.set(b(key), b("v"), expiry: key == "live" ? .clear : .at(10), now: 0)
        }
        #expect(keyspace.touchedWatched.count == 4)  // the writes
        keyspace.touchedWatched = []
        let lazy = keyspace.lookup(b("lazy"), now: 20)
        let reclaimed = keyspace.reclaimExpired([b("reclaim")], now: 20)
        let cycled = keyspace.expireCycle(now: 20)
        #expect(lazy == nil && reclaimed == 1 && cycled == 1)
        #expect(keyspace.keyCount == 1)
        #expect(keyspace.touchedWatched.isEmpty)
        let deleted = keyspace.delete(b("live"), now: 20)
        #expect(deleted)
        #expect(keyspace.touchedWatched == [b("live")])
    }

    @Test func touchAccessRefreshesALiveKeyOnly() {
        var keyspace = Keyspace()
        let key = Array("k".utf8), gone = Array("gone".utf8)
        let start: Int64 = 1_700_000_000_000, later = start + 60_000
        keyspace.accessNow = start
        keyspace.store(key, Entry(value: .string(Array("v".utf8))))
        keyspace.store(gone, Entry(value: .string(Array("v".utf8)), expireAt: start + 1_000))
        keyspace.touchAccess(key, now: later)
        keyspace.touchAccess(gone, now: later)
        keyspace.touchAccess(Array("missing".utf8), now: later)
        #expect(keyspace.peek(key, now: later)?.access.idleSeconds(now: later) == 0)
        #expect(keyspace.peek(gone, now: .min)?.access.idleSeconds(now: later) == 60, "an expired key is left as it was")
        #expect(keyspace.keyCount == 2)
    }
}
