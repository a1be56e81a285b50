// SLOWLOG, LATENCY and per-command histograms: what is kept, trimmed and hidden.
import Core
import Testing
import Wire
@testable import NodeRuntime

@Suite struct DiagnosticsTests {
    func bytes(_ texts: [String]) -> [[UInt8]] { texts.map { Array($0.utf8) } }

    /// Records one request of `words` (looked up as the node does) in `stats`.
    func record(_ stats: inout CommandStats, _ words: String..., reply: RESPValue, microseconds: Int64) {
        stats.record(CommandTable.lookup(Array(words[0].utf8)), request: bytes(words), reply: reply, microseconds: microseconds)
    }

    @Test func statsCountAContainersSubcommandOnItsOwn() {
        func name(_ words: String...) -> String { Node.statsName(CommandTable.lookup(Array(words[0].utf8))!, words.map { Array($0.utf8) }) }
        #expect(name("config", "resetstat") == "config|resetstat")
        #expect(name("CONFIG", "GET", "x") == "config|get")
        #expect(name("config", "nosuch") == "config")
        #expect(name("get", "k") == "get")
        var stats = CommandStats()
        record(&stats, "CLIENT", "ID", reply: .integer(1), microseconds: 3)
        record(&stats, "client", "list", reply: .bulk("x"), microseconds: 3)
        record(&stats, "get", "k", reply: .null, microseconds: 3)
        record(&stats, "nosuchcommand", reply: .error("ERR unknown command"), microseconds: 3)
        guard case .map(let pairs) = stats.histogram(["client"]) else { Issue.record("not a map"); return }
        #expect(pairs.map(\.key) == [.bulk("client|id"), .bulk("client|list")])
        // Plain commands (counted by id) and subcommands (by name) show up side by side.
        #expect(stats.commandFields.map(\.0) == ["cmdstat_client|id", "cmdstat_client|list", "cmdstat_get"])
        #expect(stats.commands["get"]?.calls == 1 && stats.errors["ERR"] == 1)
    }

    @Test func theSlowLogKeepsTheNewestEntriesOverTheThreshold() {
        var log = SlowLog()
        for n in 0..<5 {
            log.record(bytes(["SET", "k\(n)", "v"]), microseconds: Int64(n * 10), unixSeconds: 100, address: "1.2.3.4:5",
                       clientName: "", threshold: 10, lengthMax: 3)
        }
        #expect(log.entries.map(\.microseconds) == [20, 30, 40], "0 µs is under the threshold; the oldest is dropped past 3")
        guard case .array(let newest) = log.reply(count: 1), case .array(let entry) = newest.first else {
            Issue.record("GET 1 is not one entry")
            return
        }
        #expect(entry[0] == .integer(3) && entry[2] == .integer(40) && entry[4] == .bulk("1.2.3.4:5"))
        log.record(bytes(["GET", "k"]), microseconds: 1, unixSeconds: 100, address: "", clientName: "", threshold: -1, lengthMax: 3)
        #expect(log.entries.count == 3, "a negative threshold logs nothing")
        log.record(bytes(["GET", "k"]), microseconds: 1, unixSeconds: 100, address: "", clientName: "", threshold: 0, lengthMax: 0)
        #expect(log.entries.isEmpty, "a zero length keeps nothing")
    }

    @Test func longRequestsAreTrimmedAsRedisTrimsThem() {
        let many = bytes(["SADD", "set"] + (3...33).map(String.init))
        let kept = SlowLog.trimmed(many)
        #expect(kept.count == 32)
        #expect(kept.last == Array("... (2 more arguments)".utf8))
        #expect(kept[30] == Array("31".utf8))
        let long = SlowLog.trimmed(bytes(["SET", String(repeating: "A", count: 129)]))
        #expect(long[1] == Array((String(repeating: "A", count: 128) + "... (1 more bytes)").utf8))
    }

