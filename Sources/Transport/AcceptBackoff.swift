// A listener that cannot accept a connection backs off instead of spinning.
//
// When the process is out of file descriptors (EMFILE, ENFILE) or kernel memory, accept
// fails while the listening socket stays readable. NIO keeps the socket registered for
// reads after such an error (its read stays pending, so NIO's own AcceptBackoffHandler,
// which delays the next read request, never gets one), and the event loop would retry on
// every pass: a core burnt for as long as the shortage lasts, and every client slowed by
// it. This handler, in the listener's pipeline, turns the listener's reads off (autoRead,
// which takes the socket out of the poll set) and back on `retryMilliseconds` later; the
// connections waiting meanwhile stay in the kernel's backlog. Its warnings are paced
// (ListenerWarnings.swift).
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class AcceptBackoff: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = Channel

    /// How long a listener stops accepting after a failed accept.
    public static let retryMilliseconds: Int64 = 100
    /// The accept errors that mean "not now" rather than "never": a shortage that passes.
    static let shortages: Set<CInt> = [EMFILE, ENFILE, ENOBUFS, ENOMEM]

    private let warnings: ListenerWarnings
    private var paused = false

    /// `listener` names the listener in the log: "clients", "peers", "admin HTTP".
    public init(listener: String, logger: Logger) {
        warnings = ListenerWarnings(listener: listener, logger: logger)
    }

    /// Installs a new handler in a server channel's pipeline (for
    /// `ServerBootstrap.serverChannelInitializer`).
    public static func install(on channel: Channel, listener: String, logger: Logger) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(AcceptBackoff(listener: listener, logger: logger))
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let ioError = error as? IOError, Self.shortages.contains(ioError.errnoCode) else {
            context.fireErrorCaught(error)
            return
        }
        guard !paused else { return }
        paused = true
        warnings.warn("cannot accept a connection; pausing this listener for \(Self.retryMilliseconds) ms at a time while this lasts",
                      metadata: ["error": "\(ioError)"])
        let channel = context.channel
        do {
            try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        } catch {
            paused = false
            return
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Self.retryMilliseconds)) {
            self.paused = false
            try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        }
    }
}
