// List and set commands through the engine: reply shapes (RESP3 sets, null arrays), Redis's
// error texts, logging only real changes, WATCH, replay and replicas agreeing on SPOP, and
// the key positions routing reads from the command table.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine



@Suite struct ListCommandTests {
    @Test func pushPopAndReplyShapes() {
        let h = Harness()
        #expect(h.run("RPUSH l a b c") == .integer(3))
        #expect(h.run("LPOP l") == .bulk("a"))
        #expect(h.run("RPOP l 5") == bulks("c", "b"))
        #expect(h.run("EXISTS l") == .integer(0))
        #expect(h.run("LPOP l") == .null)
        #expect(h.run("LPOP l 0") == .nullArray)
        #expect(h.run("LPOP l -1") == .error("ERR value is out of range, must be positive"))
        #expect(h.run("LPOP l 1 2") == .error("ERR wrong number of arguments for 'lpop' command"))
        #expect(h.run("LPUSHX l a") == .integer(0))
        h.run("SET s v")
        #expect(h.run("LPUSH s a") == wrongType)
        #expect(h.run("TYPE s") == .simple("string"))
    }

    @Test func argumentsAreCheckedInRedisOrder() {
        let h = Harness()
        #expect(h.run("LINDEX none abc") == .null)  // the key before the index
        #expect(h.run("LSET none abc x") == .error("ERR no such key"))
        #expect(h.run("LRANGE none x 1") == .error("ERR value is not an integer or out of range"))  // the index first
        h.run("RPUSH l a")
        #expect(h.run("LSET l 3 x") == .error("ERR index out of range"))
        #expect(h.run("LINSERT none middle a b") == .error("ERR syntax error"))
        #expect(h.run("LPOS l a RANK 0") == .error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"))
        #expect(h.run("LPOS l a RANK -9223372036854775808") == .error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"))
        #expect(h.run("LPOS l a COUNT -1") == .error("ERR COUNT can't be negative"))
        #expect(h.run("LPOS l a MAXLEN x") == .error("ERR MAXLEN can't be negative"))
        #expect(h.run("LPOS none a COUNT 0") == .array([]))
        #expect(h.run("LMOVE l d UP LEFT") == .error("ERR syntax error"))
        #expect(h.run("LMPOP 0 l LEFT") == .error("ERR numkeys should be greater than 0"))
        #expect(h.run("LMPOP 3 l LEFT") == .error("ERR syntax error"))
        #expect(h.run("LMPOP 1 l LEFT COUNT 0") == .error("ERR count should be greater than 0"))
        #expect(h.run("LMPOP 2 none l RIGHT COUNT 5") == .array([.bulk("l"), bulks("a")]))
        #expect(h.run("LMPOP 1 l LEFT") == .nullArray)
    }

    @Test func onlyRealChangesAreLogged() {
        let h = Harness()
        h.run("RPUSH l a")
        #expect(h.records.count == 1)
        h.run("LREM l 0 zz")
        h.run("LPOP l 0")
        h.run("LINSERT l BEFORE zz x")
        h.run("LPUSHX none a")
        h.run("LMOVE none l LEFT LEFT")
        #expect(h.records.count == 1)
        h.run("LMOVE l l LEFT RIGHT")
        h.run("LTRIM l 1 0")
        #expect(h.records.count == 3)
        #expect(h.run("EXISTS l") == .integer(0))
    }

    @Test func aChangedListAbortsAWatchingTransaction() {
        let h = Harness()
        let other = h.engine.connect(address: "127.0.0.1:2", localAddress: "127.0.0.1:6379", now: h.now)
        h.run("RPUSH l a")
        h.run("WATCH l")
        h.run("RPOP l", on: other)
        h.run("MULTI")
        h.run("RPUSH l b")
        #expect(h.run("EXEC") == .nullArray)
        #expect(h.run("EXISTS l") == .integer(0))
    }
}

@Suite struct SetCommandTests {
    @Test func repliesAreRESP3SetsWhereRedisSendsSets() {
        let h = Harness()
        #expect(h.run("SADD s a b a") == .integer(2))
        #expect(h.run("SMEMBERS s") == .set([.bulk("a"), .bulk("b")]))
        #expect(h.run("SMEMBERS none") == .set([]))
        #expect(h.run("SMISMEMBER s a z") == .array([.integer(1), .integer(0)]))
        #expect(h.run("SPOP none 3") == .set([]))
        #expect(h.run("SPOP s 0") == .set([]))
        #expect(h.run("SRANDMEMBER s 0") == .array([]))
        #expect(h.run("SINTER s none") == .set([]))
        #expect(h.run("SSCAN s 0 MATCH a") == .array([.bulk("0"), bulks("a")]))
        #expect(h.run("SSCAN s 0 NOVALUES") == .error("ERR syntax error"))
    }

