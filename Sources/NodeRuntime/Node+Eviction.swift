// maxmemory-policy: past `maxmemory`, the leader of each shard this node hosts chooses
// keys to evict at each timer tick and proposes them as one log entry, so every replica
// removes the same keys (Engine+Eviction.swift applies it). Writes go on meanwhile, as
// Redis's do while it evicts; -OOM comes only when the policy finds nothing to evict
// (volatile-* with no key holding a TTL), or under `noeviction`.
//
// What an evicting policy compares with `maxmemory` is an estimate of the data's memory
// (Keyspace.estimatedBytes, MEMORY USAGE's estimate of sampled keys times the key count,
// plus Engine.keyOverheadBytes per key), not the process's
// resident memory: freed keys leave holes the allocator keeps, so resident memory hardly
// drops when keys go, and evicting until it did would empty the cache. `noeviction` keeps
// comparing resident memory (INFO used_memory). Of 5 sampled candidates per victim, the
// LRU policies take the longest idle and the LFU ones the least frequently used (by the
// access fields this leader keeps, AccessClock.swift), volatile-ttl the one that expires
// first; the random ones take the first drawn.
import Core
import Engine
import Keyspace

extension Node {
    /// Most keys one shard evicts per tick (10 ticks a second at the default `hz`).
    static let evictionKeysPerTickMax = 1_000
    /// Keys sampled per database and tick for the estimate.
    static let evictionEstimateSamples = 16
    /// Candidates drawn per victim (Redis's `maxmemory-samples` default).
    static let evictionSamples = 5

    /// The policy's rule, nil under `noeviction`.
    var evictionRule: (volatileOnly: Bool, order: Engine.EvictionOrder)? {
        switch front.settings.maxMemoryPolicy {
        case "allkeys-lru": return (false, .leastRecentlyUsed)
        case "allkeys-lfu": return (false, .leastFrequentlyUsed)
        case "allkeys-random": return (false, .random)
        case "volatile-lru": return (true, .leastRecentlyUsed)
        case "volatile-lfu": return (true, .leastFrequentlyUsed)
        case "volatile-random": return (true, .random)
        case "volatile-ttl": return (true, .soonestExpiring)
        default: return nil
        }
    }

    /// Past `maxmemory` under an evicting policy: each shard this node leads proposes to
    /// evict, from its largest databases first, about as many keys as the estimate is over
    /// (at most `evictionKeysPerTickMax`), unless its previous eviction is not applied yet.
    func evictIfNeeded(now time: Int64) {
        let limit = front.settings.maxMemoryBytes
        guard limit > 0, let rule = evictionRule else {
            datasetEstimate = (0, 0)
            return
        }
        var shards: [(replica: Replica, data: DataMachine, databases: [(index: Int, bytes: Int, keys: Int, volatile: Int)])] = []
        var total = 0, evictable = 0
        for replica in allReplicas {
            guard let data = replica.data else { continue }
            var databases: [(index: Int, bytes: Int, keys: Int, volatile: Int)] = []
            for field in data.engine.keyspaceInfoFields() {
                let estimate = data.engine.inDatabase(field.index) { () -> (bytes: Int, keys: Int, volatile: Int) in
                    let keyspace = data.engine.keyspace
                    let bytes = keyspace.estimatedBytes(sample: Self.evictionEstimateSamples)
                        .addingReportingOverflow(keyspace.keyCount.multipliedReportingOverflow(by: Engine.keyOverheadBytes).partialValue)
                    return (bytes.partialValue, keyspace.keyCount, keyspace.expiringCount)
                }
                databases.append((field.index, estimate.bytes, estimate.keys, estimate.volatile))
                total = total.addingReportingOverflow(estimate.bytes).partialValue
                evictable += rule.volatileOnly ? estimate.volatile : estimate.keys
            }
            shards.append((replica, data, databases))
        }
        datasetEstimate = (total, evictable)
        guard total > limit else { return }
        var excess = total - limit
        for (replica, data, databases) in shards where replica.isLeader && excess > 0 {
            if let pending = evictionsProposed[replica.shard], replica.raft.appliedIndex < pending { continue }
            var budget = Self.evictionKeysPerTickMax
            for database in databases.sorted(by: { $0.bytes > $1.bytes }) where excess > 0 && budget > 0 {
                let available = rule.volatileOnly ? database.volatile : database.keys
                guard available > 0 else { continue }
                let perKey = max(1, database.bytes / database.keys)
                let wanted = min(budget, available, excess / perKey + 1)
                let victims = data.engine.evictionCandidates(wanted, database: database.index, volatileOnly: rule.volatileOnly,
                                                             order: rule.order, samples: Self.evictionSamples,
                                                             now: max(time, data.lastRecordTime), using: &random)
                guard !victims.isEmpty else { continue }
                let stamp = max(time, data.lastRecordTime, replica.lastStampedTime)
                replica.lastStampedTime = stamp
                guard let index = try? replica.raft.propose(ShardCommand.evict(time: stamp, keys: victims, database: database.index).encoded()) else {
                    break
                }
                evictionsProposed[replica.shard] = index
                budget -= victims.count
                excess -= victims.count * perKey
            }
        }
    }
}
