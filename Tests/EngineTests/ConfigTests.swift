// CONFIG GET/SET through the engine: aliases, all-or-nothing sets, the checks Redis makes,
// inert parameters, and OBJECT ENCODING following the encoding limits.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct ConfigTests {
    private func pairs(_ reply: RESPValue) -> [String: String] {
        guard case .map(let entries) = reply else { return [:] }
        var result: [String: String] = [:]
        for entry in entries {
            if case .bulk(let name) = entry.key, case .bulk(let value) = entry.value {
                result[String(decoding: name, as: UTF8.self)] = String(decoding: value, as: UTF8.self)
            }
        }
        return result
    }

    @Test func aliasesAnswerUnderTheirOwnNameAndPatternsMatchBoth() {
        let h = Harness()
        #expect(h.run("CONFIG SET hash-max-ziplist-entries 7") == .ok)
        #expect(pairs(h.run("CONFIG GET hash-max-ziplist-entries")) == ["hash-max-ziplist-entries": "7"])
        #expect(pairs(h.run("CONFIG GET hash-max-listpack-entries")) == ["hash-max-listpack-entries": "7"])
        #expect(pairs(h.run("CONFIG GET hash-max-*")) == ["hash-max-listpack-entries": "7", "hash-max-listpack-value": "64",
                                                          "hash-max-ziplist-entries": "7", "hash-max-ziplist-value": "64"])
        #expect(pairs(h.run("CONFIG GET lua-time-limit")) == ["lua-time-limit": "5000"])
        #expect(pairs(h.run("CONFIG GET *of")) == ["replicaof": "", "slaveof": ""])
    }

    @Test func hiddenParametersAnswerOnlyWhenNamed() {
        let h = Harness()
        #expect(pairs(h.run("CONFIG GET *")).keys.contains("key-load-delay") == false)
        #expect(pairs(h.run("CONFIG GET *-delay")).keys.contains("rdb-key-save-delay") == false)
        #expect(pairs(h.run("CONFIG GET key-load-delay")) == ["key-load-delay": "0"])
    }

    @Test func aSetIsAllOrNothing() {
        let h = Harness()
        #expect(h.run("CONFIG SET zset-max-listpack-entries 5 zset-max-listpack-value abc")
            == .error("ERR CONFIG SET failed (possibly related to argument 'zset-max-listpack-value') - argument must be a memory value"))
        #expect(pairs(h.run("CONFIG GET zset-max-listpack-entries")) == ["zset-max-listpack-entries": "128"])
        #expect(h.run("CONFIG SET zset-max-listpack-entries 5 zset-max-ziplist-entries 6")
            == .error("ERR CONFIG SET failed (possibly related to argument 'zset-max-ziplist-entries') - duplicate parameter"))
    }

    @Test func checksAsRedis() {
        let h = Harness()
        #expect(h.run("CONFIG SET nosuch 1") == .error("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"))
        #expect(h.run("CONFIG SET dir /") == .error("ERR CONFIG SET failed (possibly related to argument 'dir') - can't set immutable config"))
        // Where it listens: its own value is accepted, another refused as Redis words it.
        let port = pairs(h.run("CONFIG GET port"))["port"] ?? ""
        #expect(h.run("CONFIG SET port \(port)") == .ok)
        #expect(h.run("CONFIG SET port 1") == .error("ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port: "
                                                     + "Trestle listens where it started (restart it with --port)"))
        #expect(h.run("CONFIG SET maxmemory-clients 200%")
            == .error("ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100"))
        #expect(h.run("CONFIG SET maxmemory-clients lots")
            == .error("ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - argument must be a memory or percent value"))
        #expect(h.run("CONFIG SET maxmemory-clients 10%") == .ok)
        #expect(h.run("CONFIG SET lazyfree-lazy-user-del maybe")
            == .error("ERR CONFIG SET failed (possibly related to argument 'lazyfree-lazy-user-del') - argument must be 'yes' or 'no'"))
        #expect(h.run("CONFIG SET maxmemory-samples 0")
            == .error("ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 64 inclusive"))
        #expect(h.run("CONFIG SET maxmemory-policy lots")
            == .error("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: "
                      + "volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"))
        #expect(h.run("CONFIG SET save 100") == .error("ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"))
        #expect(h.run("CONFIG SET notify-keyspace-events Kq")
            == .error("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))
        if case .error(let message) = h.run("CONFIG SET activedefrag yes") {
            #expect(message.contains("Active defragmentation cannot be enabled"))
        } else {
            Issue.record("activedefrag yes was accepted")
        }
        #expect(h.run("CONFIG SET activedefrag no") == .ok)
    }

    @Test func inertParametersKeepWhatWasSetAndLiveOnesTellTheTruth() {
        let h = Harness()
        #expect(pairs(h.run("CONFIG GET stream-node-max-entries")) == ["stream-node-max-entries": "100"])
        #expect(h.run("CONFIG SET stream-node-max-entries 7 LAZYFREE-LAZY-USER-DEL YES") == .ok)
        #expect(pairs(h.run("CONFIG GET stream-node-max-entries lazyfree-lazy-user-del"))
            == ["stream-node-max-entries": "7", "lazyfree-lazy-user-del": "yes"])
        // The log is always on: GET reports what the server does.
        #expect(h.run("CONFIG SET appendonly no") == .ok)
        #expect(pairs(h.run("CONFIG GET appendonly")) == ["appendonly": "yes"])
        #expect(h.run("CONFIG SET maxmemory 1mb maxmemory-policy ALLKEYS-LRU") == .ok)
        #expect(h.engine.settings.maxMemoryBytes == 1 << 20)
        #expect(pairs(h.run("CONFIG GET maxmemory*")).filter { $0.key != "maxmemory-clients" && $0.key != "maxmemory-samples" && $0.key != "maxmemory-eviction-tenacity" }
            == ["maxmemory": "1048576", "maxmemory-policy": "allkeys-lru"])
    }

    @Test func objectEncodingFollowsTheLimits() {
        let h = Harness()
        h.run("HSET h f v")
        h.run("SADD ints 1 2 3")
        h.run("SADD words a b")
        h.run("ZADD z 1 a")
        h.run("RPUSH l 1 2 3 4 5")
        #expect(h.run("OBJECT ENCODING h") == .bulk("listpack"))
        #expect(h.run("OBJECT ENCODING ints") == .bulk("intset"))
        #expect(h.run("OBJECT ENCODING words") == .bulk("listpack"))
        #expect(h.run("OBJECT ENCODING z") == .bulk("listpack"))
        #expect(h.run("OBJECT ENCODING l") == .bulk("listpack"))
        h.run("CONFIG SET hash-max-ziplist-entries 0 set-max-intset-entries 2 set-max-listpack-entries 1 zset-max-ziplist-value 0 list-max-ziplist-size 4")
        #expect(h.run("OBJECT ENCODING h") == .bulk("hashtable"))
        #expect(h.run("OBJECT ENCODING ints") == .bulk("hashtable"))
        #expect(h.run("OBJECT ENCODING words") == .bulk("hashtable"))
        #expect(h.run("OBJECT ENCODING z") == .bulk("skiplist"))
        #expect(h.run("OBJECT ENCODING l") == .bulk("quicklist"))
    }

    /// As Redis 7.2's listTypeTryConversion: a list that outgrew one listpack stays a
    /// quicklist until a removal leaves it within half the limit; LSET on a full listpack
    /// converts it (checked as one more element); pushes never convert back
    /// (unit/type/list's "List listpack -> quicklist" and "quicklist -> listpack").
    @Test func aListConvertsBackOnlyAfterShrinkingToHalfTheLimit() {
        let h = Harness()
        h.run("CONFIG SET list-max-listpack-size 4")
        h.run("RPUSH l a b c d e")
        #expect(h.run("OBJECT ENCODING l") == .bulk("quicklist"))
        h.run("RPOP l 2")
        #expect(h.run("OBJECT ENCODING l") == .bulk("quicklist"), "3 elements: over half the limit")
        h.run("LPUSHX l z")
        h.run("RPOP l 2")
        #expect(h.run("OBJECT ENCODING l") == .bulk("listpack"), "2 elements: within half")
        h.run("RPUSH full a b c d")
        #expect(h.run("OBJECT ENCODING full") == .bulk("listpack"))
        h.run("LSET full 0 x")
        #expect(h.run("OBJECT ENCODING full") == .bulk("quicklist"))
        h.run("CONFIG SET list-max-listpack-size -1")
        let large = String(repeating: "v", count: 5000)
        h.run("RPUSH big a b \(large)")
        #expect(h.run("OBJECT ENCODING big") == .bulk("quicklist"))
        h.run("LTRIM big 0 1")
        #expect(h.run("OBJECT ENCODING big") == .bulk("listpack"))
        h.run("RPUSH mid \(String(repeating: "m", count: 3000)) \(String(repeating: "n", count: 1200))")
        #expect(h.run("OBJECT ENCODING mid") == .bulk("quicklist"))
        h.run("RPOP mid")
        #expect(h.run("OBJECT ENCODING mid") == .bulk("quicklist"), "3000 bytes: over half of 4096")
        h.run("LSET mid 0 short")
        #expect(h.run("OBJECT ENCODING mid") == .bulk("listpack"))
    }

    /// The packed-size bounds decide a long list's encoding without measuring each element,
    /// and agree with measuring near the limit (integers pack smaller, strings larger).
    @Test func listEncodingFromPackedSizeMatchesMeasuring() {
        var limits = EncodingLimits()
        for size in [-1, -2, 5, 200] {
            limits.listMaxListpackSize = size
            for (count, element) in [(10, "7"), (600, "12345"), (2000, "-9223372036854775808"), (130, String(repeating: "s", count: 60)),
                                     (40, String(repeating: "t", count: 127)), (3, String(repeating: "u", count: 4100))] {
                for length in [1, count / 2, count, count * 2] {
                    let elements = Array(repeating: Array(element.utf8), count: length)
                    let measured = elements.reduce(EncodingLimits.listpackHeaderBytes) { $0 + EncodingLimits.listpackEntryBytes($1) }
                    #expect(limits.listFitsOneListpack(PackedList(elements)) == limits.listFitsOneListpack(count: length, bytes: measured),
                            "size \(size), \(length) x \(element.prefix(8))")
                }
            }
        }
    }

    /// As Redis 7.2: a set that held a non-integer stays a listpack once it holds only
    /// integers again, and one that outgrew a listpack stays a hash table (unit/type/set's
    /// "SINTER with same integer elements but different encoding"); a new key starts small.
    @Test func aSetKeepsTheEncodingItGrewTo() {
        let h = Harness()
        h.run("SADD ints 1 2 3")
        h.run("SADD mixed 1 2 3 a")
        h.run("SREM mixed a")
        #expect(h.run("OBJECT ENCODING ints") == .bulk("intset"))
        #expect(h.run("OBJECT ENCODING mixed") == .bulk("listpack"))
        h.run("CONFIG SET set-max-listpack-entries 3")
        h.run("SADD big a b c d")
        h.run("SREM big a b")
        h.run("CONFIG SET set-max-listpack-entries 128")
        #expect(h.run("OBJECT ENCODING big") == .bulk("hashtable"))
        h.run("SINTERSTORE copy ints mixed")
        #expect(h.run("OBJECT ENCODING copy") == .bulk("intset"))
        h.run("DEL mixed")
        h.run("SADD mixed 1")
        #expect(h.run("OBJECT ENCODING mixed") == .bulk("intset"))
    }

    @Test func listpackSizesFollowRedisEncoding() {
        #expect(EncodingLimits.listpackEntryBytes(Array("5".utf8)) == 2)
        #expect(EncodingLimits.listpackEntryBytes(Array("1000".utf8)) == 3)
        #expect(EncodingLimits.listpackEntryBytes(Array("hello".utf8)) == 7)
        #expect(EncodingLimits.listpackEntryBytes([UInt8](repeating: 97, count: 100)) == 103)
        var limits = EncodingLimits()
        // -2: one listpack up to 8 KiB.
        #expect(limits.listFitsOneListpack(count: 1000, bytes: 8192))
        #expect(!limits.listFitsOneListpack(count: 1, bytes: 8193))
        limits.listMaxListpackSize = 3
        #expect(limits.listFitsOneListpack(count: 3, bytes: 100))
        #expect(!limits.listFitsOneListpack(count: 4, bytes: 100))
        limits.listMaxListpackSize = -100  // past -5: 64 KiB
        #expect(limits.listFitsOneListpack(count: 1, bytes: 65536))
    }
}

