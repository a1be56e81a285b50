// CLUSTER subcommands in Redis Cluster's reply formats, node-wide commands (DBSIZE, KEYS,
// SCAN, RANDOMKEY, FLUSHALL over the shards this node leads, as a Redis Cluster master
// answers for its own slots), and TRESTLE administration.
//
// Mapping onto Redis Cluster's model: a shard's Raft leader is the "master" of the shard's
// slots and its other voters are its "replicas". A Trestle node usually leads some shards
// and follows others, so CLUSTER NODES lists every node as a master of the slots it leads.
import Cluster
import Consensus
import Core
import Engine
import Foundation
import Keyspace
import Wire

extension Node {
    /// Redis Cluster node ids are 40 hex characters.
    static func nodeName(_ id: NodeID) -> String {
        let hex = String(id.rawValue, radix: 16)
        return String(repeating: "0", count: 40 - hex.count) + hex
    }

    func clusterCommand(_ arguments: [Bytes], session: Session) -> RESPValue {
        let sub = String(decoding: arguments[1], as: UTF8.self).lowercased()
        switch (sub, arguments.count) {
        case ("myid", 2): return .bulk(Self.nodeName(me))
        case ("info", 2): return .verbatim(format: "txt", text: clusterInfo())
        case ("slots", 2): return clusterSlots()
        case ("shards", 2): return clusterShards()
        case ("nodes", 2): return .verbatim(format: "txt", text: clusterNodes())
        case ("keyslot", 3): return .integer(Int64(HashSlot.of(key: arguments[2]).rawValue))
        case ("countkeysinslot", 3):
            guard let slot = Self.slot(arguments[2]) else { return .error("ERR Invalid slot") }
            return .integer(localEngine(for: slot)?.keyspace.keyCount(inSlot: slot) ?? 0)
        case ("getkeysinslot", 4):
            guard let slot = Self.slot(arguments[2]) else { return .error("ERR Invalid slot") }
            guard let count = Int(String(decoding: arguments[3], as: UTF8.self)), count >= 0 else {
                return .error("ERR Invalid number of keys")
            }
            guard let engine = localEngine(for: slot) else { return .array([]) }
            let time = now()
            let keys = engine.keyspace.slots[Int(slot.rawValue)].keys.lazy.map(\.bytes)
                .filter { engine.keyspace.peek($0, now: time) != nil }.prefix(count)
            return .array(keys.sorted { $0.lexicographicallyPrecedes($1) }.map(RESPValue.bulk))
        case ("help", 2):
            return .array(["CLUSTER INFO", "CLUSTER MYID", "CLUSTER SLOTS", "CLUSTER SHARDS", "CLUSTER NODES",
                           "CLUSTER KEYSLOT <key>", "CLUSTER COUNTKEYSINSLOT <slot>", "CLUSTER GETKEYSINSLOT <slot> <count>"].map { .simple($0) })
        default:
            return .error("ERR unknown subcommand or wrong number of arguments for '\(sub)'. Try CLUSTER HELP.")
        }
    }

    static func slot(_ bytes: Bytes) -> HashSlot? {
        guard let value = Int(String(decoding: bytes, as: UTF8.self)), value >= 0, value < HashSlot.count else { return nil }
        return HashSlot(UInt16(value))
    }

    /// The engine of the local replica holding `slot`, if this node hosts one.
    private func localEngine(for slot: HashSlot) -> Engine? {
        guard let shard = map?.shardID(forSlot: slot) else { return nil }
        return replicas[shard]?.data?.engine
    }

    /// Shards whose leader is known (locally or by fresh gossip).
    private var shardsWithLeader: Int { map?.shards.filter { leader(of: $0.id) != .none }.count ?? 0 }

    /// Shards whose actual membership differs from the directory's target.
    public var movesPending: Int {
        guard let map else { return 0 }
        return map.shards.filter { shard in
            let actual = membership(of: shard.id)
            return Set(actual.voters) != Set(shard.replicas) || !actual.learners.isEmpty
        }.count
    }

