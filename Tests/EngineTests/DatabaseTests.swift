// Numbered databases: SELECT, MOVE, SWAPDB, COPY ... DB, FLUSHDB/FLUSHALL, INFO keyspace,
// their log entries and the observers that follow the selection.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct DatabaseTests {
    @Test func eachDatabaseHoldsItsOwnKeys() {
        let h = Harness()
        h.run("SET k zero")
        #expect(h.run("SELECT 3") == .ok)
        #expect(h.run("GET k") == .null)
        h.run("SET k three")
        #expect(h.run("DBSIZE") == .integer(1))
        #expect(h.engine.selectedDatabase == 0, "between commands database 0 is selected")
        #expect(h.engine.keyCount(database: 3) == 1)
        #expect(h.run("SELECT 0") == .ok)
        #expect(h.run("GET k") == .bulk("zero"))
        #expect(h.run("SELECT 16") == .error("ERR DB index is out of range"))
        #expect(h.run("SELECT -1") == .error("ERR DB index is out of range"))
        #expect(h.run("SELECT x") == .error("ERR value is not an integer or out of range"))
    }

    @Test func moveCopyAndSwap() {
        let h = Harness()
        h.run("SET k v")
        #expect(h.run("MOVE k 0") == .error("ERR source and destination objects are the same"))
        #expect(h.run("MOVE k 2") == .integer(1))
        #expect(h.run("EXISTS k") == .integer(0))
        h.run("SET k other")
        #expect(h.run("MOVE k 2") == .integer(0))
        #expect(h.run("MOVE nothing 2") == .integer(0))
        #expect(h.run("COPY k c DB 2") == .integer(1))
        #expect(h.run("COPY k c DB 2") == .integer(0))
        #expect(h.run("COPY k k DB 2 REPLACE") == .integer(1))
        #expect(h.run("SWAPDB 0 2") == .ok)
        #expect(h.run("GET k") == .bulk("other"))
        #expect(h.run("GET c") == .bulk("other"))
        #expect(h.run("DBSIZE") == .integer(2))
        h.run("SELECT 2")
        #expect(h.run("GET k") == .bulk("other"))
        #expect(h.run("DBSIZE") == .integer(1))
        #expect(h.run("SWAPDB 0 16") == .error("ERR DB index is out of range"))
        #expect(h.run("SWAPDB x 0") == .error("ERR invalid first DB index"))
    }

    @Test func flushdbEmptiesOneAndFlushallEvery() {
        let h = Harness()
        h.run("SET a 1")
        h.run("SELECT 4")
        h.run("SET b 1")
        h.run("SET c 1 EX 100")
        #expect(h.engine.keyspaceInfoFields().map { "\($0.index):\($0.keys):\($0.expires)" } == ["0:1:0", "4:2:1"])
        #expect(h.run("FLUSHDB") == .ok)
        #expect(h.engine.keyspaceInfoFields().map(\.index) == [0])
        h.run("SET b 1")
        #expect(h.run("FLUSHALL") == .ok)
        #expect(h.engine.databaseImage.keyCount == 0)
    }

    @Test func aClusterNodeHasDatabaseZeroOnly() {
        var settings = Settings()
        settings.clusterEnabled = true
        settings.databases = 1
        let h = Harness(settings: settings)
        h.run("SET k v")
        #expect(h.run("SELECT 0") == .ok)
        #expect(h.run("SELECT 1") == .error("ERR SELECT is not allowed in cluster mode"))
        #expect(h.run("MOVE k 1") == .error("ERR MOVE is not allowed in cluster mode"))
        #expect(h.run("SWAPDB 0 1") == .error("ERR SWAPDB is not allowed in cluster mode"))
        #expect(h.run("COPY k c DB 1") == .error("ERR Copying to another database is not allowed in cluster mode"))
    }

    @Test func notificationsNameTheDatabase() {
        var settings = Settings()
        settings.notifyKeyspaceEvents = KeyspaceEvents(parsing: "KEA")!
        let h = Harness(settings: settings)
        h.run("SELECT 5")
        h.run("SET k v")
        h.run("MOVE k 7")
        let channels = h.engine.keyspaceNotifications.map { String(decoding: $0.channel, as: UTF8.self) + " " + String(decoding: $0.message, as: UTF8.self) }
        #expect(channels == ["__keyspace@5__:k set", "__keyevent@5__:set k", "__keyspace@5__:k move_from", "__keyevent@5__:move_from k",
                             "__keyspace@7__:k move_to", "__keyevent@7__:move_to k"])
    }

    @Test func committedWritesStartInTheirDatabase() {
        let replica = Engine.replica(settings: Settings(), now: 0)
        let set = ["SET", "k", "nine"].map { Array($0.utf8) }
        #expect(replica.applyCommitted(commands: [set], time: 1, transaction: false, watches: [], database: 9) == .ok)
        #expect(replica.keyCount(database: 9) == 1 && replica.keyCount(database: 0) == 0)
        // A SELECT in a transaction moves the commands after it.
        let select = ["SELECT", "3"].map { Array($0.utf8) }
        let zero = ["SET", "k", "zero"].map { Array($0.utf8) }
        let three = ["SET", "k", "three"].map { Array($0.utf8) }
        let reply = replica.applyCommitted(commands: [zero, select, three], time: 2, transaction: true, watches: [], database: 0)
        #expect(reply == .array([.ok, .ok, .ok]))
        #expect(replica.keyCount(database: 0) == 1 && replica.keyCount(database: 3) == 1)
        #expect(replica.selectedDatabase == 0)
        // Watches are checked in the entry's database.
        let digest = replica.watchDigest(Array("k".utf8), database: 9, now: 3)
        #expect(digest != replica.watchDigest(Array("k".utf8), database: 0, now: 3))
        let watched = [WatchedValue(key: Array("k".utf8), digest: digest)]
        #expect(replica.applyCommitted(commands: [set], time: 3, transaction: true, watches: watched, database: 9) == .array([.ok]))
        #expect(replica.applyCommitted(commands: [set], time: 3, transaction: true, watches: watched, database: 3) == .nullArray)
    }

    @Test func expiryIsFoundAndReclaimedPerDatabase() {
        let replica = Engine.replica(settings: Settings(), now: 0)
        for database in [0, 2, 15] {
            let set = ["SET", "t\(database)", "v", "PX", "10"].map { Array($0.utf8) }
            _ = replica.applyCommitted(commands: [set], time: 100, transaction: false, watches: [], database: database)
        }
        let due = replica.dueExpirations(now: 200, limit: 100)
        #expect(due.map(\.database) == [0, 2, 15])
        #expect(due.map { $0.keys.map { String(decoding: $0, as: UTF8.self) } } == [["t0"], ["t2"], ["t15"]])
        for (database, keys) in due { replica.reclaimExpired(keys, database: database, now: 200) }
        #expect(replica.databaseImage.keyCount == 0)
    }

    @Test func aWatchedKeyTouchedInAnotherDatabaseIsTaggedWithIt() {
        let replica = Engine.replica(settings: Settings(), now: 0)
        replica.keyspace.watchedKeys.insert(Array("w".utf8))
        let set = ["SET", "w", "v"].map { Array($0.utf8) }
        _ = replica.applyCommitted(commands: [set], time: 1, transaction: false, watches: [], database: 6)
        #expect(replica.keyspace.touchedWatched.isEmpty)
        #expect(replica.touchedWatchedInDatabases.map(\.database) == [6])
        #expect(replica.keyspace.watchedKeys.contains(Array("w".utf8)), "the observers came back with database 0")
        _ = replica.applyCommitted(commands: [set], time: 2, transaction: false, watches: [], database: 0)
        #expect(replica.keyspace.touchedWatched == [Array("w".utf8)])
    }

    @Test func aTrialPutsEveryDatabaseBack() {
        let replica = Engine.replica(settings: Settings(), now: 0)
        let set = ["SET", "k", "v"].map { Array($0.utf8) }
        _ = replica.applyCommitted(commands: [set], time: 1, transaction: false, watches: [], database: 4)
        let image = replica.databaseImage
        let other = ["SET", "x", "y"].map { Array($0.utf8) }
        _ = replica.applyCommitted(commands: [other], time: 2, transaction: false, watches: [], database: 4)
        _ = replica.applyCommitted(commands: [other], time: 2, transaction: false, watches: [], database: 8)
        replica.databaseImage = image
        #expect(replica.keyCount(database: 4) == 1 && replica.keyCount(database: 8) == 0)
    }
}
