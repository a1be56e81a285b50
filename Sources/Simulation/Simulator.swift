// The deterministic cluster simulator. One seed drives every choice: network delays,
// loss, duplication, partitions, crashes, pauses, clock drift, membership changes,
// leadership transfers and the client workload. Events run from a single priority queue
// in (time, insertion) order; no Dictionary or Set is ever iterated where order matters.
//
// Phases: a fault phase, then a healing phase in which faults stop and every remaining
// client operation must complete within a bound (liveness). Safety invariants are checked
// as the run goes; the client history is checked for linearizability at the end.

import Consensus
import Core

public final class Simulator {
    enum Event {
        case tick(node: Int, incarnation: Int)
        case deliver(Message)
        case request(node: Int, ClientRequest)
        case reply(client: Int, operation: Int, ClientReply)
        case clientStart(client: Int)
        case clientResend(client: Int, operation: Int)
        case clientTimeout(client: Int, operation: Int)
        case clientRetransmit(client: Int, operation: Int)
        case fault
        case restart(node: Int)
        case resume(node: Int)
        case healPartition(epoch: Int)
        case startHealing
        case crash(node: Int, incarnation: Int)
        case isolate(node: Int, incarnation: Int)
    }

    struct Client {
        var operation = 0
        var command: KVCommand?
        var invocation: Int64 = 0
        var target = 0
        var lastSeen: [Int64?]
        var done = false
    }

    let options: SimulationOptions
    @exclusivity(unchecked) var now: Int64 = 0
    @exclusivity(unchecked) var queue = EventQueue<Event>()
    @exclusivity(unchecked) var nodes: [SimulatedNode] = []
    @exclusivity(unchecked) var clients: [Client] = []
    @exclusivity(unchecked) var networkRandom: SeededRandom
    @exclusivity(unchecked) var faultRandom: SeededRandom
    @exclusivity(unchecked) var clientRandom: SeededRandom
    @exclusivity(unchecked) var nodeRandom: SeededRandom
    @exclusivity(unchecked) var invariants = InvariantChecker()
    @exclusivity(unchecked) var report: SimulationReport
    @exclusivity(unchecked) var history: [HistoryOperation] = []
    @exclusivity(unchecked) var operationsStarted = 0
    @exclusivity(unchecked) var healing = false
    @exclusivity(unchecked) var healingStart: Int64 = 0
    @exclusivity(unchecked) var lossRate: Double
    @exclusivity(unchecked) var duplicateRate: Double
    /// blocked[from][to]: messages from `from` to `to` are dropped.
    @exclusivity(unchecked) var blocked: [[Bool]]
    @exclusivity(unchecked) var partitionEpoch = 0
    @exclusivity(unchecked) var eventsProcessed = 0
    /// The highest term any node has reached: bounds the term in which an entry applied
    /// now was committed.
    @exclusivity(unchecked) var highestTerm: Term = .zero
    /// Per-seed replication limits, so small batches and windows are exercised too.
    let entriesPerMessage: Int
    /// Clients pause up to this long between operations, so that the operations spread
    /// over the whole fault phase instead of finishing before the faults begin.
    var thinkMicrosMax: Int {
        guard options.faults, !healing else { return 2_000 }
        let spacing = Double(options.faultPhaseMicros) * Double(options.clients) / (0.8 * Double(options.operations))
        return max(2_000, Int(2 * spacing) - 10_000)
    }
    /// Fault kinds this seed injects.
    let faultKinds: [FaultKind]
    let inflightMessages: Int

