// The I/O shell around one `Node`: it turns socket events, peer frames and the timer into
// node inputs and performs the node's outputs with real sockets and the real disk. All of
// it runs on one event loop, so neither the node nor the host takes a lock.
//
// Order of effects (the contract in NodeIO.swift): outputs are performed in order; at a
// `.persist` the host first writes out every client reply and queued peer frame, then
// writes and fsyncs the staged Raft state, then feeds `.persisted` back. A turn is
// requested at most once per event-loop iteration, so the inputs of one iteration share
// one Ready round and one fsync (group commit).
import Cluster
import Consensus
import Core
import Engine
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import NIOCore
import NodeRuntime
import Transport
import Wire

final class NodeHost {
    let node: Node
    let loop: EventLoop
    let transport: PeerTransport
    let logger: Logger
    /// The connections by client id (looked up for every reply and every push).
    private var handlers = DirectMappedTable<ClusterClientHandler>()
    /// Connections holding replies or pushes to write: flushed once, at the end of the
    /// event-loop iteration, after every readable socket of the iteration was served (as
    /// Redis writes in beforeSleep). A client then gets one write for everything answered
    /// meanwhile, and the replies of many clients leave together: writing each client's
    /// replies as soon as its read was served wakes a client that sleeps in between for
    /// every write, which cost more system time than the requests themselves at -P 16.
    private var dirtyHandlers: [ClusterClientHandler] = []
    private var flushScheduled = false
    /// A message pushed to many subscribers, encoded once.
    private var pushScratch = ByteBufferAllocator().buffer(capacity: 256)
    private var nextClientID: UInt64 = 1
    private var turnScheduled = false
    private var performing = false
    /// Latencies measured here (LatencyHistogram.swift), shown on /metrics.
    var requestLatency = RequestLatencies()
    var fsyncLatency = LatencyHistogram()
    var snapshotDuration = LatencyHistogram()
    /// Bytes read from and written to client sockets since start (never reset: /metrics
    /// counters); INFO's totals count from the last CONFIG RESETSTAT (`netBaseline`).
    var clientBytesReceived: UInt64 = 0
    var clientBytesSent: UInt64 = 0
    var netBaseline: (received: UInt64, sent: UInt64) = (0, 0)
    /// Where snapshots are serialized and written: one at a time, off the event loop.
    private let snapshotQueue = DispatchQueue(label: "trestle.snapshots")
    /// Encodes backups (`.encode`), one at a time, away from the event loop.
    private let encodeQueue = DispatchQueue(label: "trestle.backups")
    /// Busy scripts (one at a time, by the node's rule): a queue of their own, so a
    /// script that runs until SCRIPT KILL holds up nothing else.
    private let scriptQueue = DispatchQueue(label: "trestle.scripts")
    /// MIGRATE transfers: each blocks its own worker on the target (Node.migrationsMax bounds them).
    private let migrationQueue = DispatchQueue(label: "trestle.migrate", attributes: .concurrent)
    /// The link to the Redis master this server follows (REPLICAOF), if any.
    private var masterLink: MasterLinkClient?
    /// When the link last logged an error reply to the master's stream (a burst logs once a second).
    private var masterErrorLogged: UInt64 = 0

    init(node: Node, loop: EventLoop, transport: PeerTransport, logger: Logger) {
        self.node = node
        self.loop = loop
        self.transport = transport
        self.logger = logger
        transport.onFrame = { [unowned self] peer, frame in self.deliver(.peerFrame(from: peer, frame)) }
        transport.onPeerStateChange = { [unowned self] peer, state in self.deliver(.peerLink(peer, connected: state.isConnected)) }
    }

    /// Hands one input to the node and performs what it asks for.
    func deliver(_ input: NodeInput) {
        loop.assertInEventLoop()
        node.handle(input)
        perform()
    }

    func timerFired() {
        node.handle(.memoryUsed(bytes: ProcessStats.residentBytes()))
        deliver(.timer)
    }

    // MARK: - Clients

