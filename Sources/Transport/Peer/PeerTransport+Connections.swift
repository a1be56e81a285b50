// The connection side of PeerTransport: dialling with backoff, the hello handshake, and
// the events each PeerConnectionHandler reports. All on the transport's event loop.
//
// Invariants: a connection becomes a link's current connection only after both hellos
// matched (same cluster, expected node, lower id dialling); events from connections that
// are no longer current (replaced, abandoned, removed) change nothing.
import Cluster
import Consensus
import Core
import Logging
import NIOCore
import NIOSSL
import NIOPosix

extension PeerTransport {
    // MARK: - Dialling

    /// Starts a dial to `link` unless one is running, it is connected, or a redial waits.
    func dial(_ link: PeerLink) {
        guard !isShutdown, dialsTo(link.node), link.connection == nil, !link.dialing, link.reconnect == nil,
              let host = link.host
        else { return }
        link.dialing = true
        link.dialAttempt += 1
        let attempt = link.dialAttempt
        let peer = link.node
        let port = link.port
        let limits = self.limits
        let waterMark = ChannelOptions.Types.WriteBufferWaterMark(low: limits.writeBufferLowBytes, high: limits.writeBufferHighBytes)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(limits.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.writeBufferWaterMark, value: waterMark)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls.client, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        PeerConnectionHandler(role: .dialer(expected: peer, attempt: attempt), transport: self, limits: limits))
                }
            }
        // A numeric address skips name resolution; names go through NIO's resolver.
        let connecting: EventLoopFuture<Channel>
        if let address = try? SocketAddress(ipAddress: host, port: port) {
            connecting = bootstrap.connect(to: address)
        } else {
            connecting = bootstrap.connect(host: host, port: port)
        }
        connecting
            .whenComplete { [self] result in
                dialFinished(peer: peer, attempt: attempt, result: result)
            }
    }

    private func dialFinished(peer: NodeID, attempt: UInt64, result: Result<Channel, Error>) {
        let current = links[peer].map { $0.dialAttempt == attempt && $0.dialing } ?? false
        switch result {
        case .success(let channel):
            guard !isShutdown, let link = links[peer] else {
                channel.close(promise: nil)
                return
            }
            if current {
                link.dialChannel = channel
            } else if link.connection?.channel !== channel {
                // Abandoned while connecting (the hello may already have made it current,
                // in which case it is kept).
                channel.close(promise: nil)
            }
        case .failure(let error):
            guard current, let link = links[peer] else { return }
            link.dialing = false
            logger.debug("peer dial failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
            scheduleReconnect(link)
            refresh(link)
        }
    }

    /// Forgets the dial in flight, closing its channel if it connected.
    func abandonDial(_ link: PeerLink) {
        link.dialAttempt += 1
        link.dialing = false
        link.dialChannel?.close(promise: nil)
        link.dialChannel = nil
    }

    /// Closes the link's current connection and marks the link down from now.
    func dropConnection(_ link: PeerLink, reason: String) {
        guard let connection = link.connection else { return }
        link.connection = nil
        link.unansweredSince = nil
        link.disconnectedSince = .now()
        connection.close()
        logger.info("peer disconnected", metadata: ["peer": "\(link.node)", "reason": "\(reason)"])
    }

    func scheduleReconnect(_ link: PeerLink) {
        guard !isShutdown, dialsTo(link.node), link.reconnect == nil else { return }
        let delay = link.backoff.nextDelay(using: &random)
        let peer = link.node
        link.reconnect = eventLoop.scheduleTask(in: delay) { [weak self] in
            guard let self, let link = self.links[peer] else { return }
            link.reconnect = nil
            self.dial(link)
            self.refresh(link)
        }
    }

    // MARK: - Handler events

    func helloBuffer(allocator: ByteBufferAllocator, nonce: [UInt8]) -> ByteBuffer? {
        var buffer = allocator.buffer(capacity: 64 + cluster.utf8.count + nonce.count)
        do {
            try encoder.encode(.hello(node: node, cluster: cluster, nonce: nonce), into: &buffer)
        } catch {
            logger.error("cannot encode hello", metadata: ["error": "\(error)"])
            return nil
        }
        return buffer
    }

    /// With a cluster secret: this node's proof for `peer`, signing the peer's nonce. Nil
    /// without a secret (no proof is sent or asked for).
    func proofBuffer(allocator: ByteBufferAllocator, to peer: NodeID, peerNonce: [UInt8], ourNonce: [UInt8]) -> ByteBuffer? {
        guard let secret else { return nil }
        let mac = secret.proof(cluster: cluster, sender: node.rawValue, receiver: peer.rawValue,
                               receiverNonce: peerNonce, senderNonce: ourNonce)
        var buffer = allocator.buffer(capacity: 64)
        do {
            try encoder.encode(.proof(mac: mac), into: &buffer)
        } catch {
            logger.error("cannot encode proof", metadata: ["error": "\(error)"])
        }
        return buffer
    }

    /// Checks the proof `peer` sent for this node's nonce; refuses (and logs) a wrong one.
    func verifyProof(_ mac: [UInt8], from peer: NodeID, peerNonce: [UInt8], ourNonce: [UInt8], on handler: PeerConnectionHandler) -> Bool {
        guard let secret else { return true }
        guard ourNonce.count == ClusterSecret.nonceBytes,
              secret.verify(mac, cluster: cluster, sender: peer.rawValue, receiver: node.rawValue,
                            receiverNonce: ourNonce, senderNonce: peerNonce) else {
            return refuseUnproven(handler, peer: peer, reason: "wrong cluster secret (its proof does not verify)")
        }
        return true
    }

    /// Refuses a connection that did not prove it knows the cluster secret; logged as a
    /// warning (someone without the secret is talking to the peer port).
    @discardableResult
    func refuseUnproven(_ handler: PeerConnectionHandler, peer: NodeID, reason: String) -> Bool {
        refusedConnections += 1
        unauthenticatedPeers += 1
        logger.warning("peer connection refused: not authenticated", metadata: [
            "peer": "\(peer)", "remote": "\(handler.remoteAddress)", "reason": "\(reason)"])
        return false
    }

    func connectionOpened(_ handler: PeerConnectionHandler) {
        connections[ObjectIdentifier(handler)] = handler
        if isShutdown {
            handler.close()
            return
        }
        guard handler.role == .acceptor else { return }
        let waiting = connections.values.count { $0.role == .acceptor && $0.peer == nil && !$0.isClosed }
        if waiting > limits.inboundHandshakesMax {
            refusedConnections += 1
            logger.info("peer connection refused: too many connections awaiting hello", metadata: ["remote": "\(handler.remoteAddress)"])
            handler.close()
        }
    }

    func helloTimedOut(channel: Channel) {
        guard let handler = connections.values.first(where: { $0.isAwaitingHello(on: channel) }) else { return }
        refusedConnections += 1
        logger.info("peer connection refused: no hello (or no proof of the cluster secret) in time", metadata: ["remote": "\(handler.remoteAddress)"])
        handler.close()
    }

    /// Decides whether a connection whose peer said hello(node, cluster) may carry frames.
    func handshake(_ handler: PeerConnectionHandler, node peer: NodeID, cluster peerCluster: String) -> Bool {
        guard !isShutdown else { return false }
        guard peerCluster == cluster else {
            return refuse(handler, peer: peer, reason: "cluster name mismatch (theirs \(peerCluster), ours \(cluster))")
        }
        guard peer != .none, peer != node else { return refuse(handler, peer: peer, reason: "invalid node id") }
        switch handler.role {
        case let .dialer(expected, attempt):
            guard peer == expected else {
                return refuse(handler, peer: peer, reason: "dialled \(expected) but \(peer) answered")
            }
            guard let link = links[expected], link.dialing, link.dialAttempt == attempt else { return false }
            return true
        case .acceptor:
            guard peer < node else {
                return refuse(handler, peer: peer, reason: "higher id dialled a lower id (the lower id dials)")
            }
            return true
        }
    }

    private func refuse(_ handler: PeerConnectionHandler, peer: NodeID, reason: String) -> Bool {
        refusedConnections += 1
        logger.info("peer connection refused", metadata: ["peer": "\(peer)", "remote": "\(handler.remoteAddress)", "reason": "\(reason)"])
        return false
    }

    /// Makes a handshaken connection the peer's current one and sends what is queued.
    func handshakeCompleted(_ handler: PeerConnectionHandler, node peer: NodeID) {
        let link: PeerLink
        if let existing = links[peer] {
            link = existing
        } else {
            link = addLink(peer)
            logger.info("peer added by its connection", metadata: ["peer": "\(peer)"])
        }
        if handler.role == .acceptor {
            dropConnection(link, reason: "replaced by a newer connection")
        } else {
            link.dialing = false
            link.dialChannel = nil
        }
        link.connection = handler
        link.unansweredSince = nil
        link.counters.connects += 1
        link.backoff.reset()
        logger.info("peer connected", metadata: ["peer": "\(peer)", "remote": "\(handler.remoteAddress)"])
        refresh(link)
        flushLink(link)
    }

    func connectionClosed(_ handler: PeerConnectionHandler) {
        connections.removeValue(forKey: ObjectIdentifier(handler))
        guard let peer = handler.peer else {
            if case let .dialer(expected, attempt) = handler.role, let link = links[expected],
               link.dialing, link.dialAttempt == attempt {
                link.dialing = false
                link.dialChannel = nil
                scheduleReconnect(link)
                refresh(link)
            }
            return
        }
        guard let link = links[peer], link.connection === handler else { return }
        link.connection = nil
        link.unansweredSince = nil
        link.disconnectedSince = .now()
        logger.info("peer disconnected", metadata: ["peer": "\(peer)"])
        scheduleReconnect(link)
        refresh(link)
    }

    func writabilityChanged(_ handler: PeerConnectionHandler) {
        guard let peer = handler.peer, let link = links[peer], link.connection === handler else { return }
        flushLink(link)
        refresh(link)
    }

    func connectionFailed(_ handler: PeerConnectionHandler, error: Error) {
        logger.info("peer connection error", metadata: ["peer": "\(handler.peer.map(\.description) ?? "?")", "remote": "\(handler.remoteAddress)", "error": "\(error)"])
    }

    func protocolError(_ handler: PeerConnectionHandler, error: PeerCodecError) {
        protocolErrors += 1
        logger.info("peer connection closed: bad frame", metadata: ["peer": "\(handler.peer.map(\.description) ?? "?")", "remote": "\(handler.remoteAddress)", "error": "\(error)"])
    }

    func protocolViolation(_ handler: PeerConnectionHandler, reason: String) {
        protocolErrors += 1
        logger.info("peer connection closed: protocol violation", metadata: ["peer": "\(handler.peer.map(\.description) ?? "?")", "remote": "\(handler.remoteAddress)", "reason": "\(reason)"])
    }

    func received(_ decoded: PeerFrameDecoder.Decoded, from peer: NodeID, on handler: PeerConnectionHandler) {
        guard let link = links[peer], link.connection === handler else { return }
        link.unansweredSince = nil
        link.counters.framesReceived += 1
        link.counters.bytesReceived += UInt64(decoded.wireBytes)
        onFrame?(peer, decoded.frame)
    }
}
