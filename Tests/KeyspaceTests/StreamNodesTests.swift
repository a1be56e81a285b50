// Stream nodes (StreamNodes.swift): where XADD starts a node, what `~` trimming removes
// with and without LIMIT (the counts Redis's own suite checks), XDEL emptying a node, and
// the layout surviving snapshot records and RDB payloads.
import Core
import Testing
@testable import Keyspace

private func b(_ text: String) -> Bytes { Array(text.utf8) }

/// A keyspace with `count` entries "xitem v" in stream "s", IDs 1-0, 2-0, ...
private func filled(_ count: Int, limits: StreamNodeLimits) throws -> Keyspace {
    var keyspace = Keyspace()
    for index in 1...count {
        _ = try keyspace.streamAdd(b("s"), id: .explicit(StreamID(UInt64(index), 0)), fields: [b("xitem"), b("v")], trim: nil,
                                   createIfMissing: true, nodeLimits: limits, now: 0)
    }
    return keyspace
}

private func stream(_ keyspace: inout Keyspace) throws -> Stream {
    guard let stream = try keyspace.streamValue(b("s"), now: 0) else { throw StreamNodesTestFailure.missing }
    return stream
}

private enum StreamNodesTestFailure: Error { case missing }

private func approximate(_ length: UInt64, limit: Int? = nil) -> StreamTrim {
    StreamTrim(strategy: .maxLength(length), approximate: true, limit: limit)
}

@Suite struct StreamNodesTests {
    @Test func nodesFillUpToTheEntryLimit() throws {
        var keyspace = try filled(25, limits: StreamNodeLimits(entries: 10, bytes: 4096))
        let nodes = try stream(&keyspace).nodes
        #expect(nodes.map(\.live) == [10, 10, 5])
        #expect(nodes.map(\.masterID.milliseconds) == [1, 11, 21])
        #expect(try stream(&keyspace).nodesAreConsistent)
    }

    @Test func nodesStopShortOfTheByteLimit() throws {
        // 300-byte values: a 4096-byte listpack takes 13 of them (Redis: 13 too, as the
        // node's bytes plus the new entry's must stay under the limit).
        var keyspace = Keyspace()
        for index in 1...30 {
            _ = try keyspace.streamAdd(b("s"), id: .explicit(StreamID(UInt64(index), 0)),
                                       fields: [b("f"), Array(repeating: UInt8(ascii: "x"), count: 300)], trim: nil,
                                       createIfMissing: true, nodeLimits: .redisDefault, now: 0)
        }
        let nodes = try stream(&keyspace).nodes
        #expect(nodes.map(\.live) == [13, 13, 4])
        #expect(nodes.allSatisfy { $0.bytes < 4096 })
    }

    @Test func approximateTrimsRemoveWholeNodesWithinTheLimit() throws {
        // Redis's "XADD with LIMIT consecutive calls": nodes of 10, 100 entries.
        let limits = StreamNodeLimits(entries: 10, bytes: 4096)
        var keyspace = try filled(100, limits: limits)
        for expected in [71, 62] {
            _ = try keyspace.streamAdd(b("s"), id: .automatic, fields: [b("xitem"), b("v")], trim: approximate(55, limit: 30),
                                       createIfMissing: true, nodeLimits: limits, now: 1000)
            #expect(try stream(&keyspace).entries.count == expected)
        }
        // "XTRIM with LIMIT delete entries no more than limit": a node of 2 does not fit a limit of 1.
        let pairs = StreamNodeLimits(entries: 2, bytes: 4096)
        var small = try filled(3, limits: pairs)
        #expect(try small.streamTrim(b("s"), approximate(0, limit: 1), nodeLimits: pairs, now: 0) == 0)
        #expect(try small.streamTrim(b("s"), approximate(0, limit: 2), nodeLimits: pairs, now: 0) == 2)
        // Without LIMIT, 100 nodes' worth at most ("XTRIM with ~ is limited").
        let singles = StreamNodeLimits(entries: 1, bytes: 4096)
        var many = try filled(102, limits: singles)
        #expect(try many.streamTrim(b("s"), approximate(1), nodeLimits: singles, now: 0) == 100)
        #expect(try stream(&many).entries.count == 2)
    }

    @Test func exactTrimsMarkEntriesDeletedInsideANode() throws {
        // Redis's "XTRIM with MAXLEN option basic test": 1000 entries, nodes of 100.
        var keyspace = try filled(1000, limits: .redisDefault)
        let exact = { (length: UInt64) in StreamTrim(strategy: .maxLength(length), approximate: false, limit: nil) }
        _ = try keyspace.streamTrim(b("s"), exact(666), now: 0)
        #expect(try stream(&keyspace).nodes.first.map { [$0.live, $0.deleted] } == [66, 34])
        _ = try keyspace.streamTrim(b("s"), exact(555), now: 0)
        _ = try keyspace.streamTrim(b("s"), approximate(444), now: 0)
        #expect(try stream(&keyspace).entries.count == 500)
        _ = try keyspace.streamTrim(b("s"), approximate(400), now: 0)
        #expect(try stream(&keyspace).entries.count == 400)
        #expect(try stream(&keyspace).nodesAreConsistent)
    }

