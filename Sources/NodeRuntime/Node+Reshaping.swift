// Automatic splits and merges, decided by the directory leader from every shard leader's
// figures (TRESTLE SHARDSTATS, gathered every `reshapeCheckMilliseconds`):
//
// - a shard splits when it holds more than `splitKeys` keys or about `splitBytes` bytes,
//   or serves more than `splitOpsPerSecond` requests per second over the load window (a
//   hot shard: it splits where its load is halved, so a hot slot range goes to a new
//   shard that placement puts on the least loaded nodes); load splits stop at
//   `loadSplitShardsPerNode` shards per active node, where another shard no longer
//   finds a node of its own;
// - a shard that a split created merges into an adjacent shard when both are small and
//   cold (below `mergeFraction` of every split threshold) and the cluster has more shards
//   than active nodes (after nodes were removed, or once a hot spot cooled down).
//
// One change at a time, only when the cluster is settled (no replica or slot moves
// pending), and only with figures gathered after the last change had a whole load
// window to show its effect.
import Cluster
import Core
import Engine
import Keyspace

/// When shards split and merge on their own (`trestle node --split-keys ...`).
public struct ReshapeThresholds: Sendable, Equatable {
    public var splitKeys = 4_000_000
    /// Estimated from a sample of keys (MEMORY USAGE's estimate).
    public var splitBytes = 1 << 30
    public var splitOpsPerSecond = 25_000.0
    /// Load splits stop at this many shards per active node.
    public var loadSplitShardsPerNode = 4
    /// Two shards merge when each is below this fraction of every split threshold.
    public var mergeFraction = 0.125

    public init() {}
}

extension Node {
    /// How often the directory leader gathers the shards' figures: twice a load window.
    var reshapeCheckMilliseconds: Int64 { load.windowMilliseconds / 2 }
    /// Keys sampled per shard to estimate its bytes.
    static let bytesSampleKeys = 64

    /// On the directory leader: the automatic split or merge to propose now, if any (the
    /// figures are refreshed in the background; nil until fresh ones arrive).
    func autoReshapeCommand(_ map: ClusterMap, now time: Int64) -> DirectoryCommand? {
        guard configuration.autoSplit, map.moves.isEmpty, movesPending == 0, !map.shards.contains(where: { $0.mergeInto != nil }) else {
            reshapeSettledSince = nil
            return nil
        }
        let settledSince = reshapeSettledSince ?? time
        reshapeSettledSince = settledSince
        if !reshapeGathering, time - (reshapeStats?.at ?? 0) >= reshapeCheckMilliseconds {
            reshapeGathering = true
            gatherShardStats { [self] stats in
                reshapeGathering = false
                reshapeStats = (time, stats)
            }
        }
        // Figures count only if gathered a whole load window after the cluster settled.
        guard let (at, stats) = reshapeStats, at - settledSince >= load.windowMilliseconds else { return nil }
        if let (source, hot) = Self.splitCandidate(map, stats: stats, limits: configuration.reshaping) {
            let split = hot ? splitCommand(source, at: stats[source]?.loadMedianSlot) : splitCommand(source)
            guard case .success(let command) = split else { return nil }
            logger.info(hot ? "splitting a hot shard" : "splitting a large shard", metadata: [
                "shard": "\(source.rawValue)", "keys": "\(stats[source]?.keys ?? 0)", "bytes": "\(stats[source]?.bytes ?? 0)",
                "ops_per_sec": "\(Int(stats[source]?.opsPerSecond ?? 0))",
            ])
            reshapeStats = nil
            return command
        }
        if let (source, into) = Self.mergeCandidate(map, stats: stats, limits: configuration.reshaping) {
            logger.info("merging a small, cold shard into its neighbour", metadata: ["shard": "\(source.rawValue)", "into": "\(into.rawValue)"])
            reshapeStats = nil
            return .mergeShard(source: source, into: into)
        }
        return nil
    }

