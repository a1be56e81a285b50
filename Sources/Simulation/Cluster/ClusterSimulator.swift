// The simulator of whole clusters of the node runtime that ships: N real `Node`s, each
// over its own simulated disk (unsynced writes lost or torn at a crash) and its own
// drifting clocks, connected by a simulated network that carries their peer frames with
// delay, loss, duplication of Raft traffic and partitions, and driven by simulated RESP
// clients (ClusterSimulator+Clients.swift). One seed decides everything; events run from
// one priority queue in (time, insertion) order.
//
// Phases: a fault phase, then a healing phase in which faults stop, every node runs and
// every remaining operation must complete within a bound (liveness). At the end the
// history is checked for linearizability and the replicas of every shard for convergence.
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Logging
import NodeRuntime
import Storage
import Wire

/// A node's clocks: wall time and monotonic time both run at the node's own rate.
final class SimulatedNodeClock: WallClock, MonotonicClock, @unchecked Sendable {
    var trueMicros: Int64 = 0
    let rate: Double
    let epochMilliseconds: Int64 = 1_700_000_000_000

    init(rate: Double) { self.rate = rate }

    func monotonicMilliseconds() -> Int64 { Int64(Double(trueMicros) * rate) / 1000 }
    func now() -> UnixMillis { UnixMillis(epochMilliseconds + monotonicMilliseconds()) }
}

final class SimulatedClusterNode {
    let index: Int
    let info: NodeInfo
    let disk: Storage.SimulatedDisk
    let clock: SimulatedNodeClock
    var node: Node?
    var incarnation = 0
    var turnPending = false
    /// Started at bootstrap or added later; false before it joins.
    var started = false
    var bootstrap: [NodeInfo]?
    /// While paused: the inputs that reached the node, handled in order on resume.
    var held: [NodeInput]?

    init(index: Int, info: NodeInfo, seed: UInt64, rate: Double) {
        self.index = index
        self.info = info
        disk = Storage.SimulatedDisk(seed: seed)
        clock = SimulatedNodeClock(rate: rate)
    }

    var isRunning: Bool { node != nil }
}

public final class ClusterSimulator {
    enum Event {
        case timer(node: Int, incarnation: Int)
        case turn(node: Int, incarnation: Int)
        case deliver(to: Int, from: Int, frame: PeerFrame)
        case clientStart(client: Int)
        case clientReceive(client: Int, connection: ClientID, value: RESPValue)
        case clientDisconnected(client: Int, connection: ClientID)
        case clientTimeout(client: Int, operation: Int)
        case fault
        case restart(node: Int)
        case resume(node: Int, incarnation: Int)
        case heal(epoch: Int)
        case startHealing
        case addNode
        case removeNode
        case adminRetry
        /// A snapshot job performed by the node's shell comes back (NodeInput.snapshotWritten/Failed).
        case snapshotDone(node: Int, incarnation: Int, input: NodeInput)
        case adminReceive(connection: ClientID, value: RESPValue)
        /// The slot mover begins its next move, retries it, or hears back.
        case moveSlots
        case moverRetry
        case moverReceive(connection: ClientID, value: RESPValue)
    }

    let options: ClusterSimulationOptions
    var now: Int64 = 0
    var queue = EventQueue<Event>()
    var nodes: [SimulatedClusterNode] = []
    var clients: [SimulatedClient] = []
    var admin = AdminClient()
    /// The administrator that moves slots between shards.
    var mover = SlotMover()
    var networkRandom: SeededRandom
    var faultRandom: SeededRandom
    var clientRandom: SeededRandom
    var report: ClusterSimulationReport
    var history: [HistoryOperation] = []
    var operationsStarted = 0
    var healing = false
    var healingStart: Int64 = 0
    var lossRate = 0.0
    var longDelayRate = 0.0
    var duplicateRate = 0.0
    /// blocked[from][to]: frames from `from` to `to` are dropped.
    var blocked: [[Bool]]
    var partitionEpoch = 0
    var nextConnection: UInt64 = 1
    /// Which client owns each open connection (`adminOwner` for the administrator).
    var connectionOwners: [ClientID: Int] = [:]
    /// When the last reply on each connection reaches its client (replies keep their order).
    var lastArrival: [ClientID: Int64] = [:]
    /// Nodes clients may use: the bootstrap members, then the added node once it joined.
    var joinedNodes: Set<Int> = []
    /// Nodes asked to leave: clients stop using them.
    var removedNodes: Set<Int> = []
    var faultKinds: [ClusterFaultKind]
    let logSink = TraceSink()

