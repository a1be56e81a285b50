// Numbers that come from clients at their extremes (issue 13): every command answers
// with Redis's exact reply (checked against redis-server 7.0.15, which 7.2 matches
// here) and the server keeps running. One test per class of number.
import Keyspace
import Testing
import Wire
@testable import Engine

private let int64Max = "9223372036854775807"
private let int64Min = "-9223372036854775808"

/// An engine with one session; commands are given as argument lists, so an argument may
/// be empty or hold spaces.
private final class Client {
    let engine: Engine
    let session: Session
    var now: Int64

    init(now: Int64 = 1_700_000_000_000) {
        self.now = now
        engine = Engine(settings: Settings(), seed: 1, now: now)
        session = engine.connect(address: "127.0.0.1:1", localAddress: "127.0.0.1:6379", now: now)
    }

    @discardableResult
    func run(_ arguments: String...) -> RESPValue {
        engine.execute(arguments.map { Array($0.utf8) }, session: session, now: now).reply
    }
}

private let tooLong = RESPValue.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")

@Suite struct ClientNumberTests {
    /// The crash of issue 13: SETRANGE k 9223372036854775807 x trapped on an overflow.
    @Test func setRangeOffsets() {
        let c = Client()
        #expect(c.run("SETRANGE", "k", int64Max, "x") == tooLong)
        #expect(c.run("EXISTS", "k") == .integer(0))
        c.run("SET", "k", "hello")
        #expect(c.run("SETRANGE", "k", int64Max, "x") == tooLong)
        #expect(c.run("SETRANGE", "k", "536870911", "xx") == tooLong)
        #expect(c.run("SETRANGE", "k", int64Min, "x") == .error("ERR offset is out of range"))
        #expect(c.run("SETRANGE", "k", "-1", "") == .error("ERR offset is out of range"))
        #expect(c.run("SETRANGE", "k", int64Max, "") == .integer(5))
        #expect(c.run("SETRANGE", "absent", int64Max, "") == .integer(0))
        c.run("HSET", "h", "f", "v")
        #expect(c.run("SETRANGE", "h", int64Max, "x") == wrongType)
        #expect(c.run("GET", "k") == .bulk("hello"))
    }

    @Test func getRangeIndexes() {
        let c = Client()
        c.run("SET", "s", "hello")
        #expect(c.run("GETRANGE", "s", int64Min, int64Min) == .bulk("h"))
        #expect(c.run("GETRANGE", "s", int64Min, int64Max) == .bulk("hello"))
        #expect(c.run("GETRANGE", "s", int64Max, int64Min) == .bulk(""))
        #expect(c.run("SUBSTR", "s", "0", int64Min) == .bulk("h"))
        #expect(c.run("GETRANGE", "s", "0", "9223372036854775808") == .error("ERR value is not an integer or out of range"))
    }

    @Test func integerIncrementsOverflow() {
        let c = Client()
        let overflow = RESPValue.error("ERR increment or decrement would overflow")
        c.run("SET", "n", "1")
        #expect(c.run("INCRBY", "n", int64Max) == overflow)
        #expect(c.run("DECRBY", "n", int64Min) == .error("ERR decrement would overflow"))
        #expect(c.run("DECRBY", "n", int64Max) == .integer(-9_223_372_036_854_775_806))
        #expect(c.run("DECRBY", "n", int64Max) == overflow)
        #expect(c.run("INCRBY", "n", int64Min) == overflow)
        #expect(c.run("DECR", "n") == .integer(Int64.min + 1))
        #expect(c.run("DECR", "n") == .integer(Int64.min))
        #expect(c.run("DECR", "n") == overflow)
        #expect(c.run("GET", "n") == .bulk(int64Min))
        #expect(c.run("HINCRBY", "h", "f", int64Max) == .integer(Int64.max))
        #expect(c.run("HINCRBY", "h", "f", "1") == overflow)
        #expect(c.run("HINCRBY", "h", "g", int64Min) == .integer(Int64.min))
        #expect(c.run("HINCRBY", "h", "g", "-1") == overflow)
    }

