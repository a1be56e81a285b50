// `trestle cluster restart-plan` and `trestle cluster wait-healthy`: restarting (or
// upgrading) a cluster one node at a time with clients served throughout.
import ArgumentParser
import Foundation
import Wire

extension ClusterAdminCommand {
    struct WaitHealthy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "wait-healthy",
            abstract: "Wait until every node answers and every replica of every group is caught up with its leader.",
            discussion: """
                Asks every node of the cluster map for TRESTLE HEALTH: each names groups \
                without a known leader and, for the groups it leads, voters that lag. The \
                cluster is healthy when every node answers with no problem twice in a row; \
                in a rolling restart, run this after starting each node and before stopping \
                the next.
                """)
        @OptionGroup var seed: Seed
        @Option(help: "Seconds to wait before giving up (exit 1).")
        var timeout: Int = 300

        func run() throws {
            let started = Date()
            let deadline = started.addingTimeInterval(Double(timeout))
            var lastPrinted = ""
            var healthyPolls = 0
            while Date() < deadline {
                let problems = clusterProblems()
                healthyPolls = problems.isEmpty ? healthyPolls + 1 : 0
                if healthyPolls >= 2 {
                    print(String(format: "healthy in %.1f s", Date().timeIntervalSince(started)))
                    return
                }
                let text = problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? " (and \(problems.count - 5) more)" : "")
                if !problems.isEmpty, text != lastPrinted { print("  \(text)"); lastPrinted = text }
                Thread.sleep(forTimeInterval: 0.5)
            }
            throw ValidationError("not healthy after \(timeout) s: \(lastPrinted)")
        }

        /// What is wrong now, as every node of the map sees it (unreachable nodes included).
        private func clusterProblems() -> [String] {
            let nodes: [(UInt64, String)]
            switch Result(catching: { try seed.call(["TRESTLE", "HEALTH"]) }) {
            case .failure(let error): return ["seed \(seed.seed): \(error)"]
            case .success(let reply):
                guard let parsed = Self.parse(reply) else { return ["seed \(seed.seed): \(reply.text)"] }
                nodes = parsed.nodes
            }
            var problems: [String] = []
            for (id, address) in nodes {
                do {
                    let reply = try seed.call(["TRESTLE", "HEALTH"], at: address)
                    guard let parsed = Self.parse(reply) else { problems.append("n\(id): \(reply.text)"); continue }
                    problems += parsed.problems
                    let info = try seed.call(["CLUSTER", "INFO"], at: address).text
                    if !info.contains("cluster_state:ok") { problems.append("n\(id): cluster_state is not ok") }
                } catch {
                    problems.append("n\(id) at \(address): \(error)")
                }
            }
            return problems
        }

        static func parse(_ reply: RESPValue) -> (nodes: [(UInt64, String)], problems: [String])? {
            guard case .array(let parts) = reply, parts.count == 2, case .array(let nodeList) = parts[0], case .array(let problemList) = parts[1] else {
                return nil
            }
            var nodes: [(UInt64, String)] = []
            for node in nodeList {
                guard case .array(let fields) = node, fields.count == 2, case .integer(let id) = fields[0], case .bulk(let address) = fields[1] else {
                    return nil
                }
                nodes.append((UInt64(id), String(decoding: address, as: UTF8.self)))
            }
            return (nodes, problemList.map(\.text))
        }
    }

    struct RestartPlan: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "restart-plan",
            abstract: "Print the steps of a rolling restart or upgrade of this cluster, one node at a time.")
        @OptionGroup var seed: Seed

        func run() throws {
            let status = try seed.call(["TRESTLE", "STATUS"]).text
            guard let parsed = WaitHealthy.parse(try seed.call(["TRESTLE", "HEALTH"])) else {
                throw ValidationError("\(seed.seed) did not answer TRESTLE HEALTH")
            }
            // The directory's leader goes last: the map changes hands once, at the end.
            let directoryLeader = status.split(separator: "\n").first { $0.hasPrefix("directory:") }
                .flatMap { $0.components(separatedBy: "leader n").last.flatMap { UInt64($0.trimmingCharacters(in: .whitespaces)) } }
            let order = parsed.nodes.filter { $0.0 != directoryLeader } + parsed.nodes.filter { $0.0 == directoryLeader }
            print("Rolling restart of \(order.count) nodes, one at a time (the directory leader last).")
            print("Before you start: trestle cluster wait-healthy --seed \(seed.seed)")
            for (step, (id, address)) in order.enumerated() {
                let other = order.first { $0.0 != id }?.1 ?? seed.seed
                print("""
                    \(step + 1). node \(id) (\(address)):
                       a. stop it with SIGTERM (systemctl stop, kubectl delete pod, or kill PID): it hands
                          the groups it leads to caught-up replicas, answers what is in flight, fsyncs, exits;
                       b. start it again with the same flags and --dir (the new binary, for an upgrade);
                       c. trestle cluster wait-healthy --seed \(other)
                    """)
            }
            print("Clients see -MOVED or -TRYAGAIN while leaders move, which cluster clients retry; a node's")
            print("own clients are disconnected when it stops and reconnect to another node.")
        }
    }
}
