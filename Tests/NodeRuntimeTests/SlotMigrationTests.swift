// A shard's side of moving slots, applied as its log would apply it: the fence refuses
// writes that were proposed before it, an import clears then loads, steps of older moves
// are refused, the hand-off deletes the slots and remembers where they went, and all of
// it survives a snapshot. Then a whole move through the node runtime.
import Cluster
import Core
import Engine
import Foundation
import Keyspace
import Testing
import Wire
@testable import NodeRuntime

@Suite struct SlotMigrationTests {
    static let tag = RequestTag(origin: NodeID(1), request: 1)

    static func write(_ machine: DataMachine, _ words: String...) -> RESPValue? {
        let command = ShardCommand.write(tag: tag, time: 1, transaction: false, watches: [], commands: [words.map { Array($0.utf8) }])
        return machine.apply(command.encoded(), index: LogIndex(1), version: .resp2)?.reply
    }

    static func step(_ machine: DataMachine, _ step: MigrationStep) -> RESPValue? {
        machine.apply(ShardCommand.migrate(tag: tag, step: step).encoded(), index: LogIndex(1), version: .resp2)?.reply
    }

    static func slot(_ key: String) -> UInt16 { HashSlot.of(key: Array(key.utf8)).rawValue }

    @Test func fenceCopyHandOffAndSnapshot() throws {
        let source = DataMachine(settings: Settings())
        let target = DataMachine(settings: Settings())
        let moving = Self.slot("a")
        let range = SlotRange(moving, moving)
        #expect(Self.write(source, "SET", "a", "1") == .ok)
        #expect(Self.write(source, "SET", "b", "2") == .ok)
        #expect(Self.step(source, .fence(move: 5, slots: range, target: ShardID(2))) == .ok)
        // A write to the fenced slot, proposed before the fence, applies after it: refused.
        guard case .error(let refusal)? = Self.write(source, "SET", "a", "lost") else { Issue.record("write not refused"); return }
        #expect(refusal.hasPrefix("TRYAGAIN"))
        #expect(Self.write(source, "SET", "b", "3") == .ok)

        let records = source.engine.keyspace.records(inSlots: moving...moving)
        #expect(records.count == 1)
        // The target had a stale key in the slot: the first batch clears it.
        #expect(Self.write(target, "SET", "{a}stale", "x") == .ok)
        #expect(Self.step(target, .importBatch(move: 5, slots: range, index: 1, count: 2, records: [])) != .ok)
        #expect(Self.step(target, .importBatch(move: 5, slots: range, index: 0, count: 2, records: records)) == .ok)
        #expect(target.migration.incoming?.complete == false)
        #expect(Self.step(target, .importBatch(move: 5, slots: range, index: 1, count: 2, records: [])) == .ok)
        #expect(target.migration.incoming?.complete == true)
        // A copy retried from the start after it completed changes nothing.
        #expect(Self.step(target, .importBatch(move: 5, slots: range, index: 0, count: 2, records: [])) == .ok)
        #expect(target.engine.keyspace.keyCount(inSlots: moving...moving) == 1)
        #expect(Self.write(target, "GET", "a") == .bulk(Array("1".utf8)))

        #expect(Self.step(source, .handOff(move: 5)) == .ok)
        #expect(source.engine.keyspace.keyCount(inSlots: moving...moving) == 0)
        #expect(source.migration.givenAway(moving)?.target == ShardID(2))
        // Steps of an older move are refused.
        guard case .error(let stale)? = Self.step(source, .fence(move: 4, slots: range, target: ShardID(3))) else { Issue.record("stale step applied"); return }
        #expect(stale.contains("stale"))
        // A later move of other slots keeps the record of what was given away.
        let other = Self.slot("b")
        #expect(Self.step(source, .fence(move: 9, slots: SlotRange(other, other), target: ShardID(3))) == .ok)
        #expect(source.migration.refusesWrites(moving))

        let restored = DataMachine(settings: Settings())
        try restored.restore(source.snapshot())
        #expect(restored.migration == source.migration)
        #expect(restored.engine.keyspace.keyCount == source.engine.keyspace.keyCount)
        // Importing the slots back forgets that they were given away.
        #expect(Self.step(restored, .importBatch(move: 12, slots: range, index: 0, count: 1, records: records)) == .ok)
        #expect(restored.migration.givenAway(moving) == nil)
    }

