// Why a node does not serve a request itself, in Redis Cluster's terms. Routing returns
// these as values; `reply` is the one place they become RESP errors (the texts clients
// and cluster-aware libraries parse: `MOVED <slot> <host>:<port>`, `ASK ...`, `TRYAGAIN`,
// `CROSSSLOT`, `CLUSTERDOWN`).
import Cluster
import Core
import Wire

enum Redirect: Error, Equatable {
    /// Another node serves the slot: the client should send this and later requests there.
    case moved(slot: HashSlot, to: NodeInfo)
    /// The slot is moving: send this one request there, after ASKING.
    case ask(slot: HashSlot, to: NodeInfo)
    /// Nothing was applied; the same request may succeed shortly (a leader change, a full
    /// queue). `reason` says why, for people reading logs.
    case tryAgain(String)
    /// The keys of one request are in different slots.
    case crossSlot
    /// The cluster cannot serve the slot now.
    case clusterDown(String)

    var reply: RESPValue { .error(text) }

    var text: String {
        switch self {
        case let .moved(slot, node): return "MOVED \(slot.rawValue) \(node.clientAddress)"
        case let .ask(slot, node): return "ASK \(slot.rawValue) \(node.clientAddress)"
        case .tryAgain(let reason): return "TRYAGAIN \(reason)"
        case .crossSlot: return "CROSSSLOT Keys in request don't hash to the same slot"
        case .clusterDown(let reason): return "CLUSTERDOWN \(reason)"
        }
    }
}
