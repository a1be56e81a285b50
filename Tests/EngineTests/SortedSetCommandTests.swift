// Sorted-set commands through the engine: reply shapes in RESP2 and RESP3 (doubles, pairs),
// Redis's error texts and their order, logging only real changes, WATCH, TYPE and SCAN
// TYPE, replicas ending identical, key positions of the multi-key commands, and the
// double formatting every score reply goes through.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine



@Suite struct SortedSetCommandTests {
    @Test func replyShapesInBothProtocols() {
        let h = Harness()
        #expect(h.run("ZADD z 1 a 2.5 b 3 c") == .integer(3))
        #expect(h.run("ZSCORE z b") == .double(2.5))
        #expect(h.run("ZSCORE z none") == .null)
        #expect(h.run("ZMSCORE z a none") == .array([.double(1), .null]))
        #expect(h.run("ZRANGE z 0 1 WITHSCORES") == .array([.bulk("a"), .double(1), .bulk("b"), .double(2.5)]))
        #expect(h.run("ZPOPMIN z") == .array([.bulk("a"), .double(1)]))
        #expect(h.run("ZRANK z c WITHSCORE") == .array([.integer(1), .double(3)]))
        #expect(h.run("ZRANK z none WITHSCORE") == .nullArray)
        #expect(h.run("ZRANK z none") == .null)
        #expect(h.run("ZADD z XX INCR 1 none") == .null)
        #expect(h.run("ZINCRBY z 1 c") == .double(4))
        #expect(h.run("HELLO 3").isError == false)
        #expect(h.run("ZRANGE z 0 -1 WITHSCORES") == .array([.array([.bulk("b"), .double(2.5)]), .array([.bulk("c"), .double(4)])]))
        // Without a count ZPOPMAX stays flat in RESP3; with one it pairs.
        #expect(h.run("ZPOPMAX z") == .array([.bulk("c"), .double(4)]))
        #expect(h.run("ZPOPMAX z 1") == .array([.array([.bulk("b"), .double(2.5)])]))
        #expect(h.run("EXISTS z") == .integer(0))
        #expect(h.run("ZPOPMIN z") == .array([]))
    }

    @Test func argumentsAreCheckedInRedisOrder() {
        let h = Harness()
        h.run("SET str v")
        // Options and ranges are read before the key's type is checked.
        #expect(h.run("ZADD str NX XX 1 a") == .error("ERR XX and NX options at the same time are not compatible"))
        #expect(h.run("ZADD str GT LT 1 a") == .error("ERR GT, LT, and/or NX options at the same time are not compatible"))
        #expect(h.run("ZADD str INCR 1 a 2 b") == .error("ERR INCR option supports a single increment-element pair"))
        #expect(h.run("ZADD str 1 a x b") == .error("ERR value is not a valid float"))
        #expect(h.run("ZADD str nan a") == .error("ERR value is not a valid float"))
        #expect(h.run("ZADD str 1 a 2") == .error("ERR syntax error"))
        #expect(h.run("ZADD str 1 a") == wrongType)
        #expect(h.run("ZCOUNT str x 1") == .error("ERR min or max is not a float"))
        #expect(h.run("ZLEXCOUNT str a b") == .error("ERR min or max not valid string range item"))
        #expect(h.run("ZRANGE str 0 1 LIMIT 0 1") == .error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"))
        #expect(h.run("ZRANGE str - + BYLEX WITHSCORES") == .error("ERR syntax error, WITHSCORES not supported in combination with BYLEX"))
        #expect(h.run("ZRANGESTORE d str 0 1 WITHSCORES") == .error("ERR syntax error"))
        #expect(h.run("ZRANGEBYSCORE str 0 1 REV") == .error("ERR syntax error"))
        #expect(h.run("ZPOPMIN str -1") == .error("ERR value is out of range, must be positive"))
        #expect(h.run("ZPOPMIN str 1 2") == .error("ERR syntax error"))
        #expect(h.run("ZPOPMIN str 0") == wrongType)
        #expect(h.run("ZRANK z a WITHSCORES") == .error("ERR syntax error"))
        #expect(h.run("ZRANK z a WITHSCORE x") == .error("ERR wrong number of arguments for 'zrank' command"))
        #expect(h.run("ZADD inf inf a") == .integer(1))
        #expect(h.run("ZINCRBY inf -inf a") == .error("ERR resulting score is not a number (NaN)"))
        #expect(h.run("ZSCORE inf a") == .double(.infinity))
        #expect(h.run("ZSCAN z x") == .error("ERR invalid cursor"))
    }

