// Proposing a client's write to its shard's log: the entry size limits, the log's time
// stamp, and the open batch a plain write joins (`WriteBatch`, Replica.swift).
import Cluster
import Core
import Engine
import Keyspace
import Wire

extension Node {
    /// The largest write (one command, or one transaction) a shard's log takes: a log
    /// record's limit for a shard with one replica; under the peer frame limit (32 MiB)
    /// when the entry must reach other replicas. Larger writes are refused, never queued
    /// (one would fail the log, or stall the shard's replication).
    static let localEntryBytesMax = 511 * 1024 * 1024
    static let replicatedEntryBytesMax = 30 * 1024 * 1024

    /// `stamp`: the entry's time, when the caller needs that one (a busy script's effects,
    /// run at it); it must not be older than the shard's newest.
    /// `database`: the numbered database the commands start in (0 on a cluster node).
    func proposeWrite(_ replica: Replica, commands: [[Bytes]], transaction: Bool, watches: [WatchedValue], database: Int,
                      version: ProtocolVersion = .resp2, stamp: Int64? = nil, batchable: Bool = false, reply: @escaping ReplySink) {
        guard let data = replica.data else { return reply(.error("ERR not a data shard")) }
        guard replica.queuedWrites.count < Replica.queuedWritesMax else {
            return reply(Redirect.tryAgain("shard \(replica.shard.rawValue) has too many writes waiting; retry").reply)
        }
        let bytes = commands.reduce(0) { total, command in command.reduce(total + 16) { $0 + $1.count + 16 } }
        let replicated = replica.raft.memberCount > 1
        let limit = replicated ? Self.replicatedEntryBytesMax : Self.localEntryBytesMax
        guard bytes <= limit else {
            return reply(.error("ERR the write is too large for one log entry: about \(bytes) bytes, at most \(limit)\(replicated ? " when a shard is replicated" : "")"))
        }
        // A plain write joins the open batch queued before it, if any (`WriteBatch`).
        if batchable, let open = replica.queuedWrites.last?.write, open.isOpenBatch,
           open.join(commands[0], bytes: bytes, bytesMax: limit, database: database, version: version, reply: reply) {
            return
        }
        let time = stamp ?? max(now(), data.lastRecordTime, replica.lastStampedTime)
        assert(time >= data.lastRecordTime && time >= replica.lastStampedTime, "a shard's log time must not run backwards")
        replica.lastStampedTime = time
        let tag = RequestTag(origin: me, request: nextRequest)
        nextRequest += 1
        if batchable, !transaction, watches.isEmpty, stamp == nil, commands.count == 1 {
            let batch = WriteBatch(time: time, database: database, commands: commands, bytes: bytes)
            let write = PendingWrite(tag: tag, deadline: now() + configuration.requestTimeoutMilliseconds, reply: reply,
                                     version: version, batch: batch, proposedMicroseconds: inputMonotonicMicroseconds())
            replica.queuedWrites.append(([], write))
            return wantTurn()
        }
        let command = ShardCommand.write(tag: tag, time: time, transaction: transaction, watches: watches, commands: commands,
                                         database: database)
        let payload = command.encoded()
        let write = PendingWrite(tag: tag, deadline: now() + configuration.requestTimeoutMilliseconds, reply: reply, version: version,
                                 proposed: (payload, command), proposedMicroseconds: inputMonotonicMicroseconds())
        replica.queuedWrites.append((payload, write))
        wantTurn()
    }
}
