// A member node of the cluster as the directory records it: where clients and peers reach
// it, its failure zone, and whether it is taking replicas or being drained.
//
// Invariant: `id` is never `NodeID.none`; ports are in 1...65535.
import Core

public struct NodeInfo: Sendable, Equatable, CustomStringConvertible {
    public enum State: UInt8, Sendable, Equatable {
        /// Holds replicas and may lead shards.
        case active = 0
        /// Being removed: placement moves every replica off it; then it is forgotten.
        case draining = 1
    }

    public var id: NodeID
    public var host: String
    public var port: Int
    public var peerPort: Int
    /// Failure zone label; replicas of one shard go to distinct zones when enough exist.
    public var zone: String
    public var state: State

    public init(id: NodeID, host: String, port: Int, peerPort: Int, zone: String = "", state: State = .active) {
        self.id = id
        self.host = host
        self.port = port
        self.peerPort = peerPort
        self.zone = zone
        self.state = state
    }

    /// `host:port` of the client port, as MOVED and CLUSTER replies print it.
    public var clientAddress: String { "\(host):\(port)" }

    public var description: String { "\(id)@\(host):\(port):\(peerPort)\(zone.isEmpty ? "" : "/\(zone)")" }

    /// Parses `ID@HOST:PORT[:PEERPORT][/ZONE]`; the peer port defaults to PORT + 10000.
    public static func parse(_ text: Substring) -> NodeInfo? {
        var body = text
        var zone = ""
        if let slash = body.firstIndex(of: "/") {
            zone = String(body[body.index(after: slash)...])
            body = body[..<slash]
        }
        guard let at = body.firstIndex(of: "@"), let id = UInt64(body[..<at]), id > 0 else { return nil }
        let parts = body[body.index(after: at)...].split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty,
              let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
        var peerPort = port + 10000
        if parts.count == 3 {
            guard let parsed = Int(parts[2]), (1...65535).contains(parsed) else { return nil }
            peerPort = parsed
        }
        guard peerPort <= 65535 else { return nil }
        return NodeInfo(id: NodeID(id), host: String(parts[0]), port: port, peerPort: peerPort, zone: zone)
    }

    /// Parses a comma-separated list of node specs; nil if any is malformed or an id repeats.
    public static func parseList(_ text: String) -> [NodeInfo]? {
        var nodes: [NodeInfo] = []
        for item in text.split(separator: ",") {
            guard let node = parse(item.trimmingCharacters(in: " ")), !nodes.contains(where: { $0.id == node.id }) else { return nil }
            nodes.append(node)
        }
        return nodes.isEmpty ? nil : nodes.sorted { $0.id < $1.id }
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var result = self
        while result.first == set { result = result.dropFirst() }
        while result.last == set { result = result.dropLast() }
        return result
    }
}
