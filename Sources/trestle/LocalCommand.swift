// `trestle local`: a whole cluster of real node processes on this machine, for trying
// Trestle out and for benchmarks. Stops every node it started on Ctrl-C or SIGTERM.
import ArgumentParser
import Storage
import Foundation
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
            directory restarts the same cluster with its data. Ctrl-C stops every node.
            """)

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
        var started: [(id: Int, process: Process)] = []
        for id in 1...nodes {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            var arguments = ["node", "--id", String(id), "--port", String(port + id - 1), "--dir", "\(dir)/node-\(id)",
                             "--bootstrap", spec, "--shards", String(shards), "--replicas", String(factor), "--fsync", fsync.rawValue,
                             "--parent-pid", String(getpid())]
            if proxy { arguments.append("--proxy") }
            process.arguments = arguments
            let logPath = "\(dir)/node-\(id).log"
            FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            log.seekToEndOfFile()
            process.standardOutput = log
            process.standardError = log
            try process.run()
            started.append((id, process))
        }
        let children = started
        say("Trestle local cluster: \(nodes) nodes, \(shards) shards, \(factor) replicas each, data in \(dir)")
        for (id, process) in children {
            say("  node \(id): pid \(process.processIdentifier), clients 127.0.0.1:\(port + id - 1), log \(dir)/node-\(id).log")
        }
        if proxy {
            say("Connect with any Redis client to any node, e.g.: redis-cli -p \(port)")
        } else {
            say("Connect with a cluster-aware client, e.g.: redis-cli -c -p \(port)   (or redis-benchmark --cluster -p \(port))")
        }
        say("Status: trestle cluster status --seed 127.0.0.1:\(port)     Stop: Ctrl-C")
                signal(SIGINT) { _ in localStopRequested = 1 }
        signal(SIGTERM) { _ in localStopRequested = 1 }
        // Wait for Ctrl-C / SIGTERM, or for a node to exit on its own.
        waiting: while localStopRequested == 0 {
            for (id, process) in children where !process.isRunning {
                say("node \(id) exited with status \(process.terminationStatus); stopping the cluster (see \(dir)/node-\(id).log)")
                break waiting
            }
            usleep(100_000)
        }
        say("stopping \(children.count) nodes")
        for (_, process) in children where process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, children.contains(where: { $0.process.isRunning }) { Thread.sleep(forTimeInterval: 0.1) }
        for (_, process) in children where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        say("stopped")
    }
}

/// Prints a line at once (stdout may be a pipe or a file).
private func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Set by the SIGINT/SIGTERM handler; the main loop polls it.
nonisolated(unsafe) private var localStopRequested: sig_atomic_t = 0
