// Faults, membership changes and the end-of-run checks of the cluster simulator.
//
// Fault menu (each seed picks a subset unless told): crash (SIGKILL: the node's unsynced
// disk writes are lost or torn; it restarts later over the same disk), isolate (a node cut
// off both ways), one-way cuts, lossy links (loss and long delays, i.e. reordering), and
// disk faults (the next fsync fails, so the node must stop without acknowledging). At
// most a minority is down at once, so the cluster can make progress once faults stop.
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Engine
import NodeRuntime
import Wire

extension ClusterSimulator {
    static let adminOwner = -1

    // MARK: - Faults

    func injectFault() {
        guard !healing, !faultKinds.isEmpty else { return }
        defer { queue.push(.fault, at: now + Int64(faultRandom.int(in: 150_000...700_000))) }
        let running = nodes.indices.filter { nodes[$0].isRunning && nodes[$0].started }
        guard !running.isEmpty else { return }
        let target = running[faultRandom.int(in: 0...(running.count - 1))]
        switch faultKinds[faultRandom.int(in: 0...(faultKinds.count - 1))] {
        case .crash:
            let down = nodes.filter { $0.started && !$0.isRunning }.count
            guard down < (nodes.filter(\.started).count - 1) / 2 else { return }
            crash(target, restartAfterMicros: Int64(faultRandom.int(in: 100_000...2_000_000)))
        case .crashAll:
            guard nodes.allSatisfy({ !$0.started || $0.isRunning }) else { return }
            traceLine("power cut: every node crashes")
            for slot in nodes where slot.isRunning { crash(slot.index, restartAfterMicros: Int64(faultRandom.int(in: 50_000...1_500_000))) }
        case .pause:
            guard nodes[target].held == nil else { return }
            nodes[target].held = []
            traceLine("n\(target + 1) paused")
            queue.push(.resume(node: target, incarnation: nodes[target].incarnation), at: now + Int64(faultRandom.int(in: 100_000...1_500_000)))
        case .isolate:
            startPartition { from, to in from == target || to == target }
            traceLine("partition: n\(target + 1) isolated")
        case .oneWay:
            let others = running.filter { $0 != target }
            guard let other = others.isEmpty ? nil : others[faultRandom.int(in: 0...(others.count - 1))] else { return }
            startPartition { from, to in from == target && to == other }
            traceLine("partition: n\(target + 1) -> n\(other + 1) cut")
        case .lossy:
            lossRate = Double(faultRandom.int(in: 0...100)) / 1000
            longDelayRate = Double(faultRandom.int(in: 0...80)) / 1000
        case .diskFault:
            nodes[target].disk.failNextSync = true
            report.diskFaults += 1
            traceLine("disk fault armed on n\(target + 1)")
        }
    }

    private func startPartition(_ cut: (Int, Int) -> Bool) {
        partitionEpoch += 1
        report.partitions += 1
        for from in nodes.indices {
            for to in nodes.indices where from != to { blocked[from][to] = cut(from, to) }
        }
        queue.push(.heal(epoch: partitionEpoch), at: now + Int64(faultRandom.int(in: 200_000...3_000_000)))
    }

    func healPartitions() {
        for from in nodes.indices { for to in nodes.indices { blocked[from][to] = false } }
        traceLine("partitions healed")
    }

    /// SIGKILL: the process is gone, unsynced writes torn or lost, clients disconnected.
    func crash(_ index: Int, restartAfterMicros delay: Int64) {
        let slot = nodes[index]
        guard slot.node != nil else { return }
        slot.node = nil
        slot.held = nil
        slot.turnPending = false
        slot.incarnation += 1
        slot.disk.crash()
        // An armed fault belongs to the process that died, not to the next one.
        slot.disk.failNextSync = false
        report.crashes += 1
        traceLine("n\(index + 1) crashes")
        dropConnections(of: index)
        for peer in nodes where peer.index != index { input(peer.index, .peerLink(slot.info.id, connected: false)) }
        queue.push(.restart(node: index), at: now + (healing ? 10_000 : delay))
    }

