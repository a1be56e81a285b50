// Sorted sets: ZADD's options, ranges by rank, score and bytes with LIMIT, removals that
// empty the key, pops, stores, and snapshot round trips (order, -0, infinities, malformed
// records refused).
import Core
import Testing
@testable import Keyspace

private func b(_ text: String) -> Bytes { Array(text.utf8) }
private func pairs(_ items: (Double, String)...) -> [ScoredMember] { items.map { ScoredMember(member: b($0.1), score: $0.0) } }
private func members(_ elements: [ScoredMember]) -> [String] { elements.map { String(decoding: $0.member, as: UTF8.self) } }

@Suite struct SortedSetTests {
    private func filled() throws -> Keyspace {
        var keyspace = Keyspace()
        _ = try keyspace.sortedSetAdd(b("z"), pairs((1, "a"), (2, "b"), (2, "c"), (3, "d"), (4, "e")), options: ZAddOptions(), now: 0)
        return keyspace
    }

    @Test func addOptions() throws {
        var keyspace = try filled()
        var options = ZAddOptions()
        #expect(try keyspace.sortedSetAdd(b("z"), pairs((9, "a"), (5, "f")), options: options, now: 0) == ZAddResult(added: 1, updated: 1, score: 5))
        options.condition = .onlyNew
        #expect(try keyspace.sortedSetAdd(b("z"), pairs((0, "a"), (6, "g")), options: options, now: 0).added == 1)
        #expect(try keyspace.sortedSetScores(b("z"), [b("a")], now: 0) == [9])
        options = ZAddOptions()
        options.comparison = .greater
        #expect(try keyspace.sortedSetAdd(b("z"), pairs((1, "a"), (10, "b")), options: options, now: 0).updated == 1)
        #expect(try keyspace.sortedSetScores(b("z"), [b("a"), b("b")], now: 0) == [9, 10])
        options = ZAddOptions()
        options.increment = true
        #expect(try keyspace.sortedSetAdd(b("z"), pairs((0.5, "a")), options: options, now: 0).score == 9.5)
        _ = try keyspace.sortedSetAdd(b("z"), pairs((.infinity, "a")), options: ZAddOptions(), now: 0)
        #expect(throws: KeyspaceError.scoreNotANumber) {
            try keyspace.sortedSetAdd(b("z"), pairs((-.infinity, "a")), options: options, now: 0)
        }
        #expect(try keyspace.sortedSetScores(b("z"), [b("a")], now: 0) == [.infinity])
        options = ZAddOptions()
        options.condition = .onlyExisting
        #expect(try keyspace.sortedSetAdd(b("new"), pairs((1, "a")), options: options, now: 0) == ZAddResult())
        #expect(keyspace.exists(b("new"), now: 0) == false)
        _ = try keyspace.set(b("str"), b("v"), now: 0)
        #expect(throws: KeyspaceError.wrongType) { try keyspace.sortedSetAdd(b("str"), pairs((1, "a")), options: ZAddOptions(), now: 0) }
    }

    @Test func rangesByRankScoreAndBytes() throws {
        var keyspace = try filled()
        #expect(members(try keyspace.sortedSetRange(b("z"), .rank(start: 0, end: -1), reverse: false, now: 0)) == ["a", "b", "c", "d", "e"])
        #expect(members(try keyspace.sortedSetRange(b("z"), .rank(start: 0, end: 1), reverse: true, now: 0)) == ["e", "d"])
        #expect(members(try keyspace.sortedSetRange(b("z"), .rank(start: Int64.min, end: Int64.max), reverse: false, now: 0)).count == 5)
        let two = ScoreBound(value: 2, exclusive: false), three = ScoreBound(value: 3, exclusive: true)
        #expect(members(try keyspace.sortedSetRange(b("z"), .score(two, three, offset: 0, limit: -1), reverse: false, now: 0)) == ["b", "c"])
        #expect(members(try keyspace.sortedSetRange(b("z"), .score(two, three, offset: 1, limit: 5), reverse: true, now: 0)) == ["b"])
        #expect(members(try keyspace.sortedSetRange(b("z"), .score(two, three, offset: -1, limit: 5), reverse: false, now: 0)) == [])
        #expect(try keyspace.sortedSetCount(b("z"), from: three, to: two, now: 0) == 0)
        #expect(try keyspace.sortedSetRank(b("z"), b("c"), reverse: true, now: 0)?.rank == 2)
        #expect(try keyspace.sortedSetRank(b("z"), b("zz"), reverse: false, now: 0) == nil)
        var lex = Keyspace()
        _ = try lex.sortedSetAdd(b("l"), pairs((0, "a"), (0, "b"), (0, "c"), (0, "")), options: ZAddOptions(), now: 0)
        #expect(try lex.sortedSetLexCount(b("l"), from: .exclusive(b("a")), to: .positiveInfinity, now: 0) == 2)
        #expect(members(try lex.sortedSetRange(b("l"), .lex(.negativeInfinity, .inclusive(b("b")), offset: 0, limit: 2), reverse: true, now: 0)) == ["b", "a"])
    }

    @Test func removalsAndPopsEmptyTheKey() throws {
        var keyspace = try filled()
        #expect(try keyspace.sortedSetRemoveRange(b("z"), .rank(start: 0, end: 0), now: 0) == 1)
        #expect(members(try keyspace.sortedSetPop(b("z"), count: 2, highest: true, now: 0) ?? []) == ["e", "d"])
        #expect(try keyspace.sortedSetRemove(b("z"), [b("b"), b("x")], now: 0) == 1)
        #expect(members(try keyspace.sortedSetPop(b("z"), count: 5, highest: false, now: 0) ?? []) == ["c"])
        #expect(keyspace.exists(b("z"), now: 0) == false)
        #expect(try keyspace.sortedSetPop(b("z"), count: 1, highest: false, now: 0) == nil)
        let before = keyspace.changeCount
        #expect(try keyspace.sortedSetRemove(b("z"), [b("a")], now: 0) == 0)
        #expect(keyspace.changeCount == before)
    }

    @Test func storeReplacesOrDeletesTheDestination() throws {
        var keyspace = try filled()
        _ = try keyspace.set(b("dst"), b("v"), now: 0)
        let elements = try keyspace.sortedSetRange(b("z"), .rank(start: 0, end: 1), reverse: false, now: 0)
        #expect(keyspace.sortedSetStore(elements, into: b("dst"), now: 0) == 2)
        #expect(keyspace.typeName(b("dst"), now: 0) == "zset")
        #expect(keyspace.sortedSetStore([], into: b("dst"), now: 0) == 0)
        #expect(keyspace.exists(b("dst"), now: 0) == false)
    }

    @Test func negativeZeroIsStoredAsZero() throws {
        var keyspace = Keyspace()
        _ = try keyspace.sortedSetAdd(b("z"), pairs((-0.0, "a")), options: ZAddOptions(), now: 0)
        #expect(try keyspace.sortedSetScores(b("z"), [b("a")], now: 0).first??.sign == .plus)
    }

    @Test func roundTripsThroughSnapshots() throws {
        var keyspace = try filled()
        _ = try keyspace.sortedSetAdd(b("z"), pairs((.infinity, "inf"), (-.infinity, "-inf"), (1.5, "x")), options: ZAddOptions(), now: 0)
        _ = keyspace.setExpiry(b("z"), at: 5000, condition: .always, now: 0)
        var restored = Keyspace()
        for record in keyspace.snapshotRecords(now: 0) { try restored.load(record: record) }
        #expect(restored.peek(b("z"), now: 0) == keyspace.peek(b("z"), now: 0))
        #expect(members(try restored.sortedSetRange(b("z"), .rank(start: 0, end: -1), reverse: false, now: 0))
                == ["-inf", "a", "x", "b", "c", "d", "e", "inf"])
        #expect(restored.expireTime(b("z"), now: 0) == 5000)
    }

    @Test func malformedSortedSetRecordsAreRefused() {
        let header: [UInt8] = [1, 0, 0, 0, 107] + Array(repeating: 255, count: 8)
        func record(_ body: [UInt8]) -> [UInt8] { [5] + header + body }
        func pair(_ member: UInt8, _ score: Double) -> [UInt8] {
            [1, 0, 0, 0, member] + withUnsafeBytes(of: score.bitPattern.littleEndian) { Array($0) }
        }
        #expect((try? EntryCodec.decode(record([2, 0, 0, 0] + pair(120, 1) + pair(121, 1)))) != nil)
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(record([0, 0, 0, 0])) }  // empty
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(record([255, 255, 255, 255])) }  // count too big
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(record([1, 0, 0, 0] + pair(120, .nan))) }
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(record([2, 0, 0, 0] + pair(121, 1) + pair(120, 1))) }  // order
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(record([2, 0, 0, 0] + pair(120, 1) + pair(120, 2))) }  // repeat
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(record([1, 0, 0, 0] + pair(120, 1).dropLast())) }  // short
    }

    @Test func scoreParsingFollowsRedis() {
        #expect(Numbers.parseDouble(b("inf")) == .infinity)
        #expect(Numbers.parseDouble(b("+inf")) == .infinity)
        #expect(Numbers.parseDouble(b("-inf")) == -.infinity)
        #expect(Numbers.parseDouble(b("nan")) == nil)
        #expect(Numbers.parseDouble(b(" 1")) == nil)
        #expect(Numbers.parseDouble(b("1 ")) == nil)
        #expect(Numbers.parseDouble(b("")) == nil)
        #expect(Numbers.parseDouble(b("1e400")) == nil)
        #expect(Numbers.parseDouble(b("0x10")) == 16)
        #expect(Numbers.parseDouble(b("1") + [0]) == nil)
        // Range bounds are laxer, as zslParseRange: leading spaces, "", overflow to inf.
        #expect(Numbers.parseScoreBound(b(" 1")) == 1)
        #expect(Numbers.parseScoreBound(b("")) == 0)
        #expect(Numbers.parseScoreBound(b("1e400")) == .infinity)
        #expect(Numbers.parseScoreBound(b("1 ")) == nil)
        #expect(Numbers.parseScoreBound(b("nan")) == nil)
    }

    @Test func combinationsFollowRedisArithmetic() throws {
        var keyspace = Keyspace()
        _ = try keyspace.sortedSetAdd(b("a"), pairs((.infinity, "x"), (1, "y")), options: ZAddOptions(), now: 0)
        _ = try keyspace.sortedSetAdd(b("b"), pairs((-.infinity, "x"), (2, "y")), options: ZAddOptions(), now: 0)
        _ = try keyspace.setAdd(b("s"), [b("y"), b("z")], now: 0)
        let sources = try keyspace.sortedSetSources([b("a"), b("b"), b("s"), b("none")], now: 0)
        // inf + -inf is 0 in a sum; 0 × inf is 0 as a weighted score.
        let union = Keyspace.combine(sources, weights: [1, 1, 1, 1], .union, aggregate: .sum)
        #expect(union.score(of: b("x")) == 0 && union.score(of: b("y")) == 4 && union.score(of: b("z")) == 1)
        let weighted = Keyspace.combine(sources, weights: [0, 1, 1, 1], .union, aggregate: .max)
        #expect(weighted.score(of: b("x")) == 0)
        let inter = Keyspace.combine(Array(sources.prefix(3)), weights: [1, 1, 1], .intersection, aggregate: .min)
        #expect(inter.all == [ScoredMember(member: b("y"), score: 1)])
        #expect(Keyspace.combine(sources, weights: [1, 1, 1, 1], .intersection, aggregate: .sum).isEmpty)
        let difference = Keyspace.combine([sources[2], sources[0]], weights: [1, 1], .difference, aggregate: .sum)
        #expect(difference.all == [ScoredMember(member: b("z"), score: 1)])
        _ = try keyspace.listPush(b("l"), [b("x")], at: .tail, now: 0)
        #expect(throws: KeyspaceError.wrongType) { try keyspace.sortedSetSources([b("a"), b("l")], now: 0) }
    }

    @Test func randomMembersAreDistinctOrBounded() throws {
        var keyspace = try filled()
        var random = SeededRandom(seed: 7)
        let three = try keyspace.sortedSetRandomMembers(b("z"), count: 3, now: 0, using: &random)
        #expect(Set(three.map { Key($0.member) }).count == 3)
        #expect(members(try keyspace.sortedSetRandomMembers(b("z"), count: 9, now: 0, using: &random)) == ["a", "b", "c", "d", "e"])
        #expect(try keyspace.sortedSetRandomMembers(b("z"), count: -8, now: 0, using: &random).count == 8)
        #expect(try keyspace.sortedSetRandomMembers(b("none"), count: 3, now: 0, using: &random).isEmpty)
    }

    /// Found by the differential fuzz: with mixed scores a range by bytes is not a run of
    /// the order, and a binary search answered ZLEXCOUNT 2 where Redis answers 0.
    @Test func lexRangesOverMixedScoresWalkAsRedisDoes() throws {
        var keyspace = Keyspace()
        _ = try keyspace.sortedSetAdd(b("m"), pairs((5, "a"), (1, "b"), (3, "c"), (2, "d"), (4, "e"), (0, "f")), options: ZAddOptions(), now: 0)
        // Order: f b d c e a. Redis first requires the highest member (a) to be at or above
        // the minimum and the lowest (f) at or below the maximum, so most ranges are empty.
        #expect(members(try keyspace.sortedSetRange(b("m"), .lex(.inclusive(b("b")), .inclusive(b("d")), offset: 0, limit: -1), reverse: false, now: 0)) == [])
        #expect(try keyspace.sortedSetLexCount(b("m"), from: .inclusive(b("c")), to: .positiveInfinity, now: 0) == 0)
        #expect(try keyspace.sortedSetLexCount(b("m"), from: .negativeInfinity, to: .exclusive(b("a")), now: 0) == 0)
        // From the first member at or above "[a" (f, itself at or below "[f"), while at or below "[f".
        #expect(try keyspace.sortedSetLexCount(b("m"), from: .inclusive(b("a")), to: .inclusive(b("f")), now: 0) == 6)
        #expect(members(try keyspace.sortedSetRange(b("m"), .lex(.negativeInfinity, .positiveInfinity, offset: 1, limit: 2), reverse: true, now: 0)) == ["e", "c"])
        #expect(members(try keyspace.sortedSetRange(b("m"), .lex(.negativeInfinity, .inclusive(b("c")), offset: 0, limit: -1), reverse: true, now: 0)) == [])
        #expect(LexBound.isEmptyRange(.inclusive(b("b")), .exclusive(b("b"))))
        #expect(!LexBound.isEmptyRange(.inclusive(b("b")), .inclusive(b("b"))))
        #expect(LexBound.isEmptyRange(.positiveInfinity, .positiveInfinity))
    }
}