    /// Nodes in a run: the bootstrap members plus one that joins.
    var nodeCapacity: Int { options.nodeCount + (options.membershipChanges ? 1 : 0) }

    public init(options: ClusterSimulationOptions) {
        self.options = options
        defer { logSink.prefix = { [unowned self] in "\(self.timestamp)  " } }
        var seeds = SeededRandom(seed: options.seed)
        networkRandom = SeededRandom(seed: seeds.next())
        faultRandom = SeededRandom(seed: seeds.next())
        clientRandom = SeededRandom(seed: seeds.next())
        report = ClusterSimulationReport(seed: options.seed)
        let capacity = options.nodeCount + (options.membershipChanges ? 1 : 0)
        blocked = Array(repeating: Array(repeating: false, count: capacity), count: capacity)
        var kinds = options.faultKinds ?? []
        if options.faultKinds == nil {
            var random = SeededRandom(seed: seeds.next())
            kinds = ClusterFaultKind.allCases.filter { _ in random.chance(0.6) }
            if kinds.isEmpty { kinds = [.crash] }
        }
        faultKinds = options.faults ? kinds : []
        report.faultKinds = faultKinds
        for index in 0..<capacity {
            let id = NodeID(UInt64(index + 1))
            let info = NodeInfo(id: id, host: "127.0.0.1", port: 7001 + index, peerPort: 17001 + index, zone: "")
            let drift = (Double(faultRandom.int(in: -1000...1000)) / 1000) * options.clockDriftMax
            nodes.append(SimulatedClusterNode(index: index, info: info, seed: seeds.next(), rate: 1 + drift))
        }
        let members = nodes.prefix(options.nodeCount).map(\.info)
        for node in nodes.prefix(options.nodeCount) { node.bootstrap = Array(members) }
        clients = (0..<options.clients).map { _ in SimulatedClient() }
        joinedNodes = Set(0..<options.nodeCount)
    }

    // MARK: - Running

    public func run() -> ClusterSimulationReport {
        for index in 0..<options.nodeCount { startNode(index) }
        for client in clients.indices { queue.push(.clientStart(client: client), at: 200_000 + Int64(client) * 1000) }
        if faultKinds.contains(.lossy) {
            lossRate = Double(faultRandom.int(in: 0...50)) / 1000
            longDelayRate = Double(faultRandom.int(in: 0...50)) / 1000
        }
        duplicateRate = Double(faultRandom.int(in: 0...20)) / 1000
        if !faultKinds.isEmpty { queue.push(.fault, at: 300_000) }
        queue.push(.startHealing, at: options.faultPhaseMilliseconds * 1000)
        for _ in 0..<options.slotMoves {
            queue.push(.moveSlots, at: Int64(faultRandom.int(in: 300...Int(options.faultPhaseMilliseconds))) * 1000)
        }
        if options.membershipChanges {
            queue.push(.addNode, at: Int64(faultRandom.int(in: 500...Int(options.faultPhaseMilliseconds / 2))) * 1000)
        }
        var processed = 0
        while let item = queue.pop() {
            now = item.time
            processed += 1
            if processed > options.eventsMax {
                report.violations.append("liveness: the run did not finish within \(options.eventsMax) events")
                break
            }
            if options.traceEvents { traceLine("event \(item.payload)") }
            process(item.payload)
            if finished { break }
            if healing, now - healingStart > options.healingBoundMilliseconds * 1000 {
                let what = clients.allSatisfy({ $0.pending == nil }) && operationsStarted >= options.operations
                    ? (!movesFinished ? "slot moves unfinished" : admin.done ? "the drain of the removed node unfinished" : "the membership change not committed")
                    : "operations still pending"
                report.violations.append("liveness: \(what) \(options.healingBoundMilliseconds) ms after faults stopped")
                for slot in nodes { if let node = slot.node { traceLine("status at n\(slot.index + 1):\n\(node.statusText())") } }
                break
            }
        }
        finish()
        return report
    }

    var finished: Bool {
        healing && operationsStarted >= options.operations && clients.allSatisfy { $0.pending == nil }
            && (!options.membershipChanges || (admin.done && drainFinished)) && movesFinished
    }

