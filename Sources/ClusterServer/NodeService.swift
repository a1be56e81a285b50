// The cluster node process: recovers (or bootstraps) its replicas, listens for peers and
// clients, and serves until asked to stop; then stops accepting and lets in-flight
// requests finish for a bounded time. A swift-service-lifecycle Service, so SIGTERM and
// SIGINT take the graceful path.
import Cluster
import Core
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import NodeRuntime
import ServiceLifecycle
import Storage
import Transport

public final class NodeService: Service, @unchecked Sendable {
    private let configuration: NodeConfiguration
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let loop: EventLoop

    public init(configuration: NodeConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        // One event loop owns every replica, peer link and client connection: no locks.
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
    }

    public func run() async throws {
        let (node, channel, timer) = try await start()
        try? await gracefulShutdown()
        try await stop(node, channel, timer)
    }

    private func start() async throws -> (NodeHost, Channel, RepeatedTask) {
        let configuration = self.configuration
        let logger = self.logger
        try FileManager.default.createDirectory(atPath: configuration.directory, withIntermediateDirectories: true)
        let started = Date()
        let loop = self.loop
        let node = try await loop.submit { () throws -> LoopConfinedNode in
            // A fresh seed per process start: restarted nodes do not repeat election timeouts.
            let seed = UInt64(truncatingIfNeeded: Int64(Date().timeIntervalSince1970 * 1e6)) ^ (configuration.id.rawValue &* 0x9E37_79B9_7F4A_7C15)
            let node = try Node(configuration: configuration, clock: SystemClock(), monotonicClock: SystemMonotonicClock(),
                                seed: seed, disk: PosixDisk(), logger: logger)
            let transport = PeerTransport(node: configuration.id, cluster: configuration.clusterName, eventLoop: loop, logger: logger)
            let host = NodeHost(node: node, loop: loop, transport: transport, logger: logger)
            try node.recoverOrBootstrap()
            host.perform()
            return LoopConfinedNode(node: host)
        }.get().node
        let peerPort = try await loop.flatSubmit { node.transport.listen(host: configuration.host, port: configuration.peerPort) }.get()
        let channel = try await bind(node)
        let port = channel.localAddress?.port ?? configuration.port
        let timer = loop.scheduleRepeatedTask(initialDelay: .milliseconds(configuration.tickMilliseconds),
                                              delay: .milliseconds(max(10, configuration.tickMilliseconds / 2))) { _ in
            node.timerFired()
        }
        if let parent = configuration.parentProcess {
            // Started by `trestle local`: if it dies without stopping us, stop too.
            loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [logger] task in
                guard kill(parent, 0) != 0 else { return }
                logger.warning("the trestle local process that started this node is gone; stopping")
                task.cancel()
                kill(getpid(), SIGTERM)
            }
        }
        let elapsed = Int(Date().timeIntervalSince(started) * 1000)
        printBanner(port: port, peerPort: peerPort, replicas: try await loop.submit { node.node.replicaCount }.get(), recoveryMilliseconds: elapsed)
        configuration.onListening?(port)
        return (node, channel, timer)
    }

    private func bind(_ host: NodeHost) async throws -> Channel {
        let bootstrap = ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelOption(ChannelOptions.backlog, value: 511)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 1024 * 1024))
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [bound = LoopConfinedNode(node: host), limits = configuration.settings.limits] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClusterClientHandler(host: bound.node, limits: limits))
                }
            }
        do {
            return try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            logger.critical("cannot listen on \(configuration.host):\(configuration.port): \(error)")
            throw error
        }
    }

    /// Time allowed at shutdown for in-flight requests to be answered.
    static let drainMilliseconds: Int64 = 3000

    private func stop(_ host: NodeHost, _ channel: Channel, _ timer: RepeatedTask) async throws {
        logger.info("shutting down: no longer accepting connections")
        let bound = LoopConfinedNode(node: host)
        try await loop.submit { bound.node.deliver(.drain) }.get()
        try? await channel.close()
        let deadline = Date().addingTimeInterval(Double(Self.drainMilliseconds) / 1000)
        while Date() < deadline {
            let pending = try await loop.submit { bound.node.node.pendingCount }.get()
            if pending == 0 { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        try await loop.submit {
            timer.cancel()
            bound.node.deliver(.stop)
            bound.node.closeAllConnections()
        }.get()
        try? await loop.flatSubmit { bound.node.transport.shutdown() }.get()
        logger.info("shutdown complete")
        try await group.shutdownGracefully()
    }

    private func printBanner(port: Int, peerPort: Int, replicas: Int, recoveryMilliseconds: Int) {
        let lines = [
            "Trestle \(NodeService.version) cluster node \(configuration.id.rawValue), pid \(getpid())",
            "  clients      \(configuration.host):\(port)\(configuration.proxy ? " (proxy mode: any key on any node)" : " (Redis Cluster protocol: use a cluster-aware client, e.g. redis-cli -c)")",
            "  peers        \(configuration.host):\(peerPort)",
            "  data dir     \(configuration.directory)",
            "  fsync        \(configuration.fsync ? "always (a write is acknowledged once a majority has it on disk)" : "no (benchmark mode: acknowledged writes may be lost)")",
            "  replicas     \(replicas) data shard replicas here, recovered or created in \(recoveryMilliseconds) ms",
            "Ready to accept connections: redis-cli -c -p \(port) cluster info",
        ]
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// Carries the loop-confined node host into closures the compiler checks for Sendable.
struct LoopConfinedNode: @unchecked Sendable {
    let node: NodeHost
}

extension NodeService {
    public static let version = "0.2.0"
}
