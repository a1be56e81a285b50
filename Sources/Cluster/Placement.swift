// Where replicas should live: a pure function from the cluster map to each shard's target
// replica list. It keeps replicas where they are when it can (every move copies data),
// spreads replicas so node loads differ by at most one, puts a shard's replicas in distinct
// zones when there are enough zones, and orders each list so that preferred leaders are
// spread evenly too (the first replica is the preferred leader).
//
// Invariants of the result: each shard has min(replicationFactor, active nodes) distinct
// active replicas; draining nodes hold none.
import Core

public enum Placement {
    /// Most single-replica moves one planning round makes while balancing.
    static let balancingMovesMax = 4096

    public static func plan(_ map: ClusterMap) -> [ShardInfo] {
        let active = map.activeNodes.map(\.id)
        guard !active.isEmpty else { return map.shards }
        let factor = min(map.replicationFactor, active.count)
        let zones = Dictionary(uniqueKeysWithValues: map.nodes.map { ($0.id, $0.zone) })
        var load = Dictionary(uniqueKeysWithValues: active.map { ($0, 0) })
        var shards = map.shards

        // Keep what can stay.
        for index in shards.indices {
            var kept = shards[index].replicas.filter { load[$0] != nil }
            if kept.count > factor { kept = Array(kept.prefix(factor)) }
            shards[index].replicas = kept
            for id in kept { load[id, default: 0] += 1 }
        }
        // Fill shards that lack replicas from the least loaded nodes, new zones first.
        for index in shards.indices {
            while shards[index].replicas.count < factor {
                let members = shards[index].replicas
                let usedZones = Set(members.map { zones[$0] ?? "" })
                guard let pick = active.filter({ !members.contains($0) }).min(by: { lhs, rhs in
                    rank(lhs, usedZones, zones, load) < rank(rhs, usedZones, zones, load)
                }) else { break }
                shards[index].replicas.append(pick)
                load[pick, default: 0] += 1
            }
        }
        balance(&shards, active: active, zones: zones, load: &load)
        spreadLeaders(&shards, active: active)
        return shards
    }

    private static func rank(_ id: NodeID, _ usedZones: Set<String>, _ zones: [NodeID: String], _ load: [NodeID: Int]) -> (Int, Int, UInt64) {
        let zone = zones[id] ?? ""
        let zonePenalty = (!zone.isEmpty && usedZones.contains(zone)) ? 1 : 0
        return (zonePenalty, load[id] ?? 0, id.rawValue)
    }

    /// Moves one replica at a time from the most to the least loaded node until loads
    /// differ by at most one.
    private static func balance(_ shards: inout [ShardInfo], active: [NodeID], zones: [NodeID: String], load: inout [NodeID: Int]) {
        for _ in 0..<balancingMovesMax {
            guard let heavy = active.max(by: { (load[$0, default: 0], $1.rawValue) < (load[$1, default: 0], $0.rawValue) }),
                  let light = active.min(by: { (load[$0, default: 0], $0.rawValue) < (load[$1, default: 0], $1.rawValue) }),
                  load[heavy, default: 0] - load[light, default: 0] > 1
            else { return }
            let candidates = shards.indices.filter { shards[$0].replicas.contains(heavy) && !shards[$0].replicas.contains(light) }
            // Prefer a shard where the light node's zone is new, then one where the heavy
            // node is not the preferred leader (fewer leadership moves).
            let lightZone = zones[light] ?? ""
            guard let index = candidates.min(by: { lhs, rhs in
                moveRank(shards[lhs], heavy, lightZone, zones) < moveRank(shards[rhs], heavy, lightZone, zones)
            }) else { return }
            if let position = shards[index].replicas.firstIndex(of: heavy) { shards[index].replicas[position] = light }
            load[heavy, default: 0] -= 1
            load[light, default: 0] += 1
        }
    }

    private static func moveRank(_ shard: ShardInfo, _ heavy: NodeID, _ lightZone: String, _ zones: [NodeID: String]) -> (Int, Int, UInt64) {
        let others = shard.replicas.filter { $0 != heavy }.map { zones[$0] ?? "" }
        let zoneClash = (!lightZone.isEmpty && others.contains(lightZone)) ? 1 : 0
        return (zoneClash, shard.replicas.first == heavy ? 1 : 0, shard.id.rawValue)
    }

    /// Orders each shard's replicas so preferred leaders are spread evenly: a shard keeps
    /// its current preferred leader while that node is under its quota.
    private static func spreadLeaders(_ shards: inout [ShardInfo], active: [NodeID]) {
        let quota = (shards.count + active.count - 1) / active.count
        var leaders = Dictionary(uniqueKeysWithValues: active.map { ($0, 0) })
        var unassigned: [Int] = []
        for index in shards.indices {
            guard let first = shards[index].replicas.first else { continue }
            if leaders[first, default: 0] < quota { leaders[first, default: 0] += 1 } else { unassigned.append(index) }
        }
        for index in unassigned {
            let replicas = shards[index].replicas
            guard let pick = replicas.min(by: { (leaders[$0] ?? 0, $0.rawValue) < (leaders[$1] ?? 0, $1.rawValue) }) else { continue }
            leaders[pick, default: 0] += 1
            shards[index].replicas = [pick] + replicas.filter { $0 != pick }
        }
    }

    /// The directory's voters: the current ones that are still active, topped up from the
    /// other active nodes (lowest id first), up to `ClusterMap.directoryVotersMax` and odd.
    public static func directoryVoters(_ map: ClusterMap) -> [NodeID] {
        let active = map.activeNodes.map(\.id)
        var voters = map.directoryVoters.filter { active.contains($0) }
        for id in active where voters.count < ClusterMap.directoryVotersMax && !voters.contains(id) { voters.append(id) }
        if voters.count % 2 == 0, voters.count > 1 { voters.removeLast() }
        return voters.sorted()
    }
}
