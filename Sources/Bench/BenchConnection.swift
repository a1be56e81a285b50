// One client connection of the load generator and its NIO handler. A connection lives on
// the single client event loop and is only touched there (hence `@unchecked Sendable`).
// Invariants: `inFlight` holds exactly the requests written and not yet answered, in
// send order, so the n-th reply answers `inFlight[n]`; `inFlight.count` never exceeds the
// pool's pipeline depth; requests beyond it wait in `backlog` with their intended send time.
import NIOCore
import Wire

/// Which part of an operation a request on the wire is.
enum RequestStage: UInt8, Sendable {
    /// The operation's first (often only) command.
    case first
    /// The SET of a read-modify-write, sent after its GET was answered.
    case second
    /// An ASKING sent before a command redirected by -ASK; its +OK is not an operation.
    case asking
}

/// A request in flight or waiting to be sent.
struct PendingRequest: Sendable {
    /// When the request should have been sent (open loop) or was issued (closed loop), in
    /// uptime nanoseconds. Latency is measured from here, so queueing counts.
    var intendedNanos: UInt64
    var operation: Operation
    var stage: RequestStage
    var redirects: UInt8
    /// Index of the connection that issued the operation (closed loop refills it).
    var origin: Int
    /// The phase it belongs to; replies for an earlier phase are ignored.
    var phase: Int
}

final class BenchConnection: @unchecked Sendable {
    enum State { case connecting, ready(Channel), closed }

    let index: Int
    let address: BenchAddress
    unowned let pool: LoadPool
    private(set) var state: State = .connecting
    var inFlight = CircularBuffer<PendingRequest>(initialCapacity: 4)
    var backlog = CircularBuffer<PendingRequest>(initialCapacity: 0)
    private var readBuffer: ByteBuffer?
    private var outbound: ByteBuffer?
    private let reader = RESPReader()
    /// True while `outbound` holds bytes not yet handed to the channel.
    private(set) var isDirty = false

    init(index: Int, address: BenchAddress, pool: LoadPool) {
        self.index = index
        self.address = address
        self.pool = pool
    }

    var isReady: Bool { if case .ready = state { return true } else { return false } }
    var isClosed: Bool { if case .closed = state { return true } else { return false } }

    func attach(_ channel: Channel) {
        guard case .connecting = state else { return }
        state = .ready(channel)
        outbound = channel.allocator.buffer(capacity: 512)
    }

    /// Appends one command to the outbound buffer; the caller has checked the depth.
    func write(_ arguments: [[UInt8]], request: PendingRequest) {
        guard case .ready = state, var buffer = outbound else { return }
        outbound = nil  // keep the buffer uniquely referenced while appending
        RESPEncoder.writeCommand(arguments, into: &buffer)
        outbound = buffer
        inFlight.append(request)
        if !isDirty {
            isDirty = true
            pool.markDirty(self)
        }
    }

    /// Hands the buffered commands to the socket.
    func flush() {
        isDirty = false
        guard case .ready(let channel) = state, let bytes = outbound, bytes.readableBytes > 0 else { return }
        channel.writeAndFlush(bytes, promise: nil)
        outbound = channel.allocator.buffer(capacity: 512)
    }

    func received(_ bytes: ByteBuffer) {
        if readBuffer == nil || readBuffer?.readableBytes == 0 {
            readBuffer = bytes
        } else {
            var incoming = bytes
            readBuffer?.writeBuffer(&incoming)
        }
        while var buffer = readBuffer {
            let value: RESPValue?
            do {
                value = try reader.next(from: &buffer)
            } catch {
                readBuffer = nil
                pool.connectionFailed(self, kind: "protocol")
                return
            }
            readBuffer = buffer
            guard let value else { break }
            guard let request = inFlight.popFirst() else {
                pool.connectionFailed(self, kind: "unexpected-reply")
                return
            }
            pool.completed(request, reply: value, on: self)
        }
        if let buffer = readBuffer, buffer.readableBytes == 0 { readBuffer = nil }
    }

    /// Marks the connection closed and returns the requests it will never answer.
    func close() -> [PendingRequest] {
        if case .ready(let channel) = state { channel.close(promise: nil) }
        state = .closed
        let lost = Array(inFlight) + Array(backlog)
        inFlight.removeAll()
        backlog.removeAll()
        return lost
    }
}

/// Feeds a connection's bytes and lifecycle into the pool; performs no logic itself.
final class BenchChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let connection: BenchConnection

    init(connection: BenchConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection.pool.flushDirty()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !connection.isClosed { connection.pool.connectionFailed(connection, kind: "connection-closed") }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
