// A tiny interpreter for Raft interaction scripts (testdata/*.txt), in the style of
// etcd-raft's datadriven tests. A script is a list of blocks:
//
//     command arguments
//     ----
//     expected output, one line each
//     (a blank line ends the block)
//
// The harness owns a set of nodes, an in-memory durable store per node (always synced),
// and a list of messages in flight. Each command prints what happened: messages delivered,
// role and commit changes, errors. Set TRESTLE_REWRITE=1 to re-record expected outputs
// after an intended behaviour change; review the diff before committing.

import Core
@testable import Consensus

final class InteractionHarness {
    struct Stored {
        var hardState = HardState()
        var snapshot: Snapshot?
        var entries: [Entry] = []
    }

    var nodes: [NodeID: RaftNode] = [:]
    var ids: [NodeID] = []
    var stores: [NodeID: Stored] = [:]
    var configs: [NodeID: RaftConfig] = [:]
    var inFlight: [Message] = []
    var groups: [[NodeID]] = []
    var output: [String] = []
    var applied: [NodeID: [String]] = [:]

    func say(_ line: String) { output.append(line) }

    // MARK: - Commands

    func run(_ line: String) -> String {
        output = []
        let words = line.split(separator: " ").map(String.init)
        guard let command = words.first else { return "" }
        let args = Array(words.dropFirst())
        let before = ids.map { describeState($0) }
        switch command {
        case "cluster": cluster(args)
        case "campaign": withNode(args) { $0.startElection(transfer: false) }
        case "tick": tick(args)
        case "deliver": deliver(args)
        case "drop": drop(args)
        case "partition": partition(args)
        case "heal": groups = []
        case "propose": request(args) { node, rest in try node.propose(Array(rest.joined(separator: " ").utf8)) }
        case "conf": request(args) { node, rest in try node.proposeConfigChange(Self.parseChange(rest)) }
        case "transfer": request(args) { node, rest in try node.transferLeadership(to: NodeID(UInt64(rest.first ?? "") ?? 0)) }
        case "readindex": request(args) { node, rest in try node.readIndex(context: UInt64(rest.first ?? "") ?? 0) }
        case "lease": request(args) { node, _ in self.say("lease read at index \(try node.leaseRead().rawValue)") }
        case "compact": compact(args)
        case "crash": crash(args)
        case "restart": restart(args)
        case "wipe": wipe(args)
        case "status": for id in nodeArgs(args) { say(describeStatus(id)) }
        case "log": for id in nodeArgs(args) { say(describeLog(id)) }
        case "progress": for id in nodeArgs(args) { progress(id) }
        case "applied": for id in nodeArgs(args) { say("\(id) applied: \((applied[id] ?? []).joined(separator: ", "))") }
        default: say("unknown command \(command)")
        }
        processAll()
        for (position, id) in ids.enumerated() where position < before.count {
            let after = describeState(id)
            if after != before[position] { say("\(id): \(before[position]) -> \(after)") }
        }
        return output.joined(separator: "\n")
    }

    func nodeArgs(_ args: [String]) -> [NodeID] {
        args.isEmpty ? ids : args.compactMap { UInt64($0).map { NodeID($0) } }
    }

    func cluster(_ args: [String]) {
        var voters: [NodeID] = []
        var learners: [NodeID] = []
        var extra: [NodeID] = []
        var preVote = true, checkQuorum = true, drift = 0.0, entriesMax = 4, promotionLag = 0
        var mutations = Mutations()
        for arg in args {
            let parts = arg.split(separator: "=").map(String.init)
            guard parts.count == 2 else { continue }
            let list = parts[1].split(separator: ",").compactMap { UInt64($0).map { NodeID($0) } }
            switch parts[0] {
            case "voters": voters = list
            case "learners": learners = list
            case "extra": extra = list
            case "prevote": preVote = parts[1] == "true"
            case "checkquorum": checkQuorum = parts[1] == "true"
            case "lease": drift = Double(parts[1]) ?? 0
            case "maxentries": entriesMax = Int(parts[1]) ?? 4
            case "promotionlag": promotionLag = Int(parts[1]) ?? 0
            case "mutations": mutations = Mutations(parts[1].split(separator: ",").compactMap { Mutations.Name(rawValue: String($0)) })
            default: say("unknown option \(parts[0])")
            }
        }
        let membership = Membership(voters: voters, learners: learners)
        for id in (voters + learners + extra).sorted() {
            var config = RaftConfig(id: id, initialMembership: membership)
            config.preVote = preVote
            config.checkQuorum = checkQuorum
            config.leaseClockDriftBound = drift
            config.entriesPerMessageMax = entriesMax
            config.learnerPromotionLagMax = promotionLag
            config.mutations = mutations
            config.inflightMessagesMax = 2
            config.snapshotChunkBytesMax = 8
            configs[id] = config
            stores[id] = Stored()
            ids.append(id)
            start(id)
        }
        say("cluster \(membership)")
    }

