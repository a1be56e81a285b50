// One client connection to a cluster node. Requests may be answered out of order by the
// shards (a read on one shard can finish before a write on another), so each request gets
// a reply slot in arrival order and replies leave in that order.
//
// Ordering rule, so a connection always sees its own writes: a write may start while
// earlier writes are still in flight (they enter their shard's log in order), but any
// other request starts only when everything before it has been answered.
//
// Bounds: at most `slotsMax` unanswered requests; beyond that, and while the socket is not
// writable, the connection stops reading. A protocol error replies once and closes only
// this connection.
import Collections
import Core
import Engine
import Keyspace
import NIOCore
import Transport
import Wire

final class ReplySlot {
    var reply: RESPValue?
    var version: ProtocolVersion
    let isWrite: Bool
    init(version: ProtocolVersion, isWrite: Bool) { self.version = version; self.isWrite = isWrite }
}

final class ClusterClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let slotsMax = 4096
    static let replyFlushBytes = 64 * 1024

    private let node: ClusterNode
    private var decoder: RequestDecoder
    private var session: Session?
    private var context: ChannelHandlerContext?
    private var inbound: ByteBuffer?
    /// A decoded request that must wait for earlier replies before it may start.
    private var parked: [[UInt8]]?
    private var slots = Deque<ReplySlot>()
    private var unansweredOthers = 0
    private var out = ByteBuffer()
    private var processing = false
    private var readingPaused = false
    private var closed = false
    private var socketClosed = false
    private var closeWhenAnswered = false
    var isMarkedDirty = false

    init(node: ClusterNode) {
        self.node = node
        decoder = RequestDecoder(limits: node.front.settings.limits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        out = context.channel.allocator.buffer(capacity: 1024)
    }

    func channelActive(context: ChannelHandlerContext) {
        let engine = node.front
        if node.draining || engine.sessions.count >= engine.settings.maxClients {
            var buffer = context.channel.allocator.buffer(capacity: 64)
            RESPEncoder.write(.error("ERR max number of clients reached"), as: .resp2, into: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in context.close(promise: nil) }
            closed = true
            return
        }
        let session = engine.connect(address: ClientConnectionHandler.describe(context.channel.remoteAddress),
                                     localAddress: ClientConnectionHandler.describe(context.channel.localAddress), now: node.now())
        self.session = session
        node.register(self, id: session.id)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        if let session {
            node.front.disconnect(session)
            node.unregister(session.id)
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        var incoming = unwrapInboundIn(data)
        if inbound == nil { inbound = incoming } else { inbound!.writeBuffer(&incoming) }
        process()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { process() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        close()
    }

    // MARK: - Requests

    /// Starts every request that may start now; stops at the first that must wait.
    private func process() {
        guard !processing, let context, let session else { return }
        processing = true
        defer { processing = false }
        do {
            while !closed, !closeWhenAnswered {
                guard context.channel.isWritable, slots.count < Self.slotsMax else { pauseReading(); return }
                let request: [[UInt8]]
                if let waiting = parked {
                    request = waiting
                } else {
                    guard var buffer = inbound else { break }
                    inbound = nil
                    let next = try decoder.next(from: &buffer)
                    inbound = buffer.readableBytes > 0 ? buffer : nil
                    guard let next else { break }
                    request = next
                }
                let isWrite = !session.inTransaction && (CommandTable.lookup(request[0])?.isWrite ?? false)
                let mayStart = isWrite ? unansweredOthers == 0 : slots.isEmpty
                guard mayStart else {
                    parked = request
                    pauseReading()
                    return
                }
                parked = nil
                start(request, isWrite: isWrite, session: session)
                if out.readableBytes >= Self.replyFlushBytes { flush() }
            }
            compactInbound()
            resumeReading()
            if out.readableBytes > 0 { node.markDirty(self) }
        } catch {
            node.front.stats.protocolErrors += 1
            let slot = ReplySlot(version: session.protocolVersion, isWrite: false)
            slots.append(slot)
            inbound = nil
            closeWhenAnswered = true
            slot.reply = .error(error.message)
            while let head = slots.first, let reply = head.reply {
                RESPEncoder.write(reply, as: head.version, into: &out)
                slots.removeFirst()
            }
            node.markDirty(self)
        }
    }

    private func start(_ request: [[UInt8]], isWrite: Bool, session: Session) {
        let slot = ReplySlot(version: session.protocolVersion, isWrite: isWrite)
        slots.append(slot)
        if !isWrite { unansweredOthers += 1 }
        let outcome = node.handle(request, session: session, forwarded: false) { [weak self] value in
            self?.fill(slot, with: value)
        }
        guard let outcome else { return }
        slot.version = session.protocolVersion
        if !outcome.killed.isEmpty { node.kill(outcome.killed.filter { $0 != session.id }) }
        if outcome.close || session.killed { closeWhenAnswered = true }
        fill(slot, with: outcome.reply)
    }

    /// Records a reply and moves every answered reply at the head of the queue out.
    private func fill(_ slot: ReplySlot, with value: RESPValue) {
        guard slot.reply == nil else { return }
        slot.reply = value
        if !slot.isWrite { unansweredOthers -= 1 }
        var moved = false
        while let head = slots.first, let reply = head.reply {
            RESPEncoder.write(reply, as: head.version, into: &out)
            slots.removeFirst()
            moved = true
        }
        guard moved else { return }
        if processing { return }
        node.markDirty(self)
        if parked != nil || inbound != nil { process() }
    }

    // MARK: - Output

    /// Called by the node at the end of its turn.
    func flushFromNode() {
        flush()
        if parked != nil || readingPaused { process() }
    }

    private func flush() {
        guard let context, out.readableBytes > 0 else {
            if closeWhenAnswered, slots.isEmpty { close() }
            return
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        out = context.channel.allocator.buffer(capacity: 1024)
        if closeWhenAnswered, slots.isEmpty { close() }
    }

    private func pauseReading() {
        guard !readingPaused, let context else { return }
        readingPaused = true
        _ = context.channel.setOption(ChannelOptions.autoRead, value: false)
    }

    private func resumeReading() {
        guard readingPaused, parked == nil, let context, !closed else { return }
        readingPaused = false
        _ = context.channel.setOption(ChannelOptions.autoRead, value: true)
    }

    func close() {
        guard let context, !socketClosed else { return }
        socketClosed = true
        closed = true
        closeWhenAnswered = false
        if out.readableBytes > 0 {
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in context.close(promise: nil) }
            out.clear()
        } else {
            context.close(promise: nil)
        }
    }

    private func compactInbound() {
        guard var buffer = inbound, buffer.readerIndex > 64 * 1024 else { return }
        buffer.discardReadBytes()
        inbound = buffer
    }
}

extension ClusterNode {
    func kill(_ ids: [ClientID]) {
        for id in ids { connections[id]?.close() }
    }
}
