// TRESTLE administration on the client port: STATUS, ADDNODE, REMOVENODE, REBALANCE,
// BACKUP (Node+Backup.swift).
// Changes go to the directory leader (forwarded there from any node) and are answered
// once committed; replicas and leaders then move in the background.
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Wire

extension Node {
    func administer(_ arguments: [Bytes], session: Session, forwarded: Bool, reply: @escaping ReplySink) {
        let sub = String(decoding: arguments[1], as: UTF8.self).lowercased()
        // What proxy nodes ask a shard's leader for their clients' transactions; only peers
        // may send these (a client's own WATCH and EXEC do the same work).
        switch sub {
        case "watchdigests" where forwarded: return watchDigests(Array(arguments.dropFirst(2)), session: session, reply: reply)
        case "transaction" where forwarded: return forwardedTransaction(arguments.dropFirst(2), session: session, reply: reply)
        case "importbatch" where forwarded: return receiveImport(arguments.dropFirst(2), reply: reply)
        case "finishmove" where forwarded && arguments.count == 3:
            guard let id = UInt64(String(decoding: arguments[2], as: UTF8.self)) else { return reply(.error("ERR malformed move id")) }
            return viaDirectoryLeader(arguments, forwarded: forwarded, reply: reply) { node in node.proposeDirectory(.finishMove(id: id), reply: reply) }
        case "asking" where forwarded && arguments.count > 2:
            // A proxy following -ASK: the wrapped command runs as if ASKING preceded it.
            session.asking = true
            if let outcome = serve(Array(arguments.dropFirst(2)), session: session, forwarded: true, reply: reply) { reply(outcome.reply) }
            return
        default: break
        }
        let text = arguments.dropFirst(2).map { String(decoding: $0, as: UTF8.self) }
        switch (sub, text.count) {
        case ("status", 0):
            gatherShardStats { [self] stats in reply(.verbatim(format: "txt", text: statusText(stats: stats))) }
        case ("shardstats", 0) where forwarded:
            reply(localShardStats())
        case ("nodestats", 0) where forwarded:
            reply(localNodeFigures().reply)
        case ("hotkeys", 0):
            gatherHotspots { reply(.verbatim(format: "txt", text: $0)) }
        case ("hotkeys", 1) where forwarded:
            reply(localHotspots())
        case ("addnode", 1):
            guard let info = NodeInfo.parse(Substring(text[0])) else {
                return reply(.error("ERR node must be given as ID@HOST:PORT[:PEERPORT][/ZONE]"))
            }
            viaDirectoryLeader(arguments, forwarded: forwarded, reply: reply) { node in node.proposeDirectory(DirectoryCommand.addNode(info), reply: reply) }
        case ("removenode", 1):
            guard let id = UInt64(text[0]), id > 0 else { return reply(.error("ERR node id must be a positive integer")) }
            viaDirectoryLeader(arguments, forwarded: forwarded, reply: reply) { node in node.proposeDirectory(DirectoryCommand.drainNode(NodeID(id)), reply: reply) }
        case ("merge", 2):
            mergeShard(text, arguments: arguments, forwarded: forwarded, reply: reply)
        case ("split", 1):
            splitShard(text[0], arguments: arguments, forwarded: forwarded, reply: reply)
        case ("moveslots", 3):
            beginMove(text, arguments: arguments, forwarded: forwarded, reply: reply)
        case ("health", 0):
            reply(healthReply())
        case ("backup", 1) where text[0].lowercased() == "plan":
            backupPlan(reply: reply)
        case ("backup", 2) where text[0].lowercased() == "shard":
            backupShard(text[1], reply: reply)
        case ("rebalance", 0):
            viaDirectoryLeader(arguments, forwarded: forwarded, reply: reply) { node in
                node.lastPlacement = 0
                for replica in node.replicas.values { replica.lastTransferAttempt = 0 }
                reply(.ok)
            }
        default:
            reply(.error("ERR unknown TRESTLE subcommand '\(sub)' or wrong arguments. Try STATUS, ADDNODE ID@HOST:PORT[:PEERPORT], REMOVENODE ID, MOVESLOTS FIRST LAST SHARD, SPLIT SHARD, MERGE SHARD INTO, HOTKEYS, REBALANCE, HEALTH, BACKUP PLAN, BACKUP SHARD ID."))
        }
    }