    @Test func onlyRealChangesAreLogged() {
        let h = Harness()
        h.run("ZADD z 1 a")
        #expect(h.records.count == 1)
        h.run("ZADD z 1 a")
        h.run("ZADD z NX 5 a")
        h.run("ZADD z GT 0 a")
        h.run("ZREM z none")
        h.run("ZREMRANGEBYSCORE z 5 10")
        h.run("ZPOPMIN z 0")
        h.run("ZADD none XX 1 a")
        h.run("ZINCRBY z 0 a")
        #expect(h.records.count == 1)
        h.run("ZADD z CH 2 a")
        h.run("ZREMRANGEBYRANK z 0 -1")
        #expect(h.records.count == 3)
        #expect(h.run("EXISTS z") == .integer(0))
    }

    @Test func typeScanAndWatch() {
        let h = Harness()
        let other = h.engine.connect(address: "127.0.0.1:2", localAddress: "127.0.0.1:6379", now: h.now)
        h.run("ZADD z 1 a")
        h.run("SADD s a")
        #expect(h.run("TYPE z") == .simple("zset"))
        #expect(h.run("SCAN 0 TYPE zset") == .array([.bulk("0"), bulks("z")]))
        h.run("WATCH z")
        h.run("ZINCRBY z 1 a", on: other)
        h.run("MULTI")
        h.run("ZADD z 5 b")
        #expect(h.run("EXEC") == .nullArray)
        #expect(h.run("ZCARD z") == .integer(1))
    }

    @Test func replicasEndIdenticalAndDigestsFollowScores() {
        let leader = Engine.replica(settings: Settings(), now: 0)
        let follower = Engine.replica(settings: Settings(), now: 0)
        let commands = ["ZADD z 3 c 1 a 2 b 2 bb", "ZINCRBY z 5 a", "ZPOPMIN z", "ZREMRANGEBYLEX z - (b", "ZADD y 1 x"]
        for line in commands {
            let first = leader.applyCommitted(commands: [ShardEngineTests.command(line)], time: 1, transaction: false, watches: [])
            let second = follower.applyCommitted(commands: [ShardEngineTests.command(line)], time: 1, transaction: false, watches: [])
            #expect(first == second)
        }
        let key = Array("z".utf8)
        #expect(leader.watchDigest(key, now: 1) == follower.watchDigest(key, now: 1))
        #expect(leader.keyspace.peek(key, now: 1) == follower.keyspace.peek(key, now: 1))
        let before = leader.watchDigest(key, now: 1)
        _ = leader.applyCommitted(commands: [ShardEngineTests.command("ZINCRBY z 1 c")], time: 1, transaction: false, watches: [])
        #expect(leader.watchDigest(key, now: 1) != before)
    }

    @Test func scoresPrintAsRedisPrintsDoubles() {
        let cases: [(Double, String)] = [
            (1.5, "1.5"), (3, "3"), (-0.0, "-0"), (0, "0"), (.infinity, "inf"), (-.infinity, "-inf"),
            (1e20, "1e+20"), (1e16, "10000000000000000"), (1e17, "1e+17"), (0.1, "0.1"), (0.0001, "0.0001"),
            (0.00001, "1e-05"), (-2.5e-10, "-2.5e-10"), (5e-324, "5e-324"), (1.2345678901234567e19, "1.2345678901234567e+19"),
            (123456789.125, "123456789.125"), (1e100, "1e+100"), (-1.5e-7, "-1.5e-07"), (0.30000000000000004, "0.30000000000000004"),
        ]
        for (value, text) in cases { #expect(RESPEncoder.formatDouble(value) == text, "\(value)") }
        #expect(Engine.storedScoreText(1e17) == "100000000000000000")
        #expect(Engine.storedScoreText(1.2345678901234567e19) == "1.2345678901234567e+19")
        #expect(Engine.storedScoreText(2.5) == "2.5")
    }
}

@Suite struct SortedSetAlgebraCommandTests {
    static func positions(_ line: String) -> [Int] {
        let arguments = line.split(separator: " ").map { Array($0.utf8) }
        return CommandTable.lookup(arguments[0])?.keyPositions(in: arguments) ?? []
    }

