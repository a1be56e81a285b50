// `trestle cluster`: administer a running cluster through any of its nodes.
import ArgumentParser
import Foundation
import Wire

struct ClusterAdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Administer a running Trestle cluster: status, add-node, remove-node, move, split, merge, hotkeys, rebalance, backup, restart-plan, wait-healthy.",
        subcommands: [Status.self, AddNode.self, RemoveNode.self, Move.self, Split.self, Merge.self, Hotkeys.self, Rebalance.self,
                      Backup.self, CheckBackup.self, RestartPlan.self, WaitHealthy.self])

    struct Seed: ParsableArguments {
        @Option(help: "Any node of the cluster, HOST:PORT (client port).")
        var seed: String = "127.0.0.1:7001"

        @Option(help: "The nodes' --requirepass, if set (default: the REDISCLI_AUTH environment variable).")
        var password: String?

        /// One command on a fresh connection (to `address`, default the seed), after AUTH
        /// when a password is known.
        func call(_ arguments: [String], at address: String? = nil) throws -> RESPValue {
            let client = try AdminClient(address ?? seed)
            defer { client.close() }
            if let password = password ?? ProcessInfo.processInfo.environment["REDISCLI_AUTH"], !password.isEmpty {
                let reply = try client.call(["AUTH", password])
                guard !reply.isError else { throw ValidationError("AUTH at \(address ?? seed) failed: \(reply.text)") }
            }
            return try client.call(arguments)
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show nodes, shards, leaders and moves in progress.")
        @OptionGroup var seed: Seed
        func run() throws {
            print(try seed.call(["TRESTLE", "STATUS"]).text, terminator: "")
        }
    }

    struct AddNode: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-node",
            abstract: "Add a node (already started without --bootstrap); replicas and leaders then move onto it online.")
        @OptionGroup var seed: Seed
        @Option(help: "The new node as ID@HOST:PORT[:PEERPORT][/ZONE].")
        var node: String
        @Option(help: "Seconds to wait for replicas to settle (0: do not wait).")
        var wait: Int = 300
        func run() throws {
            let started = Date()
            let reply = try seed.call(["TRESTLE", "ADDNODE", node])
            guard !reply.isError else { throw ValidationError(reply.text) }
            print("node \(node) added; moving replicas onto it")
            try waitForSettled(seed, seconds: wait, started: started)
        }
    }

    struct RemoveNode: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-node",
            abstract: "Drain a node: its replicas move to other nodes, then it leaves the cluster.")
        @OptionGroup var seed: Seed
        @Option(help: "The id of the node to remove.")
        var node: UInt64
        @Option(help: "Seconds to wait for the drain to finish (0: do not wait).")
        var wait: Int = 300
        func run() throws {
            let started = Date()
            let reply = try seed.call(["TRESTLE", "REMOVENODE", String(node)])
            guard !reply.isError else { throw ValidationError(reply.text) }
            print("node \(node) draining; moving its replicas away")
            try waitForSettled(seed, seconds: wait, started: started, gone: node)
        }
    }

    struct Move: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a range of hash slots to another shard, online.",
            discussion: """
                The slots must all belong to one shard now. Its leader fences them (writes to them \
                get -TRYAGAIN, reads go on), copies their keys into the target shard's log, hands \
                them off (requests for them are forwarded to the target) and the directory then gives them to \
                the target in one committed step. A crash at any step resumes where it stopped. \
                `trestle cluster status` lists the shards and their slots.
                """)
        @OptionGroup var seed: Seed
        @Option(help: "The slots to move: FIRST-LAST (or one slot).")
        var slots: String
        @Option(name: .customLong("to-shard"), help: "The shard that receives them (its number, as `status` shows: s3 is 3).")
        var toShard: String
        @Option(help: "Seconds to wait for the move to finish (0: do not wait).")
        var wait: Int = 300
        func run() throws {
            let bounds = slots.split(separator: "-").map(String.init)
            guard (1...2).contains(bounds.count), let first = UInt16(bounds[0]), let last = UInt16(bounds[bounds.count - 1]), first <= last, last < 16384 else {
                throw ValidationError("--slots must be FIRST-LAST with 0 <= FIRST <= LAST <= 16383")
            }
            let shard = toShard.hasPrefix("s") ? String(toShard.dropFirst()) : toShard
            let started = Date()
            let reply = try seed.call(["TRESTLE", "MOVESLOTS", String(first), String(last), shard])
            guard !reply.isError else { throw ValidationError(reply.text) }
            print("moving slots \(first == last ? "\(first)" : "\(first)-\(last)") to shard \(shard)")
            try waitForMove(seed, range: first == last ? "\(first)" : "\(first)-\(last)", seconds: wait, started: started)
        }
    }

    struct Split: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Split a shard in two: a new shard (a new Raft group on the least loaded nodes) takes half its slots.",
            discussion: """
                The upper half of the shard's largest slot range moves to the new shard, as \
                `trestle cluster move` moves slots. Waits until the move has finished.
                """)
        @OptionGroup var seed: Seed
        @Option(help: "The shard to split (its number, as `status` shows: s3 is 3).")
        var shard: String
        @Option(help: "Seconds to wait for the split to finish (0: do not wait).")
        var wait: Int = 300
        func run() throws {
            let number = shard.hasPrefix("s") ? String(shard.dropFirst()) : shard
            let before = try seed.call(["TRESTLE", "STATUS"]).text
            let started = Date()
            let reply = try seed.call(["TRESTLE", "SPLIT", number])
            guard !reply.isError else { throw ValidationError(reply.text) }
            let status = try seed.call(["TRESTLE", "STATUS"]).text
            // The new move is the one from this shard that was not pending before.
            guard let line = status.split(separator: "\n").first(where: {
                $0.hasPrefix("slot move ") && $0.contains(" s\(number) -> ") && !before.contains(String($0.prefix(while: { $0 != ":" })))
            }), let range = line.split(separator: " ").dropFirst(4).first else {
                print("shard \(number) split")
                return
            }
            print("splitting shard \(number): \(line)")
            try waitForMove(seed, range: String(range), seconds: wait, started: started)
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge a shard into another: its slots move there range by range, then it is removed.",
            discussion: "Waits until the shard is gone from `trestle cluster status`.")
        @OptionGroup var seed: Seed
        @Option(help: "The shard to merge away (its number, as `status` shows: s3 is 3).")
        var shard: String
        @Option(help: "The shard that takes its slots.")
        var into: String
        @Option(help: "Seconds to wait for the merge to finish (0: do not wait).")
        var wait: Int = 300
        func run() throws {
            let source = shard.hasPrefix("s") ? String(shard.dropFirst()) : shard
            let target = into.hasPrefix("s") ? String(into.dropFirst()) : into
            let started = Date()
            let reply = try seed.call(["TRESTLE", "MERGE", source, target])
            guard !reply.isError else { throw ValidationError(reply.text) }
            print("merging shard \(source) into shard \(target)")
            try pollStatus(seed, seconds: wait, started: started, done: "merged", what: "shard \(source) was not merged") { status in
                status.split(separator: "\n").first { $0.hasPrefix("  s\(source) slots ") }.map(String.init)
            }
        }
    }

    struct Hotkeys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the busiest hash slots and keys over every node (the last 10 s window).",
            discussion: """
                Each shard leader counts the requests it serves per slot and samples one key in \
                8; the node asked gathers every node's counts. A hot slot can be moved to a shard \
                of its own with `trestle cluster move` (or its shard split); a hot read key can be \
                read from followers by clients that send READONLY.
                """)
        @OptionGroup var seed: Seed
        func run() throws {
            print(try seed.call(["TRESTLE", "HOTKEYS"]).text, terminator: "")
        }
    }

    struct Rebalance: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-plan replica placement and leader spread now.")
        @OptionGroup var seed: Seed
        @Option(help: "Seconds to wait for moves to settle (0: do not wait).")
        var wait: Int = 300
        func run() throws {
            let started = Date()
            let reply = try seed.call(["TRESTLE", "REBALANCE"])
            guard !reply.isError else { throw ValidationError(reply.text) }
            try waitForSettled(seed, seconds: wait, started: started)
        }
    }
}