    /// The removed node has left the map and every shard holds its target replicas, as
    /// seen by the serving node with the newest map (what `trestle cluster remove-node`
    /// waits for): a drain that stalls fails the run on the healing bound.
    var drainFinished: Bool {
        guard case .done = admin.step, let removed = admin.removedIndex else { return true }
        let serving = nodes.indices.filter { nodes[$0].isRunning && joinedNodes.contains($0) && !removedNodes.contains($0) }
        guard let newest = serving.compactMap({ nodes[$0].node }).max(by: { ($0.clusterMap?.version ?? 0) < ($1.clusterMap?.version ?? 0) }),
              let map = newest.clusterMap else { return false }
        return map.node(nodes[removed].info.id) == nil && newest.movesPending == 0
    }

    func process(_ event: Event) {
        fingerprint(event)
        switch event {
        case let .timer(index, incarnation):
            guard nodes[index].incarnation == incarnation, nodes[index].isRunning else { return }
            input(index, .timer)
            queue.push(.timer(node: index, incarnation: incarnation), at: now + options.tickMilliseconds * 500)
        case let .snapshotDone(index, incarnation, completion):
            guard nodes[index].incarnation == incarnation, nodes[index].isRunning else { return }
            input(index, completion)
        case let .turn(index, incarnation):
            guard nodes[index].incarnation == incarnation, nodes[index].isRunning else { return }
            nodes[index].turnPending = false
            input(index, .turn)
        case let .deliver(to, from, frame):
            guard nodes[to].isRunning, !blocked[from][to] else { return }
            report.messagesDelivered += 1
            input(to, .peerFrame(from: nodes[from].info.id, frame))
        case let .clientStart(client): startOperation(client)
        case let .clientReceive(client, connection, value): receive(client, connection: connection, value)
        case let .clientDisconnected(client, connection): disconnected(client, connection: connection)
        case let .clientTimeout(client, operation): timeout(client, operation: operation)
        case .fault: injectFault()
        case let .restart(index): restart(index)
        case let .resume(index, incarnation): resume(index, incarnation: incarnation)
        case let .heal(epoch): if epoch == partitionEpoch { healPartitions() }
        case .startHealing: startHealing()
        case .addNode: addNode()
        case .removeNode: removeNode()
        case .adminRetry: sendAdmin()
        case let .adminReceive(connection, value): adminReceive(connection: connection, value)
        case .moveSlots: beginSlotMove()
        case .moverRetry: sendMover()
        case let .moverReceive(connection, value): moverReceive(connection: connection, value)
        }
    }

    // MARK: - Nodes

    func configuration(for node: SimulatedClusterNode) -> NodeConfiguration {
        var configuration = NodeConfiguration(id: node.info.id)
        configuration.host = node.info.host
        configuration.port = node.info.port
        configuration.peerPort = node.info.peerPort
        configuration.directory = "/data"
        configuration.bootstrap = node.bootstrap
        configuration.shardCount = options.shardCount
        configuration.replicationFactor = 3
        configuration.proxy = true
        // Scripts past 20,000 VM instructions go off the thread (`.runScript`) as in a real
        // process after 50 ms; counted in instructions, the run stays reproducible.
        configuration.scriptSliceInstructions = Self.scriptSliceInstructions
        configuration.autoSplit = options.autoSplit
        if options.autoSplit {
            // Runs last seconds and hold a few keys: thresholds that make shards split by
            // size and load, and merge again when cold, within one run.
            configuration.loadWindowMilliseconds = 1_000
            configuration.reshaping.splitKeys = 6
            configuration.reshaping.splitOpsPerSecond = 5
            configuration.reshaping.mergeFraction = 0.5
        }
        configuration.fsync = .always
        configuration.tickMilliseconds = options.tickMilliseconds
        configuration.electionTicks = options.electionTicks
        configuration.requestTimeoutMilliseconds = options.requestTimeoutMilliseconds
        configuration.snapshotEntries = options.snapshotEntries
        configuration.deadNodeSeconds = 0
        configuration.mutations = options.mutations
        configuration.raftMutations = options.raftMutations
        return configuration
    }

