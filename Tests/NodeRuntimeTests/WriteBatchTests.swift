// Plain client writes queued in one shard together are proposed as one log entry
// (`ShardCommand.batch`): its format, its apply (each write on its own, each its own
// reply, in order; scripts with their own seeds) and how a pending batch answers its
// writers.
import Cluster
import Consensus
import Core
import Engine
import Testing
import Wire
@testable import NodeRuntime

@Suite struct WriteBatchTests {
    static func words(_ text: String) -> [[UInt8]] { text.split(separator: " ").map { Array($0.utf8) } }

    @Test func batchesRoundTripAsAWriteWithModeTwo() throws {
        let batch = ShardCommand.batch(tag: RequestTag(origin: NodeID(2), request: 9), time: 1234,
                                       commands: [Self.words("SET a 1"), Self.words("INCR n")], database: 3)
        let bytes = batch.encoded()
        #expect(try ShardCommand.decode(bytes) == batch)
        // The layout of a write in a numbered database (kind 4), its transaction byte 2.
        #expect(bytes[0] == 1 && bytes[1] == 4)
        #expect(bytes[2 + 8 + 8 + 8 + 4] == ShardCommand.batchMode)
        // A batch never carries watches; an unknown mode is refused.
        var unknown = bytes
        unknown[2 + 8 + 8 + 8 + 4] = 3
        #expect(throws: ShardCommand.DecodeError.self) { try ShardCommand.decode(unknown) }
    }

    /// Each command runs as if it were its own entry: an error does not stop the ones
    /// after it (unlike MULTI/EXEC's queued errors, which abort nothing either, but
    /// unlike a plain multi-command entry, whose reply is the first command's only).
    @Test func aBatchAppliesEveryWriteWithItsOwnReply() throws {
        let machine = DataMachine(settings: Settings())
        let batch = ShardCommand.batch(tag: RequestTag(origin: NodeID(1), request: 1), time: 1000,
                                       commands: [Self.words("SET k v"), Self.words("INCR k"), Self.words("INCR n"), Self.words("INCR n")])
        let owed = try #require(machine.apply(batch.encoded(), index: LogIndex(2), version: .resp2))
        #expect(owed.reply == .array([.ok, .error("ERR value is not an integer or out of range"), .integer(1), .integer(2)]))
        #expect(machine.engine.keyspace.peek(Array("k".utf8), now: 0)?.value == .string(Array("v".utf8)))
    }

    /// Scripts batched together draw different random numbers, the same on every replica;
    /// the first one draws what it would alone in its entry.
    @Test func batchedScriptsDrawTheirOwnRandomNumbersOnEveryReplica() throws {
        let script = [Array("EVAL".utf8), Array("redis.call('INCR', 'n') return math.random(1000000000)".utf8), Array("0".utf8)]
        let batch = ShardCommand.batch(tag: RequestTag(origin: NodeID(1), request: 1), time: 1000, commands: [script, script, script])
        let single = ShardCommand.write(tag: RequestTag(origin: NodeID(1), request: 1), time: 1000, transaction: false, watches: [],
                                        commands: [script])
        let first = DataMachine(settings: Settings()), second = DataMachine(settings: Settings()), alone = DataMachine(settings: Settings())
        let replies = try #require(first.apply(batch.encoded(), index: LogIndex(9), version: .resp2)).reply
        #expect(try #require(second.apply(batch.encoded(), index: LogIndex(9), version: .resp2)).reply == replies)
        guard case .array(let draws) = replies, draws.count == 3 else {
            Issue.record("not three replies: \(replies)")
            return
        }
        #expect(Set(draws.map { "\($0)" }).count == 3, "\(draws)")
        #expect(try #require(alone.apply(single.encoded(), index: LogIndex(9), version: .resp2)).reply == draws[0])
        #expect(first.engine.keyspace.peek(Array("n".utf8), now: 0)?.value == .string(Array("3".utf8)))
    }

