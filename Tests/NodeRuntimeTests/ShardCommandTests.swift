// The shard log's entry format and the proxy's gathering of split replies.
import Consensus
import Core
import Engine
import Testing
import Wire
@testable import NodeRuntime

@Suite struct ShardCommandTests {
    @Test func writesAndReclaimsRoundTrip() throws {
        let commands: [ShardCommand] = [
            .write(tag: RequestTag(origin: NodeID(3), request: 77), time: 1_700_000_000_123, transaction: true,
                   watches: [WatchedValue(key: Array("k".utf8), digest: 42)],
                   commands: [[Array("SET".utf8), Array("k".utf8), [0, 255, 10]], [Array("INCR".utf8), Array("n".utf8)]]),
            .write(tag: RequestTag(origin: NodeID(1), request: 1), time: 0, transaction: false, watches: [], commands: [[Array("DEL".utf8), []]]),
            .reclaim(time: 5, keys: [Array("a".utf8), []]),
            .write(tag: RequestTag(origin: NodeID(1), request: 2), time: 3, transaction: false, watches: [],
                   commands: [[Array("SET".utf8), Array("k".utf8), Array("v".utf8)]], database: 15),
            .reclaim(time: 5, keys: [Array("a".utf8)], database: 65535),
            .evict(time: 7, keys: [Array("a".utf8), Array("b".utf8)], database: 0),
            .evict(time: 8, keys: [], database: 3),
        ]
        for command in commands { #expect(try ShardCommand.decode(command.encoded()) == command) }
    }

    /// Writes are encoded by a sized writer: byte for byte the format docs/FORMAT.md gives,
    /// written here field by field with the growing writer.
    @Test func writesAreEncodedAsTheFormatSays() throws {
        var random = SeededRandom(seed: 11)
        for _ in 0..<200 {
            let bytes = { (count: Int) in (0..<count).map { _ in UInt8(random.int(in: 0...255)) } }
            let watches = (0..<random.int(in: 0...3)).map { _ in WatchedValue(key: bytes(random.int(in: 0...9)), digest: UInt64(random.int(in: 0...1_000_000))) }
            let commands = (0..<random.int(in: 1...4)).map { _ in (0..<random.int(in: 1...5)).map { _ in bytes(random.int(in: 0...30)) } }
            let (origin, request, time) = (UInt64(random.int(in: 1...9)), UInt64(random.int(in: 0...1 << 40)), Int64(random.int(in: 0...1 << 42)))
            let database = random.int(in: 0...1) == 0 ? 0 : random.int(in: 1...15)
            let transaction = random.int(in: 0...1) == 1
            var reference = ByteWriter()
            reference.write(UInt8(1))
            reference.write(UInt8(database == 0 ? 1 : 4))
            reference.write(origin)
            reference.write(request)
            reference.write(time)
            if database != 0 { reference.write(UInt32(database)) }
            reference.write(UInt8(transaction ? 1 : 0))
            reference.write(UInt32(watches.count))
            for watch in watches { reference.writeBlob(watch.key); reference.write(watch.digest) }
            reference.write(UInt32(commands.count))
            for command in commands {
                reference.write(UInt32(command.count))
                for argument in command { reference.writeBlob(argument) }
            }
            let write = ShardCommand.write(tag: RequestTag(origin: NodeID(origin), request: request), time: time, transaction: transaction,
                                           watches: watches, commands: commands, database: database)
            #expect(write.encoded() == reference.bytes)
            #expect(try ShardCommand.decode(write.encoded()) == write)
        }
    }

    @Test func databaseZeroKeepsTheOriginalKinds() throws {
        // Entries of database 0 are byte for byte those written before numbered databases.
        let write = ShardCommand.write(tag: RequestTag(origin: NodeID(1), request: 2), time: 3, transaction: false, watches: [],
                                       commands: [[Array("GET".utf8), Array("k".utf8)]])
        #expect(write.encoded()[1] == 1)
        #expect(ShardCommand.reclaim(time: 1, keys: []).encoded()[1] == 2)
        var inNine = write
        if case let .write(tag, time, transaction, watches, commands, _) = write {
            inNine = .write(tag: tag, time: time, transaction: transaction, watches: watches, commands: commands, database: 9)
        }
        #expect(inNine.encoded()[1] == 4)
        #expect(inNine.encoded().count == write.encoded().count + 4)
        // A database number of 0 or past the limit in a kind 4 entry is refused.
        var zero = inNine.encoded()
        zero.replaceSubrange(26..<30, with: [0, 0, 0, 0])
        #expect(throws: ShardCommand.DecodeError.self) { try ShardCommand.decode(zero) }
        var huge = inNine.encoded()
        huge.replaceSubrange(26..<30, with: [0, 0, 1, 0])
        #expect(throws: ShardCommand.DecodeError.self) { try ShardCommand.decode(huge) }
    }

    @Test func malformedEntriesAreErrorsNotCrashes() {
        let valid = ShardCommand.reclaim(time: 5, keys: [Array("abc".utf8)]).encoded()
        for length in 0..<valid.count {
            #expect(throws: ShardCommand.DecodeError.self) { try ShardCommand.decode(Array(valid.prefix(length))) }
        }
        #expect(throws: ShardCommand.DecodeError.self) { try ShardCommand.decode([9, 1]) }
        #expect(throws: ShardCommand.DecodeError.self) { try ShardCommand.decode([1, 7]) }
        var huge = [UInt8]([1, 2]) + Array(repeating: 0, count: 8)
        huge += [0xff, 0xff, 0xff, 0x7f]
        #expect(throws: ShardCommand.DecodeError.self) { try ShardCommand.decode(huge) }
    }

    @Test func directoryEntriesRoundTrip() {
        let entry = DirectoryEntry(tag: RequestTag(origin: NodeID(2), request: 9), command: [1, 2, 3])
        #expect(DirectoryEntry.decode(entry.encoded()) == entry)
        #expect(DirectoryEntry.decode([1, 2]) == nil)
    }

    @Test func splitRepliesAreGatheredInKeyOrder() {
        let arguments = ["MGET", "a", "b", "c"].map { Array($0.utf8) }
        let slotA = HashSlot.of(key: Array("a".utf8)), slotB = HashSlot.of(key: Array("b".utf8))
        let groups: [HashSlot: [Int]] = [slotA: [1, 3], slotB: [2]]
        let results: [HashSlot: RESPValue] = [slotA: .array([.bulk("1"), .null]), slotB: .array([.bulk("2")])]
        #expect(Node.gather(id: .mget, arguments: arguments, positions: [1, 2, 3], groups: groups, results: results)
                == .array([.bulk("1"), .bulk("2"), .null]))
        #expect(Node.gather(id: .del, arguments: arguments, positions: [1, 2, 3], groups: groups,
                                   results: [slotA: .integer(2), slotB: .integer(1)]) == .integer(3))
        #expect(Node.gather(id: .mset, arguments: arguments, positions: [1, 3], groups: groups,
                                   results: [slotA: .ok, slotB: .error("CLUSTERDOWN x")]) == .error("CLUSTERDOWN x"))
    }

    @Test func leaderSendsReplicationBeforeItsFsyncButNotVotes() {
        let messages = [
            Message(from: NodeID(1), to: NodeID(2), term: Term(3), body: .heartbeat(commit: LogIndex(4), readSequence: 1)),
            Message(from: NodeID(1), to: NodeID(2), term: Term(3), body: .voteResponse(granted: true, preVote: false)),
            Message(from: NodeID(1), to: NodeID(3), term: Term(3), body: .appendEntries(prevIndex: .zero, prevTerm: .zero, entries: [], commit: .zero)),
        ]
        let (early, late) = Node.splitLeaderMessages(messages)
        #expect(early.count == 2)
        #expect(late.count == 1)
    }
}