    func startNode(_ index: Int) {
        let slot = nodes[index]
        slot.incarnation += 1
        slot.started = true
        slot.clock.trueMicros = now
        do {
            try slot.disk.makeDirectory("/data")
            let node = try Node(configuration: configuration(for: slot), clock: slot.clock, monotonicClock: slot.clock,
                                seed: slot.info.id.rawValue &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(slot.incarnation) ^ options.seed,
                                disk: slot.disk, logger: logger(for: slot))
            try node.recoverOrBootstrap()
            slot.node = node
        } catch {
            // As a supervisor would: a node that cannot start (its disk failed) is retried.
            traceLine("n\(slot.info.id.rawValue) cannot start (incarnation \(slot.incarnation)): \(error)")
            slot.disk.crash()
            queue.push(.restart(node: index), at: now + 500_000)
            return
        }
        traceLine("n\(slot.info.id.rawValue) starts (incarnation \(slot.incarnation))")
        for peer in nodes where peer.index != index && peer.isRunning {
            input(index, .peerLink(peer.info.id, connected: true))
            input(peer.index, .peerLink(slot.info.id, connected: true))
        }
        perform(index)
        queue.push(.timer(node: index, incarnation: slot.incarnation), at: now + 1000)
    }

    /// A node's logger: its lines join the trace when tracing, else go nowhere.
    private func logger(for slot: SimulatedClusterNode) -> Logger {
        guard options.trace else { return Logger(label: "trestle.sim") { _ in SwiftLogNoOpLogHandler() } }
        let sink = logSink
        let name = "n\(slot.info.id.rawValue)"
        return Logger(label: "trestle.sim") { _ in TraceLogHandler(sink: sink, node: name) }
    }

    /// Hands one input to a running node and performs its outputs.
    func input(_ index: Int, _ input: NodeInput) {
        let slot = nodes[index]
        guard let node = slot.node else { return }
        if slot.held != nil {
            if case .timer = input { return }
            slot.held?.append(input)
            return
        }
        slot.clock.trueMicros = now
        node.handle(input)
        perform(index)
    }

    private func perform(_ index: Int) {
        let slot = nodes[index]
        while let node = slot.node, node.hasOutputs {
            var persisted = false
            for output in node.takeOutputs() {
                switch output {
                case let .reply(connection, value, _): deliverReply(from: index, connection: connection, value)
                case let .close(connection): deliverClose(from: index, connection: connection)
                case .push, .pushAll: break  // simulated clients do not subscribe
                case let .raft(shard, messages):
                    for message in messages {
                        guard let to = nodeIndex(message.to) else { continue }
                        transmit(from: index, to: to, .raft(shard: shard, messages: [message]))
                    }
                case let .send(peer, frame):
                    guard let to = nodeIndex(peer) else { continue }
                    guard to != index else {
                        // The shell's transport has no link to its own node: such a frame
                        // would be dropped there, so delivering it here would hide the bug.
                        report.violations.append("n\(index + 1) sent a peer frame to itself (no such link in production): \(frame)")
                        continue
                    }
                    transmit(from: index, to: to, frame)
                case .flushPeers, .peerAddress, .removePeer:
                    break
                case let .persist(sync):
                    do {
                        try node.writeStaged(sync: sync)
                        persisted = true
                    } catch {
                        node.handle(.persistFailed("\(error)"))
                    }
                case .syncLog:
                    do { try node.syncLog() } catch { node.handle(.persistFailed("\(error)")) }
                case let .writeSnapshot(job):
                    // Written at once on the simulated disk; the node hears of it later, as
                    // from the shell's snapshot thread, having served requests meanwhile.
                    let completion: NodeInput
                    do { completion = .snapshotWritten(job, data: try job.perform()) } catch {
                        completion = .snapshotFailed(job, "\(error)")
                    }
                    queue.push(.snapshotDone(node: index, incarnation: slot.incarnation, input: completion), at: now + Self.snapshotJobMicros)
                case let .encode(job):
                    queue.push(.snapshotDone(node: index, incarnation: slot.incarnation, input: .encoded(job, data: job.perform())),
                               at: now + Self.snapshotJobMicros)
                case let .migrate(job):
                    // The simulated clients never send MIGRATE; a target outside the
                    // simulation is unreachable.
                    queue.push(.snapshotDone(node: index, incarnation: slot.incarnation, input: .migrated(job, .connectFailed)),
                               at: now + Self.snapshotJobMicros)
                case .followMaster, .unfollowMaster:
                    // Standalone servers only (REPLICAOF); the simulated cluster never follows a master.
                    break
                case let .runScript(job):
                    // Only with a script slice, which the simulator never sets (it reads
                    // the system clock); run at once, heard of later, as from a thread.
                    job.perform()
                    queue.push(.snapshotDone(node: index, incarnation: slot.incarnation, input: .scriptRan(job)), at: now + Self.snapshotJobMicros)
                case .shutdown:
                    traceLine("n\(slot.info.id.rawValue) asked to shut down (the simulator's clients never send SHUTDOWN)")
                case let .fatal(reason):
                    traceLine("n\(slot.info.id.rawValue) fatal: \(reason)")
                    crash(index, restartAfterMicros: Int64(faultRandom.int(in: 200_000...1_000_000)))
                    return
                }
            }
            if persisted { node.handle(.persisted) }
        }
        if let node = slot.node, node.wantsTurn, !slot.turnPending {
            slot.turnPending = true
            queue.push(.turn(node: index, incarnation: slot.incarnation), at: now + 50)
        }
    }

