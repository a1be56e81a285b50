// Per-node figures for the admin dashboard: each node reports its own (TRESTLE NODESTATS,
// between nodes only); the node asked combines them into JSON for GET /nodes. CPU and
// memory come from the process shell (`processInfoFields`); a node without a shell (the
// simulator's) reports zeros.
import Cluster
import Core
import Wire

/// One node's cumulative counters as it reported them; the dashboard turns differences
/// between two reports into rates.
public struct NodeFigures: Sendable, Equatable {
    public var node: NodeID
    /// The reporting node's monotonic clock, in milliseconds (rates use its own clock).
    public var timeMilliseconds: Int64
    public var commands: Int
    public var clients: Int
    public var keysLed: Int
    public var cpuSeconds: Double
    public var residentBytes: Int

    /// The figures as a TRESTLE NODESTATS reply.
    var reply: RESPValue {
        .array([.integer(Int64(node.rawValue)), .integer(timeMilliseconds), .integer(Int64(commands)), .integer(Int64(clients)),
                .integer(Int64(keysLed)), .bulk(String(format: "%.6f", cpuSeconds)), .integer(Int64(residentBytes))])
    }

    /// Parses a reply made by `reply`; nil for anything else (an older node's error).
    init?(reply: RESPValue) {
        guard case .array(let row) = reply, row.count == 7,
              case .integer(let node) = row[0], node > 0, case .integer(let time) = row[1],
              case .integer(let commands) = row[2], commands >= 0, case .integer(let clients) = row[3], clients >= 0,
              case .integer(let keys) = row[4], keys >= 0, case .bulk(let cpuText) = row[5],
              let cpu = Double(String(decoding: cpuText, as: UTF8.self)), cpu.isFinite, cpu >= 0,
              case .integer(let resident) = row[6], resident >= 0 else { return nil }
        self.init(node: NodeID(UInt64(node)), timeMilliseconds: time, commands: Int(commands), clients: Int(clients),
                  keysLed: Int(keys), cpuSeconds: cpu, residentBytes: Int(resident))
    }

    init(node: NodeID, timeMilliseconds: Int64, commands: Int, clients: Int, keysLed: Int, cpuSeconds: Double, residentBytes: Int) {
        (self.node, self.timeMilliseconds, self.commands, self.clients) = (node, timeMilliseconds, commands, clients)
        (self.keysLed, self.cpuSeconds, self.residentBytes) = (keysLed, cpuSeconds, residentBytes)
    }

    var json: String {
        "{\"node\":\(node.rawValue),\"time_ms\":\(timeMilliseconds),\"commands\":\(commands),\"clients\":\(clients),"
            + "\"keys\":\(keysLed),\"cpu_seconds\":\(cpuSeconds),\"rss_bytes\":\(residentBytes)}"
    }
}

extension Node {
    /// This node's figures now.
    func localNodeFigures() -> NodeFigures {
        func field(_ section: String, _ name: String) -> String? {
            processInfoFields?(section).first { $0.0 == name }?.1
        }
        let cpu = (Double(field("cpu", "used_cpu_user") ?? "") ?? 0) + (Double(field("cpu", "used_cpu_sys") ?? "") ?? 0)
        return NodeFigures(node: me, timeMilliseconds: monotonicClock.monotonicMilliseconds(), commands: commandsProcessed,
                           clients: connectedClientCount, keysLed: keyCount, cpuSeconds: cpu,
                           residentBytes: Int(field("memory", "used_memory_rss") ?? "") ?? 0)
    }

    /// Every node's figures as a JSON array, by node id (a node that does not answer in
    /// time is left out). The caller performs the node's outputs afterwards (the requests
    /// to the other nodes are among them).
    public func gatherNodeFiguresJSON(_ done: @escaping (String) -> Void) {
        var figures = [localNodeFigures()]
        gather(["TRESTLE", "NODESTATS"], collect: { value in
            if let reported = NodeFigures(reply: value) { figures.append(reported) }
        }, finish: {
            done("[" + figures.sorted { $0.node < $1.node }.map(\.json).joined(separator: ",") + "]")
        })
    }
}
