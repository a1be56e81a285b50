// Per-shard figures and hot spots, gathered from every node: each node reports what the
// shards it leads hold and serve (TRESTLE SHARDSTATS, TRESTLE HOTKEYS LOCAL, between nodes
// only); the node asked combines them (TRESTLE STATUS, TRESTLE HOTKEYS).
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Wire

/// What the leader of a shard reports about it.
public struct ShardStats: Sendable, Equatable {
    public var keys: Int
    /// Estimated (Node.bytesSampleKeys keys sampled).
    public var bytes: Int = 0
    public var opsPerSecond: Double
    /// Where the shard's load is halved (LoadTracker.loadMedianSlot).
    public var loadMedianSlot: UInt16? = nil
}

extension Node {
    /// Slots and keys a hot-spot report lists.
    static let hotspotsListed = 10
    /// How long a report waits for the other nodes' figures: a node down must not hold up
    /// `trestle cluster status` (its shards are then shown without figures).
    static let reportWaitMilliseconds: Int64 = 700

    /// Asks every other node for `request`, hands each answer to `collect`, and calls
    /// `finish` once all answered or the wait is over, whichever comes first.
    func gather(_ request: [String], collect: @escaping (RESPValue) -> Void, finish: @escaping () -> Void) {
        let others = (map?.nodes ?? []).map(\.id).filter { $0 != me }
        guard !others.isEmpty else { return finish() }
        var waiting = others.count
        var finished = false
        let end = {
            guard !finished else { return }
            finished = true
            finish()
        }
        for node in others {
            forward(request.map { Array($0.utf8) }, to: node) { value in
                guard !finished else { return }
                collect(value)
                waiting -= 1
                if waiting == 0 { end() }
            }
        }
        if deferredRoutes.count < Self.deferredRoutesMax {
            deferredRoutes.append(DeferredRoute(due: now() + Self.reportWaitMilliseconds, retry: end))
        }
    }

    /// This node's led shards: [shard id, keys, ops/s as text, bytes, load median slot
    /// or -1] each.
    func localShardStats() -> RESPValue {
        .array(leadShardStats().sorted { $0.key < $1.key }.map { shard, stats in
            .array([.integer(Int64(shard.rawValue)), .integer(Int64(stats.keys)), .bulk(String(format: "%.1f", stats.opsPerSecond)),
                    .integer(Int64(stats.bytes)), .integer(stats.loadMedianSlot.map { Int64($0) } ?? -1)])
        })
    }

    func leadShardStats() -> [ShardID: ShardStats] {
        guard let map else { return [:] }
        var stats: [ShardID: ShardStats] = [:]
        for (shard, replica) in replicas where replica.isLeader {
            guard let data = replica.data, let info = map.shard(shard) else { continue }
            stats[shard] = ShardStats(keys: data.engine.keyspace.keyCount, bytes: data.engine.keyspace.estimatedBytes(sample: Self.bytesSampleKeys),
                                      opsPerSecond: load.rate(of: info.slots), loadMedianSlot: load.loadMedianSlot(of: info.slots))
        }
        return stats
    }

    /// Every node's led shards' figures (a node that does not answer in time is left out).
    func gatherShardStats(_ done: @escaping ([ShardID: ShardStats]) -> Void) {
        var stats = leadShardStats()
        gather(["TRESTLE", "SHARDSTATS"], collect: { value in
            guard case .array(let rows) = value else { return }
            for case .array(let row) in rows where row.count >= 3 {
                guard case .integer(let shard) = row[0], shard > 0, case .integer(let keys) = row[1], case .bulk(let rate) = row[2],
                      let ops = Double(String(decoding: rate, as: UTF8.self)), ops.isFinite else { continue }
                var figures = ShardStats(keys: Int(keys), opsPerSecond: ops)
                if row.count >= 5, case .integer(let bytes) = row[3], case .integer(let median) = row[4] {
                    figures.bytes = Int(bytes)
                    figures.loadMedianSlot = median >= 0 && median < HashSlot.count ? UInt16(median) : nil
                }
                stats[ShardID(UInt64(shard))] = figures
            }
        }, finish: { done(stats) })
    }