    /// While a slot is fenced for a move, only the batch's writes to it are refused, as
    /// they would be alone in their entries; the others run.
    @Test func aFencedSlotRefusesOnlyItsOwnWritesInABatch() throws {
        let machine = DataMachine(settings: Settings())
        let fenced = HashSlot.of(key: Array("a".utf8)).rawValue
        let fence = ShardCommand.migrate(tag: RequestTag(origin: NodeID(1), request: 1),
                                         step: .fence(move: 1, slots: SlotRange(fenced, fenced), target: ShardID(2)))
        #expect(machine.apply(fence.encoded(), index: LogIndex(2), version: .resp2)?.reply == .ok)
        let batch = ShardCommand.batch(tag: RequestTag(origin: NodeID(1), request: 2), time: 1000,
                                       commands: [Self.words("SET b 1"), Self.words("SET a 1"), Self.words("INCR c")])
        let owed = try #require(machine.apply(batch.encoded(), index: LogIndex(3), version: .resp2))
        guard case .array(let replies) = owed.reply, replies.count == 3 else {
            Issue.record("\(owed.reply)")
            return
        }
        #expect(replies[0] == .ok && replies[2] == .integer(1))
        #expect(replies[1].isError, "\(replies[1])")
        #expect(machine.engine.keyspace.peek(Array("a".utf8), now: 0) == nil)
        #expect(machine.engine.keyspace.peek(Array("b".utf8), now: 0)?.value == .string(Array("1".utf8)))
    }

    @Test func aPendingBatchAnswersEachWriterInOrderOrAllWithAnError() {
        var answers: [String] = []
        func sink(_ name: String) -> ReplySink { { answers.append("\(name)=\($0)") } }
        func open() -> PendingWrite {
            PendingWrite(tag: RequestTag(origin: NodeID(1), request: 1), deadline: 0, reply: sink("a"), version: .resp2,
                         batch: WriteBatch(time: 5, database: 0, commands: [Self.words("SET a 1")], bytes: 40), proposedMicroseconds: nil)
        }
        let write = open()
        #expect(write.join(Self.words("SET b 2"), bytes: 40, bytesMax: 1000, database: 0, version: .resp2, reply: sink("b")))
        #expect(!write.join(Self.words("SET c 3"), bytes: 40, bytesMax: 1000, database: 1, version: .resp2, reply: sink("x")),
                "another database does not join")
        #expect(!write.join(Self.words("SET c 3"), bytes: 40, bytesMax: 1000, database: 0, version: .resp3, reply: sink("x")),
                "another protocol does not join")
        #expect(!write.join(Self.words("SET c 3"), bytes: 2000, bytesMax: 1000, database: 0, version: .resp2, reply: sink("x")),
                "too large for one entry")
        let payload = write.seal()
        #expect(!write.isOpenBatch)
        guard case .batch(_, 5, let commands, 0)? = try? ShardCommand.decode(payload) else {
            Issue.record("not a batch")
            return
        }
        #expect(commands == [Self.words("SET a 1"), Self.words("SET b 2")])
        #expect(!write.join(Self.words("SET c 3"), bytes: 40, bytesMax: 1000, database: 0, version: .resp2, reply: sink("x")),
                "a proposed batch is closed")
        write.reply(.array([.ok, .integer(7)]))
        #expect(answers == ["a=\(RESPValue.ok)", "b=\(RESPValue.integer(7))"])
        answers = []
        let failing = open()
        _ = failing.join(Self.words("SET b 2"), bytes: 40, bytesMax: 1000, database: 0, version: .resp2, reply: sink("b"))
        _ = failing.seal()
        failing.reply(.error("TRYAGAIN retry"))
        #expect(answers == ["a=\(RESPValue.error("TRYAGAIN retry"))", "b=\(RESPValue.error("TRYAGAIN retry"))"])
        // A write no other joined is proposed as the plain write it always was.
        let single = open()
        guard case .write(_, 5, false, [], let alone, 0)? = try? ShardCommand.decode(single.seal()) else {
            Issue.record("not a plain write")
            return
        }
        #expect(alone == [Self.words("SET a 1")])
    }
}