    /// Registers a new connection and returns the id the node will know it by (the caller
    /// then delivers `.clientOpened`).
    func register(_ handler: ClusterClientHandler) -> ClientID {
        let id = ClientID(rawValue: nextClientID)
        nextClientID += 1
        handlers.insert(handler, for: id.rawValue)
        return id
    }

    func closed(_ id: ClientID) {
        handlers.remove(id.rawValue)
        deliver(.clientClosed(id))
    }

    /// Notes that `handler` holds output (replies, pushes, a close) to write at the end of
    /// this event-loop iteration.
    func markDirty(_ handler: ClusterClientHandler) {
        guard !handler.isMarkedDirty else { return }
        handler.isMarkedDirty = true
        dirtyHandlers.append(handler)
        scheduleFlush()
    }

    /// Closes every connection (the end of a shutdown).
    func closeAllConnections() {
        for id in handlers.all.keys.sorted() { handlers[id]?.close() }
    }

    // MARK: - Performing outputs

    /// Performs outputs until the node has none; re-entrant calls return at once (the
    /// outer call picks up what they would have performed).
    func perform() {
        guard !performing else { return }
        performing = true
        defer { performing = false }
        performOutputs()
        if node.wantsTurn { scheduleTurn() }
    }

    private func performOutputs() {
        while node.hasOutputs {
            var failedSends: [(NodeID, PeerFrame)] = []
            var persisted = false
            // One clock reading for the latencies of every reply of this pass.
            var repliedAt: UInt64 = 0
            let batch = node.takeOutputs()
            for output in batch {
                switch output {
                case let .reply(id, value, version):
                    guard let handler = handlers[id.rawValue] else {
                        if id.rawValue >= MasterLink.clientIDBase { masterLink?.answered(id, value) }
                        continue
                    }
                    if repliedAt == 0 { repliedAt = DispatchTime.now().uptimeNanoseconds }
                    handler.enqueue(value, as: version, at: repliedAt)
                    markDirty(handler)
                case let .push(id, value, version):
                    guard let handler = handlers[id.rawValue] else { continue }
                    handler.push(value, as: version)
                    markDirty(handler)
                case let .pushAll(ids, value, version):
                    pushScratch.clear()
                    RESPEncoder.write(value, as: version, into: &pushScratch)
                    for id in ids {
                        guard let handler = handlers[id.rawValue] else { continue }
                        handler.pushEncoded(pushScratch)
                        markDirty(handler)
                    }
                case let .close(id):
                    if let handler = handlers[id.rawValue] {
                        handler.closeWhenFlushed()
                    } else if id.rawValue >= MasterLink.clientIDBase {
                        // The master's client has no connection of its own: closed at once.
                        loop.execute { [self] in deliver(.clientClosed(id)) }
                    }
                case let .raft(shard, messages):
                    // Dropped messages (breaker open, queue full) are Raft's to retransmit.
                    _ = transport.sendRaft(shard: shard, messages: messages)
                case let .send(peer, frame):
                    if !transport.send(frame, to: peer) { failedSends.append((peer, frame)) }
                case .flushPeers:
                    transport.flush()
                case let .peerAddress(peer, host, port):
                    transport.setAddress(peer, host: host, port: port)
                case let .removePeer(peer):
                    transport.removePeer(peer)
                case let .persist(sync):
                    // Replies of entries committed before this round leave while we fsync.
                    flushClients()
                    do {
                        let started = DispatchTime.now().uptimeNanoseconds
                        try node.writeStaged(sync: sync)
                        if sync { fsyncLatency.record(nanoseconds: DispatchTime.now().uptimeNanoseconds &- started) }
                        persisted = true
                    } catch {
                        node.handle(.persistFailed("\(error)"))
                    }
                case let .writeSnapshot(job):
                    writeSnapshot(job)
                case let .encode(job):
                    let bound = LoopConfinedNode(node: self)
                    encodeQueue.async {
                        let data = job.perform()
                        bound.node.loop.execute { bound.node.deliver(.encoded(job, data: data)) }
                    }
                case let .runScript(job):
                    let bound = LoopConfinedNode(node: self)
                    scriptQueue.async {
                        job.perform()
                        bound.node.loop.execute { bound.node.deliver(.scriptRan(job)) }
                    }
                case let .migrate(job):
                    let bound = LoopConfinedNode(node: self)
                    migrationQueue.async {
                        let outcome = MigrationClient.perform(job)
                        bound.node.loop.execute { bound.node.deliver(.migrated(job, outcome)) }
                    }
                case let .followMaster(job):
                    follow(job)
                case .unfollowMaster:
                    masterLink?.stop()
                    masterLink = nil
                case .syncLog:
                    do { try node.syncLog() } catch { node.handle(.persistFailed("\(error)")) }
                case let .fatal(reason):
                    logger.critical("stopping: \(reason)")
                    exit(3)
                case .shutdown:
                    logger.notice("SHUTDOWN from a client: stopping as on SIGTERM")
                    kill(getpid(), SIGTERM)
                }
            }
            node.recycleOutputs(consume batch)
            for (peer, frame) in failedSends { node.handle(.sendFailed(to: peer, frame)) }
            if persisted { node.handle(.persisted) }
        }
    }