    @Test func passwordsNeverReachTheSlowLog() {
        #expect(SlowLog.redacted(bytes(["AUTH", "user", "secret"])) == bytes(["AUTH", "(redacted)", "(redacted)"]))
        #expect(SlowLog.redacted(bytes(["HELLO", "3", "AUTH", "u", "p", "SETNAME", "x"]))
                == bytes(["HELLO", "3", "AUTH", "(redacted)", "(redacted)", "SETNAME", "x"]))
        #expect(SlowLog.redacted(bytes(["CONFIG", "SET", "hz", "10", "requirepass", "pw"]))
                == bytes(["CONFIG", "SET", "hz", "10", "requirepass", "(redacted)"]))
        // As Redis 7: the user's name too (it may be all a typo reveals of a password).
        #expect(SlowLog.redacted(bytes(["ACL", "SETUSER", "bob", ">pw", "on"])) == bytes(["ACL", "SETUSER", "(redacted)", "(redacted)", "(redacted)"]))
        #expect(SlowLog.redacted(bytes(["MIGRATE", "h", "1", "", "0", "5", "COPY", "AUTH2", "u", "p", "KEYS", "auth", "k"]))
                == bytes(["MIGRATE", "h", "1", "", "0", "5", "COPY", "AUTH2", "(redacted)", "(redacted)", "KEYS", "auth", "k"]))
        #expect(SlowLog.redacted(bytes(["MIGRATE", "h", "1", "k", "0", "5", "AUTH", "pw"])) == bytes(["MIGRATE", "h", "1", "k", "0", "5", "AUTH", "(redacted)"]))
        #expect(SlowLog.redacted(bytes(["MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "u"])) == bytes(["MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "(redacted)"]))
        #expect(SlowLog.redacted(bytes(["HELLO", "3", "AUTH"])) == bytes(["HELLO", "3", "AUTH"]), "a short HELLO does not trap")
    }

    @Test func theLatencyMonitorKeepsTheWorstSamplePerSecond() {
        var monitor = LatencyMonitor()
        monitor.record("command", milliseconds: 5, unixSeconds: 10)
        monitor.record("command", milliseconds: 9, unixSeconds: 10)
        monitor.record("command", milliseconds: 2, unixSeconds: 11)
        #expect(monitor.history("command") == .array([.array([.integer(10), .integer(9)]), .array([.integer(11), .integer(2)])]))
        #expect(monitor.latest == .array([.array([.bulk("command"), .integer(11), .integer(2), .integer(9)])]))
        for second in 0..<200 { monitor.record("fast-command", milliseconds: 1, unixSeconds: Int64(100 + second)) }
        guard case .array(let samples) = monitor.history("fast-command") else { return }
        #expect(samples.count == LatencyMonitor.samplesMax)
        #expect(monitor.reset(["command", "nope", "command"]) == 1)
        #expect(monitor.reset([]) == 1)
        #expect(monitor.latest == .array([]))
    }

    @Test func histogramBucketsArePowersOfTwoAndCumulative() {
        #expect(CommandStats.bucket(of: 0) == 0 && CommandStats.bucket(of: 1) == 0 && CommandStats.bucket(of: 2) == 1)
        #expect(CommandStats.bucket(of: 3) == 2 && CommandStats.bucket(of: 4) == 2 && CommandStats.bucket(of: 5) == 3)
        #expect(CommandStats.bucket(of: .max) == CommandStats.bucketCount - 1)
        var stats = CommandStats()
        for micros: Int64 in [3, 4, 100] { record(&stats, "GET", "k", reply: .null, microseconds: micros) }
        record(&stats, "get", reply: .error("ERR wrong number of arguments for 'get' command"), microseconds: 1)
        let expected: RESPValue = .map([RESPPair(.bulk("get"), .map([
            RESPPair("calls", .integer(3)),
            RESPPair("histogram_usec", .map([RESPPair(.integer(4), .integer(2)), RESPPair(.integer(8), .integer(2)),
                                             RESPPair(.integer(16), .integer(2)), RESPPair(.integer(32), .integer(2)),
                                             RESPPair(.integer(64), .integer(2)), RESPPair(.integer(128), .integer(3))])),
        ]))])
        #expect(stats.histogram(["GET", "nope"]) == expected)
    }

    /// DEBUG RELOAD's options answer as Redis 8's reload (unit/functions' "test debug reload
    /// different options"): NOFLUSH alone fails while function libraries exist.
    @Test func debugReloadOptionsAnswerAsRedis() {
        #expect(Node.debugReload(options: [], holdsFunctions: true) == .ok)
        #expect(Node.debugReload(options: ["noflush"], holdsFunctions: false) == .ok)
        #expect(Node.debugReload(options: ["NOFLUSH"], holdsFunctions: true)
                == .error("ERR Error trying to load the RDB dump, check server logs."))
        #expect(Node.debugReload(options: ["noflush", "merge"], holdsFunctions: true) == .ok)
        #expect(Node.debugReload(options: ["nosave", "noflush", "merge"], holdsFunctions: true) == .ok)
        #expect(Node.debugReload(options: ["bogus"], holdsFunctions: false)
                == .error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."))
    }
}
