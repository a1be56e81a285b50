// An interpreter for node runtime scripts (testdata/*.txt): a few inputs in, every output
// out, in the style of the Raft interaction scripts. Nodes run over simulated disks and
// one shared manual clock; peer frames wait in flight until `deliver`.
//
// Commands:
//   cluster nodes=N shards=S [proxy=true]    bootstrap N nodes (replication factor min(3,N))
//   standalone [fsync=always|everysec|no]    one node as `trestle server` runs it
//   open nK cC                               client C connects to node K
//   request nK cC ARG...                     one request from client C
//   deliver [quiet]                          deliver frames in flight until none are left
//                                            (quiet: without printing them)
//   tick MS                                  advance the clock, deliver the timer to all
//   settle                                   tick 10 ms and deliver quietly, 100 times
//                                            (replies still print)
//   leaders                                  each node's view of every shard's leader
//   close nK cC                              client C disconnects
//   master nK EVENT ...                      the master link (REPLICAOF) reports EVENT:
//                                            connecting | handshaking | down REASON... |
//                                            transferring REPLID OFFSET mM |
//                                            requests mM OFFSET ARG... | ARG... |
//                                            synchronized OFFSET | offset OFFSET
//                                            (mM: the master's client of connection M)
// Outputs: replies and closes as `nK reply cC <value>`; with `deliver`, every frame as
// `nA->nB <frame>`; a node's persists are performed at once (synced) and not printed.
import Cluster
import Consensus
import Core
import Engine
import Foundation
import Logging
@testable import NodeRuntime
import Storage
import Wire

final class ScriptClock: WallClock, MonotonicClock, @unchecked Sendable {
    var milliseconds: Int64 = 0
    /// How often each clock was read (a request should read each once).
    var wallReads = 0
    var monotonicReads = 0
    func now() -> UnixMillis {
        wallReads += 1
        return UnixMillis(1_700_000_000_000 + milliseconds)
    }
    func monotonicMilliseconds() -> Int64 {
        monotonicReads += 1
        return milliseconds
    }
}

final class NodeScriptHarness {
    var nodes: [Node] = []
    var disks: [Storage.SimulatedDisk] = []
    let clock = ScriptClock()
    var inFlight: [(from: Int, to: Int, frame: PeerFrame)] = []
    var output: [String] = []
    var printFrames = false
    /// Each node's latest `.followMaster` generation (its link's events carry it).
    var masterGenerations: [Int: UInt64] = [:]

    func say(_ line: String) { output.append(line) }

    func run(_ line: String) -> String {
        output = []
        let words = line.split(separator: " ").map(String.init)
        switch words.first {
        case "cluster": cluster(words.dropFirst())
        case "standalone": cluster(words.dropFirst(), standalone: true)
        case "open":  // open NODE CLIENT [ADDRESS]: a client connecting from ADDRESS (loopback by default)
            let address = words.count > 3 ? words[3] : "127.0.0.1:40000"
            input(node(words[1]), .clientOpened(client(words[2]), address: address, localAddress: "127.0.0.1:6379"))
        case "close": input(node(words[1]), .clientClosed(client(words[2])))
        case "master": masterEvent(node(words[1]), Array(words.dropFirst(2)))
        case "request":  // request NODE CLIENT ARG...: `\s` in an argument stands for a space, `\n` for a line break
            input(node(words[1]), .request(client(words[2]), words.dropFirst(3).map {
                Array($0.replacingOccurrences(of: "\\s", with: " ").replacingOccurrences(of: "\\n", with: "\n").utf8)
            }))
        case "requests":  // requests NODE CLIENT ARG... | ARG... | ...: one read's requests, one input
            let list = words.dropFirst(3).split(separator: "|").map { $0.map { Array($0.utf8) } }
            input(node(words[1]), .requests(client(words[2]), list))
        case "deliver": deliver(quiet: words.count > 1)
        case "memory":  // memory NODE BYTES: the shell measured this much resident memory
            input(node(words[1]), .memoryUsed(bytes: Int(words[2]) ?? 0))
        case "tick": tick(Int64(words[1]) ?? 0)
        case "settle":
            for _ in 0..<100 { tick(10); deliver(quiet: true) }
        case "leaders": leaders()
        default: say("unknown command \(line)")
        }
        return output.joined(separator: "\n")
    }

    private func node(_ word: String) -> Int { (Int(word.dropFirst()) ?? 1) - 1 }
    private func client(_ word: String) -> ClientID {
        let number = UInt64(word.dropFirst()) ?? 1
        return ClientID(rawValue: word.hasPrefix("m") ? MasterLink.clientIDBase + number : number)
    }

    /// `c7` for a client, `m1` for the master's client of connection 1.
    private static func name(_ id: ClientID) -> String {
        id.rawValue >= MasterLink.clientIDBase ? "m\(id.rawValue - MasterLink.clientIDBase)" : "c\(id.rawValue)"
    }

