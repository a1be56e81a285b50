// The exact number of bytes a Raft message takes inside a `.raft` frame, computed without
// encoding it, so messages can be packed into frames of a target size. Mirrors the layout
// documented in PeerFrameEncoder.swift; a test checks the two agree for every case.
import Cluster
import Consensus
import Core

extension PeerWire {
    /// Bytes of a `.raft` frame before its first message: header, kind, shard, count.
    public static let raftFrameOverheadBytes = headerBytes + 1 + 8 + 4

    /// Encoded bytes of `message` inside a `.raft` frame.
    public static func encodedBytes(of message: Message) -> Int {
        let common = 8 + 8 + 8 + 1
        switch message.body {
        case let .appendEntries(_, _, entries, _):
            return common + 8 + 8 + 8 + 4 + entries.reduce(0) { $0 + encodedBytes(of: $1) }
        case .appendResponse: return common + 8 + 1 + 8 + 8
        case .heartbeat: return common + 8 + 8
        case .heartbeatResponse: return common + 8
        case .requestVote: return common + 8 + 8 + 1 + 1
        case .voteResponse: return common + 1 + 1
        case let .snapshotChunk(metadata, _, bytes, _):
            return common + 8 + 8 + encodedBytes(of: metadata.membership) + 8 + 4 + bytes.count + 1
        case .snapshotResponse: return common + 8 + 8
        case .timeoutNow: return common
        }
    }

    static func encodedBytes(of entry: Entry) -> Int {
        let common = 8 + 8 + 1
        switch entry.payload {
        case .empty: return common
        case .command(let bytes): return common + 4 + bytes.count
        case let .configChange(_, membership): return common + 1 + 8 + encodedBytes(of: membership)
        }
    }

    static func encodedBytes(of membership: Membership) -> Int {
        4 + 8 * membership.voters.count + 4 + 8 * membership.learners.count
    }
}
