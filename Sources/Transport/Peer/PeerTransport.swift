// One node's side of all its peer links: a listener, one TCP connection per peer, bounded
// queues, reconnects and circuit breakers. Confined to ONE event loop: every channel lives
// on it, every callback runs on it, and no lock is taken.
//
// Topology: one connection per node pair; the node with the lower id dials, the higher id
// only accepts, and frames flow both ways on that connection. A newer accepted connection
// from a peer replaces the older one.
//
// Bounds per peer: `queueBytesMax` of encoded frames in the queue (or one larger frame in
// an otherwise empty queue), plus what sits in the socket's NIO write buffer (the queue is
// handed over only while the channel is writable, so at most `writeBufferHighBytes` plus
// one queue's worth). A slow or dead peer only ever fills its own queue; its breaker then
// makes `send` fail fast and empties that queue.
//
// Liveness: nothing extra is sent on idle links. A connection that carried frames out but
// nothing back for `silentLinkTimeout` is closed and redialled (half-open sockets, proxies
// that swallow traffic); a link down for `breakerOpenAfter` opens its breaker.
import Cluster
import Consensus
import Core
import Logging
import NIOCore
import NIOPosix
import NIOSSL

public enum PeerTransportError: Error, Equatable, Sendable {
    /// The listener bound but reported no local port.
    case noLocalPort
    /// The transport was shut down.
    case shutDown
}

/// `@unchecked Sendable`: all mutable state is touched only on `eventLoop` (asserted in
/// debug builds); the conformance lets NIO's @Sendable initializers and timers refer back.
public final class PeerTransport: @unchecked Sendable {
    public let node: NodeID
    public let cluster: String
    public let eventLoop: EventLoop
    public let limits: PeerLimits
    var logger: Logger

    /// Called on the event loop for every frame received from a peer (after its hello).
    public var onFrame: ((NodeID, PeerFrame) -> Void)?
    /// Called when a peer's link state changes (for logs / CLUSTER NODES).
    public var onPeerStateChange: ((NodeID, PeerLinkState) -> Void)?

    /// Connections refused at hello (wrong cluster, wrong node, wrong direction).
    public internal(set) var refusedConnections: UInt64 = 0
    /// Connections closed for bytes that were not valid frames or broke the protocol.
    public internal(set) var protocolErrors: UInt64 = 0
    /// Connections refused because they did not prove they know the cluster secret.
    public internal(set) var unauthenticatedPeers: UInt64 = 0
    /// The cluster's shared secret: with one, every peer must prove it knows it before
    /// anything it sends is delivered. Set before `listen` and the first dial.
    public var secret: ClusterSecret?
    /// Mutual TLS on every peer connection, dialled and accepted. Set before `listen`.
    public var tls: PeerTLS?

    var links: [NodeID: PeerLink] = [:]
    /// Every open connection, current or not yet said hello, so shutdown can close them.
    var connections: [ObjectIdentifier: PeerConnectionHandler] = [:]
    var serverChannel: Channel?
    var breakerTimer: RepeatedTask?
    var isShutdown = false
    var random = SystemRandomNumberGenerator()
    let encoder: PeerFrameEncoder
    let allocator = ByteBufferAllocator()
    /// Capacity a fresh peer queue starts with after a flush (the last flush's size, capped),
    /// so steady traffic does not regrow the buffer every turn.
    static let pendingCapacityBytesMax = 64 * 1024

