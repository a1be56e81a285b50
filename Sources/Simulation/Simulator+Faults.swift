// Fault injection: crashes (losing unsynced writes), pauses, partitions (symmetric,
// asymmetric, bridge, isolating the leader), message loss and duplication, leadership
// transfers and membership changes at random moments; and the healing phase that stops
// them all so liveness can be checked.

import Consensus
import Core

extension Simulator {
    static func chooseFaultKinds(_ random: inout SeededRandom, forced: [FaultKind]?) -> [FaultKind] {
        if let forced, !forced.isEmpty { return forced }
        var kinds = FaultKind.allCases.filter { _ in random.chance(0.6) }
        if kinds.isEmpty { kinds = [.partition] }
        if !kinds.contains(.heal) { kinds.append(.heal) }
        return kinds
    }

    func injectFault() {
        guard !healing else { return }
        report.faultsInjected += 1
        let choices = faultKinds.filter { $0 != .leaderFailsAfterElection }
        guard !choices.isEmpty else { return }
        switch choices[faultRandom.int(in: 0...(choices.count - 1))] {
        case .crash: crashRandomNode()
        case .pause: pauseRandomNode()
        case .partition: partition()
        case .transfer: transferLeadership()
        case .membership: changeMembership()
        case .heal, .leaderFailsAfterElection: healPartitions()
        }
        schedule(.fault, after: Int64(faultRandom.int(in: 10_000...100_000)))
    }

    func randomUpNode() -> Int? {
        let up = nodes.indices.filter { nodes[$0].isUp }
        guard !up.isEmpty else { return nil }
        return up[faultRandom.int(in: 0...(up.count - 1))]
    }

    func currentLeader() -> Int? {
        var best: Int?
        for index in nodes.indices {
            guard let raft = nodes[index].raft, raft.roleKind == .leader, !nodes[index].paused else { continue }
            if best.map({ raft.term > (nodes[$0].raft?.term ?? .zero) }) ?? true { best = index }
        }
        return best
    }

    func crashRandomNode() {
        let leader = faultRandom.chance(0.5) ? currentLeader() : nil
        guard let index = leader ?? randomUpNode() else { return }
        trace("fault: crash \(nodes[index].id)")
        crash(index)
        schedule(.restart(node: index), after: Int64(faultRandom.int(in: 20_000...500_000)))
    }

    func crashScheduled(_ index: Int, incarnation: Int) {
        guard !healing, nodes[index].isUp, nodes[index].incarnation == incarnation else { return }
        trace("fault: crash new leader \(nodes[index].id)")
        report.faultsInjected += 1
        crash(index)
        schedule(.restart(node: index), after: Int64(faultRandom.int(in: 20_000...300_000)))
    }

    func isolateScheduled(_ index: Int, incarnation: Int) {
        guard !healing, nodes[index].isUp, nodes[index].incarnation == incarnation else { return }
        trace("fault: isolate new leader \(nodes[index].id)")
        report.faultsInjected += 1
        healPartitions()
        block { from, to in (from == index) != (to == index) }
        schedule(.healPartition(epoch: partitionEpoch), after: Int64(faultRandom.int(in: 50_000...500_000)))
    }

    func crash(_ index: Int) {
        nodes[index].raft = nil
        nodes[index].disk.crash(&faultRandom)
        nodes[index].incarnation += 1
        nodes[index].paused = false
        nodes[index].missedTicks = 0
        nodes[index].inbox.removeAll()
        nodes[index].writeWaiters.removeAll()
        nodes[index].readWaiters.removeAll()
        nodes[index].readsAwaitingApply.removeAll()
        nodes[index].lastLeaderTerm = .zero
    }

    func restart(_ index: Int) {
        guard !nodes[index].isUp else { return }
        trace("restart \(nodes[index].id)")
        start(node: index)
    }

    func pauseRandomNode() {
        guard let index = randomUpNode(), !nodes[index].paused else { return }
        trace("fault: pause \(nodes[index].id)")
        nodes[index].paused = true
        schedule(.resume(node: index), after: Int64(faultRandom.int(in: 10_000...400_000)))
    }