    @Test func floatIncrementsRefuseInfinity() {
        let c = Client()
        let infinite = RESPValue.error("ERR increment would produce NaN or Infinity")
        #expect(c.run("INCRBYFLOAT", "f", "inf") == infinite)
        #expect(c.run("INCRBYFLOAT", "f", "-inf") == infinite)
        #expect(c.run("INCRBYFLOAT", "f", "1e99999") == .error("ERR value is not a valid float"))
        #expect(c.run("EXISTS", "f") == .integer(0))
        // HINCRBYFLOAT refuses an infinite increment itself, before the key's type.
        #expect(c.run("HINCRBYFLOAT", "h", "f", "inf") == .error("ERR value is NaN or Infinity"))
        #expect(c.run("HINCRBYFLOAT", "h", "f", "-infinity") == .error("ERR value is NaN or Infinity"))
        c.run("SET", "s", "1")
        #expect(c.run("HINCRBYFLOAT", "s", "f", "inf") == .error("ERR value is NaN or Infinity"))
        let largest = String(decoding: Numbers.formatLongDouble(LongDouble.greatestFiniteMagnitude), as: UTF8.self)
        c.run("HSET", "h", "big", largest)
        #expect(c.run("HINCRBYFLOAT", "h", "big", largest) == infinite)
        c.run("SET", "big", largest)
        #expect(c.run("INCRBYFLOAT", "big", largest) == infinite)
    }

    /// EXPIRE family: the amount times the unit, plus now for relative forms, overflow-checked.
    @Test func expireTimesThatOverflow() {
        let c = Client()
        c.run("SET", "k", "v")
        #expect(c.run("EXPIRE", "k", int64Max) == .error("ERR invalid expire time in 'expire' command"))
        #expect(c.run("EXPIRE", "k", "9223372036854775") == .error("ERR invalid expire time in 'expire' command"))
        #expect(c.run("PEXPIRE", "k", int64Max) == .error("ERR invalid expire time in 'pexpire' command"))
        #expect(c.run("EXPIREAT", "k", "9223372036854776") == .error("ERR invalid expire time in 'expireat' command"))
        #expect(c.run("EXPIREAT", "k", "-9223372036854776") == .error("ERR invalid expire time in 'expireat' command"))
        #expect(c.run("EXPIREAT", "k", "9223372036854775") == .integer(1))
        #expect(c.run("PTTL", "k") == .integer(9_223_372_036_854_775_000 - c.now))
        // A huge negative time deletes the key, as any time in the past does.
        #expect(c.run("EXPIRE", "k", "-9223372036854775") == .integer(1))
        #expect(c.run("EXISTS", "k") == .integer(0))
        c.run("SET", "k", "v")
        #expect(c.run("PEXPIRE", "k", int64Min) == .integer(1))
        #expect(c.run("EXISTS", "k") == .integer(0))
    }

    /// SET EX/PX/EXAT/PXAT, SETEX, PSETEX, GETEX: positive amounts, overflow-checked, and
    /// (as Redis) read only after every option parsed.
    @Test func setExpiryOptionsThatOverflow() {
        let c = Client()
        for option in ["EX", "PX", "EXAT"] {
            #expect(c.run("SET", "k", "v", option, int64Max) == .error("ERR invalid expire time in 'set' command"), "\(option)")
        }
        #expect(c.run("SET", "k", "v", "EX", int64Min) == .error("ERR invalid expire time in 'set' command"))
        #expect(c.run("SETEX", "k", int64Max, "v") == .error("ERR invalid expire time in 'setex' command"))
        #expect(c.run("PSETEX", "k", int64Max, "v") == .error("ERR invalid expire time in 'psetex' command"))
        #expect(c.run("SET", "k", "v", "EX", int64Max, "BOGUS") == .error("ERR syntax error"))
        #expect(c.run("SET", "k", "v", "EX", "abc", "NX", "XX") == .error("ERR syntax error"))
        #expect(c.run("SET", "k", "v", "EX", "abc", "EX", "10") == .ok)
        #expect(c.run("TTL", "k") == .integer(10))
        #expect(c.run("SET", "k", "v", "PXAT", int64Max) == .ok)
        #expect(c.run("PEXPIRETIME", "k") == .integer(Int64.max))
        for option in ["EX", "PX", "EXAT"] {
            #expect(c.run("GETEX", "k", option, int64Max) == .error("ERR invalid expire time in 'getex' command"), "\(option)")
        }
        #expect(c.run("GETEX", "absent", "EX", int64Max) == .null)
        #expect(c.run("GETEX", "absent", "EX", "abc") == .null)
        c.run("HSET", "h", "f", "v")
        #expect(c.run("GETEX", "h", "EX", int64Max) == wrongType)
        #expect(c.run("GETEX", "k", "EX", "10", "EX", "20") == .bulk("v"))
        #expect(c.run("TTL", "k") == .integer(20))
    }

