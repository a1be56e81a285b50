import Foundation
import Core
import Keyspace
import Testing
import Wire
@testable import Engine


@Suite struct DispatchTests {
    @Test func errorsUseRedisTexts() {
        let h = Harness()
        #expect(h.run("GET") == .error("ERR wrong number of arguments for 'get' command"))
        #expect(h.run("NOPE a b") == .error("ERR unknown command 'NOPE', with args beginning with: 'a' 'b' "))
        h.run("HSET h f v")
        #expect(h.run("GET h") == .error("WRONGTYPE Operation against a key holding the wrong kind of value"))
        #expect(h.run("SET k v EX 0") == .error("ERR invalid expire time in 'set' command"))
        #expect(h.run("SET k v NX XX") == .error("ERR syntax error"))
        #expect(h.run("SET k v KEEPTTL EX 5") == .error("ERR syntax error"))
        #expect(h.run("EXPIRE k 10 NX XX") == .error("ERR NX and XX, GT or LT options at the same time are not compatible"))
        #expect(h.run("SELECT 16") == .error("ERR DB index is out of range"))  // 16 databases, as Redis
        #expect(h.run("SELECT 0") == .ok)
    }

    @Test func commandsAreCaseInsensitive() {
        let h = Harness()
        #expect(h.run("sEt k v") == .ok)
        #expect(h.run("GeT k") == .bulk("v"))
    }

    @Test func setOptions() {
        let h = Harness()
        #expect(h.run("SET k v NX") == .ok)
        #expect(h.run("SET k w NX") == .null)
        #expect(h.run("SET k w XX GET") == .bulk("v"))
        #expect(h.run("SET k x PX 1500") == .ok)
        #expect(h.run("PTTL k") == .integer(1500))
        #expect(h.run("TTL k") == .integer(2))
        #expect(h.run("SET k y KEEPTTL") == .ok)
        #expect(h.run("PTTL k") == .integer(1500))
        h.now += 1500
        #expect(h.run("GET k") == .null)
    }

    @Test func commandGetKeysUsesTheTable() {
        let h = Harness()
        #expect(h.run("COMMAND GETKEYS MSET a 1 b 2") == .array([.bulk("a"), .bulk("b")]))
        #expect(h.run("COMMAND COUNT") == .integer(CommandTable.all.count))
        #expect(h.run("PFSELFTEST") == .ok)
        #expect(h.run("CONFIG REWRITE") == .error("ERR The server is running without a config file"))
        #expect(h.run("MODULE LIST") == .array([]))
        #expect(h.run("REPLICAOF NO ONE") == .ok)
    }

    /// COMMAND LIST names subcommands as `container|sub` and filters as Redis 7 does.
    @Test func commandListNamesSubcommandsAndFilters() {
        let h = Harness()
        func names(_ line: String) -> Set<String> {
            guard case .array(let items) = h.run(line) else { return [] }
            return Set(items.compactMap { if case .bulk(let name) = $0 { return String(decoding: name, as: UTF8.self) } else { return nil } })
        }
        let all = names("COMMAND LIST")
        #expect(all.contains("get") && all.contains("config|get") && all.contains("client|list"))
        #expect(all.count > CommandTable.all.count)
        #expect(names("COMMAND LIST FILTERBY PATTERN CONFIG|*") == ["config|get", "config|set", "config|resetstat", "config|rewrite", "config|help"])
        #expect(names("COMMAND LIST FILTERBY pattern xad?") == ["xadd"])
        #expect(names("COMMAND LIST FILTERBY ACLCAT hyperloglog") == Set(["pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"]).intersection(all))
        #expect(names("COMMAND LIST FILTERBY ACLCAT nosuch").isEmpty)
        #expect(names("COMMAND LIST FILTERBY MODULE json").isEmpty)
        #expect(h.run("COMMAND LIST FILTERBY COLOR red") == CommandError.syntax.reply)
        #expect(h.run("COMMAND LIST FILTERBY PATTERN") == CommandError.syntax.reply)
        #expect(h.run("COMMAND INFO config|get") != .array([.nullArray]))
        #expect(h.run("COMMAND INFO config|nosuch") == .array([.nullArray]))
    }
}

@Suite struct TransactionTests {
    @Test func execRunsQueuedCommandsAndLogsOneRecord() throws {
        let h = Harness()
        #expect(h.run("MULTI") == .ok)
        #expect(h.run("SET a 1") == .queued)
        #expect(h.run("INCR a") == .queued)
        #expect(h.run("GET a") == .queued)
        #expect(h.run("EXEC") == .array([.ok, .integer(2), .bulk("2")]))
        #expect(h.records.count == 1)
        #expect(h.records[0].commands.count == 3)
    }

    @Test func queueingErrorAbortsExec() {
        let h = Harness()
        h.run("MULTI")
        #expect(h.run("GET") == .error("ERR wrong number of arguments for 'get' command"))
        #expect(h.run("EXEC") == .error("EXECABORT Transaction discarded because of previous errors."))
        #expect(h.run("EXEC") == .error("ERR EXEC without MULTI"))
    }