    @Test func everyKeyIsDeclared() {
        #expect(Self.positions("ZUNIONSTORE d 2 a b WEIGHTS 1 2") == [1, 3, 4])
        #expect(Self.positions("ZINTERSTORE d 1 a") == [1, 3])
        #expect(Self.positions("ZDIFFSTORE d 2 a b") == [1, 3, 4])
        #expect(Self.positions("ZUNION 2 a b WITHSCORES") == [2, 3])
        #expect(Self.positions("ZINTERCARD 2 a b LIMIT 1") == [2, 3])
        #expect(Self.positions("ZMPOP 2 a b MIN") == [2, 3])
        #expect(Self.positions("ZRANGESTORE d s 0 -1") == [1, 2])
        #expect(Self.positions("ZADD z 1 a") == [1])
        // A count that is not a usable number names no keys; the command answers the error.
        #expect(Self.positions("ZUNIONSTORE d 3 a b") == [])
        #expect(Self.positions("ZINTER 0 a") == [])
        #expect(CommandTable.lookup(Array("zunionstore".utf8))?.isWrite == true)
        #expect(CommandTable.lookup(Array("zrandmember".utf8))?.isWrite == false)
        #expect(CommandTable.lookup(Array("zmpop".utf8))?.flags.contains("movablekeys") == true)
    }

    @Test func combinationsAndTheirErrors() {
        let h = Harness()
        h.run("ZADD a 1 x 2 y")
        h.run("ZADD b 10 y 20 z")
        h.run("SADD s x")
        h.run("SET str v")
        #expect(h.run("ZUNION 3 a b s WITHSCORES") == .array([.bulk("x"), .double(2), .bulk("y"), .double(12), .bulk("z"), .double(20)]))
        #expect(h.run("ZINTER 2 a b AGGREGATE MAX WITHSCORES") == .array([.bulk("y"), .double(10)]))
        #expect(h.run("ZDIFF 2 a b") == bulks("x"))
        #expect(h.run("ZINTERCARD 2 a b LIMIT 5") == .integer(1))
        #expect(h.run("ZUNIONSTORE str 1 b") == .integer(2))
        #expect(h.run("TYPE str") == .simple("zset"))
        #expect(h.run("ZINTERSTORE str 2 a none") == .integer(0))
        #expect(h.run("EXISTS str") == .integer(0))
        #expect(h.run("ZUNION 0 a") == .error("ERR at least 1 input key is needed for 'zunion' command"))
        #expect(h.run("ZUNIONSTORE d 3 a b") == .error("ERR syntax error"))
        #expect(h.run("ZUNION 2 a b WEIGHTS 1 x") == .error("ERR weight value is not a float"))
        #expect(h.run("ZDIFF 2 a b WEIGHTS 1 1") == .error("ERR syntax error"))
        #expect(h.run("ZINTERCARD 1 a LIMIT -1") == .error("ERR LIMIT can't be negative"))
        h.run("SET str v")
        #expect(h.run("ZUNION 2 str a BOGUS") == wrongType)  // types are checked before options
        #expect(h.run("ZMPOP 2 none a MAX COUNT 5") == .array([.bulk("a"), .array([.array([.bulk("y"), .double(2)]), .array([.bulk("x"), .double(1)])])]))
        #expect(h.run("ZMPOP 1 a MIN") == .nullArray)
        #expect(h.run("ZMPOP 1 a MIN COUNT 0") == .error("ERR count should be greater than 0"))
        #expect(h.run("ZMPOP 0 a MIN") == .error("ERR numkeys should be greater than 0"))
        #expect(h.run("ZRANDMEMBER b 5 WITHSCORES") == .array([.bulk("y"), .double(10), .bulk("z"), .double(20)]))
        #expect(h.run("ZRANDMEMBER b -4611686018427387905 WITHSCORES") == .error("ERR value is out of range"))
        #expect(h.run("ZRANDMEMBER none") == .null)
    }

    /// ZMPOP and the STORE forms are logged as sent; replaying them on another engine must
    /// leave the same sorted sets, whatever ZRANDMEMBER reads drew meanwhile.
    @Test func replayLeavesTheSameSortedSets() throws {
        let h = Harness(seed: 5)
        h.run("ZADD a " + (0..<30).map { "\($0 % 7) m\($0)" }.joined(separator: " "))
        h.run("ZADD b " + (0..<30).map { "\($0 % 5) m\($0 * 2)" }.joined(separator: " "))
        for round in 0..<5 {
            h.run("ZRANDMEMBER a \(round + 1)")
            h.run("ZMPOP 2 a b MIN COUNT 2")
            h.run("ZUNIONSTORE c 2 a b WEIGHTS 1 \(round)")
            h.run("ZINTERSTORE d 2 a b AGGREGATE MAX")
            h.now += 1
        }
        let replayed = Engine(settings: Settings(), seed: 99, now: 0)
        h.replay(into: replayed)
        for key in ["a", "b", "c", "d"] {
            #expect(replayed.watchDigest(Array(key.utf8), now: h.now) == h.engine.watchDigest(Array(key.utf8), now: h.now))
        }
        #expect(h.run("ZCARD a") == .integer(20))
    }
}
