// Keys' access fields (AccessClock.swift): LRU idle times, Redis's LFU counter and decay,
// and the reinterpretation after a switch of policy, which must never trap.
import Testing
@testable import Keyspace

private func b(_ text: String) -> Bytes { Array(text.utf8) }

@Suite struct AccessClockTests {
    private let lfu = AccessSettings(lfu: true, logFactor: 10, decayMinutes: 1)
    private let minute: Int64 = 60_000
    private let start: Int64 = 1_800_000_000_000

    @Test func readsRenewTheIdleTimeAndNoTouchLookupsDoNot() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("k"), b("v"), now: start)
        #expect(keyspace.peek(b("k"), now: start)?.access.idleSeconds(now: start + 5_000) == 5)
        keyspace.touchesOnAccess = false
        _ = keyspace.lookup(b("k"), now: start + 3_000)
        #expect(keyspace.peek(b("k"), now: start)?.access.idleSeconds(now: start + 5_000) == 5)
        keyspace.touchesOnAccess = true
        _ = keyspace.lookup(b("k"), now: start + 3_000)
        #expect(keyspace.peek(b("k"), now: start)?.access.idleSeconds(now: start + 5_000) == 2)
    }

    @Test func theAccessFieldIsNotPartOfAnEntrysEquality() throws {
        var one = Keyspace(), other = Keyspace()
        _ = try one.set(b("k"), b("v"), now: start)
        _ = try other.set(b("k"), b("v"), now: start + 10_000)
        _ = one.lookup(b("k"), now: start + 99_000)
        #expect(one.peek(b("k"), now: start) == other.peek(b("k"), now: start))
    }

    @Test func aNewKeyStartsAtRedisInitialCounterWhichGrowsAndDecays() throws {
        var keyspace = Keyspace()
        keyspace.accessSettings = lfu
        _ = try keyspace.set(b("k"), b("v"), now: start)
        #expect(keyspace.peek(b("k"), now: start)?.access.frequency(now: start, lfu) == AccessClock.lfuInitialCounter)
        for _ in 0..<200 { _ = keyspace.lookup(b("k"), now: start) }
        let grown = try #require(keyspace.peek(b("k"), now: start)?.access.frequency(now: start, lfu))
        #expect(grown > 5 && grown < 30, "logarithmic growth: \(grown)")
        let access = try #require(keyspace.peek(b("k"), now: start)?.access)
        #expect(access.frequency(now: start + 3 * minute, lfu) == grown - 3, "one less per idle minute")
        #expect(access.frequency(now: start + 1_000 * minute, lfu) == 0)
    }

    @Test func aFieldFromTheOtherPolicyIsReadWithoutTrapping() {
        // LRU seconds read as LFU data (its "minutes" wider than 16 bits trapped at first).
        let lruField = AccessClock(raw: 1_800_000_000)
        _ = lruField.frequency(now: start, lfu)
        _ = lruField.accessed(now: start, lfu, random: 0.5)
        // LFU data read as LRU seconds: not known, so idle 0 rather than decades.
        #expect(AccessClock.frequency(255, now: start).idleSeconds(now: start) == 0)
        #expect(AccessClock(raw: .max).frequency(now: 0, lfu) <= 255)
        #expect(AccessClock.idle(seconds: .max, now: start).idleSeconds(now: start) >= 0)
        #expect(AccessClock.frequency(.max, now: .max).frequency(now: .max, lfu) == 255)
    }
}
