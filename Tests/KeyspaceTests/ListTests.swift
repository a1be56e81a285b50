// Lists: push/pop order, Redis's index rules, editing, LPOS, moves, and the invariant that
// an emptied list deletes its key while a no-op changes nothing observable.
import Core
import Testing
@testable import Keyspace

private func b(_ text: String) -> Bytes { Array(text.utf8) }
private func bs(_ texts: String...) -> [Bytes] { texts.map(b) }

@Suite struct ListTests {
    @Test func pushAndPopAtBothEnds() throws {
        var keyspace = Keyspace()
        #expect(try keyspace.listPush(b("l"), bs("a", "b"), at: .head, now: 0) == 2)  // b a
        #expect(try keyspace.listPush(b("l"), bs("c", "d"), at: .tail, now: 0) == 4)  // b a c d
        #expect(try keyspace.listElements(b("l"), now: 0) == bs("b", "a", "c", "d"))
        #expect(try keyspace.listPush(b("absent"), bs("x"), at: .head, onlyIfExists: true, now: 0) == 0)
        #expect(keyspace.exists(b("absent"), now: 0) == false)
        #expect(try keyspace.listPop(b("l"), from: .tail, count: 3, now: 0) == bs("d", "c", "a"))
        #expect(try keyspace.listPop(b("l"), from: .head, count: 0, now: 0) == [])
        #expect(try keyspace.listPop(b("l"), from: .head, count: 5, now: 0) == bs("b"))
        #expect(keyspace.exists(b("l"), now: 0) == false)
        #expect(try keyspace.listPop(b("l"), from: .head, count: 1, now: 0) == nil)
    }

    @Test func wrongTypeIsRefusedWithoutChanges() throws {
        var keyspace = Keyspace()
        _ = try keyspace.set(b("s"), b("v"), now: 0)
        let changes = keyspace.changeCount
        #expect(throws: KeyspaceError.wrongType) { try keyspace.listPush(b("s"), bs("x"), at: .head, now: 0) }
        #expect(throws: KeyspaceError.wrongType) { try keyspace.listPop(b("s"), from: .head, count: 1, now: 0) }
        #expect(throws: KeyspaceError.wrongType) { try keyspace.listRange(b("s"), start: 0, end: -1, now: 0) }
        #expect(throws: KeyspaceError.wrongType) { try keyspace.isList(b("s"), now: 0) }
        #expect(keyspace.changeCount == changes)
        #expect(try keyspace.getString(b("s"), now: 0) == b("v"))
    }

    @Test func rangesAndIndexesFollowRedisRules() throws {
        var keyspace = Keyspace()
        _ = try keyspace.listPush(b("l"), bs("a", "b", "c", "d", "e"), at: .tail, now: 0)
        #expect(try keyspace.listRange(b("l"), start: 1, end: 3, now: 0) == bs("b", "c", "d"))
        #expect(try keyspace.listRange(b("l"), start: -2, end: -1, now: 0) == bs("d", "e"))
        #expect(try keyspace.listRange(b("l"), start: 3, end: 1, now: 0) == [])
        #expect(try keyspace.listRange(b("l"), start: Int64.min, end: Int64.max, now: 0).count == 5)
        #expect(try keyspace.listRange(b("l"), start: Int64.max, end: Int64.max, now: 0) == [])
        #expect(try keyspace.listIndex(b("l"), -1, now: 0) == b("e"))
        #expect(try keyspace.listIndex(b("l"), Int64.min, now: 0) == nil)
        #expect(try keyspace.listIndex(b("l"), 5, now: 0) == nil)
        try keyspace.listSet(b("l"), index: -5, b("A"), now: 0)
        #expect(try keyspace.listIndex(b("l"), 0, now: 0) == b("A"))
        #expect(throws: KeyspaceError.indexOutOfRange) { try keyspace.listSet(b("l"), index: 5, b("x"), now: 0) }
        #expect(throws: KeyspaceError.noSuchKey) { try keyspace.listSet(b("none"), index: 0, b("x"), now: 0) }
    }

