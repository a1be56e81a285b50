// `trestle server`: run one node.
import ArgumentParser
import Engine
import Logging
import Server
import ServiceLifecycle
import Storage

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run a Trestle server that speaks the Redis protocol.",
        discussion: """
            Every write is appended to a checksummed log in --dir. With the default \
            --fsync always, a write is acknowledged only after its log record is on disk, \
            and writes arriving together share one fsync (group commit). On start-up the \
            server loads the newest snapshot and replays the log; a torn tail is truncated \
            and reported. Stop it with Ctrl-C or SIGTERM: it stops accepting, lets pending \
            replies drain, fsyncs and exits.
            """)

    @Option(help: "TCP port for Redis clients (0 picks a free port).")
    var port: Int = 6379

    @Option(help: "Address to listen on.")
    var bind: String = "127.0.0.1"

    @Option(help: "Directory for the log and snapshots (created if missing).")
    var dir: String = "./trestle-data"

    @Option(help: "When to fsync the log: always (acknowledge after fsync), everysec (may lose about 1 s on power loss), no (the OS decides).")
    var fsync: FsyncPolicy = .always

    @Option(help: "Password clients must send with AUTH before other commands (empty: none).")
    var requirepass: String = ""

    @Option(help: "Most simultaneous client connections; more are refused with an error.")
    var maxclients: Int = 10000

    @Option(name: .customLong("proto-max-bulk-len"), help: "Largest bulk string a client may send, in bytes.")
    var protoMaxBulkLen: Int = 512 * 1024 * 1024

    @Option(name: .customLong("max-multibulk-len"), help: "Most elements in one request array.")
    var maxMultibulkLen: Int = 1024 * 1024

    @Option(name: .customLong("client-query-buffer-limit"), help: "Most bytes buffered for one client's incomplete request.")
    var clientQueryBufferLimit: Int = 1024 * 1024 * 1024

    @Option(name: .customLong("max-nesting-depth"), help: "Deepest nesting of RESP aggregates accepted.")
    var maxNestingDepth: Int = 32

    @Option(help: "Active expiry cycles per second.")
    var hz: Int = 10

    @Flag(help: "Start even if the log is corrupt in the middle, dropping everything after the corruption.")
    var repair = false

    @Option(name: .customLong("log-level"), help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxclients >= 1 else { throw ValidationError("--maxclients must be at least 1") }
        guard protoMaxBulkLen >= 1 else { throw ValidationError("--proto-max-bulk-len must be positive") }
        guard maxMultibulkLen >= 1 else { throw ValidationError("--max-multibulk-len must be positive") }
        guard clientQueryBufferLimit >= 1024 else { throw ValidationError("--client-query-buffer-limit must be at least 1024") }
        guard (1...500).contains(hz) else { throw ValidationError("--hz must be between 1 and 500") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "trestle")
        var configuration = ServerConfiguration()
        configuration.settings.port = port
        configuration.settings.bind = bind
        configuration.settings.directory = dir
        configuration.settings.requirePassword = requirepass
        configuration.settings.maxClients = maxclients
        configuration.settings.limits.bulkLengthBytesMax = protoMaxBulkLen
        configuration.settings.limits.multibulkCountMax = maxMultibulkLen
        configuration.settings.limits.queryBufferBytesMax = clientQueryBufferLimit
        configuration.settings.limits.nestingDepthMax = maxNestingDepth
        configuration.settings.hz = hz
        configuration.fsync = fsync
        configuration.repair = repair
        let server = TrestleServer(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension FsyncPolicy: ExpressibleByArgument {}
