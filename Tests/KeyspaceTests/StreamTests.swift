// Streams: ID generation from the command's time, ranges, deletion, trimming, an empty
// stream that stays stored, and the snapshot encoding round trip (with a corrupt record
// refused, never trusted).
import Core
import Testing
@testable import Keyspace

private func b(_ text: String) -> Bytes { Array(text.utf8) }

@Suite struct StreamTests {
    @Test func automaticIDsFollowTheTimeAndNeverGoBack() throws {
        var keyspace = Keyspace()
        let first = try keyspace.streamAdd(b("s"), id: .automatic, fields: [b("f"), b("v")], trim: nil, createIfMissing: true, now: 1000)
        let second = try keyspace.streamAdd(b("s"), id: .automatic, fields: [b("f"), b("v")], trim: nil, createIfMissing: true, now: 1000)
        // A clock that went back still gets an ID after the last one.
        let third = try keyspace.streamAdd(b("s"), id: .automatic, fields: [b("f"), b("v")], trim: nil, createIfMissing: true, now: 5)
        #expect([first, second, third] == [StreamID(1000, 0), StreamID(1000, 1), StreamID(1000, 2)])
        var refused: StreamError? = nil
        do {
            _ = try keyspace.streamAdd(b("s"), id: .explicit(StreamID(1000, 2)), fields: [b("f"), b("v")], trim: nil, createIfMissing: true, now: 0)
        } catch let error as StreamError {
            refused = error
        }
        #expect(refused == .idNotGreater)
        #expect(try keyspace.streamAdd(b("s"), id: .sequenceAutomatic(1000), fields: [b("f"), b("v")], trim: nil, createIfMissing: true, now: 0)
            == StreamID(1000, 3))
        #expect(try keyspace.streamAdd(b("none"), id: .automatic, fields: [b("f"), b("v")], trim: nil, createIfMissing: false, now: 0) == nil)
        let created = keyspace.exists(b("none"), now: 0)
        #expect(!created)
    }

    @Test func rangesDeletesAndTrims() throws {
        var keyspace = Keyspace()
        for index in 1...250 {
            _ = try keyspace.streamAdd(b("s"), id: .explicit(StreamID(UInt64(index), 0)), fields: [b("n"), b("\(index)")], trim: nil,
                                       createIfMissing: true, now: 0)
        }
        let middle = try keyspace.streamRange(b("s"), start: StreamID(10, 0), end: StreamID(12, .max), count: nil, reverse: false, now: 0)
        #expect(middle.map(\.id.milliseconds) == [10, 11, 12])
        let reversed = try keyspace.streamRange(b("s"), start: .zero, end: .max, count: 2, reverse: true, now: 0)
        #expect(reversed.map(\.id.milliseconds) == [250, 249])
        #expect(try keyspace.streamDelete(b("s"), ids: [StreamID(11, 0), StreamID(999, 0)], now: 0) == 1)
        // Approximate trimming removes whole nodes (of 100 entries, one deleted from the
        // first); exact trimming is exact.
        #expect(try keyspace.streamTrim(b("s"), StreamTrim(strategy: .maxLength(120), approximate: true, limit: nil), now: 0) == 99)
        #expect(try keyspace.streamTrim(b("s"), StreamTrim(strategy: .maxLength(120), approximate: false, limit: nil), now: 0) == 30)
        #expect(try keyspace.streamTrim(b("s"), StreamTrim(strategy: .minimumID(StreamID(240, 0)), approximate: false, limit: nil), now: 0) == 109)
        #expect(try keyspace.streamTrim(b("s"), StreamTrim(strategy: .maxLength(0), approximate: false, limit: nil), now: 0) == 11)
        // An emptied stream stays, with its last ID.
        guard let stream = try keyspace.streamValue(b("s"), now: 0) else { return #expect(Bool(false)) }
        #expect(stream.entries.isEmpty && stream.lastID == StreamID(250, 0) && stream.entriesAdded == 250)
    }

    @Test func snapshotRecordsRoundTripAndCorruptionIsRefused() throws {
        var keyspace = Keyspace()
        _ = try keyspace.streamAdd(b("s"), id: .explicit(StreamID(7, 1)), fields: [b("a"), b("1"), b("b"), b("")], trim: nil, createIfMissing: true, now: 0)
        _ = try keyspace.streamAdd(b("s"), id: .explicit(StreamID(9, 0)), fields: [b("c"), b("3")], trim: nil, createIfMissing: true, now: 0)
        try keyspace.groupCreate(b("s"), group: b("g"), id: .zero, makeStream: false, entriesRead: nil, now: 5)
        let delivered = try keyspace.groupRead(b("s"), group: b("g"), consumer: b("c"), after: nil, count: nil, noAck: false, now: 10)
        #expect(delivered.map(\.id) == [StreamID(7, 1), StreamID(9, 0)])
        _ = try keyspace.streamDelete(b("s"), ids: [StreamID(7, 1)], now: 0)
        guard let entry = keyspace.peek(b("s"), now: 0) else { return #expect(Bool(false)) }
        let record = EntryCodec.encode(key: b("s"), entry: entry)
        let decoded = try EntryCodec.decode(record)
        #expect(decoded.key == b("s") && decoded.entry == entry)
        guard case .stream(let restored) = decoded.entry.value else { return #expect(Bool(false)) }
        #expect(restored.groups.first?.pending.map(\.id) == [StreamID(7, 1), StreamID(9, 0)])
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(Array(record.dropLast(3))) }
        var huge = record
        // The entry count sits after tag, key blob, expiry and five u64s.
        let countOffset = 1 + 4 + 1 + 8 + 40
        huge.replaceSubrange(countOffset..<(countOffset + 4), with: [0xff, 0xff, 0xff, 0x7f])
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(huge) }
    }

    @Test func aReadOfPendingEntriesDeliversThoseStillStoredAgain() throws {
        var keyspace = Keyspace()
        for id in [StreamID(1, 0), StreamID(2, 0)] {
            _ = try keyspace.streamAdd(b("s"), id: .explicit(id), fields: [b("f"), b("v")], trim: nil, createIfMissing: true, now: 0)
        }
        try keyspace.groupCreate(b("s"), group: b("g"), id: .zero, makeStream: false, entriesRead: nil, now: 0)
        _ = try keyspace.groupRead(b("s"), group: b("g"), consumer: b("c"), after: nil, count: nil, noAck: false, now: 10)
        _ = try keyspace.streamDelete(b("s"), ids: [StreamID(2, 0)], now: 0)
        let again = try keyspace.groupRead(b("s"), group: b("g"), consumer: b("c"), after: .zero, count: nil, noAck: false, now: 20)
        #expect(again.map(\.id) == [StreamID(1, 0), StreamID(2, 0)])
        #expect(again.map { $0.fields == nil } == [false, true])
        guard let stream = try keyspace.streamValue(b("s"), now: 0) else { return #expect(Bool(false)) }
        // As Redis: the stored entry's time and count move; the deleted one's do not.
        #expect(stream.groups[0].pending.map(\.entry.deliveries) == [2, 1])
        #expect(stream.groups[0].pending.map(\.entry.deliveredAt) == [20, 10])
    }
}
