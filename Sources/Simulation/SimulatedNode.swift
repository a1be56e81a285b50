// The host around one Raft node in the simulator: it performs each Ready in the order the
// contract demands (persist, then send, then apply), keeps the state machine, answers
// clients, and takes snapshots. A crash throws away everything but the disk.

import Consensus
import Core

struct ClientRequest {
    var client: Int
    var operation: Int
    var command: KVCommand
}

enum ClientReply {
    case output(KVOutput)
    /// Not applied; try the named leader (or another node if `.none`).
    case redirect(NodeID)
    /// Not applied; try the same node again shortly.
    case retry
}

/// A reference type: the simulator mutates nodes in place and never copies one.
final class SimulatedNode {
    let id: NodeID
    let index: Int
    @exclusivity(unchecked) var raft: RaftNode?
    @exclusivity(unchecked) var disk = SimulatedDisk()
    @exclusivity(unchecked) var machine = SessionStateMachine<KeyspaceStateMachine>()
    /// Local tick period: the node's clock rate relative to true time.
    @exclusivity(unchecked) var tickPeriod: Int64
    /// Bumped on crash, so stale tick chains stop.
    @exclusivity(unchecked) var incarnation = 0
    @exclusivity(unchecked) var paused = false
    @exclusivity(unchecked) var missedTicks = 0
    /// Messages and requests that arrived while paused, in arrival order.
    @exclusivity(unchecked) var inbox: [Inbound] = []
    /// Writes proposed here, by (client, operation), awaiting application.
    @exclusivity(unchecked) var writeWaiters: [Int64: ClientRequest] = [:]
    /// ReadIndex requests by context.
    @exclusivity(unchecked) var readWaiters: [UInt64: ClientRequest] = [:]
    /// Confirmed reads waiting for the state machine to reach their index, in order.
    @exclusivity(unchecked) var readsAwaitingApply: [(index: LogIndex, request: ClientRequest)] = []
    @exclusivity(unchecked) var nextReadContext: UInt64 = 1
    @exclusivity(unchecked) var lastLeaderTerm: Term = .zero
    /// The term in which this node, as leader, last saw its commit index move.
    @exclusivity(unchecked) var lastCommitTerm: Term = .zero
    @exclusivity(unchecked) var commitAtElection: LogIndex = .zero
    @exclusivity(unchecked) var lastRole: RoleKind = .follower

    enum Inbound {
        case message(Message)
        case request(ClientRequest)
    }

    init(id: NodeID, index: Int, tickPeriod: Int64) {
        self.id = id
        self.index = index
        self.tickPeriod = tickPeriod
    }

    var isUp: Bool { raft != nil }

    static func waiterKey(client: Int, operation: Int) -> Int64 { Int64(client) << 32 | Int64(operation) }
}
