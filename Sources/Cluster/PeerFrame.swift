// What travels between two nodes of a cluster over their one peer connection. A frame is a
// value the node runtime consumes and produces; Transport's PeerFrameEncoder and
// PeerFrameDecoder own its bytes on the wire (docs in PeerFrameEncoder.swift).
import Consensus
import Core

public enum PeerFrame: Sendable, Equatable {
    /// First frame on every connection, both directions: who is speaking, a cluster name
    /// that must match (a node dialling the wrong cluster is refused and logged), and a
    /// fresh random nonce the other side must sign when the cluster has a secret.
    case hello(node: NodeID, cluster: String, nonce: [UInt8] = [])
    /// Second frame when the cluster has a secret: HMAC-SHA256 under the secret over the
    /// receiver's nonce (and both ids and nonces), proving the sender knows the secret.
    /// No other frame is accepted before a valid proof.
    case proof(mac: [UInt8])
    /// Raft messages of one shard's group (ShardID 0 is the cluster directory's group).
    case raft(shard: ShardID, messages: [Message])
    /// A client request forwarded to another node, and the reply to it; payloads are opaque
    /// bytes to the transport. The node runtime encodes a request as the client's RESP
    /// version (one byte, 2 or 3) followed by the request in RESP, and a reply in RESP3.
    case request(id: UInt64, payload: [UInt8])
    case reply(id: UInt64, payload: [UInt8])
}