    /// Runs `body` on the directory leader: here if this node leads it, else forwarded.
    func viaDirectoryLeader(_ arguments: [Bytes], forwarded: Bool, reply: @escaping ReplySink, _ body: (Node) -> Void) {
        if directory.isLeader { return body(self) }
        let leader = leader(of: ClusterMap.directoryShard)
        guard leader != .none, leader != me, !forwarded else {
            return reply(Redirect.tryAgain("the cluster directory has no leader reachable from this node; retry").reply)
        }
        forward(arguments, to: leader, reply: reply)
    }

    /// What `TRESTLE STATUS` answers: nodes, shards, leaders and moves as this node sees them.
    public func statusText(stats: [ShardID: ShardStats] = [:]) -> String {
        guard let map else { return "node \(me.rawValue): not part of a cluster yet (waiting to be added)\n" }
        var lines: [String] = []
        lines.append("cluster \(map.name), map version \(map.version), replication factor \(map.replicationFactor), \(map.shards.count) shards")
        lines.append("directory: voters \(map.directoryVoters.map { "n\($0.rawValue)" }.joined(separator: ",")), leader n\(leader(of: ClusterMap.directoryShard).rawValue)")
        lines.append("nodes:")
        for node in map.nodes {
            let led = map.shards.filter { leader(of: $0.id) == node.id }.count
            let held = map.shards.filter { membership(of: $0.id).voters.contains(node.id) }.count
            let state = node.state == .active ? "active" : "draining"
            lines.append("  n\(node.id.rawValue) \(node.host):\(node.port) peer \(node.peerPort)\(node.zone.isEmpty ? "" : " zone \(node.zone)") \(state): leads \(led), holds \(held)")
        }
        lines.append("shards:")
        for shard in map.shards {
            let actual = membership(of: shard.id)
            let leader = leader(of: shard.id)
            let moving = Set(actual.voters) != Set(shard.replicas) || !actual.learners.isEmpty
            var line = "  s\(shard.id.rawValue) slots \(shard.slots.isEmpty ? "none" : shard.slots.map(\.description).joined(separator: ",")) leader \(leader == .none ? "none" : "n\(leader.rawValue)")"
            line += " voters \(actual.voters.map { "n\($0.rawValue)" }.joined(separator: ","))"
            if !actual.learners.isEmpty { line += " learners \(actual.learners.map { "n\($0.rawValue)" }.joined(separator: ","))" }
            if moving { line += " -> target \(shard.replicas.map { "n\($0.rawValue)" }.joined(separator: ",")) (moving)" }
            if let into = shard.mergeInto { line += " (merging into s\(into.rawValue))" }
            if let figures = stats[shard.id] {
                line += String(format: " keys %d bytes %@ ops/s %.0f", figures.keys, Self.humanBytes(figures.bytes), figures.opsPerSecond)
            }
            lines.append(line)
        }
        lines.append("moves pending: \(movesPending)")
        for move in map.moves {
            let here = replicas[move.source]?.data
            let phase = here?.migration.outgoing.flatMap { $0.move == move.id ? $0.phase : nil }
            let state = here == nil ? "in progress" : phase == .handedOff ? "handed off" : phase == .fenced ? "fenced, catching up" : "copying"
            lines.append("slot move \(move.id): slots \(move.slots) s\(move.source.rawValue) -> s\(move.target.rawValue) (\(state))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// 1536 -> "1.5K" (binary units, as INFO's used_memory_human).
    static func humanBytes(_ bytes: Int) -> String {
        let units = ["B", "K", "M", "G", "T"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes)B" : String(format: "%.1f%@", value, units[unit])
    }
}