    public init(options: SimulationOptions) {
        self.options = options
        var root = SeededRandom(seed: options.seed)
        networkRandom = root.fork()
        faultRandom = root.fork()
        clientRandom = root.fork()
        nodeRandom = root.fork()
        report = SimulationReport(seed: options.seed)
        lossRate = options.faults ? Double(faultRandom.int(in: 0...5)) / 100 : 0
        duplicateRate = options.faults ? Double(faultRandom.int(in: 0...3)) / 100 : 0
        let slots = options.nodeCount + 1
        var extremeClocks = false
        if options.faults { extremeClocks = faultRandom.chance(0.5) }
        blocked = Array(repeating: Array(repeating: false, count: slots), count: slots)
        for index in 0..<slots {
            // The clock runs at rate 1 + drift relative to true time: a faster clock ticks sooner.
            // In some seeds every clock sits at an edge of the allowed band (worst case).
            let drift = extremeClocks
                ? (faultRandom.chance(0.5) ? options.clockDriftMax : -options.clockDriftMax)
                : options.clockDriftMax * (Double(faultRandom.int(in: -1000...1000)) / 1000)
            let period = Int64((Double(options.tickMicros) / (1 + drift)).rounded(.up))
            nodes.append(SimulatedNode(id: NodeID(UInt64(index + 1)), index: index, tickPeriod: period))
        }
        entriesPerMessage = [1, 2, 4, 16][faultRandom.int(in: 0...3)]
        faultKinds = Self.chooseFaultKinds(&faultRandom, forced: options.faultKinds)
        inflightMessages = [1, 2, 8][faultRandom.int(in: 0...2)]
        clients = Array(repeating: Client(lastSeen: Array(repeating: nil, count: options.keys)), count: options.clients)
    }

    var initialMembership: Membership {
        Membership(voters: (1...options.nodeCount).map { NodeID(UInt64($0)) })
    }

    func raftConfig(for id: NodeID) -> RaftConfig {
        var config = RaftConfig(id: id, initialMembership: initialMembership)
        config.electionTicks = options.electionTicks
        config.heartbeatTicks = options.heartbeatTicks
        config.snapshotChunkBytesMax = options.snapshotChunkBytes
        config.entriesPerMessageMax = entriesPerMessage
        config.inflightMessagesMax = inflightMessages
        config.leaseClockDriftBound = options.clockDriftMax
        config.mutations = options.mutations
        return config
    }

    // MARK: - Running

    public func run() -> SimulationReport {
        trace("clock tick periods (us): \(nodes.map { "\($0.id)=\($0.tickPeriod)" }.joined(separator: " ")); faults: \(faultKinds.map(\.rawValue).joined(separator: ","))")
        for index in nodes.indices { start(node: index) }
        for client in clients.indices { schedule(.clientStart(client: client), after: Int64(client) * 1_000) }
        if options.faults { schedule(.fault, after: 200_000) }
        schedule(.startHealing, after: options.faults ? options.faultPhaseMicros : 0)
        while let item = queue.pop() {
            now = item.time
            eventsProcessed += 1
            mix(UInt64(bitPattern: now))
            handle(item.payload)
            if !invariants.violations.isEmpty { break }
            if eventsProcessed % 2000 == 0 { checkLogMatching() }
            if clients.allSatisfy(\.done) { break }
            if healing, now > healingStart + options.healingBoundMicros {
                invariants.fail("liveness: operations still pending \(options.healingBoundMicros / 1000)ms after faults stopped")
                break
            }
        }
        return finish()
    }

    func finish() -> SimulationReport {
        checkLogMatching()
        report.simulatedMicros = now
        report.history = history
        report.violations = invariants.violations
        if report.violations.isEmpty {
            report.linearizability = LinearizabilityChecker.check(history)
            if case let .illegal(key) = report.linearizability {
                report.violations.append("linearizability: history of key k\(key) has no linearization")
            }
        }
        return report
    }

    func schedule(_ event: Event, after delay: Int64) {
        queue.push(event, at: now + max(0, delay))
    }

    func mix(_ value: UInt64) {
        report.traceHash = (report.traceHash ^ value) &* 0x100_0000_01b3
    }

    func trace(_ line: @autoclosure () -> String) {
        guard options.trace else { return }
        let fraction = String(now % 1000)
        let stamp = "\(now / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        report.trace.append("\(stamp)ms \(line())")
    }

    func handle(_ event: Event) {
        switch event {
        case let .tick(node, incarnation): handleTick(node, incarnation: incarnation)
        case let .deliver(message): deliver(message)
        case let .request(node, request): receive(request, at: node)
        case let .reply(client, operation, reply): handleReply(client: client, operation: operation, reply)
        case let .clientStart(client): startOperation(client)
        case let .clientResend(client, operation): resend(client: client, operation: operation)
        case let .clientTimeout(client, operation): timeOut(client: client, operation: operation)
        case let .clientRetransmit(client, operation): retransmit(client: client, operation: operation)
        case .fault: injectFault()
        case let .restart(node): restart(node)
        case let .resume(node): resume(node)
        case let .healPartition(epoch): if epoch == partitionEpoch { healPartitions() }
        case .startHealing: startHealing()
        case let .crash(node, incarnation): crashScheduled(node, incarnation: incarnation)
        case let .isolate(node, incarnation): isolateScheduled(node, incarnation: incarnation)
        }
    }