    /// Starts the link of `job` in place of any earlier one; its events come back to the
    /// event loop as inputs.
    private func follow(_ job: MasterLinkJob) {
        masterLink?.stop()
        let bound = LoopConfinedNode(node: self)
        let link = MasterLinkClient(job: job, deliver: { event in
            bound.node.loop.execute { bound.node.deliver(.masterLink(event, generation: job.generation)) }
        }, onAnswerError: { text in
            bound.node.loop.execute {
                let time = DispatchTime.now().uptimeNanoseconds
                guard time &- bound.node.masterErrorLogged >= 1_000_000_000 else { return }
                bound.node.masterErrorLogged = time
                bound.node.logger.warning("a command of the master's stream failed here", metadata: ["error": "\(text)"])
            }
        })
        masterLink = link
        link.start()
    }

    /// Serializes and writes a snapshot on the snapshot thread; the result comes back to the
    /// event loop as an input. The node keeps serving meanwhile.
    private func writeSnapshot(_ job: SnapshotJob) {
        let bound = LoopConfinedNode(node: self)
        snapshotQueue.async {
            let started = DispatchTime.now()
            let result = Result { try job.perform() }
            let nanoseconds = DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds
            let milliseconds = nanoseconds / 1_000_000
            bound.node.loop.execute {
                switch result {
                case .success(let data):
                    bound.node.snapshotDuration.record(nanoseconds: nanoseconds)
                    bound.node.logger.info("snapshot written", metadata: [
                        "shard": "\(job.shard.rawValue)", "index": "\(job.metadata.index.rawValue)",
                        "bytes": "\(data.count)", "ms": "\(milliseconds)"])
                    bound.node.deliver(.snapshotWritten(job, data: data))
                case .failure(let error):
                    bound.node.deliver(.snapshotFailed(job, "\(error)"))
                }
            }
        }
    }

    /// Writes every marked connection's output; a connection that had stopped reading for
    /// room reads again (handing the node more input, performed at once).
    private func flushClients() {
        while !dirtyHandlers.isEmpty {
            let dirty = dirtyHandlers
            dirtyHandlers = []
            for handler in dirty {
                handler.isMarkedDirty = false
                handler.flushFromHost()
            }
        }
    }

    /// Flushes the marked connections at the end of this event-loop iteration (once,
    /// however many replies: NIO runs the tasks scheduled while it served the readable
    /// sockets after it served them all).
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.execute { [self] in
            flushScheduled = false
            flushClients()
        }
    }

    /// Asks for a turn at the end of this event-loop iteration (once, however many inputs).
    private func scheduleTurn() {
        guard !turnScheduled else { return }
        turnScheduled = true
        loop.execute { [self] in
            turnScheduled = false
            deliver(.turn)
        }
    }
}
