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

    /// Up to `count` distinct keys a policy would evict from `database`, drawing `samples`
    /// candidates per victim: any key (`volatileOnly` false), else keys with a TTL, and
    /// with `soonestFirst` the candidate that expires first (volatile-ttl). Trestle keeps
    /// no access times, so the LRU and LFU policies draw at random like the random ones.
    public func evictionCandidates(_ count: Int, database: Int, volatileOnly: Bool, soonestFirst: Bool, samples: Int,
                                   using random: inout SeededRandom) -> [Bytes] {
        inDatabase(database) {
            var chosen: [Bytes] = []
            var seen = Set<Bytes>()
            var attempts = 0
            let attemptsMax = count * max(samples, 1) * 4
            while chosen.count < count, attempts < attemptsMax {
                var best: (key: Bytes, expireAt: Int64)? = nil
                for _ in 0..<max(samples, 1) {
                    attempts += 1
                    let drawn = volatileOnly ? keyspace.randomExpiringEntry(using: &random) : keyspace.randomEntry(using: &random)
                    guard let (key, entry) = drawn, !seen.contains(key) else { continue }
                    let expireAt = entry.expireAt ?? .max
                    if best == nil || (soonestFirst && expireAt < best!.expireAt) { best = (key, expireAt) }
                    if !soonestFirst { break }
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
    /// What a key costs beyond its key and value bytes (dictionary bucket, allocations,
    /// expiry index), as measured: 1M keys with 16-byte values take 208 bytes each.
    public static let keyOverheadBytes = 180

    /// One key's memory, estimated from at most 5 of its elements (constant time, unlike
    /// MEMORY USAGE's estimate, which walks every element).
    public static func sampledBytes(key: Bytes, _ value: Value) -> Int {
        let samples = 5
        func scaled(_ count: Int, _ sample: some Sequence<Int>) -> Int {
            var total = 0, taken = 0
            for bytes in sample.prefix(samples) { total += bytes; taken += 1 }
            return taken == 0 ? 0 : total / taken * count
        }
        var bytes = keyOverheadBytes + key.count
        switch value {
        case .string(let string): bytes += string.count
        case .list(let elements): bytes += elements.count * 8 + (elements.chunkCount <= samples ? elements.packedBytes : elements.count * 16)
        case .set(let members): bytes += scaled(members.count, members.lazy.map { $0.bytes.count + 32 })
        case .hash(let fields): bytes += scaled(fields.count, fields.lazy.map { $0.key.count + $0.value.count + 48 })
        case .zset(let sortedSet): bytes += sortedSet.count * 96
        case .stream(let stream): bytes += scaled(stream.entries.count, stream.entries.lazy.map { $0.fields.reduce(32) { $0 + $1.count + 16 } })
        }
        return bytes
    }

    /// The memory of `database`'s keys, estimated: its key count times the average of
    /// `samples` random keys' `sampledBytes`; and how many keys it has, and with a TTL.
    public func datasetEstimate(database: Int, samples: Int, using random: inout SeededRandom) -> (bytes: Int, keys: Int, volatile: Int) {
        inDatabase(database) {
            let keys = keyspace.keyCount
            guard keys > 0 else { return (0, 0, 0) }
            var total = 0, taken = 0
            for _ in 0..<samples {
                guard let (key, entry) = keyspace.randomEntry(using: &random) else { break }
                total += Self.sampledBytes(key: key, entry.value)
                taken += 1
            }
            let perKey = taken == 0 ? Self.keyOverheadBytes : total / taken
            return (perKey.multipliedReportingOverflow(by: keys).partialValue, keys, keyspace.expiringCount)
        }
    }
}