    @Test func aCopyIsReadInBatchesCoveringEachKeyOnce() throws {
        var keyspace = Keyspace()
        for n in 0..<2000 { keyspace.store(Array("k\(n)".utf8), Entry(value: .string(Array(repeating: 7, count: 100)))) }
        let range: ClosedRange<UInt16> = 0...8191
        let expected = keyspace.keyCount(inSlots: range)
        let reader = SlotRecordsReader(keyspace, slots: range)
        keyspace.removeAll(inSlots: 0...16383)  // the copy is unaffected
        var seen: Set<[UInt8]> = []
        var batches = 0
        while true {
            let (records, last) = reader.next(bytesMax: 10_000, recordsMax: 1000)
            batches += 1
            for record in records {
                let (key, _) = try EntryCodec.decode(record)
                #expect(range.contains(HashSlot.of(key: key).rawValue))
                #expect(seen.insert(key).inserted)
            }
            if last { break }
            #expect(!records.isEmpty)
        }
        #expect(seen.count == expected && expected > 500)
        #expect(batches > 5 && reader.recordsRead == expected)
    }

    @Test func theLastBatchSaysHowManyThereWere() {
        let target = DataMachine(settings: Settings())
        let range = SlotRange(0, 16383)
        let unknown = MigrationStep.countUnknown
        #expect(Self.step(target, .importBatch(move: 3, slots: range, index: 0, count: unknown, records: [])) == .ok)
        #expect(Self.step(target, .importBatch(move: 3, slots: range, index: 1, count: unknown, records: [])) == .ok)
        #expect(target.migration.incoming?.complete == false)
        #expect(Self.step(target, .importBatch(move: 3, slots: range, index: 2, count: 3, records: [])) == .ok)
        #expect(target.migration.incoming?.complete == true)
    }