    @Test func errorsUseRedisTexts() {
        let h = Harness()
        h.run("SADD s a")
        h.run("SET str v")
        #expect(h.run("SPOP s -1") == .error("ERR value is out of range, must be positive"))
        #expect(h.run("SPOP s 1 2") == .error("ERR syntax error"))
        #expect(h.run("SRANDMEMBER s -9223372036854775808") == .error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"))
        #expect(h.run("SINTERCARD 3 s") == .error("ERR Number of keys can't be greater than number of args"))
        #expect(h.run("SINTERCARD 1 s LIMIT -1") == .error("ERR LIMIT can't be negative"))
        #expect(h.run("SINTER none str") == wrongType)  // every key is type-checked
        #expect(h.run("SMOVE none str a") == .integer(0))
        #expect(h.run("SMOVE s str a") == wrongType)
        #expect(h.run("SUNIONSTORE str s") == .integer(1))  // the destination's type does not matter
        #expect(h.run("TYPE str") == .simple("set"))
    }

    /// SPOP is logged as SPOP; replaying it on an engine with another seed, after reads
    /// that drew from the original engine's generator, must pop the same members.
    @Test func replayedPopsPickTheSameMembers() throws {
        let h = Harness(seed: 5)
        h.run("SADD s " + (0..<40).map { "m\($0)" }.joined(separator: " "))
        for round in 0..<10 {
            h.run("SRANDMEMBER s \(round + 1)")
            h.run("SPOP s 2")
            h.now += 1
        }
        let replayed = Engine(settings: Settings(), seed: 99, now: 0)
        h.replay(into: replayed)
        let key = Array("s".utf8)
        #expect(try h.engine.keyspace.setMembers(key, now: h.now) == replayed.keyspace.setMembers(key, now: h.now))
        #expect(try h.engine.keyspace.setCardinality(key, now: h.now) == 20)
    }

    @Test func replicasAgreeOnPopsWhateverReadsTheyServed() throws {
        let leader = Engine.replica(settings: Settings(), now: 0)
        let follower = Engine.replica(settings: Settings(), now: 0)
        let add = ShardEngineTests.command("SADD s " + (0..<30).map { "m\($0)" }.joined(separator: " "))
        let pop = ShardEngineTests.command("SPOP s 3")
        for engine in [leader, follower] { _ = engine.applyCommitted(commands: [add], time: 1, transaction: false, watches: []) }
        // Only the leader serves reads, which draw from its generator.
        for _ in 0..<5 {
            _ = leader.executeRead(ShardEngineTests.command("SRANDMEMBER s 4"), session: leader.internalSession(address: "t"), now: 2)
        }
        let first = leader.applyCommitted(commands: [pop], time: 3, transaction: false, watches: [])
        let second = follower.applyCommitted(commands: [pop], time: 3, transaction: false, watches: [])
        #expect(first == second)
        let key = Array("s".utf8)
        #expect(leader.watchDigest(key, now: 4) == follower.watchDigest(key, now: 4))
        #expect(try leader.keyspace.setMembers(key, now: 4) == follower.keyspace.setMembers(key, now: 4))
    }

    @Test func digestsSeeListOrderButNotSetOrder() {
        let engine = Engine.replica(settings: Settings(), now: 0)
        let apply = { (line: String) in
            _ = engine.applyCommitted(commands: [ShardEngineTests.command(line)], time: 1, transaction: false, watches: [])
        }
        apply("RPUSH l a b")
        apply("SADD s a b")
        apply("SADD t b a")
        let list = engine.watchDigest(Array("l".utf8), now: 1)
        #expect(list != 0)
        #expect(engine.watchDigest(Array("s".utf8), now: 1) == engine.watchDigest(Array("t".utf8), now: 1))
        apply("LMOVE l l LEFT RIGHT")
        #expect(engine.watchDigest(Array("l".utf8), now: 1) != list)
    }
}

@Suite struct ListAndSetKeyPositionTests {
    static func positions(_ line: String) -> [Int] {
        let arguments = line.split(separator: " ").map { Array($0.utf8) }
        return CommandTable.lookup(arguments[0])?.keyPositions(in: arguments) ?? []
    }

    @Test func everyKeyIsDeclared() {
        #expect(Self.positions("LMOVE a b LEFT RIGHT") == [1, 2])
        #expect(Self.positions("RPOPLPUSH a b") == [1, 2])
        #expect(Self.positions("SMOVE a b m") == [1, 2])
        #expect(Self.positions("SINTERSTORE d a b") == [1, 2, 3])
        #expect(Self.positions("SDIFF a b c") == [1, 2, 3])
        #expect(Self.positions("LMPOP 2 a b LEFT COUNT 3") == [2, 3])
        #expect(Self.positions("SINTERCARD 2 a b LIMIT 1") == [2, 3])
        // A count that is not a usable number names no keys; the command answers the error.
        #expect(Self.positions("LMPOP 5 a LEFT") == [])
        #expect(Self.positions("SINTERCARD 0 a") == [])
        #expect(Self.positions("SINTERCARD -1 a") == [])
        #expect(CommandTable.lookup(Array("lmpop".utf8))?.flags.contains("movablekeys") == true)
        #expect(CommandTable.lookup(Array("spop".utf8))?.isWrite == true)
        #expect(CommandTable.lookup(Array("srandmember".utf8))?.isWrite == false)
    }

    @Test func commandGetKeysReadsTheCount() {
        let h = Harness()
        #expect(h.run("COMMAND GETKEYS LMPOP 2 a b LEFT") == bulks("a", "b"))
        #expect(h.run("COMMAND GETKEYS SMOVE a b m") == bulks("a", "b"))
    }
}
