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

struct SimulatedNode {
    let id: NodeID
    let index: Int
    var raft: RaftNode?
    var disk = SimulatedDisk()
    var machine = SessionStateMachine<SimpleKV>()
    /// Local tick period: the node's clock rate relative to true time.
    var tickPeriod: Int64
    /// Bumped on crash, so stale tick chains stop.
    var incarnation = 0
    var paused = false
    var missedTicks = 0
    /// Messages and requests that arrived while paused, in arrival order.
    var inbox: [Inbound] = []
    /// Writes proposed here, by (client, operation), awaiting application.
    var writeWaiters: [Int64: ClientRequest] = [:]
    /// ReadIndex requests by context.
    var readWaiters: [UInt64: ClientRequest] = [:]
    /// Confirmed reads waiting for the state machine to reach their index, in order.
    var readsAwaitingApply: [(index: LogIndex, request: ClientRequest)] = []
    var nextReadContext: UInt64 = 1
    var lastLeaderTerm: Term = .zero
    var lastRole: RoleKind = .follower

    enum Inbound {
        case message(Message)
        case request(ClientRequest)
    }

    var isUp: Bool { raft != nil }

    static func waiterKey(client: Int, operation: Int) -> Int64 { Int64(client) << 32 | Int64(operation) }
}
