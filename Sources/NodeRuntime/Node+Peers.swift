// Peer traffic: Raft messages in, leadership gossip, and forwarded client requests.
//
// Gossip: every few ticks each node tells every peer which shards it leads, in which term,
// with which membership. Nodes that host no replica of a shard still learn its leader this
// way (for -MOVED and CLUSTER SLOTS), and every node can tell whether replica moves are
// still in progress. Hints are advisory: a stale hint costs a client one more redirect.
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import NIOCore
import Wire

struct LeaderHint {
    var term: Term
    var leader: NodeID
    var voters: [NodeID]
    var learners: [NodeID]
    var heardAt: Int64
}

/// What a node remembers of a replica it dropped: only a leader that knows more than the
/// dropped replica did (a later term, or the same term with a log past what it had
/// committed) may create it again — or the leader of the tombstone's term (or a later
/// one) whose gossip, heard after the drop, counts this node again (it re-added the node,
/// or the drop followed gossip that its membership change had already overtaken).
struct Tombstone {
    var term: Term
    var commit: LogIndex
    /// When the replica was dropped (node wall milliseconds).
    var droppedAt: Int64 = 0

    /// True when `hint`, from `leader`, says that leader counts `me` now.
    func readmittedBy(_ hint: LeaderHint?, leader: NodeID, me: NodeID) -> Bool {
        guard let hint, hint.heardAt > droppedAt, hint.leader == leader, hint.term >= term else { return false }
        return hint.voters.contains(me) || hint.learners.contains(me)
    }

    func admits(_ message: Message) -> Bool {
        if message.term > term { return true }
        guard message.term == term else { return false }
        switch message.body {
        case let .appendEntries(prevIndex, _, _, _): return prevIndex >= commit
        case let .snapshotChunk(metadata, _, _, _): return metadata.index >= commit
        default: return false
        }
    }
}

/// A proxied request for a shard with no known leader, retried at `due`.
struct DeferredRoute {
    var due: Int64
    var retry: () -> Void
}

/// A client request this node forwarded to a peer, waiting for the peer's reply.
struct ForwardWait {
    var deadline: Int64
    var peer: NodeID
    var reply: ReplySink
}

/// A request forwarded to this node itself: there is no peer link to itself, so it is
/// served here as a peer's forwarded request would be.
struct LocalForward {
    var arguments: [Bytes]
    var version: ProtocolVersion
    var reply: ReplySink
}

extension Node {
    /// Request id 0 on the peer protocol carries gossip, not a forwarded request.
    static let gossipRequestID: UInt64 = 0
    /// Hints older than this are ignored.
    static let hintFreshMilliseconds: Int64 = 3000
    /// Most forwarded requests waiting for replies at once.
    static let forwardsMax = 65536

    func receive(_ frame: PeerFrame, from peer: NodeID) {
        switch frame {
        case let .raft(shard, messages):
            guard let replica = replicaForMessages(shard, messages) else { return }
            for message in refusingLeadership(messages) { replica.raft.step(message) }
            wantTurn()
        case let .request(id, payload) where id == Self.gossipRequestID:
            receiveGossip(payload, from: peer)
        case let .request(id, payload):
            serveForwarded(id: id, payload: payload, from: peer)
        case let .reply(id, payload):
            guard let wait = forwards.removeValue(forKey: id) else { return }
            var buffer = ByteBuffer(bytes: payload)
            let value = (try? RESPReader().next(from: &buffer)) ?? nil
            wait.reply(value ?? .error("ERR malformed reply from peer node \(peer.rawValue)"))
        case .hello, .proof:
            break  // the transport's handshake; never delivered to the node
        }
    }

    /// The replica messages for `shard` go to, created empty when a leader contacts this
    /// node about a shard it does not host yet (it was just added as a learner).
    private func replicaForMessages(_ shard: ShardID, _ messages: [Message]) -> Replica? {
        if shard == ClusterMap.directoryShard { return directory }
        if let replica = replicas[shard] { return replica }
        let fromLeader = messages.contains { message in
            switch message.body {
            case .appendEntries, .heartbeat, .snapshotChunk: return true
            default: return false
            }
        }
        guard fromLeader, replicas.count < ClusterMap.shardsMax else { return nil }
        if !configuration.mutations.noTombstones, let tombstone = tombstones[shard], let stale = messages.first(where: { !tombstone.admits($0) }),
           !tombstone.readmittedBy(hints[shard], leader: stale.from, me: me) {
            // A leader that has not heard of this node's removal (it was paused or cut off)
            // must not re-create it empty: an empty replica counted in that leader's old
            // membership would let it win an election without the committed entries.
            logger.debug("ignoring a stale leader's message for a dropped replica", metadata: ["shard": "\(shard.rawValue)", "leader": "n\(stale.from.rawValue)", "term": "\(stale.term.rawValue)"])
            return nil
        }
        do {
            let replica = try makeEmptyReplica(shard)
            replicas[shard] = replica
            logger.info("creating replica at a leader's request", metadata: ["shard": "\(shard.rawValue)", "leader": "\(messages[0].from.rawValue)"])
            return replica
        } catch {
            logger.error("cannot create replica", metadata: ["shard": "\(shard.rawValue)", "error": "\(error)"])
            return nil
        }
    }