    /// SIGCONT: the inputs that queued up run first, then the overdue timer. An event loop
    /// polls sockets in no particular order; the worst case for a stale leader is used:
    /// client connections first, then peer links.
    func resume(_ index: Int, incarnation: Int) {
        let slot = nodes[index]
        guard slot.incarnation == incarnation, let held = slot.held else { return }
        slot.held = nil
        traceLine("n\(index + 1) resumed with \(held.count) inputs waiting")
        let fromPeers = held.filter { if case .peerFrame = $0 { return true } else { return false } }
        for waiting in held {
            if case .peerFrame = waiting { continue }
            input(index, waiting)
        }
        for waiting in fromPeers { input(index, waiting) }
        input(index, .timer)
    }

    func restart(_ index: Int) {
        guard !nodes[index].isRunning else { return }
        startNode(index)
    }

    func startHealing() {
        healing = true
        healingStart = now
        lossRate = 0
        longDelayRate = 0
        healPartitions()
        for slot in nodes where slot.started && !slot.isRunning { restart(slot.index) }
        for slot in nodes where slot.held != nil { resume(slot.index, incarnation: slot.incarnation) }
        traceLine("healing starts")
    }

    // MARK: - Membership

    /// Starts the spare node empty (it waits to be added) and asks the cluster to add it.
    func addNode() {
        let index = options.nodeCount
        guard index < nodes.count, !nodes[index].started else { return }
        startNode(index)
        let info = nodes[index].info
        admin.step = .adding(index)
        admin.command = ["TRESTLE", "ADDNODE", "\(info.id.rawValue)@\(info.host):\(info.port):\(info.peerPort)"].map { Array($0.utf8) }
        sendAdmin()
    }

    /// Asks the cluster to remove one of the original members (the one that joined, with
    /// `removesAddedNode`).
    func removeNode() {
        let index = options.removesAddedNode ? options.nodeCount : faultRandom.int(in: 0...(options.nodeCount - 1))
        admin.step = .removing(index)
        admin.removedIndex = index
        admin.command = ["TRESTLE", "REMOVENODE", "\(nodes[index].info.id.rawValue)"].map { Array($0.utf8) }
        removedNodes.insert(index)
        sendAdmin()
    }

    func sendAdmin() {
        guard let command = admin.command else { return }
        let sent = sendAdministrative(command, owner: Self.adminOwner, name: "admin", previous: (admin.node, admin.connection), retry: .adminRetry)
        admin.connection = sent?.connection
        if let sent { admin.node = sent.node }
    }