    /// Resumes a paused node: first the ticks it missed (its clock kept running), then the
    /// messages and requests that queued up, in arrival order.
    func resume(_ index: Int) {
        guard nodes[index].isUp, nodes[index].paused else { return }
        trace("resume \(nodes[index].id) after \(nodes[index].missedTicks) ticks")
        nodes[index].paused = false
        for _ in 0..<nodes[index].missedTicks { nodes[index].raft?.tick() }
        nodes[index].missedTicks = 0
        drain(index)
        let inbox = nodes[index].inbox
        nodes[index].inbox.removeAll()
        for inbound in inbox {
            switch inbound {
            case .message(let message): deliver(message)
            case .request(let request): receive(request, at: index)
            }
        }
    }

    func partition() {
        let count = nodes.count
        healPartitions()
        var side = Array(repeating: false, count: count)
        switch faultRandom.int(in: 0...3) {
        case 0:
            // Isolate the leader (or any node), both directions.
            let victim = currentLeader() ?? faultRandom.int(in: 0...(count - 1))
            side[victim] = true
            block { side[$0] != side[$1] }
            trace("fault: isolate \(nodes[victim].id)")
        case 1:
            for index in 0..<count where faultRandom.chance(0.4) { side[index] = true }
            block { side[$0] != side[$1] }
            trace("fault: split \(side)")
        case 2:
            // Asymmetric: one node can send but not receive, or the reverse.
            let victim = faultRandom.int(in: 0...(count - 1))
            let outbound = faultRandom.chance(0.5)
            block { from, to in outbound ? from == victim && to != victim : to == victim && from != victim }
            trace("fault: \(outbound ? "mute" : "deafen") \(nodes[victim].id)")
        default:
            // Bridge: two halves that only one node connects.
            let bridge = faultRandom.int(in: 0...(count - 1))
            for index in 0..<count where index != bridge { side[index] = faultRandom.chance(0.5) }
            block { from, to in from != bridge && to != bridge && side[from] != side[to] }
            trace("fault: bridge through \(nodes[bridge].id)")
        }
        schedule(.healPartition(epoch: partitionEpoch), after: Int64(faultRandom.int(in: 50_000...1_000_000)))
    }

    func block(_ rule: (Int, Int) -> Bool) {
        for from in blocked.indices {
            for to in blocked.indices where from != to { blocked[from][to] = rule(from, to) }
        }
    }

    func healPartitions() {
        partitionEpoch += 1
        for from in blocked.indices {
            for to in blocked.indices { blocked[from][to] = false }
        }
    }

    func transferLeadership() {
        guard let leader = currentLeader(), let raft = nodes[leader].raft else { return }
        let others = raft.membership.voters.filter { $0 != raft.id }
        guard !others.isEmpty else { return }
        let target = others[faultRandom.int(in: 0...(others.count - 1))]
        trace("fault: transfer leadership \(raft.id) -> \(target)")
        try? nodes[leader].raft?.transferLeadership(to: target)
        drain(leader)
    }

    func changeMembership() {
        guard let leader = currentLeader(), let raft = nodes[leader].raft else { return }
        let membership = raft.membership
        let change: ConfigChange
        if let learner = membership.learners.first {
            change = faultRandom.chance(0.8) ? ConfigChange(.promote, learner) : ConfigChange(.remove, learner)
        } else if membership.voters.count > options.nodeCount {
            let removable = membership.voters.filter { $0 != raft.id }
            change = ConfigChange(.remove, removable[faultRandom.int(in: 0...(removable.count - 1))])
        } else {
            let outside = nodes.map(\.id).filter { !membership.contains($0) }
            guard !outside.isEmpty else { return }
            change = ConfigChange(.addLearner, outside[faultRandom.int(in: 0...(outside.count - 1))])
        }
        do {
            try nodes[leader].raft?.proposeConfigChange(change)
            trace("fault: membership \(change) proposed by \(raft.id)")
        } catch {
            trace("fault: membership \(change) refused: \(error)")
        }
        drain(leader)
    }

    func startHealing() {
        guard !healing else { return }
        healing = true
        healingStart = now
        lossRate = 0
        duplicateRate = 0
        healPartitions()
        trace("healing: faults stop")
        for index in nodes.indices {
            if !nodes[index].isUp { start(node: index) } else if nodes[index].paused { resume(index) }
        }
    }
}
