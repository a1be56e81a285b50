// The server process: recovers the data directory, opens the durable log, binds the client
// port and serves until asked to stop; then stops accepting, lets held replies drain,
// fsyncs and closes. Runs as a swift-service-lifecycle Service, so SIGTERM and SIGINT
// trigger the graceful path.
import Core
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Keyspace
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Storage
import Transport

public struct ServerConfiguration: Sendable {
    public var settings = Settings()
    public var fsync: FsyncPolicy = .always
    /// Truncate corruption in the middle of the log instead of refusing to start.
    public var repair = false
    /// Time allowed at shutdown for held replies to become durable and drain.
    public var drainTimeoutMilliseconds: Int64 = 5000
    /// Called once the port is bound, with the bound port (useful when port is 0).
    public var onListening: (@Sendable (Int) -> Void)? = nil
    public init() {}
}

public final class TrestleServer: Service, @unchecked Sendable {
    private let configuration: ServerConfiguration
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let loop: EventLoop

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        // One event loop owns the engine and every client connection: no locks, no hops.
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.loop = group.next()
    }

    public func run() async throws {
        let started = try await start()
        try? await gracefulShutdown()
        try await stop(started)
    }

    struct Running {
        let channel: Channel
        let node: NodeContext
        let durability: LogDurability
        let tasks: [RepeatedTask]
    }

    // MARK: - Start

    private func start() async throws -> Running {
        // The fsync policy has one source, the typed configuration; Settings only reports it.
        var settings = configuration.settings
        settings.fsync = configuration.fsync.rawValue
        let clock = SystemClock()
        let startedAt = clock.now().rawValue
        let engine = Engine(settings: settings, seed: UInt64(truncatingIfNeeded: startedAt) ^ UInt64(getpid()), now: startedAt)
        let report = try recover(into: engine, directory: settings.directory)
        let recoveryMilliseconds = clock.now().rawValue - startedAt
        let log = try DurableLog(directory: settings.directory, fsync: configuration.fsync, logger: logger,
                                 writesOnCaller: configuration.fsync != .everysec)
        let durability = LogDurability(log: log, lastSequence: 0, eventLoop: loop)
        let node = NodeContext(engine: engine, durability: durability, clock: clock, logger: logger, eventLoop: loop)
        let loop = self.loop
        if !log.writesOnCaller {
            // Only the writer thread (everysec) reports progress from another thread; with
            // writes on the loop, flushNow releases replies directly.
            let bound = LoopConfined((durability, node))
            log.setDurableHandler { sequence in
                loop.execute {
                    bound.value.0.advance(to: sequence.rawValue)
                    bound.value.1.durabilityAdvanced()
                }
            }
        }
        log.setFailureHandler { [logger] error in
            logger.critical("the log cannot be written; stopping so that no unsaved write is acknowledged", metadata: ["error": "\(error)"])
            exit(3)
        }
        durability.onWrittenHere = { [unowned node] in node.durabilityAdvanced() }
        installHooks(engine: engine, log: log, durability: durability)
        let channel = try await bind(node: node, settings: settings)
        let port = channel.localAddress?.port ?? settings.port
        let tasks = scheduleBackgroundWork(node: node, durability: durability)
        printBanner(port: port, keys: engine.keyspace.keyCount, report: report, recoveryMilliseconds: recoveryMilliseconds)
        configuration.onListening?(port)
        return Running(channel: channel, node: node, durability: durability, tasks: tasks)
    }

    private func recover(into engine: Engine, directory: String) throws -> RecoveryReport {
        try PersistenceStartup.recover(directory: directory, repair: configuration.repair, logger: logger) { source, payload in
            switch source {
            case .snapshot: try engine.keyspace.load(record: payload)
            case .log: try engine.replay(payload)
            }
        }
    }

    private func bind(node: NodeContext, settings: Settings) async throws -> Channel {
        let bootstrap = ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelOption(ChannelOptions.backlog, value: 511)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 1024 * 1024))
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [bound = LoopConfined(node)] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClientConnectionHandler(node: bound.value))
                }
            }
        do {
            return try await bootstrap.bind(host: settings.bind, port: settings.port).get()
        } catch {
            logger.critical("cannot listen on \(settings.bind):\(settings.port): \(error)")
            throw error
        }
    }

    private func installHooks(engine: Engine, log: DurableLog, durability: LogDurability) {
        let directory = configuration.settings.directory
        let fsync = configuration.fsync
        var hooks = HostHooks()
        hooks.infoFields = { section in
            switch section {
            case "server":
                return [("trestle_version", TrestleServer.version), ("process_id", String(getpid())),
                        ("executable", CommandLine.arguments.first ?? "trestle"), ("data_dir", directory)]
            case "memory":
                let rss = ProcessStats.residentBytes()
                return [("used_memory", String(rss)), ("used_memory_rss", String(rss)),
                        ("used_memory_human", Self.human(rss)), ("maxmemory", "0"), ("maxmemory_policy", "noeviction")]
            case "persistence":
                return [("aof_rewrite_in_progress", log.isSnapshotRunning ? "1" : "0"),
                        ("aof_current_size", String(log.logBytesSinceSnapshot)),
                        ("aof_base_size", String(log.lastSnapshotBytes)),
                        ("aof_pending_bytes", String(log.pendingBytes)),
                        ("aof_last_write_status", log.failure == nil ? "ok" : "err"),
                        ("trestle_fsync", fsync.rawValue)]
            case "cpu":
                let cpu = ProcessStats.cpuSeconds()
                return [("used_cpu_sys", String(format: "%.6f", cpu.system)), ("used_cpu_user", String(format: "%.6f", cpu.user))]
            default:
                return []
            }
        }
        hooks.startSnapshot = { [weak self] in self?.startSnapshot(engine: engine, durability: durability) ?? false }
        hooks.lastSnapshotTime = { [weak self] in self?.lastSnapshotSeconds ?? 0 }
        engine.hooks = hooks
    }

    // MARK: - Background work

    private var lastSnapshotSeconds: Int64 = Int64(Date().timeIntervalSince1970)

    private func scheduleBackgroundWork(node: NodeContext, durability: LogDurability) -> [RepeatedTask] {
        let log = durability.log
        let confinedDurability = LoopConfined(durability)
        let bound = LoopConfined(node)
        // The active expiry cycle runs `hz` times a second; each run schedules the next with
        // the current hz, so CONFIG SET hz takes effect at once.
        scheduleExpiryCycle(bound)
        let compaction = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in
            if log.shouldCompact { _ = self?.startSnapshot(engine: bound.value.engine, durability: confinedDurability.value) }
        }
        // glibc keeps freed memory (request buffers after a burst) in its arenas; hand it
        // back to the OS every few seconds so RSS reflects the data actually held.
        let trim = loop.scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(5)) { _ in
            _ = releaseFreeMemory(0)
        }
        return [compaction, trim]
    }

    private func scheduleExpiryCycle(_ bound: LoopConfined<NodeContext>) {
        let interval = Int64(1000 / max(1, bound.value.engine.settings.hz))
        loop.scheduleTask(in: .milliseconds(interval)) { [weak self] in
            let node = bound.value
            guard !node.draining else { return }
            node.engine.expireCycle(now: node.clock.now().rawValue)
            self?.scheduleExpiryCycle(bound)
        }
    }

    /// Starts a background snapshot of an O(1) copy of the keyspace. Call on the loop.
    private func startSnapshot(engine: Engine, durability: LogDurability) -> Bool {
        let log = durability.log
        let copy = engine.keyspace
        let now = SystemClock().now().rawValue
        let start = log.beginSnapshot({ copy.snapshotRecords(now: now) }) { [weak self] result in
            if case .success = result { self?.loop.execute { self?.lastSnapshotSeconds = now / 1000 } }
        }
        // The snapshot's new segment opens with the next batch; write it now.
        if start != nil { durability.flushNow() }
        return start != nil
    }

    // MARK: - Stop

    private func stop(_ running: Running) async throws {
        logger.info("shutting down: no longer accepting connections")
        let bound = LoopConfined(running.node)
        try await loop.submit { bound.value.draining = true }.get()
        try? await running.channel.close()
        let deadline = SystemClock().now().rawValue + configuration.drainTimeoutMilliseconds
        while SystemClock().now().rawValue < deadline {
            let waiting = try await loop.submit { bound.value.connectionsWaitingForDurability }.get()
            if waiting == 0 { break }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        let tasks = running.tasks
        try await loop.submit {
            for task in tasks { task.cancel() }
            bound.value.closeAllConnections()
        }.get()
        running.durability.log.close()
        logger.info("shutdown complete: log fsynced and closed", metadata: ["durable": "\(running.durability.durableSequence)"])
        try await group.shutdownGracefully()
    }

    // MARK: - Banner

    public static let version = "0.2.0"

    private func printBanner(port: Int, keys: Int, report: RecoveryReport, recoveryMilliseconds: Int64) {
        let settings = configuration.settings
        let lines = [
            "Trestle \(Self.version) (Redis \(Engine.compatibleRedisVersion) protocol compatible), pid \(getpid())",
            "  listening    \(settings.bind):\(port)",
            "  data dir     \(settings.directory)",
            "  fsync        \(configuration.fsync.rawValue)\(configuration.fsync == .always ? " (a write is acknowledged only after it is on disk)" : "")",
            "  keys loaded  \(keys) (snapshot records \(report.snapshotRecords), log records \(report.logRecords), dropped \(report.bytesDropped) bytes)",
            "  recovery     \(recoveryMilliseconds) ms",
            "Ready to accept connections: redis-cli -p \(port) ping",
        ]
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    static func human(_ bytes: Int) -> String {
        let units = ["B", "K", "M", "G", "T"]
        var value = Double(bytes), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return String(format: "%.2f%@", value, units[unit])
    }
}

/// glibc's malloc_trim: returns free memory at the top of the heap and whole free pages
/// inside it to the operating system. (Not exported by Swift's Glibc module.)
@_silgen_name("malloc_trim")
private func releaseFreeMemory(_ padding: Int) -> Int32
