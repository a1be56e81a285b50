// A data shard's part in moving slots, as entries of its own log (so every replica takes
// the same steps at the same index, and a new leader picks up where the old one stopped):
//
//   target: import 0..k-1  the live copy: batch 0 clears the slots, each batch loads
//                          records of a copy the source took while writes went on;
//   source: fence          writes to the slots are refused from here on (reads go on);
//   target: import k..n-1  the catch-up: the keys that changed since the copy was taken
//                          (their records, and the keys deleted); the last batch says how
//                          many there were. A source that lost track of the changes (a new
//                          leader, too many changes) copies the fenced slots whole instead,
//                          starting again at batch 0.
//   source: hand off       the slots' keys are deleted; requests for them are forwarded
//                          to the target's leader (a peer that forwarded one here gets
//                          -ASK) until the directory flips ownership.
//
// Every copy has an attempt number, set by its batch 0: a batch of another attempt is
// refused, so batches of two copies (an old leader's and a new one's) never mix.
// A step for an older move than the newest one the shard took part in is refused: a
// delayed copy must never clear slots that have since changed hands.
import Cluster
import Core
import Engine
import Keyspace
import Wire

enum MigrationStep: Equatable, Sendable {
    case fence(move: UInt64, slots: SlotRange, target: ShardID)
    /// Batch `index` of copy `attempt`. `count` is the number of batches when this is the
    /// last one (index + 1), else `countUnknown`: the source reads its copy a batch at a
    /// time. `deleted` are keys to remove (a catch-up's deletions).
    case importBatch(move: UInt64, slots: SlotRange, attempt: UInt64 = 0, index: UInt32, count: UInt32,
                     records: [[UInt8]], deleted: [Bytes] = [])
    case handOff(move: UInt64)

    /// The `count` of every batch but the last.
    static let countUnknown = UInt32.max

    var move: UInt64 {
        switch self {
        case .fence(let move, _, _), .importBatch(let move, _, _, _, _, _, _), .handOff(let move): return move
        }
    }

    func encode(into writer: inout ByteWriter) {
        switch self {
        case let .fence(move, slots, target):
            writer.write(UInt8(1)); writer.write(move); writer.write(slots.first); writer.write(slots.last); writer.write(target.rawValue)
        case let .importBatch(move, slots, attempt, index, count, records, deleted):
            // Tag 2 (no attempt, no deletions) is still read from older logs.
            writer.write(UInt8(4)); writer.write(move); writer.write(slots.first); writer.write(slots.last)
            writer.write(attempt); writer.write(index); writer.write(count)
            writer.write(UInt32(records.count))
            for record in records { writer.writeBlob(record) }
            writer.write(UInt32(deleted.count))
            for key in deleted { writer.writeBlob(key) }
        case .handOff(let move):
            writer.write(UInt8(3)); writer.write(move)
        }
    }

    static func decode(from reader: inout ByteReader) throws -> MigrationStep {
        func range() throws -> SlotRange {
            let first = try reader.read(UInt16.self)
            let last = try reader.read(UInt16.self)
            guard first <= last, Int(last) < HashSlot.count else { throw ShardCommand.DecodeError(reason: "slot range") }
            return SlotRange(first, last)
        }
        func blobs() throws -> [[UInt8]] {
            let count = Int(try reader.read(UInt32.self))
            guard count <= ShardCommand.itemsMax, count <= reader.remaining / 4 else { throw ShardCommand.DecodeError(reason: "import batch") }
            var items: [[UInt8]] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try reader.readBlob()) }
            return items
        }
        switch try reader.readByte() {
        case 1:
            let move = try reader.read(UInt64.self)
            let slots = try range()
            return .fence(move: move, slots: slots, target: ShardID(try reader.read(UInt64.self)))
        case let tag where tag == 2 || tag == 4:
            let move = try reader.read(UInt64.self)
            let slots = try range()
            let attempt = tag == 4 ? try reader.read(UInt64.self) : 0
            let index = try reader.read(UInt32.self)
            let count = try reader.read(UInt32.self)
            guard index < count else { throw ShardCommand.DecodeError(reason: "import batch") }
            let records = try blobs()
            let deleted = tag == 4 ? try blobs() : []
            return .importBatch(move: move, slots: slots, attempt: attempt, index: index, count: count, records: records, deleted: deleted)
        case 3:
            return .handOff(move: try reader.read(UInt64.self))
        default:
            throw ShardCommand.DecodeError(reason: "unknown migration step")
        }
    }
}

