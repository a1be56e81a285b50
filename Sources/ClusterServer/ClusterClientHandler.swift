// One client connection to a node: decodes requests and hands them to the node; writes the
// replies the node outputs (already in request order) and closes when the node says so.
//
// Phases of a connection are one enum. Bounds: at most `Node.clientRequestsMax` requests
// without a reply; beyond that, and while the socket is not writable, the connection stops
// reading. A protocol error goes to the node (which answers it after the replies owed and
// then closes this connection only).
import Core
import Dispatch
import Engine
import NIOCore
import NodeRuntime
import Transport
import Wire

final class ClusterClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Replies buffered before they are written without waiting for the end of the turn.
    static let replyFlushBytes = 64 * 1024
    /// The largest output buffer kept for the next replies after a flush.
    static let reusedBufferBytesMax = 128 * 1024

    enum Phase {
        /// Before channelActive.
        case idle
        /// Reading and answering requests.
        case open(ClientID)
        /// The request stream ended in a protocol error: no more reading; replies still come.
        case ending(ClientID)
        /// The node asked to close once the buffered replies are written.
        case closing(ClientID)
        /// The socket is closed.
        case closed
    }

    private let host: NodeHost
    private var decoder: RequestDecoder
    private var phase = Phase.idle
    private var context: ChannelHandlerContext?
    private var inbound: ByteBuffer?
    /// Push bytes queued since the socket last stopped being writable.
    private var pushBytesWhileBlocked = 0
    private var out = ByteBuffer()
    /// Requests handed to the node and not answered yet, and when each arrived (monotonic
    /// nanoseconds) with its class, oldest first: replies come in request order.
    private var unanswered = 0
    private var arrivals = CircularBuffer<(UInt64, RequestClass)>()
    private var readingPaused = false
    /// The channel's writability as its last `channelWritabilityChanged` left it (asked for
    /// every request and every push: the channel's own property costs a retain of it).
    private var writable = true
    private var decoding = false
    /// Holds output the host will flush at the end of this event-loop iteration.
    var isMarkedDirty = false

    init(host: NodeHost, limits: ProtocolLimits) {
        self.host = host
        decoder = RequestDecoder(limits: limits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        out = context.channel.allocator.buffer(capacity: 1024)
    }

    func channelActive(context: ChannelHandlerContext) {
        let id = host.register(self)
        phase = .open(id)
        host.deliver(.clientOpened(id, address: Self.describe(context.channel.remoteAddress),
                                   localAddress: Self.describe(context.channel.localAddress)))
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let id = clientID
        phase = .closed
        if let id { host.closed(id) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .open = phase else { return }
        var incoming = unwrapInboundIn(data)
        host.clientBytesReceived &+= UInt64(incoming.readableBytes)
        if var existing = inbound {
            inbound = nil
            existing.writeBuffer(&incoming)
            inbound = existing
        } else {
            inbound = incoming
        }
        decodeRequests()
    }

    /// Replies are written by the host at the end of the event-loop iteration (NodeHost's
    /// `markDirty`), not here.
    func channelReadComplete(context: ChannelHandlerContext) {}

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable { decodeRequests() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        close()
    }

    private var clientID: ClientID? {
        switch phase {
        case .open(let id), .ending(let id), .closing(let id): return id
        case .idle, .closed: return nil
        }
    }

    // MARK: - Requests

    /// Hands every complete request to the node while the connection has room.
    private func decodeRequests() {
        guard !decoding, case .open(let id) = phase, context != nil else { return }
        decoding = true
        defer { decoding = false }
        // The requests of one read arrived together: one clock reading for all of them.
        var arrived: UInt64 = 0
        // Handed to the node as one input (one reading of its clocks for them all).
        var requests = DecodedRequests()
        do {
            while writable, unanswered < Node.clientRequestsMax {
                guard var buffer = inbound else { break }
                inbound = nil
                let next = try decoder.next(from: &buffer)
                inbound = buffer.readableBytes > 0 ? buffer : nil
                guard let request = next else { break }
                unanswered += 1
                if arrived == 0 { arrived = DispatchTime.now().uptimeNanoseconds }
                arrivals.append((arrived, RequestClass.of(request)))
                requests.append(request)
            }
            compactInbound()
            if writable, unanswered < Node.clientRequestsMax { resumeReading() } else { pauseReading() }
        } catch {
            inbound = nil
            phase = .ending(id)
            unanswered += 1
            arrivals.append((DispatchTime.now().uptimeNanoseconds, .other))
            pauseReading()
            hand(requests, from: id)
            requests = DecodedRequests()
            host.node.handle(.protocolError(id, message: error.message))
        }
        hand(requests, from: id)
        host.perform()
    }

    /// The requests of one read, to the node in one input (a lone one as itself).
    private func hand(_ requests: DecodedRequests, from id: ClientID) {
        if let lone = requests.lone {
            host.node.handle(.request(id, lone))
        } else if !requests.several.isEmpty {
            host.node.handle(.requests(id, requests.several))
        }
    }

    /// The requests decoded from one read: a lone request is kept without an array of its
    /// own (at -P 1 every read holds one, and that array was an allocation per request).
    private struct DecodedRequests {
        private(set) var lone: [[UInt8]]?
        private(set) var several: [[[UInt8]]] = []

        mutating func append(_ request: [[UInt8]]) {
            if let first = lone {
                lone = nil
                several.reserveCapacity(16)
                several.append(first)
                several.append(request)
            } else if several.isEmpty {
                lone = request
            } else {
                several.append(request)
            }
        }
    }

    // MARK: - Output (called by the host)

    /// A reply, sent at `repliedAt` (monotonic nanoseconds, read once by the host for all
    /// the replies it hands out together).
    func enqueue(_ value: RESPValue, as version: ProtocolVersion, at repliedAt: UInt64) {
        RESPEncoder.write(value, as: version, into: &out)
        unanswered = max(0, unanswered - 1)
        if let (arrived, kind) = arrivals.popFirst() {
            host.requestLatency[kind].record(nanoseconds: repliedAt &- arrived)
        }
        if out.readableBytes >= Self.replyFlushBytes { flush() }
    }

    /// A pub/sub message or confirmation: not a reply, so `unanswered` stays. A subscriber
    /// that stops reading is disconnected once `pushBytesWhileBlockedMax` bytes of pushes
    /// piled up while its socket was not writable (Redis's client-output-buffer-limit
    /// pubsub hard limit).
    func push(_ value: RESPValue, as version: ProtocolVersion) {
        let before = out.readableBytes
        RESPEncoder.write(value, as: version, into: &out)
        queuedPush(bytes: out.readableBytes - before)
    }

    /// A push already encoded (one message to many subscribers): its bytes are copied.
    func pushEncoded(_ encoded: ByteBuffer) {
        queuedPush(bytes: out.writeImmutableBuffer(encoded))
    }

    private func queuedPush(bytes: Int) {
        if !writable {
            pushBytesWhileBlocked += bytes
            if pushBytesWhileBlocked > Self.pushBytesWhileBlockedMax {
                out.clear()
                close()
                return
            }
        } else {
            pushBytesWhileBlocked = 0
        }
        if out.readableBytes >= Self.replyFlushBytes { flush() }
    }

    /// Pushes a connection may owe while it does not read (32 MiB, Redis's pub/sub default).
    static let pushBytesWhileBlockedMax = 32 << 20

    func closeWhenFlushed() {
        guard let id = clientID else { return }
        phase = .closing(id)
        inbound = nil
        host.markDirty(self)
    }

    /// Writes buffered replies; reads again if the connection had stopped for room.
    func flushFromHost() {
        flush()
        if readingPaused || inbound != nil { decodeRequests() }
    }

    private func flush() {
        guard let context else { return }
        if out.readableBytes > 0 {
            host.clientBytesSent &+= UInt64(out.readableBytes)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            // Once the socket took every byte NIO holds the storage no more, and clear()
            // reuses it (it allocates anew while a partial write still holds it): no
            // allocation per flush. A buffer grown past a large reply is let go.
            if out.capacity <= Self.reusedBufferBytesMax {
                out.clear()
            } else {
                out = context.channel.allocator.buffer(capacity: 1024)
            }
        }
        if case .closing = phase { close() }
    }

    private func pauseReading() {
        guard !readingPaused, let context else { return }
        readingPaused = true
        _ = context.channel.setOption(ChannelOptions.autoRead, value: false)
    }

    private func resumeReading() {
        guard readingPaused, let context else { return }
        readingPaused = false
        _ = context.channel.setOption(ChannelOptions.autoRead, value: true)
    }

    func close() {
        guard let context else { return }
        if case .closed = phase { return }
        let id = clientID
        phase = .closed
        if out.readableBytes > 0 {
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in context.close(promise: nil) }
            out.clear()
        } else {
            context.close(promise: nil)
        }
        if let id { host.closed(id) }
    }

    private func compactInbound() {
        guard var buffer = inbound, buffer.readerIndex > 64 * 1024 else { return }
        buffer.discardReadBytes()
        inbound = buffer
    }

    /// `ip:port` of a socket address, as CLIENT LIST prints it.
    static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return "?:0" }
        return "\(ip):\(port)"
    }
}