@Suite struct IntrospectionCompatibilityTests {
    @Test func getKeysAndFlagsReportsRedisKeySpecFlags() {
        let h = Harness()
        func keys(_ line: String) -> RESPValue { h.run("COMMAND GETKEYSANDFLAGS " + line) }
        func entry(_ key: String, _ flags: String...) -> RESPValue { .array([.bulk(key), .set(flags.map { .simple($0) })]) }
        #expect(keys("set k1 v1") == .array([entry("k1", "OW", "update")]))
        #expect(keys("set k1 v1 GET") == .array([entry("k1", "RW", "access", "update")]))
        #expect(keys("mset k1 v1 k2 v2") == .array([entry("k1", "OW", "update"), entry("k2", "OW", "update")]))
        #expect(keys("LMOVE k1 k2 left right") == .array([entry("k1", "RW", "access", "delete"), entry("k2", "RW", "insert")]))
        #expect(keys("sort k1 store k2") == .array([entry("k1", "RO", "access"), entry("k2", "OW", "update")]))
        #expect(keys("zunionstore d 2 a b") == .array([entry("d", "OW", "update"), entry("a", "RO", "access"), entry("b", "RO", "access")]))
        #expect(keys("bitfield b GET u8 0") == .array([entry("b", "RO", "access")]))
        #expect(keys("memory usage k") == .array([entry("k", "RO")]))
        #expect(keys("ZINTERSTORE zz 1443677133621497600 asdf") == .error("ERR Invalid arguments specified for command"))
        #expect(keys("ping") == .error("ERR The command has no key arguments"))
        #expect(keys("eval x 0") == .array([]))
        #expect(h.run("COMMAND GETKEYS eval x 0") == .array([]))
        #expect(keys("nosuch a") == .error("ERR Invalid command specified"))
    }