    /// The shard over a split threshold with the most keys (or, when none is too large,
    /// the busiest over the load threshold), and whether it splits for load.
    static func splitCandidate(_ map: ClusterMap, stats: [ShardID: ShardStats], limits: ReshapeThresholds) -> (ShardID, hot: Bool)? {
        guard map.shards.count < ClusterMap.shardsMax else { return nil }
        let splittable = map.shards.filter { shard in shard.slots.reduce(0) { $0 + $1.count } >= 2 && stats[shard.id] != nil }
        let large = splittable.filter { stats[$0.id].map { $0.keys > limits.splitKeys || $0.bytes > limits.splitBytes } ?? false }
        if let largest = large.max(by: { (stats[$0.id]?.keys ?? 0, $1.id.rawValue) < (stats[$1.id]?.keys ?? 0, $0.id.rawValue) }) {
            return (largest.id, false)
        }
        // A load split helps only when the new shard can be led from another node: on one
        // node (the standalone preset, a cluster of one) it adds a move and a Raft group
        // and no capacity.
        guard map.activeNodes.count > 1, map.shards.count < limits.loadSplitShardsPerNode * map.activeNodes.count else { return nil }
        let hot = splittable.filter { (stats[$0.id]?.opsPerSecond ?? 0) > limits.splitOpsPerSecond }
        guard let hottest = hot.max(by: { (stats[$0.id]?.opsPerSecond ?? 0) < (stats[$1.id]?.opsPerSecond ?? 0) }) else { return nil }
        return (hottest.id, true)
    }

    /// A shard created by a split, and an adjacent shard to merge it into, both small and
    /// cold, when there are more shards than active nodes.
    static func mergeCandidate(_ map: ClusterMap, stats: [ShardID: ShardStats], limits: ReshapeThresholds) -> (ShardID, ShardID)? {
        guard map.shards.count > map.activeNodes.count else { return nil }
        func small(_ shard: ShardInfo) -> Bool {
            guard let figures = stats[shard.id] else { return false }
            return Double(figures.keys) < Double(limits.splitKeys) * limits.mergeFraction
                && Double(figures.bytes) < Double(limits.splitBytes) * limits.mergeFraction
                && figures.opsPerSecond < limits.splitOpsPerSecond * limits.mergeFraction
        }
        for shard in map.shards where !shard.genesis.isEmpty && small(shard) {
            let neighbours = map.shards.filter { other in
                other.id != shard.id && small(other) && shard.slots.contains { range in
                    other.slots.contains { $0.last &+ 1 == range.first || range.last &+ 1 == $0.first }
                }
            }
            if let into = neighbours.min(by: { (stats[$0.id]?.keys ?? 0) < (stats[$1.id]?.keys ?? 0) }) { return (shard.id, into.id) }
        }
        return nil
    }
}

extension LoadTracker {
    /// The slot of `slots` at which the last window's requests reach half their total
    /// (nil without requests): where a hot shard splits to halve its load.
    func loadMedianSlot(of slots: [SlotRange]) -> UInt16? {
        var total: UInt64 = 0
        for range in slots { for slot in range.first...range.last { total += UInt64(previous[Int(slot)]) } }
        guard total > 0 else { return nil }
        var running: UInt64 = 0
        for range in slots {
            for slot in range.first...range.last {
                running += UInt64(previous[Int(slot)])
                if running * 2 >= total { return slot }
            }
        }
        return nil
    }
}

extension Keyspace {
    /// The bytes of all keys and values, estimated from up to `sample` keys spread over
    /// the partitions (MEMORY USAGE's per-key estimate times the key count).
    public func estimatedBytes(sample: Int) -> Int {
        guard keyCount > 0 else { return 0 }
        var sampled = 0
        var bytes = 0
        let stride = Swift.max(1, slots.count / Swift.max(1, sample))
        var partition = 0
        while sampled < sample, partition < slots.count {
            if let (key, entry) = slots[partition].first {
                bytes += Engine.estimatedBytes(key: key.bytes, entry.value)
                sampled += 1
            }
            partition += slots[partition].isEmpty ? 1 : stride
        }
        guard sampled > 0 else { return 0 }
        return bytes / sampled * keyCount
    }
}
