// Numbers that come from clients at their extremes (issue 13): every one must give a
// typed error or Redis's answer, never an arithmetic trap.
import Core
import Testing
@testable import Keyspace

private func b(_ text: String) -> Bytes { Array(text.utf8) }

@Suite struct ClientNumberTests {
    /// SETRANGE k 9223372036854775807 x used to trap on `offset + value.count`.
    @Test func setRangeOffsetNearInt64MaxIsTooLong() throws {
        var keyspace = Keyspace()
        #expect(throws: KeyspaceError.stringTooLong) { try keyspace.setRange(b("absent"), offset: Int64.max, b("x"), now: 0) }
        #expect(keyspace.exists(b("absent"), now: 0) == false)
        _ = try keyspace.set(b("s"), b("hello"), now: 0)
        #expect(throws: KeyspaceError.stringTooLong) { try keyspace.setRange(b("s"), offset: Int64.max, b("x"), now: 0) }
        #expect(throws: KeyspaceError.stringTooLong) { try keyspace.setRange(b("s"), offset: Int64.max - 1, b("xy"), now: 0) }
        // One byte past the limit, the smallest overflow of proto-max-bulk-len.
        let limit = Int64(KeyspaceLimits.stringBytesMax)
        #expect(throws: KeyspaceError.stringTooLong) { try keyspace.setRange(b("s"), offset: limit - 1, b("xy"), now: 0) }
        #expect(throws: KeyspaceError.offsetOutOfRange) { try keyspace.setRange(b("s"), offset: Int64.min, b("x"), now: 0) }
        // Setting nothing answers the length whatever the offset, as Redis does.
        #expect(try keyspace.setRange(b("s"), offset: Int64.max, [], now: 0) == 5)
        #expect(try keyspace.setRange(b("absent"), offset: Int64.max, [], now: 0) == 0)
        #expect(try keyspace.getString(b("s"), now: 0) == b("hello"))
    }

    /// The APPEND / SETRANGE size check cannot overflow, whatever the sizes.
    @Test func stringSizeCheckNeverOverflows() {
        let limit = KeyspaceLimits.stringBytesMax
        #expect(Keyspace.fits(limit - 1, plus: 1))
        #expect(Keyspace.fits(0, plus: limit))
        #expect(Keyspace.fits(limit, plus: 1) == false)
        #expect(Keyspace.fits(1, plus: Int.max) == false)
        #expect(Keyspace.fits(Int.max, plus: Int.max) == false)
        #expect(Keyspace.fits(-1, plus: 1) == false)
    }

    @Test func getRangeWithExtremeIndexes() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("s"), b("hello"), now: 0)
        #expect(try keyspace.getRange(b("s"), start: Int64.min, end: Int64.min, now: 0) == b("h"))
        #expect(try keyspace.getRange(b("s"), start: Int64.min, end: Int64.max, now: 0) == b("hello"))
        #expect(try keyspace.getRange(b("s"), start: Int64.max, end: Int64.min, now: 0) == [])
        #expect(try keyspace.getRange(b("s"), start: 0, end: Int64.min, now: 0) == b("h"))
        #expect(try keyspace.getRange(b("s"), start: Int64.max, end: Int64.max, now: 0) == [])
        #expect(try keyspace.getRange(b("s"), start: -Int64.max, end: Int64.min, now: 0) == [])
    }

    @Test func countersOverflowInBothDirections() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("n"), b("-2"), now: 0)
        #expect(throws: KeyspaceError.overflow) { try keyspace.increment(b("n"), by: Int64.min, now: 0) }
        #expect(throws: KeyspaceError.overflow) { try keyspace.increment(b("n"), by: -Int64.max, now: 0) }
        #expect(try keyspace.increment(b("n"), by: Int64.max, now: 0) == Int64.max - 2)
        #expect(try keyspace.getString(b("n"), now: 0) == b(String(Int64.max - 2)))
        #expect(try keyspace.hashIncrement(b("h"), b("f"), by: Int64.min, now: 0) == Int64.min)
        #expect(throws: KeyspaceError.overflow) { try keyspace.hashIncrement(b("h"), b("f"), by: -1, now: 0) }
        #expect(try keyspace.hashIncrement(b("h"), b("g"), by: Int64.max, now: 0) == Int64.max)
        #expect(throws: KeyspaceError.overflow) { try keyspace.hashIncrement(b("h"), b("g"), by: 1, now: 0) }
        #expect(try keyspace.hashGet(b("h"), b("g"), now: 0) == b(String(Int64.max)))
    }

    @Test func floatIncrementsThatReachInfinityAreRefused() throws {
        var keyspace = Keyspace()
        let largest = Numbers.formatLongDouble(LongDouble.greatestFiniteMagnitude)
        _ = try keyspace.set(b("f"), largest, now: 0)
        #expect(throws: KeyspaceError.nanOrInfinity) {
            try keyspace.incrementFloat(b("f"), by: LongDouble.greatestFiniteMagnitude, now: 0)
        }
        #expect(try keyspace.getString(b("f"), now: 0) == largest)
        _ = try keyspace.hashSet(b("h"), [(b("f"), largest)], now: 0)
        #expect(throws: KeyspaceError.nanOrInfinity) {
            try keyspace.hashIncrementFloat(b("h"), b("f"), by: LongDouble.greatestFiniteMagnitude, now: 0)
        }
        #expect(throws: KeyspaceError.nanOrInfinity) { try keyspace.hashIncrementFloat(b("h"), b("g"), by: -.infinity, now: 0) }
        #expect(try keyspace.hashGet(b("h"), b("g"), now: 0) == nil)
    }

    /// HRANDFIELD with a count of Int.min used to trap converting its magnitude back to Int.
    @Test func randomFieldsWithExtremeCounts() throws {
        var keyspace = Keyspace()
        var random = SeededRandom(seed: 3)
        #expect(try keyspace.hashRandomFields(b("absent"), count: Int.min, now: 0, using: &random).isEmpty)
        _ = try keyspace.set(b("s"), b("v"), now: 0)
        #expect(throws: KeyspaceError.wrongType) { try keyspace.hashRandomFields(b("s"), count: Int.min, now: 0, using: &random) }
        _ = try keyspace.hashSet(b("h"), [(b("a"), b("1")), (b("b"), b("2"))], now: 0)
        #expect(throws: KeyspaceError.countOutOfRange) { try keyspace.hashRandomFields(b("h"), count: Int.min, now: 0, using: &random) }
        #expect(throws: KeyspaceError.countOutOfRange) {
            try keyspace.hashRandomFields(b("h"), count: -(KeyspaceLimits.randomFieldsRepeatedMax + 1), now: 0, using: &random)
        }
        #expect(try keyspace.hashRandomFields(b("h"), count: Int.max, now: 0, using: &random).count == 2)
        #expect(try keyspace.hashRandomFields(b("h"), count: -5, now: 0, using: &random).count == 5)
    }

    /// TTL subtracts `now` (a leader's or a log record's time) from the expiry.
    @Test func timeToLiveSaturatesInsteadOfOverflowing() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("k"), b("v"), expiry: .at(Int64.max), now: 0)
        #expect(keyspace.timeToLive(b("k"), now: 0) == Int64.max)
        #expect(keyspace.timeToLive(b("k"), now: -1) == Int64.max)
        #expect(keyspace.timeToLive(b("k"), now: Int64.min + 1) == Int64.max)
        #expect(keyspace.timeToLive(b("k"), now: Int64.max - 10) == 10)
    }
}
