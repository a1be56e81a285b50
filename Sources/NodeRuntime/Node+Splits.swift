// Splitting a shard: the directory creates a new shard without slots, with the nodes that
// start its Raft group (its genesis voters), and begins moving half of the source's
// largest slot range to it; the move then runs as any other (Node+SlotMoves.swift).
// Merging one: the directory marks the shard, its leader moves the shard's ranges to the
// other one by one, then removes it; every node drops its replicas of removed shards.
//
// A genesis node starts the new group empty on its own — unless it ever dropped a replica
// of that shard: tombstones are kept on disk (`shard-tombstones` in the data directory), so
// a node that replays the directory's log after a restart never re-creates a group it
// has left (an empty voter could help elect a leader without the shard's data).
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Storage
import Wire

extension Node {
    static let tombstonesFile = "shard-tombstones"

    /// Starts the groups of split shards this node is a genesis voter of and has never
    /// held (called on the timer, between rounds).
    func startGenesisReplicas() {
        guard let map else { return }
        for shard in map.shards where shard.genesis.contains(me) && replicas[shard.id] == nil && tombstones[shard.id] == nil {
            do {
                try start(shard: shard.id, membership: Membership(voters: shard.genesis), data: DataMachine(settings: front.settings).snapshot())
                logger.info("started a split shard's group", metadata: ["shard": "\(shard.id.rawValue)", "voters": "\(shard.genesis.map(\.rawValue))"])
                wantTurn()
            } catch {
                logger.error("cannot start a split shard's group", metadata: ["shard": "\(shard.id.rawValue)", "error": "\(error)"])
            }
        }
    }

    /// TRESTLE SPLIT shard: on the directory leader, splits the shard's largest slot range
    /// in two and moves the upper half to a new shard placed on the least loaded nodes.
    func splitShard(_ text: String, arguments: [Bytes], forwarded: Bool, reply: @escaping ReplySink) {
        guard let id = UInt64(text.hasPrefix("s") ? String(text.dropFirst()) : text), id > 0 else {
            return reply(.error("ERR shard must be a positive integer"))
        }
        viaDirectoryLeader(arguments, forwarded: forwarded, reply: reply) { node in
            switch node.splitCommand(ShardID(id)) {
            case .success(let command): node.proposeDirectory(command, reply: reply)
            case .failure(let refusal): reply(.error("ERR \(refusal.description)"))
            }
        }
    }

    /// The directory command that splits `source`, with the new shard's replicas chosen
    /// by placement: the upper half of its largest slot range moves to the new shard, or,
    /// given the slot `at` which the shard's load is halved, the part of that slot's range
    /// from it upward (from the next slot when it is the range's first).
    func splitCommand(_ source: ShardID, at median: UInt16? = nil) -> Result<DirectoryCommand, DirectoryCommand.Rejection> {
        guard let map, let shard = map.shard(source) else { return .failure(.unknownShard(source)) }
        guard shard.mergeInto == nil, !map.shards.contains(where: { $0.mergeInto == source }) else { return .failure(.merging(source)) }
        let half: SlotRange
        if let median, let range = shard.slots.first(where: { $0.contains(median) }), range.count >= 2 {
            half = SlotRange(median > range.first ? median : median + 1, range.last)
        } else if let range = shard.slots.max(by: { $0.count < $1.count }), range.count >= 2 {
            half = SlotRange(range.first + UInt16(range.count / 2), range.last)
        } else {
            return .failure(.badSlots(shard.slots.first ?? SlotRange(0, 0)))
        }
        let newShard = map.nextShardID
        var planned = map
        planned.shards.append(ShardInfo(id: newShard, slots: [], replicas: []))
        let replicas = Placement.plan(planned).first { $0.id == newShard }?.replicas ?? []
        return .success(.splitShard(source: source, slots: half, newShard: newShard, replicas: replicas))
    }

    // MARK: - Merges

    /// TRESTLE MERGE shard into: marks the shard for merging (answered once committed).
    func mergeShard(_ text: [String], arguments: [Bytes], forwarded: Bool, reply: @escaping ReplySink) {
        let ids = text.map { UInt64($0.hasPrefix("s") ? String($0.dropFirst()) : $0) }
        guard ids.count == 2, let source = ids[0], let into = ids[1], source > 0, into > 0 else {
            return reply(.error("ERR shards must be positive integers: MERGE SHARD INTO"))
        }
        viaDirectoryLeader(arguments, forwarded: forwarded, reply: reply) { node in
            node.proposeDirectory(.mergeShard(source: ShardID(source), into: ShardID(into)), reply: reply)
        }
    }

    /// On the directory leader: the next step of a merge in progress, if one can be taken
    /// now — move a merging shard's first range to its target, or remove it once it owns
    /// nothing.
    func nextMergeStep(_ map: ClusterMap) -> DirectoryCommand? {
        for shard in map.shards {
            guard let into = shard.mergeInto, map.move(involving: shard.id) == nil, map.move(involving: into) == nil else { continue }
            if let range = shard.slots.first { return .beginMove(slots: range, target: into) }
            logger.info("shard merged: removing it", metadata: ["shard": "\(shard.id.rawValue)", "into": "\(into.rawValue)"])
            return .removeShard(shard.id)
        }
        return nil
    }

    /// Drops the replicas of shards the map has removed (merged away). A shard id the map
    /// has never allocated is a shard this node's map does not know yet, not a removed one.
    func dropMergedReplicas() {
        guard let map else { return }
        let allocated = max(map.shardIDHigh, map.shards.map(\.id.rawValue).max() ?? 0)
        for shard in replicas.keys.sorted() where shard.rawValue <= allocated && map.shard(shard) == nil {
            dropReplica(shard, reason: "the shard was merged into another and removed")
        }
    }

    // MARK: - Durable tombstones

    var tombstonesPath: String { joinPath(configuration.directory, Self.tombstonesFile) }

    /// Loads the tombstones of replicas dropped before a restart.
    func loadTombstones() {
        guard let bytes = try? disk.readAll(tombstonesPath) else { return }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ").compactMap { UInt64($0) }
            guard fields.count == 3 else { continue }
            tombstones[ShardID(fields[0])] = Tombstone(term: Term(fields[1]), commit: LogIndex(fields[2]), droppedAt: 0)
        }
    }

    /// Writes every tombstone (a new file renamed over the old one, fsynced).
    func saveTombstones() {
        let text = tombstones.keys.sorted().compactMap { shard in
            tombstones[shard].map { "\(shard.rawValue) \($0.term.rawValue) \($0.commit.rawValue)" }
        }.joined(separator: "\n") + "\n"
        do {
            try disk.replaceFile(tombstonesPath, with: Array(text.utf8))
        } catch {
            logger.error("cannot save the tombstones of dropped replicas", metadata: ["error": "\(error)"])
        }
    }
}