    // MARK: - Nodes

    func start(node index: Int) {
        let id = nodes[index].id
        let recovered = nodes[index].disk.recover()
        do {
            nodes[index].raft = try RaftNode(config: raftConfig(for: id), recovered: recovered, random: nodeRandom.fork())
        } catch {
            invariants.fail("node \(id) failed to start: \(error)")
            return
        }
        nodes[index].machine = SessionStateMachine<KeyspaceStateMachine>()
        if let snapshot = recovered.snapshot { nodes[index].machine.restore(snapshot.data) }
        nodes[index].lastRole = .follower
        let phase = Int64(faultRandom.int(in: 0...Int(nodes[index].tickPeriod)))
        schedule(.tick(node: index, incarnation: nodes[index].incarnation), after: phase)
    }

    func handleTick(_ index: Int, incarnation: Int) {
        guard nodes[index].incarnation == incarnation, nodes[index].isUp else { return }
        schedule(.tick(node: index, incarnation: incarnation), after: nodes[index].tickPeriod)
        if nodes[index].paused {
            nodes[index].missedTicks += 1
            return
        }
        nodes[index].raft?.tick()
        drain(index)
    }

    func deliver(_ message: Message) {
        let index = Int(message.to.rawValue) - 1
        let from = Int(message.from.rawValue) - 1
        guard nodes.indices.contains(index), nodes[index].isUp, !blocked[from][index] else { return }
        if nodes[index].paused {
            nodes[index].inbox.append(.message(message))
            return
        }
        report.messagesDelivered += 1
        mix(message.from.rawValue << 8 | message.to.rawValue | message.term.rawValue << 16)
        if case .snapshotChunk = message.body { report.snapshotsSent += 1 }
        nodes[index].raft?.step(message)
        drain(index)
    }

    /// Performs every Ready the node has, in the contract's order.
    func drain(_ index: Int) {
        while let ready = nodes[index].raft?.ready() {
            persist(ready, at: index)
            for message in ready.messages { send(message) }
            if let snapshot = ready.snapshot {
                nodes[index].machine.restore(snapshot.data)
                trace("\(nodes[index].id) installed snapshot at \(snapshot.metadata.index)")
            }
            for entry in ready.committedEntries { apply(entry, at: index) }
            for read in ready.readStates { confirmRead(read, at: index) }
            nodes[index].raft?.advance(ready)
        }
        serveReads(at: index)
        maybeSnapshot(index)
        observeRole(index)
        maybeCrashAfterFirstCommit(index)
    }

    /// A leader that fails just after its first commit in a term (buggify-style): with a
    /// correct commit rule nothing is lost; a leader that committed an entry of an
    /// earlier term too early leaves it to be overwritten.
    func maybeCrashAfterFirstCommit(_ index: Int) {
        guard options.faults, !healing, faultKinds.contains(.leaderFailsAfterElection),
              nodes[index].raft?.roleKind == .leader, let term = nodes[index].raft?.term,
              nodes[index].lastCommitTerm != term, let commit = nodes[index].raft?.commitIndex,
              nodes[index].raft?.term(at: commit) != nil, commit > nodes[index].commitAtElection
        else { return }
        nodes[index].lastCommitTerm = term
        if faultRandom.chance(options.leaderFailureChance) {
            trace("fault: crash \(nodes[index].id) right after its first commit in \(term)")
            report.faultsInjected += 1
            crash(index)
            schedule(.restart(node: index), after: Int64(faultRandom.int(in: 20_000...300_000)))
        }
    }

    func persist(_ ready: Ready, at index: Int) {
        if let snapshot = ready.snapshot { nodes[index].disk.write(.snapshot(snapshot)) }
        if !ready.entries.isEmpty { nodes[index].disk.write(.entries(ready.entries)) }
        if let state = ready.hardState { nodes[index].disk.write(.hardState(state)) }
        if ready.mustSync { nodes[index].disk.sync() }
    }