/// What a shard remembers of its newest move: replicated state, kept in its snapshots.
struct MigrationState: Equatable, Sendable {
    enum Phase: UInt8, Sendable { case fenced = 1, handedOff = 2 }
    struct Outgoing: Equatable, Sendable {
        var move: UInt64
        var slots: SlotRange
        var target: ShardID
        var phase: Phase
    }
    struct Incoming: Equatable, Sendable {
        var move: UInt64
        var slots: SlotRange
        var applied: UInt32
        var count: UInt32
        /// The copy whose batches are taken (set by batch 0).
        var attempt: UInt64 = 0
        var complete: Bool { applied == count }
    }

    struct GivenAway: Equatable, Sendable {
        var slots: SlotRange
        var target: ShardID
    }

    /// The newest move this shard took part in; steps of older moves are refused.
    var newestMove: UInt64 = 0
    var outgoing: Outgoing?
    var incoming: Incoming?
    /// Every slot range this shard handed off and has not imported back since: a node
    /// whose cluster map lags may still route such a slot here, and it must not be served
    /// (its keys are gone) nor written (the write would be lost to the new owner).
    var givenAway: [GivenAway] = []

    /// Slots this shard takes no writes for: fenced, or handed off.
    func refusesWrites(_ slot: UInt16) -> Bool {
        if let outgoing, outgoing.slots.contains(slot) { return true }
        return givenAway(slot) != nil
    }

    /// The range holding `slot` that this shard handed off, if any.
    func givenAway(_ slot: UInt16) -> GivenAway? {
        givenAway.first { $0.slots.contains(slot) }
    }

    /// Records that `slots` went to `target` (replacing what is recorded for them).
    mutating func giveAway(_ slots: SlotRange, to target: ShardID) {
        takeBack(slots)
        givenAway.append(GivenAway(slots: slots, target: target))
        givenAway.sort { $0.slots.first < $1.slots.first }
    }

    /// Forgets that `slots` were handed off (they are being imported back).
    mutating func takeBack(_ slots: SlotRange) {
        givenAway = givenAway.flatMap { entry in
            ClusterMap.subtract(slots, from: [entry.slots]).map { GivenAway(slots: $0, target: entry.target) }
        }
    }

    var isEmpty: Bool { self == MigrationState() }

    func encode(into writer: inout ByteWriter) {
        writer.write(newestMove)
        if let outgoing {
            writer.write(UInt8(1)); writer.write(outgoing.move); writer.write(outgoing.slots.first); writer.write(outgoing.slots.last)
            writer.write(outgoing.target.rawValue); writer.write(outgoing.phase.rawValue)
        } else {
            writer.write(UInt8(0))
        }
        if let incoming {
            writer.write(UInt8(1)); writer.write(incoming.move); writer.write(incoming.slots.first); writer.write(incoming.slots.last)
            writer.write(incoming.applied); writer.write(incoming.count)
        } else {
            writer.write(UInt8(0))
        }
        writer.write(UInt32(givenAway.count))
        for entry in givenAway {
            writer.write(entry.slots.first); writer.write(entry.slots.last); writer.write(entry.target.rawValue)
        }
    }

    static func decode(from reader: inout ByteReader) throws -> MigrationState {
        var state = MigrationState()
        state.newestMove = try reader.read(UInt64.self)
        if try reader.readByte() == 1 {
            let move = try reader.read(UInt64.self)
            let slots = SlotRange(try reader.read(UInt16.self), try reader.read(UInt16.self))
            let target = ShardID(try reader.read(UInt64.self))
            guard let phase = Phase(rawValue: try reader.readByte()) else { throw ShardCommand.DecodeError(reason: "migration phase") }
            state.outgoing = Outgoing(move: move, slots: slots, target: target, phase: phase)
        }
        if try reader.readByte() == 1 {
            let move = try reader.read(UInt64.self)
            let slots = SlotRange(try reader.read(UInt16.self), try reader.read(UInt16.self))
            state.incoming = Incoming(move: move, slots: slots, applied: try reader.read(UInt32.self), count: try reader.read(UInt32.self))
        }
        let given = Int(try reader.read(UInt32.self))
        guard given <= HashSlot.count else { throw ShardCommand.DecodeError(reason: "given-away range count") }
        for _ in 0..<given {
            let slots = SlotRange(try reader.read(UInt16.self), try reader.read(UInt16.self))
            state.givenAway.append(GivenAway(slots: slots, target: ShardID(try reader.read(UInt64.self))))
        }
        return state
    }
}