    /// The live copy, then the catch-up: keys changed and deleted during the copy reach
    /// the target, and batches of another copy attempt never mix in.
    @Test func aLiveCopyCatchesUpOnChangesMadeDuringIt() throws {
        let source = DataMachine(settings: Settings())
        let target = DataMachine(settings: Settings())
        let range = SlotRange(0, 16383)
        let all: ClosedRange<UInt16> = 0...16383
        for key in ["a", "b", "c"] { #expect(Self.write(source, "SET", key, "old") == .ok) }
        // The live copy is taken, and changes are recorded from then on.
        source.engine.keyspace.changeTracker = ChangeTracker(slots: all, attempt: 41)
        let copy = source.engine.keyspace.records(inSlots: all)
        #expect(Self.write(source, "SET", "a", "new") == .ok)
        #expect(Self.write(source, "DEL", "b") == .integer(1))
        #expect(Self.write(source, "SET", "d", "born") == .ok)
        let unknown = MigrationStep.countUnknown
        #expect(Self.step(target, .importBatch(move: 8, slots: range, attempt: 41, index: 0, count: unknown, records: copy)) == .ok)
        // Another attempt's batch (an old leader's) is refused, and changes nothing.
        guard case .error(let other)? = Self.step(target, .importBatch(move: 8, slots: range, attempt: 40, index: 1, count: 2, records: [])) else {
            Issue.record("a batch of another copy was taken"); return
        }
        #expect(other.contains("copy 40"))
        #expect(target.migration.incoming?.complete == false)
        #expect(Self.step(source, .fence(move: 8, slots: range, target: ShardID(2))) == .ok)
        let tracker = try #require(source.engine.keyspace.changeTracker)
        #expect(!tracker.overflowed)
        #expect(tracker.keys == Set(["a", "b", "d"].map { Array($0.utf8) }))
        let (records, deleted) = source.engine.keyspace.currentRecords(of: tracker.keys.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(records.count == 2 && deleted == [Array("b".utf8)])
        #expect(Self.step(target, .importBatch(move: 8, slots: range, attempt: 41, index: 1, count: 2, records: records, deleted: deleted)) == .ok)
        #expect(target.migration.incoming?.complete == true)
        #expect(target.engine.keyspace.records(inSlots: all).sorted { $0.lexicographicallyPrecedes($1) }
            == source.engine.keyspace.records(inSlots: all).sorted { $0.lexicographicallyPrecedes($1) })
        // The attempt survives a snapshot (replicas restored from one refuse the same batches).
        let restored = DataMachine(settings: Settings())
        try restored.restore(target.snapshot())
        #expect(restored.migration == target.migration)
    }

    @Test func aChangeTrackerOverflowsInsteadOfGrowingWithoutBound() {
        var keyspace = Keyspace()
        keyspace.changeTracker = ChangeTracker(slots: 0...16383, attempt: 1)
        keyspace.store(Array("x".utf8), Entry(value: .string([1])))
        #expect(keyspace.changeTracker?.keys.count == 1)
        keyspace.removeAll()
        #expect(keyspace.changeTracker?.overflowed == true)
        #expect(keyspace.changeTracker?.keys.isEmpty == true)
        // Only the tracked slots count.
        let slot = HashSlot.of(key: Array("x".utf8)).rawValue
        var narrow = Keyspace()
        narrow.changeTracker = ChangeTracker(slots: slot...slot, attempt: 2)
        narrow.store(Array("x".utf8), Entry(value: .string([1])))
        narrow.store(Array("{other}".utf8), Entry(value: .string([1])))
        #expect(narrow.changeTracker?.keys == [Array("x".utf8)])
    }

    @Test func stepsRoundTripAndMalformedOnesAreErrors() throws {
        let steps: [MigrationStep] = [
            .fence(move: 3, slots: SlotRange(0, 16383), target: ShardID(2)),
            .importBatch(move: 3, slots: SlotRange(5, 5), index: 1, count: 4, records: [[1, 2, 3], []]),
            .importBatch(move: 3, slots: SlotRange(5, 9), attempt: 77, index: 2, count: MigrationStep.countUnknown,
                         records: [[4]], deleted: [[5, 6], []]),
            .handOff(move: 3),
        ]
        for step in steps {
            let command = ShardCommand.migrate(tag: Self.tag, step: step)
            let encoded = command.encoded()
            #expect(try ShardCommand.decode(encoded) == command)
            for length in 0..<encoded.count {
                #expect(throws: ShardCommand.DecodeError.self) { try ShardCommand.decode(Array(encoded.prefix(length))) }
            }
        }
    }

    @Test func aVersionOneSnapshotStillLoads() throws {
        var writer = ByteWriter(capacity: 32)
        writer.write(UInt8(1))
        writer.write(Int64(7))
        writer.write(UInt64(0))
        let machine = DataMachine(settings: Settings())
        try machine.restore(writer.bytes)
        #expect(machine.lastRecordTime == 7)
        #expect(machine.migration.isEmpty)
    }

    @Test func aMoveThroughTheNodeRuntime() throws {
        let harness = NodeScriptHarness()
        _ = harness.run("cluster nodes=3 shards=2 proxy=true")
        _ = harness.run("settle")
        _ = harness.run("open n1 c1")
        func ask(_ request: String) -> String { harness.run("request n1 c1 " + request) + "\n" + harness.run("settle") }
        // "a" hashes to slot 15495, in shard 2 of two: move it and its neighbours to shard 1.
        #expect(ask("SET a 1").contains("reply c1 +OK"))
        #expect(ask("TRESTLE MOVESLOTS 15000 15999 9").contains("shard 9 does not exist"))
        #expect(ask("TRESTLE MOVESLOTS 15000 15999 1").contains("reply c1 +OK"))
        _ = harness.run("settle")
        let status = ask("TRESTLE STATUS")
        #expect(status.contains("s1 slots 0-8191,15000-15999"), "\(status)")
        #expect(status.contains("s2 slots 8192-14999,16000-16383"), "\(status)")
        #expect(!status.contains("slot move "), "\(status)")
        #expect(ask("GET a").contains("reply c1 \"1\""))
        #expect(ask("INCR a").contains("reply c1 :2"))
        let map = try #require(harness.nodes[0].clusterMap)
        #expect(map.moves.isEmpty)
        for node in harness.nodes { #expect(node.keysOutsideOwnedSlots(map).isEmpty) }
    }

    /// Between the hand-off and the flip, the source forwards a client's request to the
    /// target's leader instead of answering -ASK: redis-py cannot follow -ASK to a node
    /// its slot map does not list yet (a new node leading a split-off shard), and failed
    /// a SET while a cluster grew from 3 to 12 nodes (CI, test_cluster_slot_moves.py).
    @Test func aRequestForAHandedOffSlotIsForwardedNotAnsweredWithAsk() throws {
        try Self.requestsInTheHandOffWindow(sameLeader: false)
    }

    /// The same when one node leads both shards: the transport has no link to its own
    /// node, so the "forward" is served there (it was a frame to itself, dropped in
    /// production, and the client got -CLUSTERDOWN).
    @Test func aHandOffToAShardLedByTheSameNodeIsServedThere() throws {
        try Self.requestsInTheHandOffWindow(sameLeader: true)
    }

    /// On 3 nodes and 6 shards, moves slots 15000-15999 (holding "a", slot 15495) from
    /// their shard to another, led by the same node or not; stops between the hand-off
    /// and the flip and sends a GET and a SET of that slot to the source's leader: both
    /// are served, no -ASK, and the write lands in the target.
    static func requestsInTheHandOffWindow(sameLeader: Bool) throws {
        let harness = NodeScriptHarness()
        _ = harness.run("cluster nodes=3 shards=6")
        _ = harness.run("settle")
        let map = try #require(harness.nodes[0].map)
        let from = try #require(map.shardID(forSlot: HashSlot(15495)))
        let leaders = harness.nodes[0].knownLeaders()
        let leader = try #require(leaders[from])
        let to = try #require(leaders.keys.sorted().first { $0 != from && $0 != ClusterMap.directoryShard && (leaders[$0] == leader) == sameLeader })
        let source = Int(leader.rawValue), target = Int(try #require(leaders[to]).rawValue)
        _ = harness.run("open n\(source) c1")
        #expect(harness.run("request n\(source) c1 SET a 1") + harness.run("settle") == "n\(source) reply c1 +OK")
        _ = harness.run("request n\(source) c1 TRESTLE MOVESLOTS 15000 15999 \(to.rawValue)")
        let node = harness.nodes[source - 1]
        let shard = try #require(node.replicas[from])
        func inWindow() -> Bool {
            shard.isLeader && shard.data?.migration.outgoing?.phase == .handedOff && !(node.map?.moves.isEmpty ?? true)
        }
        var rounds = 0
        while !inWindow(), rounds < 5000 {
            if harness.deliverRound() == 0 { _ = harness.run("tick 1") }
            rounds += 1
        }
        try #require(inWindow(), "the move never stopped between hand-off and flip")
        // Requests from the client in the window: forwarded, served by the target.
        _ = harness.run("open n\(source) c2")
        var replies = [harness.run("request n\(source) c2 GET a"), harness.run("request n\(source) c2 SET {a}b 2")]
        for _ in 0..<20 where !replies.joined().contains("reply c2 +OK") {
            harness.output = []
            _ = harness.deliverRound()
            replies += harness.output
        }
        let seen = replies.filter { !$0.isEmpty }.joined(separator: "\n")
        #expect(seen == "n\(source) reply c2 \"1\"\nn\(source) reply c2 +OK", "\(seen)")
        // The forwarded write landed in the target shard, which owns the slot after the flip.
        _ = harness.run("settle")
        _ = harness.run("open n\(target) c3")
        #expect(harness.run("request n\(target) c3 GET {a}b") + harness.run("settle") == "n\(target) reply c3 \"2\"")
    }
}
