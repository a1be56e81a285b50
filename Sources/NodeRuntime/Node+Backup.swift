// Online backups (`trestle cluster backup`): TRESTLE BACKUP PLAN says which shards exist,
// which slots each owns and where its leader is; TRESTLE BACKUP SHARD id, sent to that
// leader, answers the shard's whole state at one committed index. The state is captured
// in O(1) after a linearizable read barrier and encoded by the shell off the node's
// thread, so clients are served meanwhile.
import Cluster
import Consensus
import Core
import Engine
import Wire

extension Node {
    /// `TRESTLE BACKUP PLAN`: [map version, [shard id, leader "HOST:PORT" or "", slot
    /// ranges as [first, last] pairs, 1 if a move involves it, 1 if this node leads it]...]
    /// (a node listening on port 0 does not know the port its clients reach it on).
    func backupPlan(reply: ReplySink) {
        guard let map else { return reply(.error("ERR this node is not part of a cluster yet")) }
        let shards: [RESPValue] = map.shards.map { shard in
            let leader = leader(of: shard.id)
            let address = map.node(leader).map { "\($0.host):\($0.port)" } ?? ""
            let slots = shard.slots.map { RESPValue.array([.integer(Int64($0.first)), .integer(Int64($0.last))]) }
            let moving = map.move(involving: shard.id) != nil || shard.mergeInto != nil
            return .array([.integer(Int64(shard.id.rawValue)), .bulk(Array(address.utf8)), .array(slots), .integer(moving ? 1 : 0),
                           .integer(leader == me ? 1 : 0)])
        }
        reply(.array([.integer(Int64(map.version)), .array(shards)]))
    }

    /// `TRESTLE BACKUP SHARD id`, on the shard's leader: after a read barrier, the state
    /// the shard had applied (every write acknowledged before the request arrived is in
    /// it), as [index, term, map version, slot ranges, key count, snapshot bytes]. A shard
    /// in the middle of a slot move is refused with -TRYAGAIN (its keys are in two places).
    func backupShard(_ text: String, reply: @escaping ReplySink) {
        guard let number = UInt64(text), let map else { return reply(.error("ERR shard id must be a non-negative integer")) }
        let shard = ShardID(number)
        guard let info = map.shards.first(where: { $0.id == shard }) else { return reply(.error("ERR no shard \(number) in the cluster map")) }
        guard let replica = replicas[shard], replica.isLeader else {
            let leader = leader(of: shard)
            let address = map.node(leader).map { " (its leader is n\(leader.rawValue) at \($0.host):\($0.port))" } ?? ""
            return reply(Redirect.tryAgain("this node does not lead shard \(number)\(address); retry there").reply)
        }
        let run: () -> Void = { [self] in
            guard let data = replica.data, replica.isLeader, let map = self.map else {
                return reply(Redirect.tryAgain("shard \(number) changed leader; retry").reply)
            }
            if map.move(involving: shard) != nil || data.migration.outgoing != nil || data.migration.incoming != nil {
                return reply(Redirect.tryAgain("shard \(number) is moving slots; retry when the move is done").reply)
            }
            let index = replica.raft.appliedIndex
            guard let metadata = replica.raft.snapshotMetadata(through: index) else {
                return reply(Redirect.tryAgain("shard \(number) cannot capture its state right now; retry").reply)
            }
            let slots = map.shards.first { $0.id == shard }?.slots ?? info.slots
            let header: [RESPValue] = [
                .integer(Int64(metadata.index.rawValue)), .integer(Int64(metadata.term.rawValue)), .integer(Int64(map.version)),
                .array(slots.map { .array([.integer(Int64($0.first)), .integer(Int64($0.last))]) }),
                .integer(Int64(data.engine.databaseImage.keyCount)),  // every numbered database
            ]
            let job = EncodeJob(id: nextEncodeJob, perform: data.capture())
            nextEncodeJob += 1
            encodeWaiters[job.id] = { bytes in reply(.array(header + [.bulk(bytes)])) }
            emit(.encode(job))
        }
        replica.read(PendingRead(index: .zero, deadline: now() + configuration.requestTimeoutMilliseconds, run: run, fail: reply),
                     context: nextContext())
        wantTurn()
    }
}