    func start(_ id: NodeID) {
        guard let config = configs[id], let stored = stores[id] else { return }
        let recovered = RecoveredState(hardState: stored.hardState, snapshot: stored.snapshot, entries: stored.entries)
        do {
            nodes[id] = try RaftNode(config: config, recovered: recovered, random: SeededRandom(seed: id.rawValue))
        } catch {
            say("error: \(error)")
        }
    }

    func withNode(_ args: [String], _ body: (inout RaftNode) -> Void) {
        guard let id = args.first.flatMap(UInt64.init).map({ NodeID($0) }), var node = nodes[id] else {
            say("no such node")
            return
        }
        body(&node)
        nodes[id] = node
    }

    func request(_ args: [String], _ body: (inout RaftNode, [String]) throws -> Void) {
        withNode(args) { node in
            do {
                try body(&node, Array(args.dropFirst()))
            } catch {
                say("error: \(error)")
            }
        }
    }

    func tick(_ args: [String]) {
        var count = 1
        var targets: [NodeID] = []
        for arg in args {
            if arg.hasPrefix("x") { count = Int(arg.dropFirst()) ?? 1 } else if let raw = UInt64(arg) { targets.append(NodeID(raw)) }
        }
        if targets.isEmpty { targets = ids }
        for _ in 0..<count {
            for id in targets { nodes[id]?.tick() }
            processAll()
        }
    }

    func partition(_ args: [String]) {
        groups = args.split(separator: "|").map { $0.compactMap { UInt64($0).map { NodeID($0) } } }
        say("partition \(groups.map { $0.map(\.description).joined(separator: " ") }.joined(separator: " | "))")
    }

    func connected(_ a: NodeID, _ b: NodeID) -> Bool {
        guard !groups.isEmpty else { return true }
        return groups.contains { $0.contains(a) && $0.contains(b) }
    }

    /// `deliver` delivers until nothing is in flight; `deliver once` delivers only what is
    /// in flight now; `to=N` restricts to messages for N.
    func deliver(_ args: [String]) {
        let once = args.contains("once")
        let target = args.first { $0.hasPrefix("to=") }.flatMap { UInt64($0.dropFirst(3)) }.map { NodeID($0) }
        var rounds = 0
        repeat {
            var batch: [Message] = []
            var keep: [Message] = []
            for message in inFlight {
                if target == nil || message.to == target { batch.append(message) } else { keep.append(message) }
            }
            inFlight = keep
            if batch.isEmpty { break }
            for message in batch {
                guard nodes[message.to] != nil, connected(message.from, message.to) else {
                    say("dropped \(message)")
                    continue
                }
                say("\(message)")
                nodes[message.to]?.step(message)
                processAll()
            }
            rounds += 1
        } while !once && rounds < 100
    }

    func drop(_ args: [String]) {
        let to = args.first { $0.hasPrefix("to=") }.flatMap { UInt64($0.dropFirst(3)) }.map { NodeID($0) }
        let from = args.first { $0.hasPrefix("from=") }.flatMap { UInt64($0.dropFirst(5)) }.map { NodeID($0) }
        let before = inFlight.count
        inFlight.removeAll { message in (to == nil || message.to == to) && (from == nil || message.from == from) }
        say("dropped \(before - inFlight.count) messages")
    }

