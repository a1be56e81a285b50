// Changes to the cluster map, as the directory's Raft log carries them. Applying a command
// is a pure function of (map, command); every node applies the same commands in the same
// order and so holds the same map.
import Core

public enum DirectoryCommand: Sendable, Equatable {
    /// A new node joins; placement then moves replicas onto it.
    case addNode(NodeInfo)
    /// Start removing a node: placement moves its replicas elsewhere.
    case drainNode(NodeID)
    /// Forget a drained node that no longer holds replicas.
    case forgetNode(NodeID)
    /// New target replica sets for some shards (placement's decision).
    case setReplicas([ShardID: [NodeID]])
    /// New directory voters.
    case setDirectoryVoters([NodeID])
    /// Create or replace an ACL user (its full ACL file line).
    case putACLUser(name: String, line: String)
    /// Delete ACL users (unknown names are ignored).
    case deleteACLUsers([String])
    /// Start moving `slots` to `target` (the move's id is the map version it begins at).
    case beginMove(slots: SlotRange, target: ShardID)
    /// The source handed the move's slots off: they now belong to its target.
    case finishMove(id: UInt64)
    /// Split `slots` off `source` into a new shard `newShard` (which must be the map's
    /// next id) whose group `replicas` start: the shard is created without slots and a
    /// move of `slots` to it begins, in one step.
    case splitShard(source: ShardID, slots: SlotRange, newShard: ShardID, replicas: [NodeID])
    /// Start merging `source` into `into`: the directory leader then moves the source's
    /// ranges to `into` one by one and removes the source once it owns nothing.
    case mergeShard(source: ShardID, into: ShardID)
    /// Forget a shard that owns no slots and takes part in no move (a merged one).
    case removeShard(ShardID)

    public enum Rejection: Error, Equatable, Sendable, CustomStringConvertible {
        case nodeExists(NodeID)
        case addressInUse(String)
        case unknownNode(NodeID)
        case unknownShard(ShardID)
        case stillHoldsReplicas(NodeID)
        case tooFewNodes(needed: Int, available: Int)
        case tooManyUsers
        case badSlots(SlotRange)
        case slotsSpanShards(SlotRange)
        case alreadyOwned(SlotRange, ShardID)
        case tooManyMoves
        case shardBusy(SlotMove)
        case unknownMove(UInt64)
        case badShardID(ShardID, expected: ShardID)
        case badReplicas
        case tooManyShards
        case merging(ShardID)
        case stillOwnsSlots(ShardID)

        public var description: String {
            switch self {
            case .nodeExists(let id): return "node \(id.rawValue) is already a member"
            case .addressInUse(let address): return "another node already uses \(address)"
            case .unknownNode(let id): return "node \(id.rawValue) is not a member"
            case .unknownShard(let id): return "shard \(id.rawValue) does not exist"
            case .stillHoldsReplicas(let id): return "node \(id.rawValue) still holds replicas"
            case .tooManyUsers: return "the cluster holds \(ClusterMap.aclUsersMax) ACL users already"
            case .badSlots(let range): return "slots \(range) are not a valid range of 0-\(HashSlot.count - 1)"
            case .slotsSpanShards(let range): return "slots \(range) are not all owned by one shard; move each shard's part separately"
            case let .alreadyOwned(range, shard): return "slots \(range) already belong to shard \(shard.rawValue)"
            case .tooManyMoves: return "\(ClusterMap.movesMax) slot moves are pending already"
            case .shardBusy(let move): return "a shard involved is busy with \(move); wait for it to finish"
            case .unknownMove(let id): return "move \(id) is not pending (it finished already or never began)"
            case let .badShardID(id, expected): return "a new shard must get id \(expected.rawValue), not \(id.rawValue)"
            case .badReplicas: return "a new shard needs distinct, active member nodes as replicas"
            case .tooManyShards: return "the cluster has \(ClusterMap.shardsMax) shards already"
            case .merging(let id): return "shard \(id.rawValue) is being merged, or being merged into"
            case .stillOwnsSlots(let id): return "shard \(id.rawValue) still owns slots or takes part in a move"
            case let .tooFewNodes(needed, available):
                return "removing it would leave \(available) active nodes; replication factor needs \(needed)"
            }
        }
    }
}

