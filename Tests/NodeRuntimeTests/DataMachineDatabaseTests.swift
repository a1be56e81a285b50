// A data shard's snapshot carries every numbered database (version 4), and older
// snapshots still load.
import Consensus
import Core
import Engine
import Keyspace
import Testing
import Wire
@testable import NodeRuntime

@Suite struct DataMachineDatabaseTests {
    static func write(_ words: String..., database: Int, request: UInt64) -> [UInt8] {
        ShardCommand.write(tag: RequestTag(origin: NodeID(1), request: request), time: 1000, transaction: false, watches: [],
                           commands: [words.map { Array($0.utf8) }], database: database).encoded()
    }

    @Test func snapshotsCarryEveryDatabase() throws {
        let machine = DataMachine(settings: Settings())
        _ = machine.apply(Self.write("SET", "k", "zero", database: 0, request: 1), index: LogIndex(2), version: .resp2)
        _ = machine.apply(Self.write("SET", "k", "seven", database: 7, request: 2), index: LogIndex(3), version: .resp2)
        _ = machine.apply(Self.write("RPUSH", "l", "a", "b", database: 15, request: 3), index: LogIndex(4), version: .resp2)
        let data = machine.snapshot()
        #expect(data.first == 4)
        let restored = DataMachine(settings: Settings())
        try restored.restore(data)
        #expect(restored.engine.keyCount(database: 0) == 1)
        #expect(restored.engine.keyCount(database: 7) == 1)
        #expect(restored.engine.keyCount(database: 15) == 1)
        #expect(restored.engine.inDatabase(7) { restored.engine.keyspace.peek(Array("k".utf8), now: 0)?.value } == .string(Array("seven".utf8)))
        #expect(restored.snapshot() == data)
        #expect(Node.contentChecksum(restored) == Node.contentChecksum(machine))
        // A replica missing database 7's key would not pass for the same content.
        let partial = DataMachine(settings: Settings())
        _ = partial.apply(Self.write("SET", "k", "zero", database: 0, request: 1), index: LogIndex(2), version: .resp2)
        #expect(Node.contentChecksum(partial) != Node.contentChecksum(machine))
    }

    @Test func aVersionThreeSnapshotStillLoads() throws {
        let machine = DataMachine(settings: Settings())
        _ = machine.apply(Self.write("SET", "k", "zero", database: 0, request: 1), index: LogIndex(2), version: .resp2)
        var data = machine.snapshot()
        // Version 3 had no database section: drop its empty count and relabel.
        data.removeLast(4)
        data[0] = 3
        let restored = DataMachine(settings: Settings())
        try restored.restore(data)
        #expect(restored.engine.keyCount(database: 0) == 1)
        // A truncated database section is an error, never a crash.
        let full = DataMachine(settings: Settings())
        _ = full.apply(Self.write("SET", "k", "nine", database: 9, request: 2), index: LogIndex(2), version: .resp2)
        let bytes = full.snapshot()
        #expect(throws: (any Error).self) { try DataMachine(settings: Settings()).restore(Array(bytes.dropLast(3))) }
    }
}
