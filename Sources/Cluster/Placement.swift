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

    /// Orders each shard's replicas so preferred leaders are spread evenly: every node
    /// leads at least ⌊shards/nodes⌋ shards (at least one while there are as many shards
    /// as nodes) and at most ⌈shards/nodes⌉, whenever the replicas allow it. A greedy
    /// choice can leave a node leading nothing while another leads two (its shards'
    /// other replicas all lead already), so leaders are assigned as a bipartite matching
    /// with augmenting paths, in two rounds (floor, then ceiling). A shard keeps its
    /// current preferred leader whenever that node has room (fewer leadership moves).
    private static func spreadLeaders(_ shards: inout [ShardInfo], active: [NodeID]) {
        guard !active.isEmpty else { return }
        var matching = LeaderMatching(shards: shards, active: Set(active))
        let floor = max(1, shards.count / active.count)
        let ceiling = (shards.count + active.count - 1) / active.count
        for capacity in Set([floor, ceiling]).sorted() { matching.assign(capacity: capacity) }
        for index in shards.indices {
            guard let leader = matching.leaderOf[index] else { continue }
            shards[index].replicas = [leader] + shards[index].replicas.filter { $0 != leader }
        }
    }

    /// Preferred leaders as a capacity-bounded matching of shards to their replicas.
    private struct LeaderMatching {
        let replicas: [[NodeID]]
        let active: Set<NodeID>
        var leaderOf: [Int: NodeID] = [:]
        var led: [NodeID: [Int]] = [:]

        init(shards: [ShardInfo], active: Set<NodeID>) {
            replicas = shards.map(\.replicas)
            self.active = active
        }

        /// Keeps current preferred leaders with room, then finds a leader for every other
        /// shard, moving others' leadership along an augmenting path when needed.
        mutating func assign(capacity: Int) {
            for index in replicas.indices where leaderOf[index] == nil {
                if let first = replicas[index].first, active.contains(first), led[first, default: []].count < capacity { set(index, first) }
            }
            for index in replicas.indices where leaderOf[index] == nil { _ = augment(index, capacity: capacity) }
        }

        /// Candidate leaders of shard `index`: its current preferred leader first, then
        /// the replicas leading the fewest shards.
        private func candidates(_ index: Int) -> [NodeID] {
            let first = replicas[index].first
            return replicas[index].filter { active.contains($0) }.sorted { lhs, rhs in
                (lhs == first ? 0 : 1, led[lhs, default: []].count, lhs.rawValue) < (rhs == first ? 0 : 1, led[rhs, default: []].count, rhs.rawValue)
            }
        }

        /// Finds a leader for shard `index` along the shortest augmenting path (breadth
        /// first: the fewest leadership changes), and applies the path.
        private mutating func augment(_ index: Int, capacity: Int) -> Bool {
            // How each reached node is reached: by moving `shard` to it from `from` (nil:
            // the shard being placed).
            var parent: [NodeID: (shard: Int, from: NodeID?)] = [:]
            var queue: [NodeID] = []
            for node in candidates(index) where parent[node] == nil {
                parent[node] = (index, nil)
                queue.append(node)
            }
            var head = 0
            while head < queue.count {
                let node = queue[head]
                head += 1
                if led[node, default: []].count < capacity {
                    var current = node
                    while let step = parent[current] {
                        set(step.shard, current)
                        guard let from = step.from else { break }
                        current = from
                    }
                    return true
                }
                for other in led[node, default: []].sorted() {
                    for next in candidates(other) where parent[next] == nil {
                        parent[next] = (other, node)
                        queue.append(next)
                    }
                }
            }
            return false
        }

        /// Makes `node` the leader of shard `index` (moving it from its previous leader).
        private mutating func set(_ index: Int, _ node: NodeID) {
            if let previous = leaderOf[index] { led[previous]?.removeAll { $0 == index } }
            leaderOf[index] = node
            led[node, default: []].append(index)
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
