// Keys removed under `maxmemory-policy`: the node that leads a shard chooses them
// (NodeRuntime/Node+Eviction.swift) and its log carries the choice, so every replica
// removes the same keys. What a replica does with them is here: delete those still
// present, count them in INFO's evicted_keys, publish `evicted` (class `e`), invalidate
// tracked keys and send Redis replicas a DEL for each, as Redis's evictions do.
import Core
import Keyspace

extension Engine {
    /// Deletes those of `keys` (in `database`) that are present at `now`.
    public func evictKeys(_ keys: [Bytes], database: Int, now: Int64) {
        inDatabase(database) {
            let present = keys.filter { keyspace.peek($0, now: now) != nil || keyspace.storesExpired($0, now: now) }
            guard !present.isEmpty else { return }
            if recordsPropagation {
                for key in present {
                    propagated.append(PropagatedEntry(commands: [PropagatedCommand(database: database, arguments: [Array("DEL".utf8), key])]))
                }
            }
            let journals = journalsChanges
            if journals { keyspace.changeJournal = [] }
            for key in present { _ = keyspace.delete(key, now: now) }
            if journals {
                changedKeys.append(contentsOf: keyspace.changeJournal ?? [])
                keyspace.changeJournal = nil
            }
            stats.evictedKeys += present.count
            for key in present { notify(.evicted, "evicted", key) }
        }
    }

    /// Which of the sampled candidates a policy evicts.
    public enum EvictionOrder: Sendable {
        /// The first drawn (*-random).
        case random
        /// The longest idle (*-lru), by the keys' access fields.
        case leastRecentlyUsed
        /// The lowest access frequency (*-lfu).
        case leastFrequentlyUsed
        /// The one that expires first (volatile-ttl).
        case soonestExpiring
    }

    /// Up to `count` distinct keys a policy would evict from `database`, drawing `samples`
    /// candidates per victim (Redis's maxmemory-samples approximation, without its pool):
    /// any key (`volatileOnly` false), else keys with a TTL, and of the candidates the one
    /// `order` ranks first.
    public func evictionCandidates(_ count: Int, database: Int, volatileOnly: Bool, order: EvictionOrder, samples: Int,
                                   now: Int64, using random: inout SeededRandom) -> [Bytes] {
        inDatabase(database) {
            let access = keyspace.accessSettings
            // Lower ranks go first.
            func rank(_ entry: Entry) -> Int64 {
                switch order {
                case .random: return 0
                case .leastRecentlyUsed: return -entry.access.idleSeconds(now: now)
                case .leastFrequentlyUsed: return Int64(entry.access.frequency(now: now, access))
                case .soonestExpiring: return entry.expireAt ?? .max
                }
            }
            var chosen: [Bytes] = []
            var seen = Set<Bytes>()
            var attempts = 0
            let attemptsMax = count * max(samples, 1) * 4
            while chosen.count < count, attempts < attemptsMax {
                var best: (key: Bytes, rank: Int64)? = nil
                for _ in 0..<max(samples, 1) {
                    attempts += 1
                    let drawn = volatileOnly ? keyspace.randomExpiringEntry(using: &random) : keyspace.randomEntry(using: &random)
                    guard let (key, entry) = drawn, !seen.contains(key) else { continue }
                    let rank = rank(entry)
                    if best.map({ rank < $0.rank }) ?? true { best = (key, rank) }
                    if order == .random { break }
                }
                guard let best else { continue }
                seen.insert(best.key)
                chosen.append(best.key)
            }
            return chosen
        }
    }
}

extension Engine {
    /// What a key costs beyond MEMORY USAGE's estimate of it (dictionary bucket, object
    /// headers, expiry index, allocator rounding), as measured: 1M keys with 16-byte values
    /// take 208 bytes each, where MEMORY USAGE says 82.
    public static let keyOverheadBytes = 124
}
