// `trestle local`: a whole cluster of real node processes on this machine, for trying
// Trestle out and for benchmarks. Stops every node it started on Ctrl-C or SIGTERM.
import ArgumentParser
import Storage
import Foundation
import Transport
import ClusterServer
#if canImport(Glibc)
import Glibc
#endif

struct LocalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Start a local Trestle cluster: one `trestle node` process per node, on loopback.",
        discussion: """
            Node i listens for clients on port+i-1 and for peers on that port + 10000, keeps \
            its data in DIR/node-i and logs to DIR/node-i.log. Running it again over the same \
            directory restarts the same cluster with its data.

            A node that dies (kill -9 one to watch the cluster fail over) is reported and, \
            with --restart always (the default), started again over its data after a short \
            backoff that grows if it keeps dying; the other nodes keep serving meanwhile. \
            With --restart never it stays down. Ctrl-C or SIGTERM stops every node.
            """)

    enum RestartPolicy: String, ExpressibleByArgument, CaseIterable {
        case always, never
    }

    @Option(help: "Number of nodes.")
    var nodes: Int = 3

    @Option(help: "Client port of node 1; node i uses port + i - 1.")
    var port: Int = 7001

    @Option(help: "Directory holding every node's data and log.")
    var dir: String = "./trestle-data"

    @Option(help: "Shards the keyspace is split into.")
    var shards: Int = 16

    @Option(help: "Copies of every shard: 1, 3 or 5 (at most --nodes).")
    var replicas: Int = 3

    @Flag(help: "Proxy mode: any node accepts any key (for clients that are not cluster-aware).")
    var proxy = false

    @Option(help: "always (default), everysec or no: see trestle node --help.")
    var fsync: FsyncPolicy = .always

    @Option(help: "Password clients must send with AUTH (empty: none); every node gets it.")
    var requirepass: String = ""

    @Option(name: .customLong("admin-port"), help: "Give node i an admin HTTP port BASE+i-1 (/metrics, /health, /ready, /cluster).")
    var adminPort: Int?

    @Option(name: .customLong("node-arg"), parsing: .unconditionalSingleValue, help: "A flag given to every node as is (repeatable), e.g. --node-arg --no-auto-split or --node-arg --split-keys=100000: see trestle node --help.")
    var nodeArg: [String] = []
    @Option(help: ArgumentHelp("Start the new cluster from this backup (`trestle cluster backup --to DIR`); checked before any node starts. Ignored by nodes whose data directory already holds data.", valueName: "dir"))
    var restore: String?

    @Option(help: "What to do when a node dies: always (start it again after a backoff) or never (leave it down).")
    var restart: RestartPolicy = .always

    func validate() throws {
        guard (1...64).contains(nodes) else { throw ValidationError("--nodes must be in 1...64") }
        guard [1, 3, 5].contains(replicas) else { throw ValidationError("--replicas must be 1, 3 or 5") }
        guard port > 0, port + nodes - 1 + 10000 <= 65535 else { throw ValidationError("--port leaves no room for the peer ports") }
    }

    func run() throws {
        let factor = min(replicas, nodes)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let spec = (1...nodes).map { "\($0)@127.0.0.1:\(port + $0 - 1):\(port + $0 - 1 + 10000)" }.joined(separator: ",")
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        // The nodes prove to each other that they know this secret (made once, kept with
        // the data), so nothing else on the machine can speak to their peer ports.
        let secretPath = "\(dir)/cluster.secret"
        try ClusterSecret.createIfMissing(path: secretPath)
        var restoreDirectory: String?
        if let restore {
            let absolute = URL(fileURLWithPath: restore).standardizedFileURL.path
            do {
                let (manifest, image) = try BackupArchive.check(absolute)
                say("restoring \(image.shards.count) backed-up shards (\(manifest.keys) keys, taken \(manifest.createdAt)) from \(absolute)")
            } catch {
                throw ValidationError("--restore: \(error)")
            }
            restoreDirectory = absolute
        }
        var children: [LocalNode] = []
        for id in 1...nodes {
            var arguments = ["node", "--id", String(id), "--port", String(port + id - 1), "--dir", "\(dir)/node-\(id)",
                             "--bootstrap", spec, "--shards", String(shards), "--replicas", String(factor), "--fsync", fsync.rawValue,
                             "--parent-pid", String(getpid())]
            if proxy { arguments.append("--proxy") }
            if let restoreDirectory { arguments += ["--restore", restoreDirectory] }
            if !requirepass.isEmpty { arguments += ["--requirepass", requirepass] }
            if let adminPort { arguments += ["--admin-port", String(adminPort + id - 1)] }
            arguments += ["--cluster-secret-file", secretPath]
            arguments += nodeArg
            let child = LocalNode(id: id, executable: executable, arguments: arguments, logPath: "\(dir)/node-\(id).log")
            try child.start()
            children.append(child)
        }
        say("Trestle local cluster: \(nodes) nodes, \(shards) shards, \(factor) replicas each, data in \(dir)")
        for child in children {
            say("  node \(child.id): pid \(child.pid), clients 127.0.0.1:\(port + child.id - 1), log \(child.logPath)"
                + (adminPort.map { ", admin http://127.0.0.1:\($0 + child.id - 1)/metrics" } ?? ""))
        }
        if proxy {
            say("Connect with any Redis client to any node, e.g.: redis-cli -p \(port)")
        } else {
            say("Connect with a cluster-aware client, e.g.: redis-cli -c -p \(port)   (or redis-benchmark --cluster -p \(port))")
        }
        say("Status: trestle cluster status --seed 127.0.0.1:\(port)     Stop: Ctrl-C")
        signal(SIGINT) { _ in localStopRequested = 1 }
        signal(SIGTERM) { _ in localStopRequested = 1 }
        while localStopRequested == 0 {
            for child in children { supervise(child) }
            usleep(100_000)
        }
        stopAll(children)
    }

    /// Reports a node that died and, under --restart always, starts it again once its
    /// backoff has passed.
    private func supervise(_ child: LocalNode) {
        let now = Date()
        if child.isRunning { return child.noteHealthy(now: now) }
        if child.restartAt == nil, !child.leftDown {
            say("node \(child.id) (pid \(child.pid)) \(child.exitDescription); the other nodes keep serving (see \(child.logPath))")
            if restart == .never {
                child.leftDown = true
                say("node \(child.id) stays down (--restart never)")
                return
            }
            let delay = child.nextBackoff(now: now)
            child.restartAt = now.addingTimeInterval(delay)
            say(String(format: "restarting node %d in %.1f s", child.id, delay))
        }
        guard let due = child.restartAt, now >= due else { return }
        child.restartAt = nil
        do {
            try child.start()
            say("node \(child.id) restarted: pid \(child.pid)")
        } catch {
            say("node \(child.id) could not be restarted: \(error); trying again")
            child.restartAt = now.addingTimeInterval(child.nextBackoff(now: now))
        }
    }

    private func stopAll(_ children: [LocalNode]) {
        let running = children.filter(\.isRunning)
        say("stopping \(running.count) nodes")
        for child in running { kill(child.pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(LocalNode.stopSecondsMax)
        while Date() < deadline, running.contains(where: \.isRunning) { Thread.sleep(forTimeInterval: 0.1) }
        for child in running where child.isRunning { kill(child.pid, SIGKILL) }
        say("stopped")
    }
}

/// One node process of `trestle local` and its restart history.
final class LocalNode {
    /// The first restart waits this long; each quick death doubles it up to the maximum.
    static let backoffSecondsMin: TimeInterval = 1
    static let backoffSecondsMax: TimeInterval = 30
    /// A node that ran this long since its last start counts as healthy: its backoff resets.
    static let healthySeconds: TimeInterval = 60
    /// How long Ctrl-C waits for nodes to stop before killing them.
    static let stopSecondsMax: TimeInterval = 10

    let id: Int
    let executable: String
    let arguments: [String]
    let logPath: String
    private var process: Process?
    private var startedAt = Date()
    private var backoff: TimeInterval = 0
    /// When a dead node is due to start again (nil: running, or not yet noticed).
    var restartAt: Date?
    /// Left down under --restart never.
    var leftDown = false

    init(id: Int, executable: String, arguments: [String], logPath: String) {
        self.id = id
        self.executable = executable
        self.arguments = arguments
        self.logPath = logPath
    }

    var isRunning: Bool { process?.isRunning ?? false }
    var pid: Int32 { process?.processIdentifier ?? 0 }

    /// "exited with status N" or "was killed by signal N".
    var exitDescription: String {
        guard let process, !process.isRunning else { return "is running" }
        return process.terminationReason == .uncaughtSignal
            ? "was killed by signal \(process.terminationStatus)"
            : "exited with status \(process.terminationStatus)"
    }

    /// Starts the node, appending its output to its log.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !FileManager.default.fileExists(atPath: logPath) { FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try? log.close()
        self.process = process
        startedAt = Date()
    }

    /// The wait before the next restart: the minimum after a healthy run, doubled after
    /// each quick death.
    func nextBackoff(now: Date) -> TimeInterval {
        backoff = backoff == 0 ? Self.backoffSecondsMin : min(backoff * 2, Self.backoffSecondsMax)
        return backoff
    }

    func noteHealthy(now: Date) {
        if backoff > 0, now.timeIntervalSince(startedAt) >= Self.healthySeconds { backoff = 0 }
    }
}

/// Prints a line at once (stdout may be a pipe or a file).
private func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Set by the SIGINT/SIGTERM handler; the main loop polls it.
nonisolated(unsafe) private var localStopRequested: sig_atomic_t = 0