    @Test func streamIDsMinusAndPlusAsRedisParsesThem() {
        let h = Harness()
        #expect(h.run("XREAD STREAMS s +") == .nullArray)
        h.run("XADD s 1-0 a 1")
        h.run("XADD s 2-0 b 2")
        #expect(h.run("XREAD STREAMS s +") == .array([.array([.bulk("s"), .array([.array([.bulk("2-0"), bulks("b", "2")])])])]))
        #expect(h.run("XGROUP CREATE s g -") == .ok)
        #expect(h.run("XREADGROUP GROUP g c STREAMS s >") != .nullArray)
        #expect(h.run("XGROUP SETID s g -") == .ok)
        #expect(h.run("XGROUP SETID s g +") == .ok)
        #expect(h.run("XREADGROUP GROUP g c2 STREAMS s >") == .nullArray)
    }

    @Test func touchCalledByANoTouchClientsScriptRenewsTheAccessTime() {
        let h = Harness()
        h.run("SET k v")
        h.run("CLIENT NO-TOUCH ON")
        h.now += 5_000
        let script = { (body: String) in
            h.engine.execute(["EVAL", body, "1", "k"].map { Array($0.utf8) }, session: h.session, now: h.now).reply
        }
        #expect(script("return redis.call('get', KEYS[1])") == .bulk("v"))
        #expect(h.run("OBJECT IDLETIME k") == .integer(5), "a NO-TOUCH client's script read leaves it")
        #expect(script("return redis.call('touch', KEYS[1])") == .integer(1))
        #expect(h.run("OBJECT IDLETIME k") == .integer(0), "TOUCH renews it, as Redis")
    }

