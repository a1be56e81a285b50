// A backup dealt into a new cluster's shards: every key lands in the shard owning its slot,
// keys a backed-up shard held outside its own slots are left out, and a backup whose slots
// do not partition the slot space, or whose bytes do not decode, is refused by name.
import Cluster
import Consensus
import Core
import Engine
import Testing
import Wire
@testable import NodeRuntime

@Suite struct RestoreImageTests {
    static func key(_ index: Int) -> [UInt8] { Array("key:\(index)".utf8) }
    static func slot(_ index: Int) -> UInt16 { HashSlot.of(key: key(index)).rawValue }

    /// A shard snapshot holding `key:i` = `value:i` for each index (expiring at 10^12 for odd i).
    static func snapshot(_ indexes: [Int], recordTime: Int64 = 1000) -> [UInt8] {
        let machine = DataMachine(settings: Settings())
        for index in indexes {
            var command: [[UInt8]] = [Array("SET".utf8), key(index), Array("value:\(index)".utf8)]
            if index % 2 == 1 { command += [Array("PXAT".utf8), Array("1000000000000".utf8)] }
            let write = ShardCommand.write(tag: RequestTag(origin: NodeID(1), request: UInt64(index)), time: recordTime,
                                           transaction: false, watches: [], commands: [command])
            _ = machine.apply(write.encoded(), index: LogIndex(UInt64(index) + 2), version: .resp2)
        }
        return machine.snapshot()
    }

    static func contents(_ data: [UInt8]) throws -> [String: (String, Int64?)] {
        let machine = DataMachine(settings: Settings())
        try machine.restore(data)
        var found: [String: (String, Int64?)] = [:]
        for index in 0..<400 {
            guard let entry = machine.engine.keyspace.lookup(key(index), now: 0), case .string(let value) = entry.value else { continue }
            found["key:\(index)"] = (String(decoding: value, as: UTF8.self), entry.expireAt)
        }
        return found
    }

    let low = (0..<400).filter { slot($0) < 8192 }
    let high = (0..<400).filter { slot($0) >= 8192 }

    var image: RestoreImage {
        // The high shard also holds a stray key of a low slot (as a shard does between a
        // slot move's copy and its clean-up): it must not come back.
        RestoreImage(shards: [
            .init(source: "low.data", slots: [SlotRange(0, 8191)], data: Self.snapshot(low)),
            .init(source: "high.data", slots: [SlotRange(8192, 16383)], data: Self.snapshot(high + [low[0]], recordTime: 5000)),
        ])
    }

    @Test func everyKeyLandsInTheNewShardOwningItsSlot() throws {
        #expect(try image.validate() == 401)
        let targets = [
            ShardInfo(id: ShardID(1), slots: [SlotRange(0, 99), SlotRange(16000, 16383)], replicas: [NodeID(1)]),
            ShardInfo(id: ShardID(2), slots: [SlotRange(100, 15999)], replicas: [NodeID(1)]),
        ]
        let dealt = try image.partition(into: targets, settings: Settings())
        var seen = 0
        for target in targets {
            let found = try Self.contents(#require(dealt[target.id]))
            for (name, (value, expireAt)) in found {
                let index = Int(name.dropFirst(4))!
                #expect(target.slots.contains { $0.contains(Self.slot(index)) }, "\(name) in shard \(target.id.rawValue)")
                #expect(value == "value:\(index)")
                #expect(expireAt == (index % 2 == 1 ? 1_000_000_000_000 : nil))
            }
            seen += found.count
        }
        #expect(seen == 400)
        // Time in the new shards starts no earlier than the newest backed-up record.
        let machine = DataMachine(settings: Settings())
        try machine.restore(#require(dealt[ShardID(2)]))
        #expect(machine.lastRecordTime == 5000)
    }

    @Test func numberedDatabasesComeBackOrAreRefusedWhereTheyCannot() throws {
        let machine = DataMachine(settings: Settings())
        for (request, database) in [(1, 0), (2, 3)] {
            let write = ShardCommand.write(tag: RequestTag(origin: NodeID(1), request: UInt64(request)), time: 10, transaction: false,
                                           watches: [], commands: [["SET", "k\(database)", "v"].map { Array($0.utf8) }], database: database)
            _ = machine.apply(write.encoded(), index: LogIndex(UInt64(request) + 1), version: .resp2)
        }
        let backup = RestoreImage(shards: [.init(source: "one.data", slots: [SlotRange(0, 16383)], data: machine.snapshot())])
        #expect(try backup.validate() == 2)
        let server = [ShardInfo(id: ShardID(1), slots: [SlotRange(0, 16383)], replicas: [NodeID(1)])]
        let restored = DataMachine(settings: Settings())
        try restored.restore(#require(try backup.partition(into: server, settings: Settings())[ShardID(1)]))
        #expect(restored.engine.keyCount(database: 0) == 1 && restored.engine.keyCount(database: 3) == 1)
        var cluster = Settings()
        cluster.databases = 1
        #expect(throws: RestoreImage.Invalid.self) { try backup.partition(into: server, settings: cluster) }
    }

    @Test func overlappingOrMissingSlotsAreRefused() {
        var overlapping = image
        overlapping.shards[1].slots = [SlotRange(8000, 16383)]
        #expect(throws: RestoreImage.Invalid.self) { try overlapping.validate() }
        var missing = image
        missing.shards[1].slots = [SlotRange(8192, 16000)]
        do {
            try missing.validate()
            Issue.record("a backup missing slots was accepted")
        } catch {
            #expect(error.description.contains("slot 16001"))
        }
    }

    @Test func bytesThatDoNotDecodeAreRefusedNamingTheirSource() {
        var broken = image
        broken.shards[1].data = Array(broken.shards[1].data.prefix(40))
        do {
            try broken.validate()
            Issue.record("a truncated shard was accepted")
        } catch {
            #expect(error.description.contains("high.data"))
        }
    }
}