    /// Sends an administrator's command on a fresh connection to a serving node, closing
    /// its previous one. Returns the node and connection; nil when no node serves (then
    /// `retry` comes later).
    func sendAdministrative(_ command: [Bytes], owner: Int, name: String, previous: (node: Int, connection: ClientID?),
                            retry: Event) -> (node: Int, connection: ClientID)? {
        if let connection = previous.connection, connectionOwners[connection] != nil { closeConnection(node: previous.node, connection: connection) }
        guard let (node, connection) = openConnection(owner, preferred: nil) else {
            queue.push(retry, at: now + 300_000)
            return nil
        }
        traceLine("\(name): \(command.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")) via n\(node + 1)")
        input(node, .request(connection, command))
        return (node, connection)
    }

    func adminReceive(connection: ClientID, _ value: RESPValue) {
        guard admin.connection == connection else { return }
        closeConnection(node: admin.node, connection: connection)
        admin.connection = nil
        // A retry of a change that committed earlier (its first reply was lost) is refused
        // as already done: that is success too.
        var done = value == .ok
        if case .error(let text) = value, text.contains("already") { done = true }
        // A removal that committed and finished (the node forgotten) before the retry.
        if case .removing = admin.step, case .error(let text) = value, text.contains("is not a member") { done = true }
        guard done else {
            traceLine("admin: \(value); retrying")
            queue.push(.adminRetry, at: now + 300_000)
            return
        }
        admin.command = nil
        switch admin.step {
        case .adding(let index):
            joinedNodes.insert(index)
            report.nodesAdded += 1
            admin.step = .idle
            queue.push(.removeNode, at: now + Int64(faultRandom.int(in: 500_000...3_000_000)))
        case .removing:
            report.nodesRemoved += 1
            admin.step = .done
        case .idle, .done:
            break
        }
    }

    // MARK: - The end

    /// Checks liveness, lets replicas catch up, then checks linearizability and convergence.
    func finish() {
        report.simulatedMilliseconds = now / 1000
        for client in clients.indices {
            guard let operation = clients[client].pending else { continue }
            report.violations.append("liveness: c\(client) #\(operation.id) \(operation.command) never completed")
            abandon(client)
        }
        settle(micros: 2_000_000)
        let committed = leadersCommitted()
        settle(micros: 1_000_000)
        checkMembersCaughtUp(committed)
        switch LinearizabilityChecker.check(history) {
        case .linearizable: break
        case .illegal(let key):
            report.violations.append("history not linearizable on key k\(key): " + history.filter { $0.command.key == key }.map(\.description).joined(separator: "; "))
        case .unknown(let key):
            traceLine("linearizability of k\(key) undecided within the search budget")
        }
        checkConvergence()
        checkSlotOwnership()
        if let map = newestMap {
            let allocated = Int(map.nextShardID.rawValue) - 1
            report.shardsSplit = allocated - options.shardCount
            report.shardsMerged = allocated - map.shards.count
        }
        flushLogLines()
    }

    /// Runs the cluster without clients or faults so followers catch up.
    private func settle(micros: Int64) {
        let end = now + micros
        var processed = 0
        while let item = queue.pop(), item.time <= end, processed < options.eventsMax {
            now = item.time
            processed += 1
            switch item.payload {
            case .clientStart, .clientTimeout, .fault, .addNode, .removeNode, .adminRetry, .moveSlots, .moverRetry: continue
            default: process(item.payload)
            }
        }
    }

    /// What each shard's leader (on a running node) had committed, and its members.
    private func leadersCommitted() -> [ShardID: (index: LogIndex, members: [NodeID])] {
        var committed: [ShardID: (index: LogIndex, members: [NodeID])] = [:]
        for slot in nodes where slot.isRunning {
            for state in slot.node?.replicaStates() ?? [] where state.isLeader {
                if let known = committed[state.shard], known.index >= state.commitIndex { continue }
                committed[state.shard] = (state.commitIndex, state.members)
            }
        }
        return committed
    }

    /// Once the run has settled, every member (voter or learner) of each shard on a running
    /// node holds the shard and has applied what its leader had committed a second
    /// earlier: a member that keeps dropping and re-creating its replica, or never catches
    /// up, is a liveness failure the other checks do not see (two replicas still serve).
    /// Learners count: a node added back to a shard stays a learner until it catches up.
    private func checkMembersCaughtUp(_ committed: [ShardID: (index: LogIndex, members: [NodeID])]) {
        var appliedByNode: [Int: [ShardID: LogIndex]] = [:]
        for slot in nodes where slot.isRunning {
            guard let node = slot.node else { continue }
            appliedByNode[slot.index] = Dictionary(node.replicaStates().map { ($0.shard, $0.appliedIndex) }, uniquingKeysWith: max)
        }
        for (shard, leader) in committed.sorted(by: { $0.key < $1.key }) {
            for member in leader.members {
                guard let holder = nodes.firstIndex(where: { $0.info.id == member }), let held = appliedByNode[holder] else { continue }
                let applied = held[shard]
                guard applied.map({ $0 < leader.index }) ?? true else { continue }
                report.violations.append("liveness: n\(holder + 1), a member of shard \(shard.rawValue), "
                    + (applied.map { "applied \($0.rawValue) of the \(leader.index.rawValue) its leader had committed" } ?? "holds no replica of it")
                    + " after the run settled")
            }
        }
    }

    /// Replicas of one shard at the same applied index hold the same state.
    private func checkConvergence() {
        var seen: [ShardID: [LogIndex: (UInt32, Int)]] = [:]
        for slot in nodes {
            guard let node = slot.node else { continue }
            for state in node.replicaStates() {
                if let (checksum, holder) = seen[state.shard]?[state.appliedIndex], checksum != state.contentChecksum {
                    report.violations.append("replicas diverge: shard \(state.shard.rawValue) at index \(state.appliedIndex.rawValue) differs between n\(holder + 1) and n\(slot.index + 1)")
                }
                seen[state.shard, default: [:]][state.appliedIndex] = (state.contentChecksum, slot.index)
            }
        }
    }
}
