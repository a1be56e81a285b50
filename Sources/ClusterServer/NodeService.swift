// The cluster node process: recovers (or bootstraps) its replicas, listens for peers and
// clients, and serves until asked to stop; then stops accepting and lets in-flight
// requests finish for a bounded time. A swift-service-lifecycle Service, so SIGTERM and
// SIGINT take the graceful path.
import Cluster
import Core
import CAllocator
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
import NIOSSL
import Transport
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
        let (node, channels, timer) = try await start()
        try? await gracefulShutdown()
        try await stop(node, channels, timer)
    }

    private func start() async throws -> (NodeHost, [Channel], RepeatedTask) {
        let logger = self.logger
        let configuration = Self.fittingOpenFileLimit(self.configuration, logger: logger)
        try FileManager.default.createDirectory(atPath: configuration.directory, withIntermediateDirectories: true)
        try DataDirectoryCheck.refuseStandaloneLog(in: configuration.directory)
        let secret = try configuration.clusterSecretFile.map(ClusterSecret.load(path:))
        let tlsContext = try configuration.tls.map(ClientTLS.makeContext)
        let peerTLS = try configuration.clusterTLS.map { try PeerTLS(certFile: $0.certFile, keyFile: $0.keyFile, caCertFile: $0.caCertFile) }
        let started = Date()
        let loop = self.loop
        let node = try await loop.submit { () throws -> LoopConfinedNode in
            // A fresh seed per process start: restarted nodes do not repeat election timeouts.
            let seed = UInt64(truncatingIfNeeded: Int64(Date().timeIntervalSince1970 * 1e6)) ^ (configuration.id.rawValue &* 0x9E37_79B9_7F4A_7C15)
            let node = try Node(configuration: configuration, clock: SystemClock(), monotonicClock: SystemMonotonicClock(),
                                seed: seed, disk: PosixDisk(), logger: logger)
            let transport = PeerTransport(node: configuration.id, cluster: configuration.clusterName, eventLoop: loop, logger: logger)
            transport.secret = secret
            transport.tls = peerTLS
            let host = NodeHost(node: node, loop: loop, transport: transport, logger: logger)
            node.processInfoFields = { [weak host] section in
                var fields = Self.processInfoFields(section, directory: configuration.directory)
                if section == "stats", let host {
                    fields += [("total_net_input_bytes", String(host.clientBytesReceived &- host.netBaseline.received)),
                               ("total_net_output_bytes", String(host.clientBytesSent &- host.netBaseline.sent))]
                }
                return fields
            }
            node.onStatsReset = { [weak host] in
                guard let host else { return }
                host.netBaseline = (host.clientBytesReceived, host.clientBytesSent)
            }
            try node.recoverOrBootstrap()
            // A reading before the first client: `maxmemory` compares with it from the
            // first request on (the timer refreshes it every tick).
            node.handle(.memoryUsed(bytes: ProcessStats.residentBytes()))
            host.perform()
            return LoopConfinedNode(node: host)
        }.get().node
        let timer = loop.scheduleRepeatedTask(initialDelay: .milliseconds(configuration.tickMilliseconds),
                                              delay: .milliseconds(max(1, configuration.tickMilliseconds / 2))) { _ in
            node.timerFired()
        }
        // Hand memory the allocator keeps after a burst (request buffers) back to the OS every
        // few seconds, so RSS reflects the data actually held.
        loop.scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(5)) { _ in trestle_allocator_release_free_memory() }
        var peerPort = 0
        if configuration.standalone {
            try await waitUntilLeading(node)
        } else {
            peerPort = try await loop.flatSubmit { node.transport.listen(host: configuration.host, port: configuration.peerPort) }.get()
        }
        let channel = try await bind(node, port: configuration.port, tls: nil)
        let port = channel.localAddress?.port ?? configuration.port
        if configuration.port == 0 { try await loop.submit { node.node.listening(onPort: port) }.get() }
        var channels = [channel]
        if let tls = configuration.tls, let tlsContext {
            channels.append(try await bind(node, port: tls.port, tls: tlsContext))
        }
        var adminPort: Int? = nil
        if let port = configuration.adminPort {
            do {
                let admin = try await AdminHTTPServer.bind(host: configuration.adminHost, port: port, node: node, loop: loop, logger: logger)
                adminPort = admin.localAddress?.port
                channels.append(admin)
            } catch {
                logger.critical("cannot listen for admin HTTP on \(configuration.adminHost):\(port): \(error)")
                throw error
            }
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
        if configuration.standalone {
            printStandaloneBanner(port: port, tlsPort: configuration.tls == nil ? nil : channels[1].localAddress?.port, adminPort: adminPort, keys: try await loop.submit { node.node.keyCount }.get(), recoveryMilliseconds: elapsed)
        } else {
            printBanner(port: port, tlsPort: configuration.tls == nil ? nil : channels[1].localAddress?.port, adminPort: adminPort, peerPort: peerPort, replicas: try await loop.submit { node.node.replicaCount }.get(), recoveryMilliseconds: elapsed)
        }
        configuration.onListening?(port)
        return (node, channels, timer)
    }

    /// Most time a standalone server waits after recovery to lead its shard before it
    /// gives up (a single voter normally leads within one turn).
    static let leadershipWaitMilliseconds = 10_000

    /// A standalone server opens its client port only once it leads its one shard, so
    /// its first client is served, not redirected.
    private func waitUntilLeading(_ host: NodeHost) async throws {
        let bound = LoopConfinedNode(node: host)
        let deadline = Date().addingTimeInterval(Double(Self.leadershipWaitMilliseconds) / 1000)
        while try await loop.submit({ !bound.node.node.leadsEveryShard }).get() {
            guard Date() < deadline else {
                logger.critical("the recovered log did not make this server the leader of its data in time")
                throw NodeStartError.notLeading
            }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
    }

    /// INFO fields only the process knows.
    static func processInfoFields(_ section: String, directory: String) -> [(String, String)] {
        switch section {
        case "server":
            return [("trestle_version", version), ("os", operatingSystem), ("multiplexing_api", "epoll"),
                    ("monotonic_clock", "POSIX clock_gettime"), ("process_id", String(getpid())), ("process_supervised", "no"),
                    ("run_id", runID), ("executable", CommandLine.arguments.first ?? "trestle"), ("config_file", ""),
                    ("io_threads_active", "0"), ("data_dir", directory)]
        case "memory":
            let rss = ProcessStats.residentBytes()
            // Redis's mem_not_counted_for_evict counts replication and AOF buffers; Trestle
            // compares an estimate of its data with maxmemory, which holds none of them.
            // Trestle's used_memory is the resident size (the allocator's own figures are
            // not exposed), so the allocator and fragmentation fields Redis derives from the
            // difference say 1.00 and 0; tools that read them find them.
            let peak = max(ProcessStats.peakResidentBytes(), rss)
            let total = ProcessStats.totalSystemBytes
            return [("used_memory", String(rss)), ("used_memory_human", human(rss)),
                    ("used_memory_rss", String(rss)), ("used_memory_rss_human", human(rss)),
                    ("used_memory_peak", String(peak)), ("used_memory_peak_human", human(peak)),
                    ("used_memory_peak_perc", String(format: "%.2f%%", peak > 0 ? Double(rss) * 100 / Double(peak) : 100)),
                    ("allocator_allocated", String(rss)), ("allocator_active", String(rss)), ("allocator_resident", String(rss)),
                    ("total_system_memory", String(total)), ("total_system_memory_human", human(total)),
                    ("allocator_frag_ratio", "1.00"), ("allocator_frag_bytes", "0"),
                    ("allocator_rss_ratio", "1.00"), ("allocator_rss_bytes", "0"),
                    ("rss_overhead_ratio", "1.00"), ("rss_overhead_bytes", "0"),
                    ("mem_fragmentation_ratio", "1.00"), ("mem_fragmentation_bytes", "0"),
                    ("mem_not_counted_for_evict", "0"), ("mem_replication_backlog", "0"),
                    ("mem_total_replication_buffers", "0"), ("mem_clients_slaves", "0"), ("mem_aof_buffer", "0"),
                    ("mem_allocator", ProcessStats.allocatorName), ("active_defrag_running", "0")]
        case "cpu":
            let cpu = ProcessStats.cpuSeconds()
            return [("used_cpu_sys", String(format: "%.6f", cpu.system)), ("used_cpu_user", String(format: "%.6f", cpu.user))]
        default:
            return []
        }
    }

    static func human(_ bytes: Int) -> String { redisHumanBytes(bytes) }

    /// INFO's `run_id`: 40 random hex characters for this process, as Redis makes one.
    static let runID: String = {
        var generator = SystemRandomNumberGenerator()
        return (0..<40).map { _ in String(Int.random(in: 0..<16, using: &generator), radix: 16) }.joined()
    }()

    /// INFO's `os`: kernel name, release and machine, as `uname` gives them.
    static let operatingSystem: String = {
        var names = utsname()
        uname(&names)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(text(names.sysname)) \(text(names.release)) \(text(names.machine))"
    }()

    /// Listens for clients on `port`, through TLS with `tls`.
    private func bind(_ host: NodeHost, port: Int, tls: NIOSSLContext?) async throws -> Channel {
        let bootstrap = ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelOption(ChannelOptions.backlog, value: 511)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { [logger] channel in
                AcceptBackoff.install(on: channel, listener: tls == nil ? "clients" : "TLS clients", logger: logger)
            }
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 1024 * 1024))
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [bound = LoopConfinedNode(node: host)] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    // The limits as CONFIG SET left them: a change applies to new connections.
                    try channel.pipeline.syncOperations.addHandler(ClusterClientHandler(host: bound.node, limits: bound.node.node.protocolLimits))
                }
            }
        do {
            return try await bootstrap.bind(host: configuration.host, port: port).get()
        } catch {
            logger.critical("cannot listen on \(configuration.host):\(port)\(tls == nil ? "" : " (TLS)"): \(error)")
            throw error
        }
    }

    /// `configuration` with `maxclients` within what the open-file limit allows, once the
    /// limit is raised as far as it goes (FileDescriptorLimit.swift); warns when lowered.
    static func fittingOpenFileLimit(_ configuration: NodeConfiguration, logger: Logger) -> NodeConfiguration {
        var configuration = configuration
        let wanted = configuration.settings.maxClients
        let files = FileDescriptorLimit.adjust(forClients: wanted)
        if files.clients < wanted {
            logger.warning("""
                maxclients lowered from \(wanted) to \(files.clients): the open-file limit is \(files.descriptors) and could not be \
                raised to make room for \(wanted) clients (each client is a file descriptor, and \
                \(FileDescriptorLimit.reserveCount) are kept for the node itself); raise `ulimit -n` for more clients
                """)
            configuration.settings.maxClients = files.clients
        }
        configuration.settings.maxClientsCeiling = max(files.clients, files.descriptors - FileDescriptorLimit.reserveCount)
        return configuration
    }

    /// Time allowed at shutdown for in-flight requests to be answered.
    static let drainMilliseconds: Int64 = 3000
    /// Time allowed at shutdown for the groups this node leads to elect another leader.
    static let handOverMilliseconds: Int64 = 5000

    /// Waits (bounded) until the node leads no group that another voter could lead; the
    /// node keeps serving meanwhile, answering -MOVED for what it handed over.
    private func handOverLeadership(_ bound: LoopConfinedNode) async throws {
        let started = Date()
        let deadline = started.addingTimeInterval(Double(Self.handOverMilliseconds) / 1000)
        var left = try await loop.submit { bound.node.node.leadershipToHandOff }.get()
        guard left > 0 else { return }
        let total = left
        while left > 0, Date() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
            left = try await loop.submit { bound.node.node.leadershipToHandOff }.get()
        }
        let milliseconds = Int(Date().timeIntervalSince(started) * 1000)
        if left == 0 {
            logger.info("handed over the leadership of \(total) groups in \(milliseconds) ms")
        } else {
            logger.warning("still leading \(left) of \(total) groups after \(milliseconds) ms; stopping anyway (their other replicas elect a leader)")
        }
    }

    private func stop(_ host: NodeHost, _ channels: [Channel], _ timer: RepeatedTask) async throws {
        logger.info("shutting down: no longer accepting connections")
        let bound = LoopConfinedNode(node: host)
        try await loop.submit { bound.node.deliver(.drain) }.get()
        for channel in channels { try? await channel.close() }
        try await handOverLeadership(bound)
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
            // Under --fsync everysec or no, what was written reaches the disk now.
            do {
                try bound.node.node.syncLog()
            } catch {
                self.logger.error("the final fsync of the log failed", metadata: ["error": "\(error)"])
            }
        }.get()
        try? await loop.flatSubmit { bound.node.transport.shutdown() }.get()
        logger.info("shutdown complete")
        try await group.shutdownGracefully()
    }

    private func printBanner(port: Int, tlsPort: Int?, adminPort: Int?, peerPort: Int, replicas: Int, recoveryMilliseconds: Int) {
        var lines = [
            "Trestle \(NodeService.version) cluster node \(configuration.id.rawValue), pid \(getpid())",
            "  clients      \(configuration.host):\(port)\(configuration.proxy ? " (proxy mode: any key on any node)" : " (Redis Cluster protocol: use a cluster-aware client, e.g. redis-cli -c)")",
            "  peers        \(configuration.host):\(peerPort) (\(configuration.clusterSecretFile == nil ? "NOT authenticated: no --cluster-secret-file, keep it on loopback" : "authenticated with the cluster secret")\(configuration.clusterTLS == nil ? ", not encrypted" : ", mutual TLS"))",
            "  clients auth \(Self.describeAuth(configuration.settings))",
            "  data dir     \(configuration.directory)",
            "  fsync        \(Self.describe(configuration.fsync, standalone: false))",
            "  replicas     \(replicas) data shard replicas here, recovered or created in \(recoveryMilliseconds) ms",
            "Ready to accept connections: redis-cli -c -p \(port) cluster info",
        ]
        if let tlsPort { lines.insert(tlsLine(tlsPort), at: 2) }
        if let adminPort { lines.insert("  admin        http://\(configuration.adminHost):\(adminPort)/metrics (also /health /ready /cluster)", at: 2) }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

extension NodeService {
    private func tlsLine(_ port: Int) -> String {
        let auth = configuration.tls?.authClients ?? .no
        let described = auth == .yes ? "required" : auth == .optional ? "checked if presented" : "not asked for"
        return "  tls          \(configuration.host):\(port) (client certificates \(described))"
    }

    static func describeAuth(_ settings: Settings) -> String {
        if !settings.requirePassword.isEmpty { return "password required (AUTH)" }
        return settings.protectedMode ? "none (protected mode: loopback clients only)" : "none, from any address (protected mode off)"
    }

    private func printStandaloneBanner(port: Int, tlsPort: Int?, adminPort: Int?, keys: Int, recoveryMilliseconds: Int) {
        var lines = [
            "Trestle \(NodeService.version) (Redis \(Engine.compatibleRedisVersion) protocol compatible), pid \(getpid())",
            "  listening    \(configuration.host):\(port)",
            "  clients auth \(Self.describeAuth(configuration.settings))",
            "  data dir     \(configuration.directory)",
            "  fsync        \(Self.describe(configuration.fsync, standalone: true))",
            "  keys loaded  \(keys)",
            "  recovery     \(recoveryMilliseconds) ms",
            "Ready to accept connections: redis-cli -p \(port) ping",
        ]
        if let tlsPort { lines.insert(tlsLine(tlsPort), at: 2) }
        if let adminPort { lines.insert("  admin        http://\(configuration.adminHost):\(adminPort)/metrics (also /health /ready /cluster)", at: 2) }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    static func describe(_ policy: FsyncPolicy, standalone: Bool) -> String {
        switch policy {
        case .always:
            return standalone ? "always (a write is acknowledged only after it is on disk)"
                : "always (a write is acknowledged once a majority has it on disk)"
        case .everysec: return "everysec (about the last second of acknowledged writes may be lost on power loss)"
        case .no: return "no (the OS decides when to write: acknowledged writes may be lost on power loss)"
        }
    }
}

enum NodeStartError: Error, CustomStringConvertible {
    case notLeading
    var description: String { "the server did not become the leader of its own data" }
}

/// Carries the loop-confined node host into closures the compiler checks for Sendable.
struct LoopConfinedNode: @unchecked Sendable {
    let node: NodeHost
}

extension NodeService {
    public static let version = "0.3.0"
}
