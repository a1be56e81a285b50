// Lazy expiry, as Redis: a read that meets a key stored past its time removes it. Reads
// never change a replica's state here, so the shard's leader proposes the removal as a
// reclaim entry (the one active expiry proposes: every replica removes the same keys,
// counts INFO expired_keys and publishes `expired`) and answers the read once that entry
// is applied: what the client sends next sees the keys gone (DBSIZE, INFO, SCAN).
import Consensus
import Core
import Engine
import Keyspace
import Wire

extension Node {
    /// After a read of `keys` in `database` answered `answer`: when it met expired keys,
    /// proposes their removal and returns true, `reply` getting `answer` once the removal
    /// is applied; false when there is nothing to remove (the caller answers). Nothing is
    /// removed while a CLIENT PAUSE holds writes (Redis expires nothing then either).
    func expireLazily(_ replica: Replica, keys: [Bytes], database: Int, answer: RESPValue, reply: @escaping ReplySink) -> Bool {
        guard !keys.isEmpty, replica.isLeader, clientPause == nil, let data = replica.data else { return false }
        let stamp = max(now(), data.lastRecordTime, replica.lastStampedTime)
        let expired = data.engine.storedButExpired(keys, database: database, now: stamp)
        guard !expired.isEmpty,
              let index = try? replica.raft.propose(ShardCommand.reclaim(time: stamp, keys: expired, database: database).encoded())
        else { return false }
        replica.lastStampedTime = stamp
        replica.readsAwaitingApply.append(PendingRead(index: index, deadline: now() + configuration.requestTimeoutMilliseconds,
                                                      run: { reply(answer) }, fail: { _ in reply(answer) }))
        wantTurn()
        return true
    }
}
