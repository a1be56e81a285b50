// Keyspace notifications: the class characters round-trip as Redis prints them, committed
// writes publish Redis's events in Redis's order (new, the command's own, del), commands
// that change nothing publish nothing, scripts and transactions publish their inner
// commands' events, and reclaimed keys publish `expired`.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct KeyspaceNotificationTests {
    static func command(_ line: String) -> [Bytes] { line.split(separator: " ").map { Array($0.utf8) } }

    static func engine(_ classes: String) -> Engine {
        var settings = Settings()
        settings.notifyKeyspaceEvents = KeyspaceEvents(parsing: classes)!
        return Engine.replica(settings: settings, now: 0)
    }

    /// The keyevent channel's events (`event key`) `lines` publish, one transaction per line.
    static func events(_ engine: Engine, _ lines: [String], transaction: Bool = false) -> [String] {
        engine.keyspaceNotifications.removeAll()
        if transaction {
            _ = engine.applyCommitted(commands: lines.map(command), time: 1, transaction: true, watches: [])
        } else {
            for line in lines { _ = engine.applyCommitted(commands: [command(line)], time: 1, transaction: false, watches: []) }
        }
        return engine.keyspaceNotifications.compactMap { notification in
            let channel = String(decoding: notification.channel, as: UTF8.self)
            guard channel.hasPrefix("__keyevent@0__:") else { return nil }
            return "\(channel.dropFirst("__keyevent@0__:".count)) \(String(decoding: notification.message, as: UTF8.self))"
        }
    }

    @Test func classesParseAndPrintAsRedis() {
        #expect(KeyspaceEvents(parsing: "KEA")?.configText == "AKE")
        #expect(KeyspaceEvents(parsing: "Elgn$m")?.configText == "g$lnEm")
        #expect(KeyspaceEvents(parsing: "g$lshzxetd")?.configText == "A")
        #expect(KeyspaceEvents(parsing: "")?.configText == "")
        #expect(KeyspaceEvents(parsing: "Kq") == nil)
        #expect(KeyspaceEvents(parsing: "K")?.publishesAnything == false)
        #expect(KeyspaceEvents(parsing: "Kg")?.publishesAnything == true)
    }

    @Test func eventsFollowRedisOrder() {
        let engine = Self.engine("EAn")
        #expect(Self.events(engine, ["SET s 1 EX 100"]) == ["new s", "set s", "expire s"])
        #expect(Self.events(engine, ["SETNX s 2"]) == [])
        #expect(Self.events(engine, ["RPUSH l a", "LPOP l"]) == ["new l", "rpush l", "lpop l", "del l"])
        #expect(Self.events(engine, ["RPUSH a x", "LMOVE a b LEFT RIGHT"]) == ["new a", "rpush a", "new b", "rpush b", "lpop a", "del a"])
        #expect(Self.events(engine, ["RENAME b c"]) == ["new c", "rename_from b", "rename_to c"])
        #expect(Self.events(engine, ["EXPIRE c -1"]) == ["del c"])
        #expect(Self.events(engine, ["ZADD z INCR 1 incr", "ZMPOP 1 z MAX"]) == ["new z", "zincr z", "zpopmax z", "del z"])
    }

    @Test func consumersCreatedByReadingOrClaimingArePublished() {
        let engine = Self.engine("Et")
        #expect(Self.events(engine, ["XGROUP CREATE s g $ MKSTREAM", "XGROUP CREATECONSUMER s g Bob", "XADD s 1 f v"])
                == ["xgroup-create s", "xgroup-createconsumer s", "xadd s"])
        #expect(Self.events(engine, ["XREADGROUP GROUP g Alice STREAMS s >", "XCLAIM s g Mike 0 1-0 FORCE"])
                == ["xgroup-createconsumer s", "xgroup-createconsumer s"])
        // Consumers that exist already: nothing new to publish.
        #expect(Self.events(engine, ["XREADGROUP GROUP g Alice STREAMS s >", "XAUTOCLAIM s g Bob 0 1-0"]) == [])
        #expect(Self.events(engine, ["XGROUP DELCONSUMER s g Lee", "XGROUP DELCONSUMER s g Bob"]) == ["xgroup-delconsumer s"])
    }

    @Test func transactionsPublishEachCommand() {
        let engine = Self.engine("E$")
        #expect(Self.events(engine, ["SET a 1", "INCR a", "APPEND a x"], transaction: true) == ["set a", "incrby a", "append a"])
    }

    @Test func onlyTheChosenClassesArePublished() {
        let engine = Self.engine("Kl")
        _ = Self.events(engine, ["SET s 1", "RPUSH l a"])
        #expect(engine.keyspaceNotifications == [
            KeyspaceNotification(channel: Array("__keyspace@0__:l".utf8), message: Array("rpush".utf8)),
        ])
    }

    @Test func reclaimedKeysPublishExpired() {
        let engine = Self.engine("Ex")
        _ = engine.applyCommitted(commands: [Self.command("SET t v PX 5")], time: 10, transaction: false, watches: [])
        engine.keyspaceNotifications.removeAll()
        engine.reclaimExpired([Array("t".utf8)], now: 100)
        #expect(engine.keyspaceNotifications == [
            KeyspaceNotification(channel: Array("__keyevent@0__:expired".utf8), message: Array("t".utf8)),
        ])
    }

    @Test func nothingIsJournaledWhileOff() {
        let engine = Engine.replica(settings: Settings(), now: 0)
        _ = engine.applyCommitted(commands: [Self.command("SET a 1")], time: 1, transaction: false, watches: [])
        #expect(engine.keyspaceNotifications.isEmpty)
        #expect(engine.keyspace.changeJournal == nil)
    }
}
