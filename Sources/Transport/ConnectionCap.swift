// A bound on the connections one listener keeps open at a time. Each connection is a file
// descriptor and some memory: without a bound, a flood of connections to the admin or peer
// port would use up the descriptors client connections need. A connection past the bound
// is closed as soon as it is accepted, before anything reads from it. (The client port is
// bounded by `maxclients`, answered with Redis's error instead.)
import Logging
import NIOCore

public final class ConnectionCap: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = Channel
    public typealias InboundOut = Channel

    /// Most connections the admin HTTP port keeps open.
    public static let adminConnectionsMax = 64
    /// Most inbound connections the peer port keeps open (each node links to each other
    /// with one or two, and a handshake that does not finish is closed by its timeout).
    public static let peerConnectionsMax = 512

    private let limit: Int
    private let warnings: ListenerWarnings
    private var open = 0

    public init(limit: Int, listener: String, logger: Logger) {
        precondition(limit > 0, "a listener keeps at least one connection")
        self.limit = limit
        warnings = ListenerWarnings(listener: listener, logger: logger)
    }

    /// Installs a new cap in a server channel's pipeline (for
    /// `ServerBootstrap.serverChannelInitializer`), with `AcceptBackoff` before it.
    public static func install(on channel: Channel, limit: Int, listener: String, logger: Logger) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(AcceptBackoff(listener: listener, logger: logger))
            try channel.pipeline.syncOperations.addHandler(ConnectionCap(limit: limit, listener: listener, logger: logger))
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let connection = unwrapInboundIn(data)
        guard open < limit else {
            warnings.warn("connection refused: this listener already has its most open connections", metadata: ["open": "\(open)"])
            connection.close(promise: nil)
            return
        }
        open += 1
        connection.closeFuture.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in
            self.open -= 1
        }
        context.fireChannelRead(data)
    }
}
