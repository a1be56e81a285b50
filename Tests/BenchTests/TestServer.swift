// A tiny RESP server for tests whose capacity is known: it answers PING (+PONG), SET and
// ASKING (+OK) and GET ($-1), but releases replies through a token bucket of
// `opsPerSecond`, so it saturates at exactly that rate. With `movedTo` set it answers GET
// and SET with -MOVED to that port instead, and with `askTo` set, with -ASK; it counts the
// ASKING commands it receives, to exercise cluster redirects.
import NIOCore
import NIOPosix
import Wire
@testable import Bench

final class TestServer: @unchecked Sendable {
    /// Most replies the bucket may release at once (10 ms worth at 2,000 ops/s), so a late
    /// timer tick on a busy machine does not lose capacity.
    static let burstMax = 20.0
    /// How often the bucket refills and releases replies.
    static let tickMicroseconds: Int64 = 500

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let opsPerSecond: Double
    let movedTo: Int?
    let askTo: Int?
    private(set) var port = 0
    private(set) var askingReceived = 0
    private var channel: Channel?
    private var queue = CircularBuffer<(Channel, ByteBuffer)>()
    private var tokens = 0.0
    private var lastRefillNanos: UInt64 = 0
    private(set) var served = 0

    init(opsPerSecond: Double, movedTo: Int? = nil, askTo: Int? = nil) {
        self.opsPerSecond = opsPerSecond
        self.movedTo = movedTo
        self.askTo = askTo
    }

    func start() async throws {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TestServerHandler(server: self))
                }
            }
        let bound = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        channel = bound
        port = bound.localAddress?.port ?? 0
        lastRefillNanos = NIODeadline.now().uptimeNanoseconds
        _ = group.next().scheduleRepeatedTask(initialDelay: .microseconds(Self.tickMicroseconds),
                                              delay: .microseconds(Self.tickMicroseconds)) { _ in self.release() }
    }

    func stop() async {
        try? await channel?.close()
        try? await group.shutdownGracefully()
    }

    func enqueue(_ command: RESPValue, from channel: Channel) {
        var reply = channel.allocator.buffer(capacity: 32)
        RESPEncoder.write(answer(command), as: .resp2, into: &reply)
        queue.append((channel, reply))
    }

    private func answer(_ command: RESPValue) -> RESPValue {
        guard case .array(let parts) = command, case .bulk(let nameBytes) = parts.first else { return .error("ERR protocol") }
        let name = String(decoding: nameBytes, as: UTF8.self).uppercased()
        if let movedTo, name == "GET" || name == "SET", parts.count > 1, case .bulk(let key) = parts[1] {
            return .error("MOVED \(HashSlots.slot(of: key)) 127.0.0.1:\(movedTo)")
        }
        if let askTo, name == "GET" || name == "SET", parts.count > 1, case .bulk(let key) = parts[1] {
            return .error("ASK \(HashSlots.slot(of: key)) 127.0.0.1:\(askTo)")
        }
        if name == "ASKING" { askingReceived += 1 }
        switch name {
        case "PING": return .simple("PONG")
        case "SET", "ASKING": return .ok
        case "GET": return .null
        default: return .error("ERR unknown command '\(name)'")
        }
    }

    private func release() {
        let now = NIODeadline.now().uptimeNanoseconds
        tokens = min(tokens + Double(now - lastRefillNanos) / 1e9 * opsPerSecond, Self.burstMax)
        lastRefillNanos = now
        var touched: [ObjectIdentifier: Channel] = [:]
        while tokens >= 1, let (channel, reply) = queue.popFirst() {
            tokens -= 1
            served += 1
            channel.write(reply, promise: nil)
            touched[ObjectIdentifier(channel)] = channel
        }
        for channel in touched.values { channel.flush() }
    }
}

final class TestServerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let server: TestServer
    private var buffer: ByteBuffer?
    private let reader = RESPReader()

    init(server: TestServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer?.writeBuffer(&incoming) }
        guard var bytes = buffer else { return }
        while let command = try? reader.next(from: &bytes) { server.enqueue(command, from: context.channel) }
        buffer = bytes
    }
}