    /// TTL and EXPIRETIME round milliseconds half up, as Redis does, without overflowing
    /// for an expiry at Int64.max even when `now` is 0 (the simulator's clock).
    @Test func ttlRoundingAtTheExtremes() {
        let c = Client(now: 0)
        c.run("SET", "k", "v")
        #expect(c.run("PEXPIREAT", "k", int64Max) == .integer(1))
        #expect(c.run("PTTL", "k") == .integer(Int64.max))
        #expect(c.run("TTL", "k") == .integer(9_223_372_036_854_776))
        #expect(c.run("EXPIRETIME", "k") == .integer(9_223_372_036_854_776))
        let d = Client()
        d.run("SET", "k", "v")
        d.run("PEXPIREAT", "k", String(d.now + 1600))
        #expect(d.run("TTL", "k") == .integer(2))
        #expect(d.run("EXPIRETIME", "k") == .integer((d.now + 2000) / 1000))
        d.run("PEXPIREAT", "k", String(d.now + 1499))
        #expect(d.run("EXPIRETIME", "k") == .integer((d.now + 1000) / 1000))
    }

    @Test func randomFieldCounts() {
        let c = Client()
        let between = RESPValue.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        let outOfRange = RESPValue.error("ERR value is out of range")
        c.run("HSET", "h", "a", "1", "b", "2")
        #expect(c.run("HRANDFIELD", "h", int64Min) == between)
        #expect(c.run("HRANDFIELD", "h", int64Min, "WITHVALUES") == between)
        #expect(c.run("HRANDFIELD", "h", int64Min, "foo") == between)
        #expect(c.run("HRANDFIELD", "h", "abc", "foo", "bar") == .error("ERR value is not an integer or out of range"))
        #expect(c.run("HRANDFIELD", "h", "1", "withvalues", "bar") == .error("ERR syntax error"))
        #expect(c.run("HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES") == outOfRange)
        #expect(c.run("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES") == outOfRange)
        if case .array(let items) = c.run("HRANDFIELD", "h", "4611686018427387903", "WITHVALUES") {
            #expect(items.count == 4)
        } else {
            Issue.record("HRANDFIELD h 4611686018427387903 WITHVALUES should answer the whole hash")
        }
        if case .array(let items) = c.run("HRANDFIELD", "h", int64Max) { #expect(items.count == 2) } else { Issue.record("expected an array") }
        #expect(c.run("HRANDFIELD", "absent", "-5000000000") == .array([]))
        c.run("SET", "s", "v")
        #expect(c.run("HRANDFIELD", "s", "-5000000000") == wrongType)
        // Redis would try to build five billion replies; trestle bounds repeated fields.
        #expect(c.run("HRANDFIELD", "h", "-5000000000") == outOfRange)
    }

    @Test func scanCursorsAndCounts() {
        let c = Client()
        c.run("SET", "k", "v")
        c.run("HSET", "h", "a", "1")
        #expect(c.run("SCAN", "0", "COUNT", int64Max) == c.run("SCAN", "0", "COUNT", "100000"))
        #expect(c.run("SCAN", "0", "COUNT", int64Min) == .error("ERR syntax error"))
        #expect(c.run("SCAN", "") == c.run("SCAN", "0"))
        #expect(c.run("SCAN", "-") == .error("ERR invalid cursor"))
        let everything = RESPValue.array([.bulk("0"), .array([.bulk("a"), .bulk("1")])])
        #expect(c.run("HSCAN", "h", "-1") == everything)
        #expect(c.run("HSCAN", "h", "18446744073709551615") == everything)
        #expect(c.run("HSCAN", "h", "") == everything)
        #expect(c.run("HSCAN", "h", "18446744073709551616") == .error("ERR invalid cursor"))
        #expect(c.run("HSCAN", "h", "0", "COUNT", int64Max) == everything)
        #expect(c.run("HSCAN", "h", "0", "COUNT", int64Min) == .error("ERR syntax error"))
        #expect(c.run("HSCAN", "absent", "0", "COUNT", "0") == .array([.bulk("0"), .array([])]))
        #expect(c.run("HSCAN", "k", "0", "BOGUS") == wrongType)
    }

    /// A log record's time is a number from disk or a peer: replaying SET PX at an extreme
    /// time must fail the command, not the process.
    @Test func replayAtExtremeTimes() throws {
        let c = Client(now: Int64.max - 1)
        #expect(c.run("SET", "k", "v", "PX", "10") == .error("ERR invalid expire time in 'set' command"))
        // As Redis, the time is computed (and found to overflow) before the key is looked up.
        #expect(c.run("EXPIRE", "k", "10") == .error("ERR invalid expire time in 'expire' command"))
        let d = Client(now: Int64.min)
        #expect(d.run("SET", "k", "v", "PX", "10") == .error("ERR invalid expire time in 'set' command"))
        #expect(d.run("SET", "k", "v", "EXAT", "10") == .ok)
        #expect(d.run("TTL", "k") == .integer(Arguments.roundedSeconds(milliseconds: Int64.max)))
    }
}
