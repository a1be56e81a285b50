// One client connection: decodes requests, runs them on the engine, and writes replies in
// order. A reply is held until the records it may depend on are durable (see
// Durability.visibilityBarrier), so no client ever sees a write that a crash could undo.
//
// Bounds: the request decoder enforces ProtocolLimits; replies that the client does not
// read stop the reading of further requests (NIO writability), so neither side's buffers
// grow without bound. A protocol error replies once and closes only this connection.
import Core
import Engine
import NIOCore
import Wire

public final class ClientConnectionHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let node: NodeContext
    private var decoder: RequestDecoder
    private var session: Session?
    private var context: ChannelHandlerContext?
    private var inbound: ByteBuffer? = nil
    /// Replies ready to write at the next flush.
    private var ready: ByteBuffer
    /// Replies held for durability, oldest first: (sequence they wait for, bytes).
    private var held: [(sequence: UInt64, bytes: ByteBuffer)] = []
    private var closeAfterHeld = false
    private var heldBytes = 0
    private var pausedForHeldReplies = false
    private var closed = false
    private var readingPaused = false

    public init(node: NodeContext) {
        self.node = node
        self.decoder = RequestDecoder(limits: node.engine.settings.limits)
        self.ready = ByteBuffer()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        ready = context.channel.allocator.buffer(capacity: 1024)
    }

    public func channelActive(context: ChannelHandlerContext) {
        let engine = node.engine
        if node.draining || engine.sessions.count >= engine.settings.maxClients {
            engine.stats.rejectedConnections += 1
            var buffer = context.channel.allocator.buffer(capacity: 64)
            RESPEncoder.write(.error("ERR max number of clients reached"), as: .resp2, into: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in context.close(promise: nil) }
            closed = true
            return
        }
        let session = engine.connect(address: Self.describe(context.channel.remoteAddress),
                                     localAddress: Self.describe(context.channel.localAddress),
                                     now: node.clock.now().rawValue)
        self.session = session
        node.connections[session.id] = self
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closed = true
        if let session {
            node.engine.disconnect(session)
            node.connections.removeValue(forKey: session.id)
            node.waitingForDurability.removeValue(forKey: session.id)
            node.pausedForBacklog.removeValue(forKey: session.id)
        }
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        var incoming = unwrapInboundIn(data)
        if inbound == nil {
            inbound = incoming
        } else {
            inbound!.writeBuffer(&incoming)
        }
        processInbound(context: context)
    }

    /// Runs every complete request in `inbound`, unless the client stops reading its
    /// replies: once the socket's send buffer passes its high watermark, requests wait in
    /// `inbound` (and the socket is no longer read) until the client catches up. This
    /// bounds the replies held in memory for a client that never reads them.
    private func processInbound(context: ChannelHandlerContext) {
        guard let session else { return }
        let now = node.clock.now().rawValue
        decoder.limits = node.engine.settings.limits
        do {
            while !closed, var buffer = inbound {
                if !context.channel.isWritable {
                    pauseReading(context: context)
                    break
                }
                if heldBytes >= Self.heldReplyBytesMax {
                    // Replies waiting for the disk count too: resume when they are released.
                    pauseReading(context: context)
                    pausedForHeldReplies = true
                    break
                }
                if node.durability.isBacklogged {
                    pauseReading(context: context)
                    node.pausedForBacklog[session.id] = self
                    break
                }
                inbound = nil
                let request = try decoder.next(from: &buffer)
                inbound = buffer.readableBytes > 0 ? buffer : nil
                guard let request else { break }
                handle(request, session: session, now: now)
                if ready.readableBytes >= Self.replyFlushBytes { flushReady() }
            }
            compactInbound()
        } catch {
            protocolError(error, context: context)
        }
    }

    /// Replies are written to the socket once this many bytes are pending, so the channel's
    /// writability reflects a client that does not read.
    static let replyFlushBytes = 64 * 1024
    /// Replies held for durability share chunks up to this size.
    static let heldChunkBytesMax = 16 * 1024
    /// Most reply bytes held for durability before this connection's requests wait.
    static let heldReplyBytesMax = 1024 * 1024

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushReady()
        if !context.channel.isWritable { pauseReading(context: context) }
    }

    private func pauseReading(context: ChannelHandlerContext) {
        guard !readingPaused else { return }
        readingPaused = true
        _ = context.channel.setOption(ChannelOptions.autoRead, value: false)
    }

    /// Called when the log's backlog drained: runs what waited and reads again.
    func resumeAfterBacklog() {
        guard let context, readingPaused, !closed else { return }
        readingPaused = false
        processInbound(context: context)
        flushReady()
        if !readingPaused { _ = context.channel.setOption(ChannelOptions.autoRead, value: true) }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, readingPaused {
            readingPaused = false
            processInbound(context: context)
            flushReady()
            if !readingPaused { _ = context.channel.setOption(ChannelOptions.autoRead, value: true) }
        }
        context.fireChannelWritabilityChanged()
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        close()
    }

    // MARK: - Requests and replies

    private func handle(_ request: [[UInt8]], session: Session, now: Int64) {
        let outcome = node.engine.execute(request, session: session, now: now)
        if let record = outcome.record { _ = node.durability.append(record) }
        // Read the barrier after appending: a reply waits for its own record and for every
        // record before it, so it never reveals state a crash could undo.
        emit(outcome.reply, protocol: session.protocolVersion, waitingFor: node.durability.visibilityBarrier)
        if !outcome.killed.isEmpty { node.kill(outcome.killed.filter { $0 != session.id }) }
        if outcome.close || session.killed { closeAfterReplies() }
    }

    private func emit(_ reply: RESPValue, protocol version: ProtocolVersion, waitingFor sequence: UInt64) {
        if held.isEmpty, sequence <= node.durability.durableSequence {
            RESPEncoder.write(reply, as: version, into: &ready)
            return
        }
        // Replies go out in order, so a reply may join the newest held chunk (raising the
        // sequence it waits for) instead of costing a chunk of its own; chunks are capped so
        // a steady stream of writes cannot keep the oldest replies waiting indefinitely.
        if let last = held.last, last.bytes.readableBytes < Self.heldChunkBytesMax {
            held[held.count - 1].sequence = max(last.sequence, sequence)
        } else {
            let allocator = context?.channel.allocator ?? ByteBufferAllocator()
            held.append((max(sequence, held.last?.sequence ?? 0), allocator.buffer(capacity: 256)))
        }
        let before = held[held.count - 1].bytes.readableBytes
        RESPEncoder.write(reply, as: version, into: &held[held.count - 1].bytes)
        heldBytes += held[held.count - 1].bytes.readableBytes - before
        if let session { node.waitingForDurability[session.id] = self }
    }

    /// Moves held replies whose sequence is durable to the socket. Returns true when none remain.
    func releaseReplies(upTo durable: UInt64) -> Bool {
        var released = 0
        while released < held.count, held[released].sequence <= durable {
            heldBytes -= held[released].bytes.readableBytes
            ready.writeBuffer(&held[released].bytes)
            released += 1
        }
        if released > 0 { held.removeFirst(released) }
        flushReady()
        if held.isEmpty, closeAfterHeld { close() }
        if pausedForHeldReplies, heldBytes < Self.heldReplyBytesMax, let context, !closed {
            pausedForHeldReplies = false
            readingPaused = false
            processInbound(context: context)
            flushReady()
            if !readingPaused { _ = context.channel.setOption(ChannelOptions.autoRead, value: true) }
        }
        return held.isEmpty
    }

    private func flushReady() {
        guard let context, ready.readableBytes > 0, !closed || closeAfterHeld else { return }
        context.writeAndFlush(wrapOutboundOut(ready), promise: nil)
        ready = context.channel.allocator.buffer(capacity: 1024)
    }

    private func closeAfterReplies() {
        closed = true
        if held.isEmpty {
            flushReady()
            close()
        } else {
            closeAfterHeld = true
        }
    }

    func close() {
        closed = true
        guard let context else { return }
        if ready.readableBytes > 0 {
            context.writeAndFlush(wrapOutboundOut(ready)).whenComplete { _ in context.close(promise: nil) }
            ready.clear()
        } else {
            context.close(promise: nil)
        }
    }

    private func protocolError(_ error: ProtocolError, context: ChannelHandlerContext) {
        node.engine.stats.protocolErrors += 1
        node.logger.info("closing client after protocol error", metadata: [
            "client": "\(session?.address ?? "?")", "error": "\(error.message)",
        ])
        emit(.error(error.message), protocol: session?.protocolVersion ?? .resp2, waitingFor: held.last?.sequence ?? 0)
        inbound = nil
        closeAfterReplies()
    }

    private func compactInbound() {
        guard var buffer = inbound else { return }
        if buffer.readerIndex > 64 * 1024 {
            buffer.discardReadBytes()
            inbound = buffer
        }
    }

    /// `ip:port` of a socket address, as CLIENT LIST prints it.
    public static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return "?:0" }
        return "\(ip):\(port)"
    }
}
