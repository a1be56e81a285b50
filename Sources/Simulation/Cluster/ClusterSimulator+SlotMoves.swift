// The slot mover: an administrator that, at random moments of the fault phase, moves a
// range of hash slots holding some of the workload's keys to another shard (TRESTLE
// MOVESLOTS on any node) or splits a key's shard in two (TRESTLE SPLIT: a new Raft group
// starts and half the shard's largest range moves to it), while clients run and faults
// strike. Every move the directory
// committed must finish (liveness), and at the end no shard holds a key of a slot the
// final map gives to another (so no key is served by two shards, or by none).
import Cluster
import Core
import NodeRuntime
import Engine
import Keyspace
import Wire

struct SlotMover {
    var node = -1
    var connection: ClientID?
    var command: [Bytes]?
}

extension ClusterSimulator {
    static let moverOwner = -2
    /// Splits stop once a run has this many shards.
    static let shardsMaxInRun = 8

    /// The newest map among the running members.
    var newestMap: ClusterMap? {
        nodes.compactMap { $0.node?.clusterMap }.max { $0.version < $1.version }
    }

    /// Every move the directory committed has finished, in the newest map.
    var movesFinished: Bool {
        guard options.slotMoves > 0 else { return true }
        guard mover.command == nil, let map = newestMap else { return mover.command == nil }
        return map.moves.isEmpty && !map.shards.contains { $0.mergeInto != nil }
    }

    /// Picks a workload key and moves a range of slots around it (within its shard's
    /// range) to a random other shard.
    func beginSlotMove() {
        guard mover.command == nil, let map = newestMap, map.shards.count > 1 else { return }
        let key = faultRandom.int(in: 0...(options.keys - 1))
        let slot = HashSlot.of(key: Array("k\(key)".utf8))
        guard let source = map.shard(forSlot: slot), let range = source.slots.first(where: { $0.contains(slot.rawValue) }) else { return }
        let spread = UInt16(faultRandom.int(in: 0...200))
        let first = max(range.first, slot.rawValue >= spread ? slot.rawValue - spread : 0)
        let last = min(range.last, slot.rawValue &+ spread < slot.rawValue ? UInt16(HashSlot.count - 1) : slot.rawValue + spread)
        if options.splits, map.shards.count > 2, faultRandom.chance(0.2) {
            // Merge the key's shard into another: its ranges move there, then it is removed.
            let others = map.shards.filter { $0.id != source.id }
            let into = others[faultRandom.int(in: 0...(others.count - 1))]
            mover.command = ["TRESTLE", "MERGE", "\(source.id.rawValue)", "\(into.id.rawValue)"].map { Array($0.utf8) }
            return sendMover()
        }
        if options.splits, map.shards.count < Self.shardsMaxInRun, faultRandom.chance(0.4) {
            // Split the key's shard: a new Raft group starts and half its largest range moves there.
            mover.command = ["TRESTLE", "SPLIT", "\(source.id.rawValue)"].map { Array($0.utf8) }
            return sendMover()
        }
        let others = map.shards.filter { $0.id != source.id }
        let target = others[faultRandom.int(in: 0...(others.count - 1))]
        mover.command = ["TRESTLE", "MOVESLOTS", "\(first)", "\(last)", "\(target.id.rawValue)"].map { Array($0.utf8) }
        sendMover()
    }

    func sendMover() {
        guard let command = mover.command else { return }
        let sent = sendAdministrative(command, owner: Self.moverOwner, name: "mover", previous: (mover.node, mover.connection), retry: .moverRetry)
        mover.connection = sent?.connection
        if let sent { mover.node = sent.node }
    }

    /// OK: the move began. A refusal (busy shard, slots that changed owner meanwhile) ends
    /// this attempt; TRYAGAIN and lost replies are retried — a retry of a move that began
    /// already is refused as busy or as owned, which also ends it.
    func moverReceive(connection: ClientID, _ value: RESPValue) {
        guard mover.connection == connection else { return }
        closeConnection(node: mover.node, connection: connection)
        mover.connection = nil
        switch value {
        case .simple("OK"):
            report.slotMovesBegun += 1
            mover.command = nil
        case .error(let text) where text.hasPrefix("ERR") && !text.contains("may or may not"):
            traceLine("mover: \(text); giving up this move")
            mover.command = nil
        default:
            traceLine("mover: \(value); retrying")
            queue.push(.moverRetry, at: now + 300_000)
        }
    }

    /// No shard's most advanced replica holds a key of a slot the final map gives to
    /// another shard. Only members of the final map count, and only its shards: a removed
    /// node, or a merged shard's replica that no member hosts any more, serves nothing.
    func checkSlotOwnership() {
        guard let map = newestMap else { return }
        var newest: [ShardID: (applied: LogIndex, keys: [Bytes], holder: Int)] = [:]
        for slot in nodes {
            guard let node = slot.node, map.node(slot.info.id) != nil else { continue }
            var held: [ShardID: (LogIndex, [Bytes])] = [:]
            for state in node.replicaStates() { held[state.shard] = (state.appliedIndex, []) }
            // A move still pending (one the directory began on its own as the run ended)
            // may have copied some of its slots' keys to its target already.
            for item in node.keysOutsideOwnedSlots(map) {
                if let move = map.move(forSlot: HashSlot.of(key: item.key)), move.target == item.shard { continue }
                held[item.shard]?.1.append(item.key)
            }
            for (shard, (applied, keys)) in held where map.shard(shard) != nil && applied > (newest[shard]?.applied ?? .zero) {
                newest[shard] = (applied, keys, slot.index)
            }
        }
        for shard in newest.keys.sorted() {
            guard let (applied, keys, holder) = newest[shard], let key = keys.first else { continue }
            report.violations.append("shard \(shard.rawValue) (n\(holder + 1), applied \(applied.rawValue)) holds \(keys.count) keys of slots the map gives to other shards, e.g. \(String(decoding: key, as: UTF8.self))")
        }
    }
}