    func apply(_ entry: Entry, at index: Int) {
        invariants.observeApplied(nodes[index].id, entry, termBound: highestTerm)
        mix(entry.index.rawValue << 20 | entry.term.rawValue)
        guard case let .command(bytes) = entry.payload, let envelope = CommandEnvelope.decode(bytes) else { return }
        let output = nodes[index].machine.apply(envelope)
        let key = SimulatedNode.waiterKey(client: envelope.client, operation: envelope.operation)
        if let waiter = nodes[index].writeWaiters.removeValue(forKey: key) {
            reply(to: waiter, from: index, .output(output))
        }
    }

    func confirmRead(_ read: ReadState, at index: Int) {
        guard let request = nodes[index].readWaiters.removeValue(forKey: read.context) else { return }
        nodes[index].readsAwaitingApply.append((read.index, request))
    }

    func serveReads(at index: Int) {
        guard let applied = nodes[index].raft?.appliedIndex, !nodes[index].readsAwaitingApply.isEmpty else { return }
        var waiting: [(index: LogIndex, request: ClientRequest)] = []
        for read in nodes[index].readsAwaitingApply {
            if read.index <= applied {
                reply(to: read.request, from: index, .output(nodes[index].machine.query(read.request.command)))
            } else {
                waiting.append(read)
            }
        }
        nodes[index].readsAwaitingApply = waiting
    }

    func maybeSnapshot(_ index: Int) {
        guard let applied = nodes[index].raft?.appliedIndex, let snapshotIndex = nodes[index].raft?.snapshotIndex,
              applied.rawValue >= snapshotIndex.rawValue + UInt64(options.snapshotEveryEntries) else { return }
        let data = nodes[index].machine.snapshot()
        do {
            try nodes[index].raft?.compact(through: applied, data: data)
        } catch {
            return
        }
        if let snapshot = nodes[index].raft?.snapshot {
            nodes[index].disk.write(.snapshot(snapshot))
            nodes[index].disk.sync()
        }
    }

    func observeRole(_ index: Int) {
        guard let role = nodes[index].raft?.roleKind, let term = nodes[index].raft?.term else { return }
        if nodes[index].raft?.anomalies ?? 0 > 0 {
            invariants.fail("committed entry at risk: \(nodes[index].id) was asked to truncate committed entries")
        }
        highestTerm = max(highestTerm, term)
        if role == .leader, nodes[index].raft?.holdsLease == true { checkLeaseExclusive(reader: index) }
        if role != nodes[index].lastRole {
            trace("\(nodes[index].id) became \(role.rawValue) in \(term)")
            nodes[index].lastRole = role
        }
        guard role == .leader, term != nodes[index].lastLeaderTerm, let raft = nodes[index].raft else { return }
        do {
            nodes[index].lastLeaderTerm = raft.term
            nodes[index].commitAtElection = raft.commitIndex
            report.leaderChanges += 1
            invariants.observeLeader(raft.id, term: raft.term)
            invariants.checkLeaderCompleteness(raft)
            if options.faults, !healing, faultKinds.contains(.leaderFailsAfterElection), faultRandom.chance(options.leaderFailureChance) {
                // Leaders that fail or are cut off right after winning leave logs that
                // differ by term: the ground on which the Figure 8 rule matters.
                let delay = Int64(faultRandom.int(in: 0...30_000))
                if faultRandom.chance(0.5) {
                    schedule(.crash(node: index, incarnation: nodes[index].incarnation), after: delay)
                } else {
                    schedule(.isolate(node: index, incarnation: nodes[index].incarnation), after: delay)
                }
            }
        }
    }

    func checkLogMatching() {
        let live = nodes.compactMap(\.raft)
        for first in live.indices {
            for second in live.indices where second > first {
                invariants.checkLogMatching(live[first], live[second])
            }
        }
    }

    // MARK: - Network

    func networkDelay() -> Int64 {
        if options.faults, networkRandom.chance(0.05) { return Int64(networkRandom.int(in: 5_000...60_000)) }
        return Int64(networkRandom.int(in: 300...3_000))
    }

    func send(_ message: Message) {
        let from = Int(message.from.rawValue) - 1
        let to = Int(message.to.rawValue) - 1
        guard nodes.indices.contains(to) else { return }
        trace("send \(message)")
        if blocked[from][to] || networkRandom.chance(lossRate) { return }
        schedule(.deliver(message), after: networkDelay())
        if networkRandom.chance(duplicateRate) { schedule(.deliver(message), after: networkDelay()) }
    }
}