    @Test func watchedKeyChangedByAnotherClientAbortsExec() {
        let h = Harness()
        let other = h.engine.connect(address: "127.0.0.1:2", localAddress: "", now: h.now)
        h.run("SET w 1")
        #expect(h.run("WATCH w") == .ok)
        h.run("SET w 2", on: other)
        h.run("MULTI")
        h.run("SET w 3")
        #expect(h.run("EXEC") == .nullArray)
        #expect(h.run("GET w") == .bulk("2"))
        // After EXEC the watch is gone: a new transaction succeeds.
        h.run("MULTI")
        h.run("SET w 4")
        #expect(h.run("EXEC") == .array([.ok]))
    }

    @Test func watchInsideMultiIsRefused() {
        let h = Harness()
        h.run("MULTI")
        #expect(h.run("WATCH x") == .error("ERR WATCH inside MULTI is not allowed"))
        #expect(h.run("MULTI") == .error("ERR MULTI calls can not be nested"))
        #expect(h.run("DISCARD") == .ok)
    }
}

@Suite struct AuthTests {
    @Test func requirePassword() {
        var settings = Settings()
        settings.requirePassword = "secret"
        let h = Harness(settings: settings)
        #expect(h.run("GET a") == .error("NOAUTH Authentication required."))
        #expect(h.run("AUTH wrong") == .error("WRONGPASS invalid username-password pair or user is disabled."))
        #expect(h.run("AUTH secret") == .ok)
        #expect(h.run("GET a") == .null)
    }

    @Test func authWithoutPasswordConfigured() {
        let h = Harness()
        #expect(h.run("AUTH x") == .error(CommandError.noPasswordConfigured.text))
    }
}

@Suite struct ReplayTests {
    /// Replaying the log records of a random workload on a fresh engine reproduces the state.
    @Test func replayReproducesState() throws {
        let h = Harness()
        var random = SeededRandom(seed: 11)
        let templates = ["SET k%d v%d", "INCR n%d", "APPEND k%d x%d", "HSET h%d f%d 1", "HINCRBY h%d f%d 2",
                         "DEL k%d", "EXPIRE k%d %d", "INCRBYFLOAT f%d 1.5", "SET e%d v PX %d", "RENAME k%d k%d", "GETDEL n%d"]
        for _ in 0..<3000 {
            let template = templates[random.int(in: 0...(templates.count - 1))]
            var line = template
            while let range = line.range(of: "%d") { line.replaceSubrange(range, with: String(random.int(in: 1...20))) }
            if random.chance(0.1) { h.run("MULTI"); h.run(line); h.run("INCR tx"); h.run("EXEC") } else { h.run(line) }
            h.now += Int64(random.int(in: 0...5))
        }
        let replayed = Engine(settings: Settings(), seed: 2, now: 0)
        h.replay(into: replayed)
        let now = h.now
        var original = [Bytes: Entry](), copy = [Bytes: Entry]()
        _ = h.engine.keyspace.scan(cursor: 0, count: Int.max, now: now) { original[$0] = $1 }
        _ = replayed.keyspace.scan(cursor: 0, count: Int.max, now: now) { copy[$0] = $1 }
        #expect(original.count > 10)
        #expect(original == copy)
    }

    @Test func failedWritesAreNotLogged() {
        let h = Harness()
        h.run("SET s abc")
        h.run("INCR s")
        h.run("SET s abc NX")
        h.run("GET s")
        #expect(h.records.count == 1)
    }
}

/// Differences from Redis found by the differential tests, each pinned here.
@Suite struct RedisCompatibilityRegressionTests {
    @Test func failedOrNoOpWritesDoNotAbortWatchersOrGetLogged() {
        let h = Harness()
        h.run("HSET b z abc")
        let logged = h.records.count
        for command in ["HINCRBYFLOAT b z 1e2", "HINCRBY b z 1", "HDEL b nope"] {
            #expect(h.run("WATCH b") == .ok)
            h.run(command)
            h.run("MULTI")
            h.run("PING")
            #expect(h.run("EXEC") == .array([.simple("PONG")]), "after \(command)")
        }
        #expect(h.records.count == logged)
    }

    @Test func rejectedExecInsideMultiAbortsTheTransaction() {
        let h = Harness()
        h.run("MULTI")
        #expect(h.run("EXEC extra") == .error("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"))
        #expect(h.run("DISCARD") == .error("ERR DISCARD without MULTI"))
    }

    @Test func copyOntoItselfAndScanCursorsLikeRedis() {
        let h = Harness()
        h.run("SET a 1")
        #expect(h.run("COPY a a") == .error("ERR source and destination objects are the same"))
        #expect(h.run("SCAN -1") == .array([.bulk("0"), .array([])]))
        #expect(h.run("SCAN 18446744073709551616") == .error("ERR invalid cursor"))
    }

    @Test func incrByFloatChecksTypeFirstAndUsesLongDouble() {
        let h = Harness()
        h.run("HSET h f 1")
        #expect(h.run("INCRBYFLOAT h abc") == .error("WRONGTYPE Operation against a key holding the wrong kind of value"))
        #expect(h.run("INCRBYFLOAT q 0x10") == .bulk("16"))
        h.run("SET f 10.5")
        #expect(h.run("INCRBYFLOAT f 0.1") == .bulk("10.6"))
    }
}
