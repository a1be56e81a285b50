// A graceful stop (SIGTERM, a rolling restart): before the process exits, the node hands
// the leadership of every group it leads to a caught-up voter on a connected node, and
// refuses to take leadership back while it drains, so clients see -MOVED to a live leader
// instead of a timeout while the node is gone.
import Cluster
import Consensus
import Core
import Wire

extension Node {
    /// How often a draining node asks again for a transfer that has not happened.
    static let drainTransferRetryMilliseconds: Int64 = 1000

    /// Starts draining: refuse new clients, hand leadership over.
    func beginDrain() {
        draining = true
        handOffLeadership()
    }

    /// Groups this node leads that another voter could lead: what a graceful stop waits for.
    public var leadershipToHandOff: Int {
        allReplicas.filter { $0.isLeader && $0.raft.membership.voters.contains { $0 != me } }.count
    }

    /// While draining: asks each group this node leads to transfer its leadership to the
    /// connected voter whose log is furthest along.
    func handOffLeadership() {
        let time = now()
        for replica in allReplicas where replica.isLeader {
            let membership = replica.raft.membership
            let candidates = replica.raft.progressSummary
                .filter { $0.0 != me && membership.isVoter($0.0) && connectedPeers.contains($0.0) }
                .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            guard let target = candidates.first?.0,
                  time - replica.lastTransferAttempt >= Self.drainTransferRetryMilliseconds else { continue }
            replica.lastTransferAttempt = time
            do {
                try replica.raft.transferLeadership(to: target)
                logger.info("stopping: handing leadership over", metadata: ["shard": "\(replica.shard.rawValue)", "to": "n\(target.rawValue)"])
                wantTurn()
            } catch {
                logger.debug("leadership transfer refused", metadata: ["shard": "\(replica.shard.rawValue)", "reason": "\(error)"])
            }
        }
    }

    /// A draining node does not answer a leader's TimeoutNow: leadership must not come back
    /// to a node about to stop.
    func refusingLeadership(_ messages: [Message]) -> [Message] {
        guard draining else { return messages }
        return messages.filter { if case .timeoutNow = $0.body { return false } else { return true } }
    }
}

extension Node {
    /// `TRESTLE HEALTH`: [[node id, "HOST:PORT"]... of the map, [problem]...] where the
    /// problems are what this node sees wrong with its own replicas: a group with no known
    /// leader, and (for groups it leads) voters that acknowledged nothing or lag the commit
    /// index by more than `promotionLagEntriesMax` entries. No problems on any node means
    /// every replica is caught up (what a rolling restart waits for between nodes).
    func healthReply() -> RESPValue {
        guard let map else { return .error("ERR this node is not part of a cluster yet") }
        let nodes: [RESPValue] = map.nodes.map { .array([.integer(Int64($0.id.rawValue)), .bulk(Array("\($0.host):\($0.port)".utf8))]) }
        var problems: [String] = []
        for replica in allReplicas {
            let name = replica.shard == ClusterMap.directoryShard ? "directory" : "s\(replica.shard.rawValue)"
            guard replica.isLeader else {
                if leader(of: replica.shard) == .none { problems.append("n\(me.rawValue): \(name) has no known leader") }
                continue
            }
            let commit = replica.raft.commitIndex.rawValue
            for (node, match, _, _) in replica.raft.progressSummary where node != me && replica.raft.membership.isVoter(node) {
                if match == .zero {
                    problems.append("n\(me.rawValue): \(name) voter n\(node.rawValue) has acknowledged nothing")
                } else if match.rawValue + UInt64(Self.promotionLagEntriesMax) < commit {
                    problems.append("n\(me.rawValue): \(name) voter n\(node.rawValue) lags \(commit - match.rawValue) entries")
                }
            }
        }
        return .array([.array(nodes), .array(problems.map { .bulk(Array($0.utf8)) })])
    }
}
