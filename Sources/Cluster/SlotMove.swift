// A batch of hash slots moving from one shard to another. The directory records a move
// when it begins and flips the slots' ownership in one committed step when it finishes;
// in between, the source and target shards fence, copy and hand off the slots through
// their own logs (docs/CLUSTER.md, "Moving slots").
//
// Invariants (checked by `ClusterMap.apply`):
// - a move's slots are one contiguous range, all owned by its source when it begins;
// - a slot is in at most one pending move, and a shard is the source or target of at
//   most one pending move at a time;
// - ownership changes only when a move finishes, so every slot always has one owner.
import Core

public struct SlotMove: Sendable, Equatable, CustomStringConvertible {
    /// Unique in the cluster's life: the map version at which the move began.
    public var id: UInt64
    public var slots: SlotRange
    public var source: ShardID
    public var target: ShardID

    public init(id: UInt64, slots: SlotRange, source: ShardID, target: ShardID) {
        self.id = id
        self.slots = slots
        self.source = source
        self.target = target
    }

    public func involves(_ shard: ShardID) -> Bool { source == shard || target == shard }

    public var description: String { "move \(id): slots \(slots) from shard \(source.rawValue) to shard \(target.rawValue)" }
}

extension ClusterMap {
    /// Most moves pending at once.
    public static let movesMax = 64

    /// The pending move that includes `slot`, if any.
    public func move(forSlot slot: HashSlot) -> SlotMove? {
        moves.first { $0.slots.contains(slot.rawValue) }
    }

    /// The pending move `shard` takes part in, if any.
    public func move(involving shard: ShardID) -> SlotMove? {
        moves.first { $0.involves(shard) }
    }

    public func move(_ id: UInt64) -> SlotMove? { moves.first { $0.id == id } }

    /// Checks that `slots` may begin moving to `target`; returns the source shard.
    func validateMove(_ slots: SlotRange, to target: ShardID) throws(DirectoryCommand.Rejection) -> ShardID {
        guard slots.first <= slots.last, Int(slots.last) < HashSlot.count else { throw .badSlots(slots) }
        guard shard(target) != nil else { throw .unknownShard(target) }
        guard let source = shardID(forSlot: HashSlot(slots.first)),
              (slots.first...slots.last).allSatisfy({ shardID(forSlot: HashSlot($0)) == source }) else {
            throw .slotsSpanShards(slots)
        }
        guard source != target else { throw .alreadyOwned(slots, target) }
        guard moves.count < Self.movesMax else { throw .tooManyMoves }
        if let busy = move(involving: source) ?? move(involving: target) { throw .shardBusy(busy) }
        return source
    }

    /// Removes `range` from the source's slots and adds it to the target's, merging
    /// adjacent ranges.
    mutating func transfer(_ range: SlotRange, from source: ShardID, to target: ShardID) {
        for index in shards.indices {
            if shards[index].id == source {
                shards[index].slots = Self.subtract(range, from: shards[index].slots)
            } else if shards[index].id == target {
                shards[index].slots = Self.merge(shards[index].slots + [range])
            }
        }
        rebuildSlotOwners()
    }

    public static func subtract(_ range: SlotRange, from ranges: [SlotRange]) -> [SlotRange] {
        var result: [SlotRange] = []
        for existing in ranges {
            if existing.last < range.first || existing.first > range.last {
                result.append(existing)
                continue
            }
            if existing.first < range.first { result.append(SlotRange(existing.first, range.first - 1)) }
            if existing.last > range.last { result.append(SlotRange(range.last + 1, existing.last)) }
        }
        return result
    }

    public static func merge(_ ranges: [SlotRange]) -> [SlotRange] {
        var result: [SlotRange] = []
        for range in ranges.sorted(by: { $0.first < $1.first }) {
            if let last = result.last, Int(last.last) + 1 >= Int(range.first) {
                result[result.count - 1].last = max(last.last, range.last)
            } else {
                result.append(range)
            }
        }
        return result
    }
}