    @Test func minimumIDTrimsUseEachNodesLastID() throws {
        var keyspace = try filled(30, limits: StreamNodeLimits(entries: 10, bytes: 4096))
        let below = { (id: UInt64, approximate: Bool) in StreamTrim(strategy: .minimumID(StreamID(id, 0)), approximate: approximate, limit: nil) }
        // Node 1-10 ends before 15; node 11-20 does not: `~` stops there, exact goes on.
        #expect(try keyspace.streamTrim(b("s"), below(15, true), now: 0) == 10)
        #expect(try keyspace.streamTrim(b("s"), below(15, false), now: 0) == 4)
        #expect(try stream(&keyspace).entries.first?.id == StreamID(15, 0))
    }

    @Test func deletingANodesLastLiveEntryRemovesIt() throws {
        let limits = StreamNodeLimits(entries: 2, bytes: 4096)
        var keyspace = try filled(6, limits: limits)
        #expect(try keyspace.streamDelete(b("s"), ids: [StreamID(3, 0)], now: 0) == 1)
        #expect(try stream(&keyspace).nodes.map { [$0.live, $0.deleted] } == [[2, 0], [1, 1], [2, 0]])
        #expect(try keyspace.streamDelete(b("s"), ids: [StreamID(4, 0)], now: 0) == 1)
        #expect(try stream(&keyspace).nodes.map(\.masterID.milliseconds) == [1, 5])
        // A deleted entry still fills its node: the next entry starts a new one.
        var full = try filled(2, limits: limits)
        _ = try full.streamDelete(b("s"), ids: [StreamID(2, 0)], now: 0)
        _ = try full.streamAdd(b("s"), id: .explicit(StreamID(3, 0)), fields: [b("xitem"), b("v")], trim: nil,
                               createIfMissing: true, nodeLimits: limits, now: 0)
        #expect(try stream(&full).nodes.map(\.live) == [1, 1])
    }

    @Test func snapshotRecordsKeepTheLayout() throws {
        let limits = StreamNodeLimits(entries: 3, bytes: 4096)
        var keyspace = try filled(10, limits: limits)
        _ = try keyspace.streamDelete(b("s"), ids: [StreamID(2, 0)], now: 0)
        _ = try keyspace.streamTrim(b("s"), StreamTrim(strategy: .maxLength(6), approximate: false, limit: nil), now: 0)
        guard let entry = keyspace.peek(b("s"), now: 0), case .stream(let original) = entry.value else { throw StreamNodesTestFailure.missing }
        let record = EntryCodec.encode(key: b("s"), entry: entry)
        let decoded = try EntryCodec.decode(record)
        guard case .stream(let restored) = decoded.entry.value else { throw StreamNodesTestFailure.missing }
        #expect(restored.nodes == original.nodes && restored.nodes.map(\.live) == [2, 3, 1])
        // A record whose nodes do not cover its entries is refused.
        var lying = record
        let nodeCountAt = record.count - (original.nodes.count * (4 + 4 + 32 + 4 + 4 + (4 + 5))) - 4
        lying[nodeCountAt] = 1
        #expect(throws: EntryCodec.DecodeError.self) { try EntryCodec.decode(lying) }
    }

    @Test func olderSnapshotRecordsAreLaidOutAsXADDWould() throws {
        var keyspace = try filled(250, limits: StreamNodeLimits(entries: 7, bytes: 4096))
        guard let entry = keyspace.peek(b("s"), now: 0) else { throw StreamNodesTestFailure.missing }
        // A tagStream record: the same bytes without the nodes, under the older tag.
        let record = EntryCodec.encode(key: b("s"), entry: entry)
        guard case .stream(let original) = entry.value else { throw StreamNodesTestFailure.missing }
        let nodeBytes = 4 + original.nodes.count * (4 + 4 + 32 + 4 + 4 + (4 + 5))
        var older = Array(record.dropLast(nodeBytes))
        older[0] = EntryCodec.tagStream
        guard case .stream(let restored) = try EntryCodec.decode(older).entry.value else { throw StreamNodesTestFailure.missing }
        #expect(restored.entries == original.entries && restored.nodes.map(\.live) == [100, 100, 50])
    }

    @Test func rdbPayloadsCarryTheNodes() throws {
        let limits = StreamNodeLimits(entries: 4, bytes: 4096)
        var keyspace = try filled(10, limits: limits)
        guard let entry = keyspace.peek(b("s"), now: 0), case .stream(let original) = entry.value else { throw StreamNodesTestFailure.missing }
        var payload: [UInt8] = []
        RDBWriter.writeStream(original, type: RDBWriter.typeStream3, into: &payload)
        var reader = RDBReader(payload)
        let restored = try reader.stream(type: RDBWriter.typeStream3)
        #expect(restored.entries == original.entries && restored.nodes.map(\.live) == [4, 4, 2] && restored.nodesAreConsistent)
    }

    @Test func listpackSizesFollowRedisEncodings() {
        #expect(ListpackSize.string(b("7")) == 2 && ListpackSize.string(b("-1")) == 3 && ListpackSize.string(b("07")) == 4)
        #expect(ListpackSize.string(b("9223372036854775807")) == 10 && ListpackSize.string(b("9223372036854775808")) == 21)
        #expect(ListpackSize.string(Array(repeating: 97, count: 63)) == 65 && ListpackSize.string(Array(repeating: 97, count: 64)) == 67)
        #expect(ListpackSize.integer(127) == 2 && ListpackSize.integer(128) == 3 && ListpackSize.integer(-4097) == 4)
    }
}
