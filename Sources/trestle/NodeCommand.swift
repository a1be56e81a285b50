// `trestle node`: run one node of a cluster.
import ArgumentParser
import Storage
import Cluster
import ClusterServer
import NodeRuntime
import Core
import Engine
import Logging
import ServiceLifecycle
import Transport

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run one node of a Trestle cluster (sharded, every shard replicated with Raft).",
        discussion: """
            The 16384 hash slots are split into shards; each shard is a Raft group with \
            --replicas copies on distinct nodes. A write is acknowledged once it is fsynced \
            on a majority of its shard's replicas; reads are linearizable.

            Start a new cluster by giving every initial node the same --bootstrap list, e.g. \
            --bootstrap 1@127.0.0.1:7001,2@127.0.0.1:7002,3@127.0.0.1:7003 (peer ports default \
            to client port + 10000). A node whose --dir already holds data ignores --bootstrap \
            and recovers. A node started without --bootstrap and with an empty --dir waits \
            until `trestle cluster add-node` adds it. `trestle local --nodes 3` does all of \
            this for you on one machine.
            """)

    @Option(help: ArgumentHelp("Read settings from FILE first: one per line, the option's name then its value (`port 7001`, `proxy yes`). TRESTLE_<NAME> environment variables (TRESTLE_PORT=7001) come next; the command line wins over both.", valueName: "file"))
    var config: String?

    @Option(help: "This node's id (a positive integer, unique in the cluster).")
    var id: UInt64

    @Option(help: "TCP port for Redis clients.")
    var port: Int = 7001

    @Option(name: .customLong("peer-port"), help: "TCP port for other nodes (default: port + 10000).")
    var peerPort: Int?

    @Option(help: "Address to listen on and to advertise to clients and peers.")
    var host: String = "127.0.0.1"

    @Option(help: "Failure zone label: replicas of a shard go to distinct zones when possible.")
    var zone: String = ""

    @Option(help: "Directory for this node's Raft log and snapshots.")
    var dir: String = "./trestle-data"

    @Option(help: "Initial members ID@HOST:PORT[:PEERPORT][/ZONE],... (used only when --dir is empty).")
    var bootstrap: String?

    @Option(help: ArgumentHelp("With --bootstrap and an empty --dir: start the new cluster from this backup (`trestle cluster backup --to DIR`). Give every initial node the same backup; keys are dealt to the new shards by slot, so --shards may differ from the backed-up cluster's.", valueName: "dir"))
    var restore: String?

    @Option(help: "Shards a new cluster is split into (with --bootstrap).")
    var shards: Int = 16

    @Option(help: "Copies of every shard: 1, 3 or 5 (with --bootstrap).")
    var replicas: Int = 3

    @Flag(help: "Forward requests for other nodes' slots instead of replying -MOVED, so clients that are not cluster-aware can use any node.")
    var proxy = false

    @Option(help: "Password clients must send with AUTH before other commands (empty: none). Give every node the same one.")
    var requirepass: String = ""

    @Option(name: .customLong("protected-mode"), help: "yes: with no --requirepass, refuse clients that are not on loopback (as Redis does); no: accept them.")
    var protectedMode: YesNo = .yes

    @Option(name: .customLong("cluster-secret-file"), help: "File holding the cluster's shared secret: peers must prove they know it (HMAC challenge-response) before any Raft or forwarded traffic is accepted. Every node needs the same file; set it before listening beyond loopback.")
    var clusterSecretFile: String?

    @Option(name: .customLong("peer-route"), help: "Dial peer ID at HOST:PORT instead of its advertised address (e.g. through a fault proxy): ID=HOST:PORT. Repeatable.")
    var peerRoute: [String] = []

    @Option(help: "always: acknowledge after fsync on a majority (default); everysec: fsync about once a second (a majority losing power together may lose the last second); no: never fsync explicitly (the OS decides).")
    var fsync: FsyncPolicy = .always

    @Flag(name: .customLong("no-auto-split"), help: "As directory leader, never split or merge shards on its own (when nodes are added, or by size and load); split and merge by hand with `trestle cluster split` and `merge`.")
    var noAutoSplit = false
    @Option(name: .customLong("split-keys"), help: "As directory leader, split a shard holding more keys than this.")
    var splitKeys = ReshapeThresholds().splitKeys
    @Option(name: .customLong("split-bytes"), help: "As directory leader, split a shard whose keys and values take about this much memory (e.g. 512mb, 1gb; estimated from a sample of keys).")
    var splitBytes = "1gb"
    @Option(name: .customLong("split-ops"), help: "As directory leader, split a shard serving more requests per second than this over a 10 s window, where its load is halved (at most 4 shards per node); two shards a split made merge again when both are below 1/8 of every split threshold.")
    var splitOps = ReshapeThresholds().splitOpsPerSecond
    @Option(name: .customLong("replica-read-lag"), help: "Milliseconds: a replica answers a READONLY client's reads only if it heard from its shard's leader within this long (else -MOVED to the leader).")
    var replicaReadLag: Int64 = 500
    @Option(name: .customLong("notify-keyspace-events"),
            help: "Keyspace notification classes, as Redis's setting (e.g. KEA or Ex; empty: none). CONFIG SET changes it on one node.")
    var notifyKeyspaceEvents: String = ""
    @Option(name: .customLong("load-window"), help: "Seconds over which load per slot and shard is measured (hot spots, status, load splits).")
    var loadWindow = 10
    @Option(name: .customLong("dead-node-timeout"), help: "Seconds a node may be silent before its replicas are rebuilt on other nodes (0: never).")
    var deadNodeTimeout: Int64 = 300

    @Option(name: .customLong("request-timeout"), help: "Milliseconds a request may wait for its shard before it gets an error.")
    var requestTimeout: Int64 = 10_000

    @Option(name: .customLong("tick-ms"), help: "Raft tick in milliseconds (election timeout is 10-20 ticks).")
    var tickMilliseconds: Int64 = 100

    @OptionGroup var tls: TLSOptions

    @OptionGroup var admin: AdminOptions

    @Option(name: .customLong("parent-pid"), help: .hidden)
    var parentPid: Int32?

    @Flag(help: "Start even if the Raft log is corrupt in the middle, dropping everything after the corruption.")
    var repair = false

    @Option(name: .customLong("log-level"), help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard id > 0 else { throw ValidationError("--id must be a positive integer") }
        guard (1...65535).contains(port) else { throw ValidationError("--port must be in 1...65535") }
        guard [1, 3, 5].contains(replicas) else { throw ValidationError("--replicas must be 1, 3 or 5") }
        guard KeyspaceEvents(parsing: notifyKeyspaceEvents) != nil else {
            throw ValidationError("--notify-keyspace-events: invalid event class character; use 'Ag$lshzxeKEtmdn'")
        }
        guard (1...1024).contains(shards) else { throw ValidationError("--shards must be in 1...1024") }
        if let bootstrap, NodeInfo.parseList(bootstrap) == nil {
            throw ValidationError("--bootstrap must be a list like 1@127.0.0.1:7001,2@127.0.0.1:7002,3@127.0.0.1:7003")
        }
        if restore != nil, bootstrap == nil { throw ValidationError("--restore starts a new cluster: give --bootstrap too") }
        if let clusterSecretFile {
            do { _ = try ClusterSecret.load(path: clusterSecretFile) } catch { throw ValidationError("\(error)") }
        }
        for route in peerRoute where Self.parseRoute(route) == nil {
            throw ValidationError("--peer-route must look like 2=127.0.0.1:27002")
        }
        guard splitKeys >= 1 else { throw ValidationError("--split-keys must be a positive integer") }
        guard (Engine.parseMemory(splitBytes) ?? 0) >= 1 else { throw ValidationError("--split-bytes must be a size like 1048576, 512mb or 1gb") }
        guard splitOps.isFinite, splitOps > 0 else { throw ValidationError("--split-ops must be a positive number") }
        guard (0...60_000).contains(replicaReadLag) else { throw ValidationError("--replica-read-lag must be in 0...60000 milliseconds") }
        guard (1...3600).contains(loadWindow) else { throw ValidationError("--load-window must be in 1...3600 seconds") }
    }

    static func parseRoute(_ text: String) -> (NodeID, PeerRoute)? {
        let parts = text.split(separator: "=")
        guard parts.count == 2, let id = UInt64(parts[0]), id > 0 else { return nil }
        let address = parts[1].split(separator: ":")
        guard address.count == 2, let port = Int(address[1]), (1...65535).contains(port) else { return nil }
        return (NodeID(id), PeerRoute(host: String(address[0]), port: port))
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        var logger = Logger(label: "trestle.node")
        logger[metadataKey: "node"] = "\(id)"
        var configuration = NodeConfiguration(id: NodeID(id))
        configuration.host = host
        configuration.port = port
        configuration.peerPort = peerPort ?? port + 10000
        configuration.zone = zone
        configuration.directory = dir
        configuration.bootstrap = bootstrap.flatMap(NodeInfo.parseList)
        configuration.shardCount = shards
        configuration.restore = restore.map(BackupArchive.restoreSource)
        configuration.replicationFactor = replicas
        configuration.proxy = proxy
        configuration.fsync = fsync
        configuration.scriptSliceMilliseconds = NodeConfiguration.scriptSliceMillisecondsDefault
        configuration.deadNodeSeconds = deadNodeTimeout
        configuration.autoSplit = !noAutoSplit
        configuration.reshaping.splitKeys = splitKeys
        configuration.reshaping.splitBytes = Engine.parseMemory(splitBytes) ?? configuration.reshaping.splitBytes
        configuration.reshaping.splitOpsPerSecond = splitOps
        configuration.loadWindowMilliseconds = Int64(loadWindow) * 1000
        configuration.followerReadLagMilliseconds = replicaReadLag
        configuration.requestTimeoutMilliseconds = requestTimeout
        configuration.tickMilliseconds = tickMilliseconds
        configuration.repair = repair
        configuration.settings.requirePassword = requirepass
        configuration.settings.protectedMode = protectedMode == .yes
        configuration.settings.notifyKeyspaceEvents = KeyspaceEvents(parsing: notifyKeyspaceEvents) ?? []
        configuration.clusterSecretFile = clusterSecretFile
        configuration.tls = tls.settings
        configuration.adminPort = admin.adminPort
        configuration.adminHost = admin.adminHost
        configuration.clusterTLS = tls.clusterFiles
        for route in peerRoute {
            if let (node, address) = Self.parseRoute(route) { configuration.peerRoutes[node] = address }
        }
        configuration.parentProcess = parentPid
        let service = NodeService(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