    func clusterInfo() -> String {
        guard let map else {
            return "cluster_enabled:1\r\ncluster_state:fail\r\ncluster_slots_assigned:0\r\ncluster_known_nodes:1\r\ncluster_size:0\r\n"
        }
        let served = map.shards.filter { leader(of: $0.id) != .none }
        let slotsOK = served.reduce(0) { $0 + $1.slots.reduce(0) { $0 + $1.count } }
        let leaders = Set(served.map { leader(of: $0.id) })
        var lines = [
            "cluster_enabled:1",
            "cluster_state:\(served.count == map.shards.count ? "ok" : "fail")",
            "cluster_slots_assigned:\(HashSlot.count)",
            "cluster_slots_ok:\(slotsOK)",
            "cluster_slots_pfail:0",
            "cluster_slots_fail:\(HashSlot.count - slotsOK)",
            "cluster_known_nodes:\(map.nodes.count)",
            "cluster_size:\(leaders.count)",
            "cluster_current_epoch:\(map.version)",
            "cluster_my_epoch:\(map.version)",
            "trestle_node_id:\(me.rawValue)",
            "trestle_shards:\(map.shards.count)",
            "trestle_replication_factor:\(map.replicationFactor)",
            "trestle_shards_led_here:\(replicas.values.filter(\.isLeader).count)",
            "trestle_replicas_here:\(replicas.count)",
            "trestle_moves_pending:\(movesPending)",
            "trestle_slot_moves_pending:\(map.moves.count)",
            "trestle_map_version:\(map.version)",
            "trestle_directory_leader:\(leader(of: ClusterMap.directoryShard).rawValue)",
        ]
        lines.append("")
        return lines.joined(separator: "\r\n")
    }

    /// The leader first (or, with none known, the preferred replica), then the other voters.
    private func servingNodes(_ shard: ShardInfo) -> [NodeInfo] {
        guard let map else { return [] }
        let leader = leader(of: shard.id)
        let voters = membership(of: shard.id).voters
        let first = leader != .none ? leader : (shard.replicas.first ?? .none)
        let ordered = [first] + voters.filter { $0 != first }
        return ordered.compactMap { map.node($0) }
    }

    private func clusterSlots() -> RESPValue {
        guard let map else { return .array([]) }
        var entries: [RESPValue] = []
        for shard in map.shards {
            let nodes = servingNodes(shard).map { node -> RESPValue in
                .array([.bulk(node.host), .integer(node.port), .bulk(Self.nodeName(node.id)), .map([])])
            }
            guard !nodes.isEmpty else { continue }
            for range in shard.slots {
                entries.append(.array([.integer(Int(range.first)), .integer(Int(range.last))] + nodes))
            }
        }
        return .array(entries)
    }

    private func clusterShards() -> RESPValue {
        guard let map else { return .array([]) }
        return .array(map.shards.map { shard in
            let leader = leader(of: shard.id)
            let slots = shard.slots.flatMap { [RESPValue.integer(Int($0.first)), .integer(Int($0.last))] }
            let nodes = servingNodes(shard).map { node -> RESPValue in
                .map([RESPPair("id", .bulk(Self.nodeName(node.id))), RESPPair("port", .integer(node.port)),
                      RESPPair("ip", .bulk(node.host)), RESPPair("endpoint", .bulk(node.host)),
                      RESPPair("role", .bulk(node.id == leader ? "master" : "replica")),
                      RESPPair("replication-offset", .integer(0)),
                      RESPPair("health", .bulk(leader == .none ? "loading" : "online"))])
            }
            return .map([RESPPair("slots", .array(slots)), RESPPair("nodes", .array(nodes))])
        })
    }