    /// How long a snapshot job takes, in simulated microseconds.
    static let snapshotJobMicros: Int64 = 3000

    func nodeIndex(_ id: NodeID) -> Int? {
        let index = Int(id.rawValue) - 1
        return index >= 0 && index < nodes.count ? index : nil
    }

    // MARK: - Network

    private func transmit(from: Int, to: Int, _ frame: PeerFrame) {
        guard !blocked[from][to] else { return }
        if lossRate > 0, networkRandom.chance(lossRate) { return }
        var delay = Int64(networkRandom.int(in: 100...2000))
        if longDelayRate > 0, networkRandom.chance(longDelayRate) { delay += Int64(networkRandom.int(in: 5000...50_000)) }
        queue.push(.deliver(to: to, from: from, frame: frame), at: now + delay)
        // A duplicated Raft message tests the core's idempotence; forwarded client requests
        // ride TCP in production, which never duplicates them.
        if case .raft = frame, duplicateRate > 0, networkRandom.chance(duplicateRate) {
            queue.push(.deliver(to: to, from: from, frame: frame), at: now + delay + Int64(networkRandom.int(in: 100...5000)))
        }
    }

    // MARK: - Trace and fingerprint

    func traceLine(_ text: @autoclosure () -> String) {
        guard options.trace else { return }
        flushLogLines()
        report.trace.append("\(timestamp)  \(text())")
    }

    private var timestamp: String { "\(now / 1000).\(String(now % 1000 + 1000).dropFirst()) ms" }

    func flushLogLines() {
        guard !logSink.lines.isEmpty else { return }
        report.trace.append(contentsOf: logSink.lines)
        logSink.lines = []
    }

    private func fingerprint(_ event: Event) {
        var hash = report.fingerprint ^ UInt64(bitPattern: now)
        hash = (hash &* 0x100_0000_01B3) ^ Self.kind(event)
        report.fingerprint = hash &* 0x9E37_79B9_7F4A_7C15
    }

    private static func kind(_ event: Event) -> UInt64 {
        switch event {
        case .timer(let node, _): return 1 &+ UInt64(node) << 8
        case .turn(let node, _): return 2 &+ UInt64(node) << 8
        case .deliver(let to, let from, _): return 3 &+ UInt64(to) << 8 &+ UInt64(from) << 16
        case .clientStart(let client): return 4 &+ UInt64(client) << 8
        case .clientReceive(let client, let connection, _): return 5 &+ UInt64(client) << 8 &+ connection.rawValue << 24
        case .clientDisconnected(let client, _): return 6 &+ UInt64(client) << 8
        case .clientTimeout(let client, let operation): return 7 &+ UInt64(client) << 8 &+ UInt64(operation) << 24
        case .fault: return 8
        case .restart(let node): return 9 &+ UInt64(node) << 8
        case .resume(let node, _): return 16 &+ UInt64(node) << 8
        case .heal: return 10
        case .startHealing: return 11
        case .addNode: return 12
        case .removeNode: return 13
        case .adminRetry: return 14
        case .adminReceive: return 15
        case .moveSlots: return 19
        case .moverRetry: return 20
        case .moverReceive: return 21
        case .snapshotDone(let node, _, _): return 17 &+ UInt64(node) << 8
        }
    }
}