    private func masterEvent(_ index: Int, _ words: [String]) {
        let event: MasterLinkEvent
        switch words.first {
        case "connecting": event = .connecting
        case "handshaking": event = .handshaking
        case "down": event = .down(words.dropFirst().joined(separator: " "))
        case "transferring" where words.count == 4:
            event = .transferring(replicationID: words[1], offset: Int64(words[2]) ?? 0, client: client(words[3]))
        case "requests" where words.count > 3:
            let requests = words.dropFirst(3).split(separator: "|").map { $0.map { Array($0.utf8) } }
            event = .requests(requests, client: client(words[1]), offset: Int64(words[2]) ?? 0)
        case "synchronized" where words.count == 2: event = .synchronized(offset: Int64(words[1]) ?? 0)
        case "offset" where words.count == 2: event = .offset(Int64(words[1]) ?? 0)
        default: return say("unknown master event \(words.joined(separator: " "))")
        }
        input(index, .masterLink(event, generation: masterGenerations[index] ?? 0))
    }

    private func cluster(_ arguments: ArraySlice<String>, standalone: Bool = false) {
        var options: [String: String] = [:]
        for argument in arguments {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { options[parts[0]] = parts[1] }
        }
        let count = Int(options["nodes"] ?? "1") ?? 1
        let members = (1...count).map { NodeInfo(id: NodeID(UInt64($0)), host: "127.0.0.1", port: 7000 + $0, peerPort: 17000 + $0, zone: "") }
        for member in members {
            var configuration = NodeConfiguration(id: member.id)
            if standalone {
                var settings = Settings()
                settings.directory = "/data"
                configuration = NodeConfiguration.standalone(settings: settings)
                configuration.fsync = FsyncPolicy(rawValue: options["fsync"] ?? "always") ?? .always
            } else {
                configuration.port = member.port
                configuration.peerPort = member.peerPort
                configuration.directory = "/data"
                configuration.bootstrap = members
                configuration.shardCount = Int(options["shards"] ?? "2") ?? 2
                configuration.replicationFactor = min(3, count)
                configuration.proxy = options["proxy"] == "true"
            }
            if let password = options["requirepass"] { configuration.settings.requirePassword = password }
            configuration.tickMilliseconds = 10
            configuration.electionTicks = 10
            if let lag = options["readlag"].flatMap(Int64.init) { configuration.followerReadLagMilliseconds = lag }
            if let slice = options["scriptslice"].flatMap(Int64.init) { configuration.scriptSliceMilliseconds = slice }
            let disk = Storage.SimulatedDisk(seed: member.id.rawValue)
            do {
                try disk.makeDirectory("/data")
                let node = try Node(configuration: configuration, clock: clock, monotonicClock: clock, seed: member.id.rawValue,
                                    disk: disk, logger: Logger(label: "script") { _ in SwiftLogNoOpLogHandler() })
                try node.recoverOrBootstrap()
                nodes.append(node)
                disks.append(disk)
            } catch {
                say("cannot start n\(member.id.rawValue): \(error)")
            }
        }
        for index in nodes.indices {
            for peer in nodes.indices where peer != index { nodes[index].handle(.peerLink(nodes[peer].me, connected: true)) }
            perform(index)
        }
        say("cluster of \(nodes.count) node(s)")
    }

    private func input(_ index: Int, _ input: NodeInput) {
        guard nodes.indices.contains(index) else { return say("no node n\(index + 1)") }
        nodes[index].handle(input)
        perform(index)
    }