    private func clusterNodes() -> String {
        guard let map else { return "" }
        var ledRanges: [NodeID: [String]] = [:]
        for shard in map.shards {
            let leader = leader(of: shard.id)
            guard leader != .none else { continue }
            ledRanges[leader, default: []].append(contentsOf: shard.slots.map(\.description))
        }
        var lines: [String] = []
        for node in map.nodes {
            let flags = node.id == me ? "myself,master" : "master"
            let linked = node.id == me || connectedPeers.contains(node.id)
            var line = "\(Self.nodeName(node.id)) \(node.host):\(node.port)@\(node.peerPort) \(flags) - 0 0 \(map.version) \(linked ? "connected" : "disconnected")"
            for range in ledRanges[node.id] ?? [] { line += " \(range)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Node-wide commands

    private var ledEngines: [Engine] {
        replicas.keys.sorted().compactMap { replicas[$0] }.filter(\.isLeader).compactMap { $0.data?.engine }
    }

    func nodeWideRead(_ id: CommandID, _ arguments: [Bytes], session: Session) -> RESPValue {
        let time = now()
        switch id {
        case .dbsize:
            return .integer(ledEngines.reduce(0) { $0 + $1.keyCount(database: session.database) })
        case .keys:
            var keys: [RESPValue] = []
            for engine in ledEngines {
                if case .array(let found) = engine.executeRead(arguments, session: session, now: time) { keys += found }
            }
            return .array(keys)
        case .randomkey:
            for engine in ledEngines where engine.keyCount(database: session.database) > 0 {
                let key = engine.executeRead(arguments, session: session, now: time)
                if key != .null { return key }
            }
            // As Redis while CLIENT PAUSE holds expiry: expired keys stay, and RANDOMKEY
            // answers one of them rather than nothing.
            if clientPause != nil,
               let met = ledEngines.lazy.compactMap({ $0.peekScanMetExpired(database: session.database).first }).first {
                return .bulk(met)
            }
            return .null
        default:
            return scan(arguments, session: session, now: time)
        }
    }

    /// SCAN over the slots this node leads; the cursor is a slot number.
    private func scan(_ arguments: [Bytes], session: Session, now time: Int64) -> RESPValue {
        guard let map else { return .array([.bulk("0"), .array([])]) }
        // The cursor and options are checked as a single engine's SCAN checks them.
        guard let start = ScanOptions.cursor(arguments[1]) else { return .error("ERR invalid cursor") }
        if let error = ScanOptions.validate(arguments, from: 2, allowType: true) { return error }
        var cursor = Int(min(start, UInt64(HashSlot.count)))
        var found: [RESPValue] = []
        let wanted = Self.scanCount(arguments)
        while cursor < HashSlot.count, found.count < wanted {
            guard let shard = map.shard(forSlot: HashSlot(UInt16(cursor))),
                  let range = shard.slots.first(where: { $0.contains(UInt16(cursor)) }) else { break }
            let end = Int(range.last) + 1
            guard let engine = replicas[shard.id].flatMap({ $0.isLeader ? $0.data?.engine : nil }) else { cursor = end; continue }
            var request = arguments
            request[1] = Array(String(cursor).utf8)
            guard case .array(let reply) = engine.executeRead(request, session: session, now: time), reply.count == 2,
                  case .bulk(let nextBytes) = reply[0], case .array(let keys) = reply[1] else { return engine.executeRead(request, session: session, now: time) }
            found += keys
            let next = Int(String(decoding: nextBytes, as: UTF8.self)) ?? 0
            cursor = (next == 0 || next >= end) ? end : next
        }
        return .array([.bulk(String(cursor >= HashSlot.count ? 0 : cursor)), .array(found)])
    }

    static func scanCount(_ arguments: [Bytes]) -> Int {
        var index = 2
        var count = 10
        while index + 1 < arguments.count {
            if String(decoding: arguments[index], as: UTF8.self).lowercased() == "count", let value = Int(String(decoding: arguments[index + 1], as: UTF8.self)) {
                count = max(1, value)
            }
            index += 2
        }
        return count
    }

    /// FLUSHALL / FLUSHDB [ASYNC|SYNC] (`arguments`, checked): flushes every shard this node
    /// leads, through each shard's log (FLUSHDB only the client's database).
    func flushLedShards(_ id: CommandID, _ arguments: [Bytes], session: Session, reply: @escaping ReplySink) {
        let led = replicas.keys.sorted().compactMap { replicas[$0] }.filter(\.isLeader)
        guard !led.isEmpty else { return reply(.ok) }
        var remaining = led.count
        var failure: RESPValue? = nil
        for replica in led {
            proposeWrite(replica, commands: [[Array((id == .flushdb ? "FLUSHDB" : "FLUSHALL").utf8)] + arguments.dropFirst()],
                         transaction: false, watches: [],
                         database: session.database) { value in
                if value.isError, failure == nil { failure = value }
                remaining -= 1
                if remaining == 0 { reply(failure ?? .ok) }
            }
        }
    }
}