extension DataMachine {
    /// Applies one migration step (identically on every replica) and answers its proposer.
    /// Keys that move are not modified: WATCHes on them are not touched (a transaction on a
    /// handed-off slot is refused anyway, and one that reaches the target compares values).
    func apply(_ step: MigrationStep) -> RESPValue {
        let watched = engine.keyspace.watchedKeys
        engine.keyspace.watchedKeys = []
        defer { engine.keyspace.watchedKeys = watched }
        return applyUnwatched(step)
    }

    private func applyUnwatched(_ step: MigrationStep) -> RESPValue {
        let move = step.move
        guard move >= migration.newestMove else {
            return .error("ERR stale migration step: move \(move) is older than move \(migration.newestMove)")
        }
        switch step {
        case let .fence(move, slots, target):
            if let outgoing = migration.outgoing, outgoing.move == move { return .ok }
            guard move > migration.newestMove else { return .error("ERR move \(move) cannot be fenced here") }
            migration.newestMove = move
            migration.incoming = nil
            migration.outgoing = .init(move: move, slots: slots, target: target, phase: .fenced)
            return .ok
        case let .importBatch(move, slots, attempt, index, count, records, deleted):
            if index == 0 {
                if let incoming = migration.incoming, incoming.move == move, incoming.complete { return .ok }
                migration.newestMove = move
                migration.outgoing = nil
                migration.incoming = .init(move: move, slots: slots, applied: 0, count: count, attempt: attempt)
                migration.takeBack(slots)
                engine.keyspace.removeAll(inSlots: slots.first...slots.last)
            }
            guard var incoming = migration.incoming, incoming.move == move else {
                return .error("ERR import batch \(index) of move \(move) arrived without its first batch")
            }
            if incoming.complete { return .ok }
            guard incoming.attempt == attempt else {
                return .error("ERR import batch \(index) of move \(move) belongs to copy \(attempt), not to copy \(incoming.attempt)")
            }
            guard incoming.applied == index else {
                return .error("ERR import batch \(index) of move \(move) out of order (expected \(incoming.applied))")
            }
            for record in records {
                guard let (key, _) = try? EntryCodec.decode(record), slots.contains(HashSlot.of(key: key).rawValue) else { continue }
                try? engine.keyspace.load(record: record)
            }
            for key in deleted where slots.contains(HashSlot.of(key: key).rawValue) {
                engine.keyspace.removeStored(key)
            }
            incoming.applied += 1
            incoming.count = count  // the last batch says how many there were
            migration.incoming = incoming
            return .ok
        case .handOff(let move):
            guard var outgoing = migration.outgoing, outgoing.move == move else {
                return .error("ERR move \(move) was never fenced here")
            }
            if outgoing.phase == .handedOff { return .ok }
            if !mutations.serveAfterHandOff { engine.keyspace.removeAll(inSlots: outgoing.slots.first...outgoing.slots.last) }
            outgoing.phase = .handedOff
            migration.outgoing = outgoing
            if !mutations.serveAfterHandOff { migration.giveAway(outgoing.slots, to: outgoing.target) }
            return .ok
        }
    }

    /// A write whose keys lie in slots this shard no longer takes writes for is refused
    /// when it applies (it may have been proposed before the fence).
    func refusesWrite(_ commands: [[Bytes]]) -> Bool {
        guard migration.outgoing != nil, !mutations.writesIgnoreFence else { return false }
        for command in commands {
            guard let spec = command.first.flatMap(CommandTable.lookup) else { continue }
            for position in spec.keyPositions(in: command) where migration.refusesWrites(HashSlot.of(key: command[position]).rawValue) {
                return true
            }
        }
        return false
    }
}