    /// Performs a node's outputs: persists at once, runs turns until it wants none.
    func perform(_ index: Int) {
        let node = nodes[index]
        var rounds = 0
        repeat {
            while node.hasOutputs {
                var persisted = false
                var completions: [NodeInput] = []
                for output in node.takeOutputs() {
                    switch output {
                    case let .reply(client, value, _): say("n\(index + 1) reply \(Self.name(client)) \(Self.describe(value))")
                    case let .close(client): say("n\(index + 1) close c\(client.rawValue)")
                    case let .push(client, value, _): say("n\(index + 1) push c\(client.rawValue) \(Self.describe(value))")
                    case let .pushAll(clients, value, _):
                        for client in clients { say("n\(index + 1) push c\(client.rawValue) \(Self.describe(value))") }
                    case let .raft(shard, messages):
                        for message in messages { inFlight.append((index, Int(message.to.rawValue) - 1, .raft(shard: shard, messages: [message]))) }
                    case let .send(peer, frame):
                        // The transport has no link to its own node (the frame is dropped).
                        if peer == node.me { say("n\(index + 1) sent a frame to itself") } else { inFlight.append((index, Int(peer.rawValue) - 1, frame)) }
                    case .flushPeers, .peerAddress, .removePeer: break
                    case let .persist(sync):
                        do { try node.writeStaged(sync: sync); persisted = true } catch { say("n\(index + 1) persist failed: \(error)") }
                    case let .writeSnapshot(job):
                        say("n\(index + 1) write snapshot shard \(job.shard.rawValue) index \(job.metadata.index.rawValue)")
                        do { completions.append(.snapshotWritten(job, data: try job.perform())) } catch {
                            completions.append(.snapshotFailed(job, "\(error)"))
                        }
                    case let .encode(job):
                        say("n\(index + 1) encode job \(job.id)")
                        completions.append(.encoded(job, data: job.perform()))
                    case let .migrate(job):
                        // A scripted target: it accepts every command.
                        let commands = job.commands.map { $0.prefix(2).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ") }
                        say("n\(index + 1) migrate to \(job.host):\(job.port): \(commands.joined(separator: "; "))")
                        completions.append(.migrated(job, .replies(job.commands.map { _ in .ok })))
                    case let .runScript(job):
                        say("n\(index + 1) run script job \(job.id)")
                        job.perform()
                        completions.append(.scriptRan(job))
                    case let .followMaster(job):
                        masterGenerations[index] = job.generation
                        say("n\(index + 1) follow master \(job.host):\(job.port) generation \(job.generation)")
                    case .unfollowMaster:
                        say("n\(index + 1) unfollow master")
                    case .syncLog:
                        say("n\(index + 1) sync log")
                        do { try node.syncLog() } catch { say("n\(index + 1) sync failed: \(error)") }
                    case let .fatal(reason): say("n\(index + 1) fatal: \(reason)")
                    case .shutdown: say("n\(index + 1) shutdown")
                    }
                }
                if persisted { node.handle(.persisted) }
                for completion in completions { node.handle(completion) }
            }
            if node.wantsTurn { node.handle(.turn) }
            rounds += 1
        } while node.hasOutputs && rounds < 64
    }

    private func deliver(quiet: Bool) {
        var delivered = 0
        while !inFlight.isEmpty, delivered < 100_000 {
            let batch = inFlight
            inFlight = []
            for (from, to, frame) in batch where nodes.indices.contains(to) {
                if !quiet, !Self.isGossip(frame) { say("n\(from + 1)->n\(to + 1) \(Self.describe(frame))") }
                delivered += 1
                input(to, .peerFrame(from: nodes[from].me, frame))
            }
        }
    }

    /// Delivers only the frames in flight now (what they cause waits for the next round);
    /// returns how many there were. For tests that stop between two steps of a protocol.
    func deliverRound() -> Int {
        let batch = inFlight
        inFlight = []
        for (from, to, frame) in batch where nodes.indices.contains(to) {
            input(to, .peerFrame(from: nodes[from].me, frame))
        }
        return batch.count
    }

    private func tick(_ milliseconds: Int64) {
        clock.milliseconds += milliseconds
        for index in nodes.indices { input(index, .timer) }
    }

    private func leaders() {
        for (index, node) in nodes.enumerated() {
            let known = node.knownLeaders().sorted { $0.key < $1.key }.map { "s\($0.key.rawValue)=n\($0.value.rawValue)" }
            say("n\(index + 1): " + known.joined(separator: " "))
        }
    }

    /// Gossip flows every other tick; scripts leave it out of their output.
    static func isGossip(_ frame: PeerFrame) -> Bool {
        if case .request(0, _) = frame { return true }
        return false
    }

    static func describe(_ frame: PeerFrame) -> String {
        switch frame {
        case let .raft(shard, messages): return "raft s\(shard.rawValue) " + messages.map(\.description).joined(separator: "; ")
        case let .request(id, payload):
            // A forwarded request: the client's RESP version byte, then the request in RESP.
            guard id != 0, let version = payload.first else { return "gossip" }
            return "forward #\(id) resp\(version) \(String(decoding: payload.dropFirst(), as: UTF8.self).replacingOccurrences(of: "\r\n", with: " "))"
        case let .reply(id, payload): return "forward-reply #\(id) \(String(decoding: payload, as: UTF8.self).replacingOccurrences(of: "\r\n", with: " "))"
        case .hello: return "hello"
        case .proof: return "proof"
        }
    }

    static func describe(_ value: RESPValue) -> String {
        switch value {
        case .simple(let text): return "+\(text)"
        case .error(let text): return "-\(text)"
        case .integer(let number): return ":\(number)"
        case .bulk(let bytes): return "\"\(String(decoding: bytes, as: UTF8.self))\""
        case .null: return "(nil)"
        case .nullArray: return "(nil array)"
        case .array(let items): return "[" + items.map(describe).joined(separator: ", ") + "]"
        default: return "\(value)"
        }
    }
}