/// Polls CLUSTER INFO until no replica moves are pending (and node `gone`, if given, has
/// left the map), printing progress; throws on timeout.
func waitForSettled(_ seed: ClusterAdminCommand.Seed, seconds: Int, started: Date, gone: UInt64? = nil) throws {
    guard seconds > 0 else { return }
    let deadline = Date().addingTimeInterval(TimeInterval(seconds))
    var lastPrinted = ""
    Thread.sleep(forTimeInterval: 1.5)
    while Date() < deadline {
        if let info = try? seed.call(["CLUSTER", "INFO"]).text {
            let fields = Dictionary(info.split(whereSeparator: \.isNewline).compactMap { line -> (String, String)? in
                let parts = line.split(separator: ":", maxSplits: 1)
                return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
            }, uniquingKeysWith: { $1 })
            let pending = fields["trestle_moves_pending"] ?? "?"
            let state = fields["cluster_state"] ?? "?"
            var present = false
            if let gone, let status = try? seed.call(["TRESTLE", "STATUS"]).text {
                present = status.contains("  n\(gone) ")
            }
            let line = "  moves pending \(pending), cluster_state \(state)\(present ? ", node \(gone!) still a member" : "")"
            if line != lastPrinted { print(line); lastPrinted = line }
            if pending == "0", state == "ok", !present {
                print(String(format: "settled in %.1f s", Date().timeIntervalSince(started)))
                return
            }
        }
        Thread.sleep(forTimeInterval: 0.5)
    }
    throw ValidationError("not settled after \(seconds) s; see `trestle cluster status --seed \(seed.seed)`")
}

/// Polls TRESTLE STATUS until the move of `range` no longer shows, printing its phase.
func waitForMove(_ seed: ClusterAdminCommand.Seed, range: String, seconds: Int, started: Date) throws {
    try pollStatus(seed, seconds: seconds, started: started, done: "moved", what: "the move of slots \(range) did not finish") { status in
        status.split(separator: "\n").first { $0.hasPrefix("slot move ") && $0.contains(" slots \(range) ") }.map(String.init)
    }
}

/// Polls TRESTLE STATUS every 0.2 s while `pending` finds the status line of the work
/// still going on (printed when it changes); prints "DONE in N s" once it finds none.
func pollStatus(_ seed: ClusterAdminCommand.Seed, seconds: Int, started: Date, done: String, what: String,
                pending: (String) -> String?) throws {
    guard seconds > 0 else { return }
    let deadline = Date().addingTimeInterval(TimeInterval(seconds))
    var lastPrinted = ""
    while Date() < deadline {
        if let status = try? seed.call(["TRESTLE", "STATUS"]).text {
            guard let line = pending(status) else {
                print(String(format: "\(done) in %.1f s", Date().timeIntervalSince(started)))
                return
            }
            if line != lastPrinted { print("  \(line.trimmingCharacters(in: .whitespaces))"); lastPrinted = line }
        }
        Thread.sleep(forTimeInterval: 0.2)
    }
    throw ValidationError("\(what) within \(seconds) s; see `trestle cluster status --seed \(seed.seed)`")
}
