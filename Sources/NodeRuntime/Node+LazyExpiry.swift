// Lazy expiry, as Redis: a read that meets a key stored past its time removes it. Reads
// never change a replica's state here, so the shard's leader proposes the removal as a
// reclaim entry (the one active expiry proposes: every replica removes the same keys,
// counts INFO expired_keys and publishes `expired`) and answers the read once that entry
// is applied, ahead of the invalidations it causes: what the client sends next sees the
// keys gone (DBSIZE, INFO, SCAN).
import Consensus
import Core
import Engine
import Keyspace
import Wire

extension Node {
    /// After a read of the keys at `positions` of `arguments` in `database` answered
    /// `answer`: when it met expired keys, proposes their removal and returns true, `reply`
    /// getting `answer` once the removal is applied; false when there is nothing to remove
    /// (the caller answers). Nothing is removed while a CLIENT PAUSE holds writes (Redis
    /// expires nothing then either). A database without keys with a TTL costs one check.
    func expireLazily(_ replica: Replica, _ arguments: [Bytes], positions: [Int], database: Int, answer: RESPValue,
                      reply: @escaping ReplySink) -> Bool {
        guard let data = replica.data else { return false }
        // A SCAN's keys are the expired ones it met (taken even when unused, so they never
        // stay for another read).
        let met = positions.isEmpty ? data.engine.takeScanMetExpired(database: database) : []
        guard !positions.isEmpty || !met.isEmpty, data.engine.holdsExpiringKeys(database: database),
              replica.isLeader, clientPause == nil else { return false }
        let stamp = max(now(), data.lastRecordTime, replica.lastStampedTime)
        let expired = positions.isEmpty ? met : data.engine.storedButExpired(positions.map { arguments[$0] }, database: database, now: stamp)
        guard !expired.isEmpty,
              let index = try? replica.raft.propose(ShardCommand.reclaim(time: stamp, keys: expired, database: database).encoded())
        else { return false }
        replica.lastStampedTime = stamp
        // Answered when the entry is applied, before the invalidations it causes are sent
        // (as Redis sends a command's reply before the tracking messages it triggers).
        let tag = RequestTag(origin: me, request: nextRequest)
        nextRequest += 1
        replica.proposals[index] = PendingWrite(tag: tag, deadline: now() + configuration.requestTimeoutMilliseconds, reply: reply,
                                                readAnswer: answer, proposedMicroseconds: inputMonotonicMicroseconds())
        wantTurn()
        return true
    }

    /// After a SCAN answered `answer`: proposes the removal of the expired keys it met in
    /// each shard this node leads; returns true when `reply` gets `answer` once the last
    /// of those removals is applied (false: nothing met, the caller answers).
    func expireMetByScan(answer: RESPValue, database: Int, reply: @escaping ReplySink) -> Bool {
        let led = replicas.keys.sorted().compactMap { replicas[$0] }.filter { $0.isLeader && $0.data != nil }
        var pending = 0
        for replica in led {
            pending += expireLazily(replica, [], positions: [], database: database, answer: answer) { _ in
                pending -= 1
                if pending == 0 { reply(answer) }
            } ? 1 : 0
        }
        return pending > 0
    }
}