extension ClusterMap {
    /// Applies `command`; on success the version grows by one. A rejected command changes
    /// nothing (and still consumes no version), identically on every node.
    public mutating func apply(_ command: DirectoryCommand) throws(DirectoryCommand.Rejection) {
        switch command {
        case .addNode(let info):
            guard node(info.id) == nil else { throw .nodeExists(info.id) }
            guard !nodes.contains(where: { $0.host == info.host && ($0.port == info.port || $0.peerPort == info.peerPort) }) else {
                throw .addressInUse("\(info.host):\(info.port)")
            }
            nodes.append(info)
            nodes.sort { $0.id < $1.id }
            if activeNodes.count > shards.count + Int(splitsOwed), splitsOwed < UInt32(Self.shardsMax) { splitsOwed += 1 }
        case .drainNode(let id):
            guard let index = nodes.firstIndex(where: { $0.id == id }) else { throw .unknownNode(id) }
            let remaining = activeNodes.count - (nodes[index].state == .active ? 1 : 0)
            guard remaining >= replicationFactor else { throw .tooFewNodes(needed: replicationFactor, available: remaining) }
            nodes[index].state = .draining
        case .forgetNode(let id):
            guard node(id) != nil else { throw .unknownNode(id) }
            guard !shards.contains(where: { $0.replicas.contains(id) }), !directoryVoters.contains(id) else {
                throw .stillHoldsReplicas(id)
            }
            nodes.removeAll { $0.id == id }
        case .setReplicas(let targets):
            for (shardID, replicas) in targets {
                guard shard(shardID) != nil else { throw .unknownShard(shardID) }
                for id in replicas where node(id) == nil { throw .unknownNode(id) }
            }
            for index in shards.indices {
                if let replicas = targets[shards[index].id] { shards[index].replicas = replicas }
            }
        case .setDirectoryVoters(let voters):
            for id in voters where node(id) == nil { throw .unknownNode(id) }
            directoryVoters = voters.sorted()
        case let .putACLUser(name, line):
            guard aclUsers[name] != nil || aclUsers.count < Self.aclUsersMax else { throw .tooManyUsers }
            aclUsers[name] = line
        case .deleteACLUsers(let names):
            for name in names { aclUsers.removeValue(forKey: name) }
        case let .beginMove(slots, target):
            let source = try validateMove(slots, to: target)
            moves.append(SlotMove(id: version + 1, slots: slots, source: source, target: target))
        case .finishMove(let id):
            guard let move = move(id) else { throw .unknownMove(id) }
            transfer(move.slots, from: move.source, to: move.target)
            moves.removeAll { $0.id == id }
        case let .splitShard(source, slots, newShard, replicas):
            guard newShard == nextShardID else { throw .badShardID(newShard, expected: nextShardID) }
            guard shards.count < Self.shardsMax else { throw .tooManyShards }
            guard !replicas.isEmpty, Set(replicas).count == replicas.count,
                  replicas.allSatisfy({ node($0)?.state == .active }) else { throw .badReplicas }
            var next = self
            var shard = ShardInfo(id: newShard, slots: [], replicas: replicas)
            shard.genesis = replicas
            next.shards.append(shard)
            next.shards.sort { $0.id < $1.id }
            next.rebuildSlotOwners()
            guard try next.validateMove(slots, to: newShard) == source else { throw .slotsSpanShards(slots) }
            next.moves.append(SlotMove(id: version + 1, slots: slots, source: source, target: newShard))
            next.shardIDHigh = newShard.rawValue
            if next.splitsOwed > 0 { next.splitsOwed -= 1 }
            self = next
        case let .mergeShard(source, into):
            guard let from = shard(source) else { throw .unknownShard(source) }
            guard let to = shard(into) else { throw .unknownShard(into) }
            guard source != into else { throw .alreadyOwned(from.slots.first ?? SlotRange(0, 0), into) }
            let targets = Set(shards.compactMap(\.mergeInto))
            guard from.mergeInto == nil, !targets.contains(source) else { throw .merging(source) }
            guard to.mergeInto == nil else { throw .merging(into) }
            if let index = shards.firstIndex(where: { $0.id == source }) { shards[index].mergeInto = into }
        case .removeShard(let id):
            guard let index = shards.firstIndex(where: { $0.id == id }) else { throw .unknownShard(id) }
            guard shards[index].slots.isEmpty, move(involving: id) == nil else { throw .stillOwnsSlots(id) }
            guard shards.count > 1 else { throw .stillOwnsSlots(id) }
            shardIDHigh = max(shardIDHigh, shards.map(\.id.rawValue).max() ?? 0)
            shards.remove(at: index)
            for other in shards.indices where shards[other].mergeInto == id { shards[other].mergeInto = nil }
            rebuildSlotOwners()
        }
        version += 1
    }
}