    func compact(_ args: [String]) {
        withNode(args) { node in
            let index = node.appliedIndex
            do {
                try node.compact(through: index, data: Array("state-machine-image@\(index.rawValue)".utf8))
                stores[node.id]?.snapshot = node.snapshot
                stores[node.id]?.entries.removeAll { $0.index <= index }
                say("\(node.id) compacted through \(index.rawValue)")
            } catch {
                say("error: \(error)")
            }
        }
    }

    func crash(_ args: [String]) {
        for id in nodeArgs(args) {
            nodes[id] = nil
            inFlight.removeAll { $0.to == id }
            say("\(id) crashed")
        }
    }

    func restart(_ args: [String]) {
        for id in nodeArgs(args) where nodes[id] == nil {
            start(id)
            say("\(id) restarted")
        }
    }

    /// Replaces a node by an empty one with the same ID, as when a Trestle node drops its
    /// replica of a shard and creates it again at a leader's request.
    func wipe(_ args: [String]) {
        for id in nodeArgs(args) {
            inFlight.removeAll { $0.to == id }
            stores[id] = Stored()
            applied[id] = nil
            start(id)
            say("\(id) wiped: started again with nothing stored")
        }
    }

    // MARK: - Ready processing (the host's side of the contract)

    func processAll() {
        var progressed = true
        while progressed {
            progressed = false
            for id in ids {
                guard var node = nodes[id], let ready = node.ready() else { continue }
                progressed = true
                var stored = stores[id] ?? Stored()
                if let snapshot = ready.snapshot {
                    stored.snapshot = snapshot
                    stored.entries.removeAll()
                    applied[id, default: []].append("snapshot@\(snapshot.metadata.index.rawValue)")
                }
                if let first = ready.entries.first {
                    stored.entries.removeAll { $0.index >= first.index }
                    stored.entries.append(contentsOf: ready.entries)
                }
                if let state = ready.hardState { stored.hardState = state }
                stores[id] = stored
                inFlight.append(contentsOf: ready.messages)
                for entry in ready.committedEntries {
                    if case let .command(bytes) = entry.payload {
                        applied[id, default: []].append(String(decoding: bytes, as: UTF8.self))
                    }
                }
                for read in ready.readStates { say("\(id) read ctx=\(read.context) ready at index \(read.index.rawValue)") }
                node.advance(ready)
                nodes[id] = node
            }
        }
    }

    // MARK: - Descriptions

    func describeState(_ id: NodeID) -> String {
        guard let node = nodes[id] else { return "down" }
        return "\(node.roleKind.rawValue) \(node.term) leader=\(node.leader) commit=\(node.commitIndex.rawValue)"
    }

    func describeStatus(_ id: NodeID) -> String {
        guard let node = nodes[id] else { return "\(id) down" }
        return "\(id) \(node.roleKind.rawValue) \(node.term) vote=\(node.vote) leader=\(node.leader) last=\(node.lastIndex.rawValue) commit=\(node.commitIndex.rawValue) applied=\(node.appliedIndex.rawValue) snapshot=\(node.snapshotIndex.rawValue) \(node.membership)"
    }

    func describeLog(_ id: NodeID) -> String {
        guard let node = nodes[id] else { return "\(id) down" }
        var parts: [String] = []
        var index = node.snapshotIndex.next
        while let entry = node.entry(at: index) {
            parts.append("\(index.rawValue)/\(entry.term.rawValue)")
            index = index.next
        }
        return "\(id) log: snapshot=\(node.snapshotIndex.rawValue) [\(parts.joined(separator: " "))]"
    }

    func progress(_ id: NodeID) {
        guard let node = nodes[id] else { return }
        for (peer, match, next, state) in node.progressSummary {
            say("\(id) sees \(peer): match=\(match.rawValue) next=\(next.rawValue) \(state)")
        }
    }

    static func parseChange(_ words: [String]) throws -> ConfigChange {
        guard words.count == 2, let raw = UInt64(words[1]) else { throw RaftError.invalidConfigChange }
        switch words[0] {
        case "add-learner": return ConfigChange(.addLearner, NodeID(raw))
        case "promote": return ConfigChange(.promote, NodeID(raw))
        case "remove": return ConfigChange(.remove, NodeID(raw))
        default: throw RaftError.invalidConfigChange
        }
    }
}