    /// The directory, then the shard replicas by shard id: the order every pass over the
    /// replicas takes (the simulator replays it). Sorted once per change of `directory` or
    /// `replicas` (`replicasInOrder`), not for every Raft round.
    var allReplicas: [Replica] {
        if let replicasInOrder { return replicasInOrder }
        let ordered = [directory] + replicas.keys.sorted().compactMap { replicas[$0] }
        replicasInOrder = ordered
        return ordered
    }

    // MARK: - Gossip

    func broadcastGossip() {
        var writer = ByteWriter(capacity: 256)
        let led = allReplicas.filter(\.isLeader)
        writer.write(UInt32(led.count))
        for replica in led {
            writer.write(replica.shard.rawValue)
            writer.write(replica.raft.term.rawValue)
            let membership = replica.raft.membership
            writer.write(UInt32(membership.voters.count))
            for id in membership.voters { writer.write(id.rawValue) }
            writer.write(UInt32(membership.learners.count))
            for id in membership.learners { writer.write(id.rawValue) }
        }
        let payload = writer.bytes
        for node in map?.nodes ?? [] where node.id != me {
            emit(.send(to: node.id, .request(id: Self.gossipRequestID, payload: payload)))
        }
    }

    private func receiveGossip(_ payload: [UInt8], from peer: NodeID) {
        let heard = now()
        lastHeard[peer] = heard
        var reader = ByteReader(payload)
        func ids() throws -> [NodeID] {
            let count = Int(try reader.read(UInt32.self))
            guard count <= 64 else { throw ByteReaderError(offset: 0) }
            return try (0..<count).map { _ in NodeID(try reader.read(UInt64.self)) }
        }
        do {
            let count = Int(try reader.read(UInt32.self))
            guard count <= ClusterMap.shardsMax + 1 else { return }
            for _ in 0..<count {
                let shard = ShardID(try reader.read(UInt64.self))
                let term = Term(try reader.read(UInt64.self))
                let hint = LeaderHint(term: term, leader: peer, voters: try ids(), learners: try ids(), heardAt: heard)
                if let existing = hints[shard], existing.term > term, heard - existing.heardAt < Self.hintFreshMilliseconds { continue }
                hints[shard] = hint
            }
        } catch {
            logger.debug("ignoring malformed gossip", metadata: ["peer": "\(peer.rawValue)"])
        }
    }

    /// The leader of `shard` as this node best knows it, or `.none`.
    func leader(of shard: ShardID) -> NodeID {
        if let replica = shard == ClusterMap.directoryShard ? directory : replicas[shard] {
            let local = replica.raft.leader
            if local != .none { return local }
        }
        if let hint = hints[shard], now() - hint.heardAt < Self.hintFreshMilliseconds { return hint.leader }
        return .none
    }

    /// The membership of `shard` as this node best knows it (local replica, else gossip,
    /// else the directory's target).
    func membership(of shard: ShardID) -> (voters: [NodeID], learners: [NodeID]) {
        if let replica = replicas[shard], replica.isLeader {
            return (replica.raft.membership.voters, replica.raft.membership.learners)
        }
        // The leader's word beats a follower's copy, which may be stale (a removed replica
        // is never told).
        if let hint = hints[shard], now() - hint.heardAt < Self.hintFreshMilliseconds { return (hint.voters, hint.learners) }
        if let replica = replicas[shard], !replica.raft.membership.voters.isEmpty {
            return (replica.raft.membership.voters, replica.raft.membership.learners)
        }
        return (map?.shard(shard)?.replicas ?? [], [])
    }

    // MARK: - Forwarding