    /// [[slot, ops/s]...] and [[key, ops/s]...] of this node's last window.
    func localHotspots() -> RESPValue {
        let slots = load.hottestSlots(Self.hotspotsListed).map { RESPValue.array([.integer(Int64($0.slot)), .bulk(String(format: "%.1f", $0.rate))]) }
        let keys = load.hottestKeys(Self.hotspotsListed).map { RESPValue.array([.bulk($0.key), .bulk(String(format: "%.1f", $0.rate))]) }
        return .array([.array(slots), .array(keys)])
    }

    /// The hottest slots and keys over every node, as text.
    func gatherHotspots(_ done: @escaping (String) -> Void) {
        var slots: [UInt16: Double] = [:]
        var keys: [Bytes: Double] = [:]
        func add(_ value: RESPValue) {
            guard case .array(let parts) = value, parts.count == 2, case .array(let slotRows) = parts[0], case .array(let keyRows) = parts[1] else { return }
            for case .array(let row) in slotRows where row.count == 2 {
                guard case .integer(let slot) = row[0], case .bulk(let rate) = row[1], let ops = Double(String(decoding: rate, as: UTF8.self)),
                      slot >= 0, slot < HashSlot.count else { continue }
                slots[UInt16(slot), default: 0] += ops
            }
            for case .array(let row) in keyRows where row.count == 2 {
                guard case .bulk(let key) = row[0], case .bulk(let rate) = row[1], let ops = Double(String(decoding: rate, as: UTF8.self)) else { continue }
                keys[key, default: 0] += ops
            }
        }
        let render = { [self] in
            var lines = ["hottest slots (requests/s over the last \(load.windowMilliseconds / 1000) s window, at their shard's leader):"]
            for (slot, rate) in slots.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }).prefix(Self.hotspotsListed) {
                let shard = map?.shardID(forSlot: HashSlot(slot)).map { "s\($0.rawValue)" } ?? "?"
                lines.append(String(format: "  slot %d (%@): %.1f", Int(slot), shard, rate))
            }
            lines.append("hottest keys (sampled 1 in \(LoadTracker.sampleEvery); estimated requests/s):")
            for (key, rate) in keys.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key.lexicographicallyPrecedes($1.key)) }).prefix(Self.hotspotsListed) {
                lines.append(String(format: "  %@ (slot %d): %.1f", String(decoding: key, as: UTF8.self), Int(HashSlot.of(key: key).rawValue), rate))
            }
            done(lines.joined(separator: "\n") + "\n")
        }
        add(localHotspots())
        gather(["TRESTLE", "HOTKEYS", "LOCAL"], collect: add, finish: render)
    }

    /// INFO hotspots: this node's busiest slots and sampled keys over the last window.
    func hotspotInfoFields() -> [(String, String)] {
        var fields: [(String, String)] = [("hotspots_window_seconds", String(load.windowMilliseconds / 1000))]
        for (rank, entry) in load.hottestSlots(Self.hotspotsListed).enumerated() {
            let shard = map?.shardID(forSlot: HashSlot(entry.slot)).map { String($0.rawValue) } ?? "?"
            fields.append(("hot_slot_\(rank + 1)", String(format: "slot=%d,shard=%@,ops_per_sec=%.1f", Int(entry.slot), shard, entry.rate)))
        }
        for (rank, entry) in load.hottestKeys(Self.hotspotsListed).enumerated() {
            let key = String(decoding: entry.key, as: UTF8.self).replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "")
            fields.append(("hot_key_\(rank + 1)", String(format: "key=%@,slot=%d,ops_per_sec=%.1f", key, Int(HashSlot.of(key: entry.key).rawValue), entry.rate)))
        }
        return fields
    }
}
