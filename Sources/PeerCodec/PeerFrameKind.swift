// The kind byte that follows a peer frame's header on the wire (the frame type itself lives
// in Cluster, where the node runtime uses it without NIO).
import Cluster

/// The kind byte that follows a frame's header on the wire.
enum PeerFrameKind: UInt8 {
    case hello = 1
    case raft = 2
    case request = 3
    case reply = 4
    case proof = 5
}

extension PeerFrame {
    var kind: PeerFrameKind {
        switch self {
        case .hello: return .hello
        case .raft: return .raft
        case .request: return .request
        case .reply: return .reply
        case .proof: return .proof
        }
    }
}
