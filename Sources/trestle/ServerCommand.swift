// `trestle server`: one standalone node (the node runtime's preset: one node, every slot in
// one shard, replication factor 1, no peers).
import ArgumentParser
import ClusterServer
import Engine
import Logging
import NodeRuntime
import ServiceLifecycle
import Storage

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run a standalone Trestle server that speaks the Redis protocol.",
        discussion: """
            A standalone server is a cluster of one: the same node runtime as `trestle node`, \
            holding every key in one shard whose Raft log (a checksummed write-ahead log in \
            --dir) has this node as its only voter. With the default --fsync always, a write \
            is acknowledged only after its log record is on disk, and writes arriving \
            together share one fsync (group commit). On start-up the server loads the newest \
            snapshot and replays the log; a torn tail is truncated and reported. Clients see a \
            standalone Redis: multi-key commands take any keys, and CLUSTER commands answer \
            that cluster support is disabled. Stop it with Ctrl-C or SIGTERM: it stops \
            accepting, lets pending replies drain, fsyncs and exits.
            """)

    @Option(help: ArgumentHelp("Read settings from FILE first: one per line, the option's name then its value (`port 7001`, `proxy yes`). TRESTLE_<NAME> environment variables (TRESTLE_PORT=7001) come next; the command line wins over both.", valueName: "file"))
    var config: String?

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

    @Option(name: .customLong("protected-mode"), help: "yes: with no --requirepass, refuse clients that are not on loopback (as Redis does); no: accept them.")
    var protectedMode: YesNo = .yes

    @Option(help: "Redis's ACL file: users (`user NAME RULES...` lines) loaded at start and by ACL LOAD, written by ACL SAVE.")
    var aclfile: String?

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

    @Option(help: "Timer rate in cycles per second: active expiry and the Raft tick run this often.")
    var hz: Int = 10

    @Option(help: "Numbered databases SELECT may choose from (0 to N-1), as Redis's `databases`.")
    var databases: Int = Settings.databasesDefault

    @Option(name: .customLong("notify-keyspace-events"),
            help: "Keyspace notification classes, as Redis's setting (e.g. KEA or Ex; empty: none). CONFIG SET changes it.")
    var notifyKeyspaceEvents: String = ""

    @OptionGroup var tls: TLSOptions

    @OptionGroup var admin: AdminOptions

    @Option(help: ArgumentHelp("With an empty --dir: start from this backup (`trestle cluster backup --to DIR`, taken from a server or a cluster). Ignored when --dir holds data.", valueName: "dir"))
    var restore: String?

    @Flag(help: "Start even if the log is corrupt in the middle, dropping everything after the corruption.")
    var repair = false

    @Option(name: .customLong("log-level"), help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard !tls.tlsCluster else { throw ValidationError("--tls-cluster is for trestle node (a standalone server has no peers)") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxclients >= 1 else { throw ValidationError("--maxclients must be at least 1") }
        guard protoMaxBulkLen >= 1 else { throw ValidationError("--proto-max-bulk-len must be positive") }
        guard maxMultibulkLen >= 1 else { throw ValidationError("--max-multibulk-len must be positive") }
        guard clientQueryBufferLimit >= 1024 else { throw ValidationError("--client-query-buffer-limit must be at least 1024") }
        guard (1...500).contains(hz) else { throw ValidationError("--hz must be between 1 and 500") }
        guard (1..<Settings.databasesMax).contains(databases) else {
            throw ValidationError("--databases must be between 1 and \(Settings.databasesMax - 1)")
        }
        guard KeyspaceEvents(parsing: notifyKeyspaceEvents) != nil else {
            throw ValidationError("--notify-keyspace-events: invalid event class character; use 'Ag$lshzxeKEtmdn'")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "trestle")
        var settings = Settings()
        settings.port = port
        settings.bind = bind
        settings.directory = dir
        settings.requirePassword = requirepass
        settings.protectedMode = protectedMode == .yes
        settings.maxClients = maxclients
        settings.limits.bulkLengthBytesMax = protoMaxBulkLen
        settings.limits.multibulkCountMax = maxMultibulkLen
        settings.limits.queryBufferBytesMax = clientQueryBufferLimit
        settings.limits.nestingDepthMax = maxNestingDepth
        settings.hz = hz
        settings.databases = databases
        settings.notifyKeyspaceEvents = KeyspaceEvents(parsing: notifyKeyspaceEvents) ?? []
        var configuration = NodeConfiguration.standalone(settings: settings)
        configuration.fsync = fsync
        configuration.scriptSliceMilliseconds = NodeConfiguration.scriptSliceMillisecondsDefault
        configuration.repair = repair
        configuration.restore = restore.map(BackupArchive.restoreSource)
        configuration.tls = tls.settings
        configuration.adminPort = admin.adminPort
        configuration.adminHost = admin.adminHost
        configuration.aclFile = aclfile
        let service = NodeService(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension FsyncPolicy: ExpressibleByArgument {}

/// A Redis-style yes/no option value.
enum YesNo: String, ExpressibleByArgument, CaseIterable {
    case yes, no
}