    @Test func insertRemoveAndTrim() throws {
        var keyspace = Keyspace()
        _ = try keyspace.listPush(b("l"), bs("a", "b", "a", "c", "a"), at: .tail, now: 0)
        #expect(try keyspace.listInsert(b("l"), before: true, pivot: b("c"), b("X"), now: 0) == 6)
        #expect(try keyspace.listInsert(b("l"), before: false, pivot: b("zz"), b("X"), now: 0) == -1)
        #expect(try keyspace.listInsert(b("none"), before: false, pivot: b("a"), b("X"), now: 0) == 0)
        #expect(try keyspace.listRemove(b("l"), count: -1, b("a"), now: 0) == 1)  // the last "a"
        #expect(try keyspace.listElements(b("l"), now: 0) == bs("a", "b", "a", "X", "c"))
        #expect(try keyspace.listRemove(b("l"), count: Int64.min, b("a"), now: 0) == 2)
        #expect(try keyspace.listRemove(b("l"), count: 0, b("nothing"), now: 0) == 0)
        try keyspace.listTrim(b("l"), start: 1, end: -1, now: 0)
        #expect(try keyspace.listElements(b("l"), now: 0) == bs("X", "c"))
        try keyspace.listTrim(b("l"), start: 5, end: 1, now: 0)
        #expect(keyspace.exists(b("l"), now: 0) == false)
    }

    @Test func positionsHonourRankCountAndMaxLength() throws {
        var keyspace = Keyspace()
        _ = try keyspace.listPush(b("l"), bs("a", "b", "c", "1", "2", "3", "c", "c"), at: .tail, now: 0)
        func positions(rank: Int64 = 1, count: Int64 = 1, maxLength: Int64 = 0) throws -> [Int]? {
            try keyspace.listPositions(b("l"), b("c"), rank: rank, count: count, maxLength: maxLength, now: 0)
        }
        #expect(try positions() == [2])
        #expect(try positions(rank: 2) == [6])
        #expect(try positions(rank: -1) == [7])
        #expect(try positions(rank: -1, count: 0) == [7, 6, 2])
        #expect(try positions(count: 0, maxLength: 7) == [2, 6])
        #expect(try positions(rank: Int64.max) == [])
        #expect(try keyspace.listPositions(b("none"), b("c"), rank: 1, count: 1, maxLength: 0, now: 0) == nil)
    }

    @Test func moveBetweenListsAndRotate() throws {
        var keyspace = Keyspace()
        _ = try keyspace.listPush(b("src"), bs("a", "b"), at: .tail, now: 0)
        #expect(try keyspace.listMove(b("src"), b("dst"), from: .head, to: .tail, now: 0) == b("a"))
        _ = try keyspace.set(b("str"), b("v"), now: 0)
        #expect(throws: KeyspaceError.wrongType) { try keyspace.listMove(b("src"), b("str"), from: .head, to: .head, now: 0) }
        #expect(try keyspace.listElements(b("src"), now: 0) == bs("b"))  // nothing popped by the failed move
        // A one-element rotation keeps the key and its expiry.
        _ = keyspace.setExpiry(b("src"), at: 1000, condition: .always, now: 0)
        #expect(try keyspace.listMove(b("src"), b("src"), from: .head, to: .tail, now: 0) == b("b"))
        #expect(keyspace.expireTime(b("src"), now: 0) == 1000)
        let changes = keyspace.changeCount
        #expect(try keyspace.listMove(b("src"), b("dst"), from: .tail, to: .head, now: 0) == b("b"))
        #expect(keyspace.changeCount == changes + 1, "a move is one change, as Redis counts it")
        #expect(keyspace.exists(b("src"), now: 0) == false)
        #expect(try keyspace.listElements(b("dst"), now: 0) == bs("b", "a"))
        #expect(try keyspace.listMove(b("none"), b("str"), from: .head, to: .head, now: 0) == nil)
    }

    @Test func noOpWritesRecordNoChange() throws {
        var keyspace = Keyspace()
        _ = try keyspace.listPush(b("l"), bs("a"), at: .tail, now: 0)
        let changes = keyspace.changeCount
        _ = try keyspace.listPop(b("l"), from: .head, count: 0, now: 0)
        _ = try keyspace.listRemove(b("l"), count: 0, b("zz"), now: 0)
        _ = try keyspace.listInsert(b("l"), before: true, pivot: b("zz"), b("x"), now: 0)
        try keyspace.listTrim(b("l"), start: 0, end: -1, now: 0)
        _ = try keyspace.listPush(b("l"), [], at: .tail, now: 0)
        #expect(keyspace.changeCount == changes)
    }
}
