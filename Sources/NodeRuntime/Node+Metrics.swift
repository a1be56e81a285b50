// What the admin port shows (issue 14): Prometheus metrics, readiness, and the cluster as
// JSON, all read from the node's own state when asked.
import Cluster
import Consensus
import Core
import Engine

extension Node {
    /// Ready to serve: the node knows the cluster map and every shard has a leader it can
    /// name (a standalone server: it leads its data). A reason when not.
    public var readiness: (ready: Bool, reason: String) {
        if failed { return (false, "the node stopped after a storage failure") }
        guard let map else { return (false, "not part of a cluster yet (waiting to be added)") }
        if configuration.standalone { return leadsEveryShard ? (true, "ok") : (false, "recovering") }
        let leaderless = map.shards.filter { leader(of: $0.id) == .none }.map { "s\($0.id.rawValue)" }
        return leaderless.isEmpty ? (true, "ok") : (false, "shards without a known leader: \(leaderless.joined(separator: ","))")
    }

    /// Client connections open now.
    public var connectedClientCount: Int { clients.count }

    /// Requests served since start (own clients' and forwarded ones).
    public var commandsProcessed: Int { (front.hooks.nodeStats?() ?? front.stats).commandsProcessed }

    /// The node's metrics in Prometheus text format; `extra` adds the shell's families
    /// (process, peer links).
    public func metricsText(extra: (inout PrometheusText) -> Void = { _ in }) -> String {
        var out = PrometheusText()
        let stats = front.hooks.nodeStats?() ?? front.stats
        out.single("trestle_commands_processed_total", .counter, "Requests served (own clients' and forwarded ones).", Double(stats.commandsProcessed))
        out.single("trestle_connections_received_total", .counter, "Client connections accepted.", Double(stats.connectionsReceived))
        out.single("trestle_connected_clients", .gauge, "Client connections open now.", Double(clients.count))
        out.single("trestle_error_replies_total", .counter, "Error replies sent to clients.", Double(stats.errorReplies))
        out.single("trestle_keyspace_hits_total", .counter, "Key lookups that found the key.", Double(stats.keyspaceHits))
        out.single("trestle_keyspace_misses_total", .counter, "Key lookups that did not.", Double(stats.keyspaceMisses))
        out.single("trestle_keys", .gauge, "Keys in the shards this node leads.", Double(keyCount))
        out.single("trestle_up", .gauge, "1 while the node serves (0 after a storage failure).", failed ? 0 : 1)
        out.single("trestle_ready", .gauge, "1 when the node knows a leader for every shard.", readiness.ready ? 1 : 0)
        if let map {
            out.single("trestle_cluster_map_version", .gauge, "Version of the cluster map this node applied.", Double(map.version))
            out.single("trestle_cluster_nodes", .gauge, "Nodes in the cluster map.", Double(map.nodes.count))
            out.single("trestle_cluster_shards", .gauge, "Data shards in the cluster map.", Double(map.shards.count))
            out.single("trestle_moves_pending", .gauge, "Shards whose replicas differ from the placement's target.", Double(movesPending))
            out.family("trestle_shard_leader_known", .gauge, "1 if this node knows the shard's leader.",
                       map.shards.map { ([("shard", "\($0.id.rawValue)")], leader(of: $0.id) == .none ? 0 : 1) })
        }
        let hosted = allReplicas.sorted { $0.shard < $1.shard }
        func perReplica(_ value: (Replica) -> Double) -> [([(String, String)], Double)] {
            hosted.map { ([("shard", "\($0.shard.rawValue)")], value($0)) }
        }
        out.family("trestle_raft_term", .gauge, "Current Raft term of each shard replica here (shard 0: the directory).",
                   perReplica { Double($0.raft.term.rawValue) })
        out.family("trestle_raft_commit_index", .gauge, "Highest committed log index of each shard replica here.",
                   perReplica { Double($0.raft.commitIndex.rawValue) })
        out.family("trestle_raft_applied_index", .gauge, "Highest applied log index of each shard replica here.",
                   perReplica { Double($0.raft.appliedIndex.rawValue) })
        out.family("trestle_raft_last_index", .gauge, "Last log index of each shard replica here.",
                   perReplica { Double($0.raft.lastIndex.rawValue) })
        out.family("trestle_raft_is_leader", .gauge, "1 if this node leads the shard.", perReplica { $0.isLeader ? 1 : 0 })
        out.family("trestle_raft_pending_requests", .gauge, "Requests waiting on each shard replica here.",
                   perReplica { Double($0.pendingCount) })
        out.family("trestle_shard_keys", .gauge, "Keys in each data shard replica here.",
                   perReplica { Double($0.data?.engine.keyspace.keyCount ?? 0) })
        let commands = commandStats.commands.sorted { $0.key < $1.key }
        out.family("trestle_commands_total", .counter, "Requests of this node's clients by command (rejected ones excluded).",
                   commands.map { ([("command", $0.key)], Double($0.value.calls)) })
        out.family("trestle_command_errors_total", .counter,
                   "Error replies by command: rejected before running (arity, auth, redirects) or failed while running.",
                   commands.flatMap { [([("command", $0.key), ("kind", "rejected")], Double($0.value.rejected)),
                                       ([("command", $0.key), ("kind", "failed")], Double($0.value.failed))] })
        out.family("trestle_redirects_total", .counter, "Redirects and retry answers sent to this node's clients, by kind.",
                   ["MOVED", "ASK", "TRYAGAIN", "CROSSSLOT", "CLUSTERDOWN"].map { ([("kind", $0.lowercased())], Double(commandStats.errors[$0] ?? 0)) })
        out.single("trestle_raft_leadership_won_total", .counter, "Times a replica here became its group's leader.", Double(leadershipsWon))
        out.family("trestle_reshapings_total", .counter,
                   "Slot moves begun and finished, shard splits and merges this node proposed and saw committed.",
                   ["move_begun", "move_finished", "split", "merge"].map { ([("kind", $0)], Double(reshapingsCommitted[$0] ?? 0)) })
        out.family("trestle_shard_memory_bytes", .gauge, "Estimated bytes of keys and values in each data shard replica here (sampled).",
                   hosted.filter { $0.data != nil }.map { ([("shard", "\($0.shard.rawValue)")], Double($0.data?.engine.keyspace.estimatedBytes(sample: Self.bytesSampleKeys) ?? 0)) })
        out.single("trestle_forwarded_requests_pending", .gauge, "Requests forwarded to other nodes awaiting replies.", Double(forwards.count))
        extra(&out)
        return out.text
    }