    /// Sends a client request to `peer` and calls `reply` with its answer, or with an error
    /// if the peer cannot be reached or does not answer in time.
    ///
    /// The payload is one byte, the client's RESP version (2 or 3), then the request in RESP:
    /// the peer runs it in a session of that version, so the reply has the shape the client
    /// expects (RESP2 flattens what RESP3 nests), and the reply travels back in RESP3.
    ///
    /// `peer` may be this node (a hand-off to a shard it also leads): the transport has no
    /// link to itself, so the request is served here at the start of the next turn, as
    /// forwarded, and never from inside the caller.
    func forward(_ arguments: [Bytes], version: ProtocolVersion = .resp3, to peer: NodeID, extraWait: Int64 = 0,
                 reply: @escaping ReplySink) {
        guard forwards.count + localForwards.count < Self.forwardsMax else {
            reply(Redirect.tryAgain("too many forwarded requests in flight; retry").reply)
            return
        }
        if peer == me, !configuration.mutations.forwardsToSelf {
            localForwards.append(LocalForward(arguments: arguments, version: version, reply: reply))
            wantTurn()
            return
        }
        let id = nextRequest
        nextRequest += 1
        var buffer = ByteBuffer()
        buffer.writeInteger(version == .resp2 ? UInt8(2) : UInt8(3))
        RESPEncoder.writeCommand(arguments, into: &buffer)
        forwards[id] = ForwardWait(deadline: Self.saturatingSum(now(), configuration.requestTimeoutMilliseconds, extraWait), peer: peer, reply: reply)
        emit(.send(to: peer, .request(id: id, payload: Array(buffer.readableBytesView))))
    }

    /// Runs a request a peer forwarded, as that peer's proxy session, and sends the reply back.
    private func serveForwarded(id: UInt64, payload: [UInt8], from peer: NodeID) {
        var buffer = ByteBuffer(bytes: payload)
        let version: ProtocolVersion = buffer.readInteger(as: UInt8.self) == 2 ? .resp2 : .resp3
        var decoder = RequestDecoder()
        guard let arguments = (try? decoder.next(from: &buffer)) ?? nil, !arguments.isEmpty else {
            emit(.send(to: peer, .reply(id: id, payload: Self.encode(.error("ERR malformed forwarded request")))))
            return
        }
        commandsServed += 1
        serveAsForwarded(arguments, from: peer, version: version) { [self] value in
            emit(.send(to: peer, .reply(id: id, payload: Self.encode(value))))
        }
    }

    /// Runs a forwarded request in `peer`'s proxy session; `reply` gets its answer.
    private func serveAsForwarded(_ arguments: [Bytes], from peer: NodeID, version: ProtocolVersion, reply: @escaping ReplySink) {
        let session = proxySession(for: peer, version: version)
        if let outcome = serve(arguments, session: session, forwarded: true, reply: reply) { reply(outcome.reply) }
    }

    /// Serves the requests this node forwarded to itself, in the order they were forwarded.
    func serveLocalForwards() {
        let owed = localForwards
        localForwards.removeAll()
        for request in owed { serveAsForwarded(request.arguments, from: me, version: request.version, reply: request.reply) }
    }

    /// The session requests forwarded by `peer` for clients of `version` run under (one per
    /// peer and version).
    func proxySession(for peer: NodeID, version: ProtocolVersion) -> Session {
        let key = ProxySessionKey(peer: peer, resp3: version == .resp3)
        if let session = proxySessions[key] { return session }
        let session = front.internalSession(address: "node-\(peer.rawValue)", version: version)
        proxySessions[key] = session
        return session
    }

    static func encode(_ value: RESPValue) -> [UInt8] {
        var buffer = ByteBuffer()
        RESPEncoder.write(value, as: .resp3, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// The shell could not queue a frame: a forwarded request fails at once (the peer never
    /// got it); Raft and gossip frames are retransmitted by their own timers.
    func sendFailed(_ frame: PeerFrame, to peer: NodeID) {
        guard case let .request(id, _) = frame, id != Self.gossipRequestID,
              let wait = forwards.removeValue(forKey: id) else { return }
        wait.reply(Redirect.clusterDown("node \(peer.rawValue) is unreachable from this node").reply)
    }

    /// The link to `peer` went down: requests forwarded there will not be answered. Their
    /// outcome is unknown (a write may have committed before the link broke).
    func failForwards(to peer: NodeID) {
        for (id, wait) in forwards.sorted(by: { $0.key < $1.key }) where wait.peer == peer {
            forwards.removeValue(forKey: id)
            wait.reply(.error("ERR the link to node \(peer.rawValue) broke before it answered; the request may or may not have been applied"))
        }
    }

    func expireForwards(now: Int64) {
        for (id, wait) in forwards.sorted(by: { $0.key < $1.key }) where wait.deadline <= now {
            forwards.removeValue(forKey: id)
            wait.reply(.error("ERR forwarded request not answered in time; it may or may not have been applied"))
        }
    }
}

/// A peer's proxy session is per client RESP version.
struct ProxySessionKey: Hashable {
    var peer: NodeID
    var resp3: Bool
}

extension Node {
    /// Splits a leader's messages into those safe to send before its own log is durable
    /// (replication, heartbeats, snapshots) and the rest.
    static func splitLeaderMessages(_ messages: [Message]) -> (early: [Message], late: [Message]) {
        var early: [Message] = []
        var late: [Message] = []
        for message in messages {
            switch message.body {
            case .appendEntries, .heartbeat, .snapshotChunk: early.append(message)
            default: late.append(message)
            }
        }
        return (early, late)
    }
}
