// One TCP connection between this node and a peer, dialled or accepted. The handler only
// moves bytes: it says hello on activation, decodes frames, and reports everything to its
// PeerTransport, which owns every decision (who may connect, which connection is current).
//
// Invariants: the first frame in each direction is a hello; when the cluster has a secret,
// the second is a proof that the sender knows it (an HMAC over this connection's nonces);
// no other frame is delivered before the peer's hello (and proof) were accepted; a decoding error or a hello timeout closes only
// this connection. The inbound buffer never holds more than one partial frame beyond what
// has been decoded, and a frame's length is checked before its bytes are awaited (before
// the hello, against the size of the largest possible hello).
import Cluster
import Core
import NIOCore

final class PeerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Role: Equatable {
        /// This node dialled `expected`; `attempt` tells a current dial from a stale one.
        case dialer(expected: NodeID, attempt: UInt64)
        /// The peer dialled this node.
        case acceptor
    }

    let role: Role
    private weak var transport: PeerTransport?
    private let decoder: PeerFrameDecoder
    /// Length limit of the first frame, so a connection that has not said who it is cannot
    /// make this node buffer a large frame.
    private let helloBytesMax: Int
    private var context: ChannelHandlerContext?
    private var inbound: ByteBuffer?
    private var helloTimer: Scheduled<Void>?
    /// The peer, once its hello (and, with a secret, its proof) was accepted.
    private(set) var peer: NodeID?
    /// This side's nonce, sent in its hello: the peer's proof must sign it.
    let nonce = ClusterSecret.nonce()
    /// A peer whose hello was accepted and whose proof is awaited, with its nonce.
    private var awaitingProof: (node: NodeID, nonce: [UInt8])?
    /// True once closing was requested or the channel went inactive: read nothing more.
    private(set) var isClosed = false

    /// Inbound bytes already consumed beyond which the buffer is compacted.
    private static let compactAfterBytes = 64 * 1024

    init(role: Role, transport: PeerTransport, limits: PeerLimits) {
        self.role = role
        self.transport = transport
        self.decoder = PeerFrameDecoder(limits: limits)
        self.helloBytesMax = PeerWire.helloBytesMax(limits)
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }
    var channel: Channel? { context?.channel }
    var remoteAddress: String { context?.channel.remoteAddress?.description ?? "?" }

    /// Writes and flushes bytes already framed by the transport.
    func write(_ buffer: ByteBuffer) {
        guard !isClosed, let context else { return }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// Closes the connection; the transport hears about it through `connectionClosed`.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        helloTimer?.cancel()
        context?.close(promise: nil)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let transport else {
            close()
            return
        }
        transport.connectionOpened(self)
        guard !isClosed else {
            context.fireChannelActive()
            return
        }
        if let hello = transport.helloBuffer(allocator: context.channel.allocator, nonce: nonce) {
            context.writeAndFlush(wrapOutboundOut(hello), promise: nil)
        }
        let channel = context.channel
        helloTimer = context.eventLoop.scheduleTask(in: transport.limits.helloTimeout) { [weak transport] in
            transport?.helloTimedOut(channel: channel)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        helloTimer?.cancel()
        helloTimer = nil
        inbound = nil
        transport?.connectionClosed(self)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        transport?.writabilityChanged(self)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        transport?.connectionFailed(self, error: error)
        close()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosed else { return }
        var incoming = unwrapInboundIn(data)
        if inbound == nil {
            inbound = incoming
        } else {
            inbound?.writeBuffer(&incoming)
        }
        decodeAvailable()
    }

    /// True if the hello timer fired for this handler's channel before the hello arrived.
    func isAwaitingHello(on channel: Channel) -> Bool {
        peer == nil && !isClosed && context?.channel === channel
    }

    // MARK: - Decoding

    private func decodeAvailable() {
        guard var buffer = inbound else { return }
        inbound = nil
        do {
            while !isClosed, let decoded = try decoder.decodeFrame(from: &buffer, lengthMax: peer == nil ? helloBytesMax : nil) {
                deliver(decoded)
            }
        } catch {
            transport?.protocolError(self, error: error)
            close()
            return
        }
        guard !isClosed, buffer.readableBytes > 0 else { return }
        if buffer.readerIndex >= Self.compactAfterBytes { buffer.discardReadBytes() }
        inbound = buffer
    }

    private func deliver(_ decoded: PeerFrameDecoder.Decoded) {
        guard let transport else {
            close()
            return
        }
        guard let peer else { return handshake(decoded.frame, transport: transport) }
        switch decoded.frame {
        case .hello:
            transport.protocolViolation(self, reason: "second hello")
            close()
        case .proof:
            break  // a peer with a secret proving itself to a node that asks for no proof
        case .raft, .request, .reply:
            transport.received(decoded, from: peer, on: self)
        }
    }

    /// The peer's hello, then (when this node has a secret) its proof.
    private func handshake(_ frame: PeerFrame, transport: PeerTransport) {
        if let awaiting = awaitingProof {
            guard case let .proof(mac) = frame else {
                transport.refuseUnproven(self, peer: awaiting.node, reason: "sent another frame instead of proving it knows the cluster secret")
                return close()
            }
            guard transport.verifyProof(mac, from: awaiting.node, peerNonce: awaiting.nonce, ourNonce: nonce, on: self) else {
                return close()
            }
            awaitingProof = nil
            return complete(awaiting.node, transport: transport)
        }
        guard case let .hello(node, cluster, peerNonce) = frame else {
            transport.protocolViolation(self, reason: "first frame is not a hello")
            return close()
        }
        guard transport.handshake(self, node: node, cluster: cluster) else { return close() }
        guard let proof = transport.proofBuffer(allocator: channel?.allocator ?? ByteBufferAllocator(), to: node,
                                                peerNonce: peerNonce, ourNonce: nonce) else {
            return complete(node, transport: transport)
        }
        awaitingProof = (node, peerNonce)
        write(proof)
    }

    private func complete(_ node: NodeID, transport: PeerTransport) {
        // The link may have moved on while the proof was awaited: check again.
        guard transport.handshake(self, node: node, cluster: transport.cluster) else { return close() }
        peer = node
        helloTimer?.cancel()
        helloTimer = nil
        transport.handshakeCompleted(self, node: node)
    }
}