    /// The cluster as JSON: nodes, shards with slot ranges, leaders and replicas.
    public func clusterJSON() -> String {
        guard let map else { return "{\"node\":\(me.rawValue),\"cluster\":null}" }
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        let nodes = map.nodes.map { node in
            "{\"id\":\(node.id.rawValue),\"host\":\(quoted(node.host)),\"port\":\(node.port),\"peer_port\":\(node.peerPort),"
                + "\"zone\":\(quoted(node.zone)),\"state\":\(quoted(node.state == .active ? "active" : "draining")),"
                + "\"leads\":\(map.shards.filter { leader(of: $0.id) == node.id }.count)}"
        }
        let shards = map.shards.map { shard in
            let leader = leader(of: shard.id)
            let ranges = shard.slots.map { "[\($0.first),\($0.last)]" }.joined(separator: ",")
            return "{\"id\":\(shard.id.rawValue),\"slots\":[\(ranges)],\"leader\":\(leader == .none ? "null" : "\(leader.rawValue)"),"
                + "\"replicas\":[\(shard.replicas.map { "\($0.rawValue)" }.joined(separator: ","))]}"
        }
        return "{\"node\":\(me.rawValue),\"cluster\":\(quoted(map.name)),\"map_version\":\(map.version),"
            + "\"replication_factor\":\(map.replicationFactor),\"ready\":\(readiness.ready),\"moves_pending\":\(movesPending),"
            + "\"nodes\":[\(nodes.joined(separator: ","))],\"shards\":[\(shards.joined(separator: ","))]}"
    }
}