    /// `cluster` must fit `limits.clusterNameBytesMax` UTF-8 bytes (a configuration error
    /// otherwise, checked here).
    public init(node: NodeID, cluster: String, eventLoop: EventLoop, limits: PeerLimits = PeerLimits(), logger: Logger) {
        precondition(node != .none, "a peer transport needs a node id")
        precondition(cluster.utf8.count <= limits.clusterNameBytesMax, "cluster name longer than clusterNameBytesMax")
        self.node = node
        self.cluster = cluster
        self.eventLoop = eventLoop
        self.limits = limits
        self.encoder = PeerFrameEncoder(limits: limits)
        var logger = logger
        logger[metadataKey: "node"] = "\(node)"
        self.logger = logger
        let interval = limits.breakerCheckInterval
        breakerTimer = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            self?.checkBreakers()
        }
    }

    // MARK: - Public API

    /// Binds the peer listener; returns the bound port (port 0 allowed). May be called from
    /// any thread.
    public func listen(host: String, port: Int) -> EventLoopFuture<Int> {
        let waterMark = ChannelOptions.Types.WriteBufferWaterMark(low: limits.writeBufferLowBytes, high: limits.writeBufferHighBytes)
        let limits = self.limits
        return ServerBootstrap(group: eventLoop, childGroup: eventLoop)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { [logger] channel in
                ConnectionCap.install(on: channel, limit: ConnectionCap.peerConnectionsMax, listener: "peers", logger: logger)
            }
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: waterMark)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.server)) }
                    try channel.pipeline.syncOperations.addHandler(
                        PeerConnectionHandler(role: .acceptor, transport: self, limits: limits))
                }
            }
            .bind(host: host, port: port)
            .flatMapThrowing { [self] channel in
                eventLoop.assertInEventLoop()
                guard !isShutdown else {
                    channel.close(promise: nil)
                    throw PeerTransportError.shutDown
                }
                guard let bound = channel.localAddress?.port else {
                    channel.close(promise: nil)
                    throw PeerTransportError.noLocalPort
                }
                serverChannel = channel
                logger.info("peer listener bound", metadata: ["address": "\(host):\(bound)"])
                return bound
            }
    }

    /// Where to dial `node`. Setting it for a new node starts managing that link (this node
    /// dials only peers with a higher id; a lower peer's address is recorded but unused).
    /// Changing a known peer's address drops the current connection and redials.
    public func setAddress(_ node: NodeID, host: String, port: Int) {
        eventLoop.assertInEventLoop()
        guard !isShutdown, node != .none, node != self.node else { return }
        if let link = links[node] {
            guard link.host != host || link.port != port else { return }
            link.host = host
            link.port = port
            logger.info("peer address changed", metadata: ["peer": "\(node)", "address": "\(host):\(port)"])
            guard dialsTo(node) else { return }
            abandonDial(link)
            dropConnection(link, reason: "address changed")
            link.reconnect?.cancel()
            link.reconnect = nil
            dial(link)
            refresh(link)
            return
        }
        let link = addLink(node)
        link.host = host
        link.port = port
        logger.info("peer added", metadata: ["peer": "\(node)", "address": "\(host):\(port)"])
        if dialsTo(node) { dial(link) }
        refresh(link)
    }

    /// Stops managing `node`: closes its connection, drops its queue and forgets it. A
    /// lower-id peer that dials in again afterwards is accepted and managed anew.
    public func removePeer(_ node: NodeID) {
        eventLoop.assertInEventLoop()
        guard let link = links.removeValue(forKey: node) else { return }
        link.reconnect?.cancel()
        link.reconnect = nil
        abandonDial(link)
        if let connection = link.connection {
            link.connection = nil
            connection.close()
        }
        logger.info("peer removed", metadata: ["peer": "\(node)"])
    }

    /// Queues a frame for `node`; returns false (frame dropped) if the peer's breaker is open,
    /// the peer is unknown, or its bounded queue is full. Never blocks. A frame over a codec
    /// limit (PeerLimits) is also dropped. Hellos and proofs are the transport's own and are refused.
    @discardableResult
    public func send(_ frame: PeerFrame, to node: NodeID) -> Bool {
        eventLoop.assertInEventLoop()
        guard !isShutdown, let link = links[node] else { return false }
        switch frame {
        case .hello, .proof: return false
        case .raft, .request, .reply: break
        }
        if !link.breaker.isOpen, !link.isHealthy { refresh(link) }
        guard !link.breaker.isOpen, link.pending.readableBytes < limits.queueBytesMax else {
            link.counters.framesDropped += 1
            return false
        }
        let start = link.pending.writerIndex
        do {
            try encoder.encode(frame, into: &link.pending)
            guard link.pendingFrames == 0 || link.pending.readableBytes <= limits.queueBytesMax else {
                link.pending.moveWriterIndex(to: start)
                link.counters.framesDropped += 1
                return false
            }
        } catch {
            logger.warning("peer frame not encodable", metadata: ["peer": "\(node)", "error": "\(error)"])
            link.counters.framesDropped += 1
            return false
        }
        link.pendingFrames += 1
        link.counters.queuedBytes = link.pending.readableBytes
        return true
    }

    /// Writes and flushes everything queued (the node calls this once per event-loop turn,
    /// so frames queued in one turn go out in one write per peer). Queues of peers that are
    /// not connected, or whose socket is not writable, stay queued.
    public func flush() {
        eventLoop.assertInEventLoop()
        for link in links.values where link.pendingFrames > 0 { flushLink(link) }
    }

    /// The link state of `node` (`.unknown` connection if not managed).
    public func linkState(_ node: NodeID) -> PeerLinkState {
        eventLoop.assertInEventLoop()
        return links[node]?.state ?? .unknown
    }

    /// Counters of `node`, nil if not managed.
    public func counters(_ node: NodeID) -> PeerCounters? {
        eventLoop.assertInEventLoop()
        return links[node]?.counters
    }

    /// The peers currently managed, sorted.
    public var peers: [NodeID] {
        eventLoop.assertInEventLoop()
        return links.keys.sorted()
    }

    /// Closes the listener and every connection and stops all timers. May be called from
    /// any thread; completes when every channel is closed. Nothing is sent afterwards.
    public func shutdown() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { [self] in
            isShutdown = true
            breakerTimer?.cancel()
            breakerTimer = nil
            var closing: [EventLoopFuture<Void>] = []
            if let serverChannel { closing.append(serverChannel.close()) }
            serverChannel = nil
            for link in links.values {
                link.reconnect?.cancel()
                link.reconnect = nil
                if let channel = link.dialChannel { closing.append(channel.close()) }
                link.dialChannel = nil
            }
            for handler in connections.values {
                if let channel = handler.channel { closing.append(channel.close()) }
            }
            return EventLoopFuture.andAllComplete(closing, on: eventLoop)
        }
    }

    // MARK: - Links

    /// True if this node dials `peer` (the lower id dials).
    func dialsTo(_ peer: NodeID) -> Bool { node < peer }

    func addLink(_ peer: NodeID) -> PeerLink {
        let link = PeerLink(node: peer, limits: limits, now: .now(), allocator: allocator)
        links[peer] = link
        return link
    }

    /// Hands the queue to the socket if the link is connected and writable.
    func flushLink(_ link: PeerLink) {
        guard link.pendingFrames > 0, let connection = link.connection, connection.isWritable else { return }
        let buffer = link.pending
        link.counters.framesSent += UInt64(link.pendingFrames)
        link.counters.bytesSent += UInt64(buffer.readableBytes)
        link.counters.queuedBytes = 0
        link.pending = allocator.buffer(capacity: min(buffer.readableBytes, Self.pendingCapacityBytesMax))
        link.pendingFrames = 0
        if link.unansweredSince == nil { link.unansweredSince = .now() }
        connection.write(buffer)
    }

    /// Re-evaluates the breaker and reports a changed state.
    func refresh(_ link: PeerLink) {
        switch link.breaker.observe(healthy: link.isHealthy, now: .now()) {
        case .opened?:
            let dropped = link.pendingFrames
            link.counters.breakerTrips += 1
            link.counters.framesDropped += UInt64(dropped)
            link.pending = allocator.buffer(capacity: 0)
            link.pendingFrames = 0
            link.counters.queuedBytes = 0
            logger.info("peer breaker opened", metadata: ["peer": "\(link.node)", "state": "\(link.state)", "droppedFrames": "\(dropped)"])
        case .closed?:
            logger.info("peer breaker closed", metadata: ["peer": "\(link.node)"])
        case nil:
            break
        }
        let state = link.state
        guard state != link.reportedState else { return }
        link.reportedState = state
        onPeerStateChange?(link.node, state)
    }

    /// The periodic check: silent connections are dropped, then every breaker re-evaluated.
    func checkBreakers() {
        let now = NIODeadline.now()
        for link in links.values {
            if let timeout = limits.silentLinkTimeout, let since = link.unansweredSince,
               link.connection != nil, now - since >= timeout {
                dropConnection(link, reason: "no frame from the peer for \(timeout) after sending")
                scheduleReconnect(link)
            }
            refresh(link)
        }
    }
}