    @Test func objectFreqAndIdletimeFollowThePolicy() {
        let h = Harness()
        h.run("SET k v")
        #expect(h.run("OBJECT IDLETIME k") == .integer(0))
        if case .error(let message) = h.run("OBJECT FREQ k") { #expect(message.hasPrefix("ERR An LFU maxmemory policy is not selected")) } else { Issue.record("FREQ answered") }
        h.run("CONFIG SET maxmemory-policy allkeys-lfu")
        #expect(h.run("OBJECT FREQ k") == .integer(0))
        if case .error(let message) = h.run("OBJECT IDLETIME k") { #expect(message.hasPrefix("ERR An LFU maxmemory policy is selected")) } else { Issue.record("IDLETIME answered") }
    }

    @Test func debugObjectLineAsRedisPrintsIt() {
        let h = Harness()
        h.run("SET n 12")
        let text = h.engine.debugObjectText(Array("n".utf8), database: 0, now: h.now)
        #expect(text?.hasPrefix("Value at:0x7f0000000000 refcount:1 encoding:int serializedlength:") == true)
        #expect(text?.contains(" lru_seconds_idle:0") == true)
        #expect(h.engine.debugObjectText(Array("missing".utf8), database: 0, now: h.now) == nil)
        h.run("CONFIG SET list-max-listpack-size 2")
        h.run("RPUSH l a b c")
        #expect(h.engine.debugObjectText(Array("l".utf8), database: 0, now: h.now)?.contains("encoding:quicklist") == true)
        #expect(h.engine.debugObjectText(Array("l".utf8), database: 0, now: h.now)?.contains(" ql_listpack_max:2 ") == true)
    }
}

@Suite struct BitmapArgumentTests {
    /// Redis 7.2: BITCOUNT and BITPOS check their arguments before looking the key up, and
    /// crossed negative bounds count nothing.
    @Test func argumentsBeforeTheKeyAndCrossedNegativeBounds() {
        let h = Harness()
        #expect(h.run("BITCOUNT missing a b") == .error("ERR value is not an integer or out of range"))
        #expect(h.run("BITCOUNT missing 0") == .error("ERR syntax error"))
        #expect(h.run("BITPOS missing 0 a b") == .error("ERR value is not an integer or out of range"))
        #expect(h.run("BITPOS missing 0 1 hello hello2") == .error("ERR syntax error"))
        h.run("SET str xxxx")
        #expect(h.run("BITCOUNT str -6 -7") == .integer(0))
        #expect(h.run("BITCOUNT str -6 -15 BIT") == .integer(0))
        #expect(h.run("BITCOUNT str -6 -1") == .integer(16))
    }
}

@Suite struct RedisOrderTests {
    /// A set Redis would hold as an intset lists its members in numeric order; any other
    /// set and every small hash in insertion order, as Redis's listpacks.
    @Test func intsetsAreListedInNumericOrderAndSmallHashesInInsertionOrder() {
        let h = Harness()
        h.run("SADD s 3 1 2 10 -5")
        #expect(h.run("SMEMBERS s") == .set(["-5", "1", "2", "3", "10"].map { .bulk($0) }))
        #expect(h.run("SSCAN s 0") == .array([.bulk("0"), bulks("-5", "1", "2", "3", "10")]))
        h.run("SADD w c a b")
        #expect(h.run("SMEMBERS w") == .set(["c", "a", "b"].map { .bulk($0) }))
        h.run("CONFIG SET set-max-intset-entries 2")
        #expect(h.run("SMEMBERS s") == .set(["3", "1", "2", "10", "-5"].map { .bulk($0) }))
        h.run("HSET h f1 1 f2 2 f3 3 f4 4 f5 5 f6 6 f7 7")
        h.run("HDEL h f3")
        h.run("HSET h f3 x")
        #expect(h.run("HKEYS h") == bulks("f1", "f2", "f4", "f5", "f6", "f7", "f3"))
        #expect(h.run("HVALS h") == bulks("1", "2", "4", "5", "6", "7", "x"))
    }
}

@Suite struct SortCompatibilityTests {
    @Test func sortedSetByNosortKeepsRankOrderAndDescReverses() {
        let h = Harness()
        h.run("ZADD z 1 a 5 b 2 c 10 d 3 e")
        #expect(h.run("SORT z BY nosort") == bulks("a", "c", "e", "b", "d"))
        #expect(h.run("SORT z BY nosort DESC") == bulks("d", "b", "e", "c", "a"))
        #expect(h.run("SORT z BY nosort DESC LIMIT 0 1") == bulks("d"))
        // The last STORE is the destination, as Redis's COMMAND GETKEYS reports.
        #expect(h.run("COMMAND GETKEYS sort abc store invalid store stillbad store def") == bulks("abc", "def"))
        #expect(h.run("CLIENT KILL MAXAGE -1") == .error("ERR maxage should be greater than 0"))
    }
}
