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

    /// About how many bytes `command` takes in a log entry (its words and their lengths).
    static func entryBytes(_ command: [Bytes]) -> Int {
        command.reduce(16) { $0 + $1.count + 16 }
    }

    /// The largest entry `replica`'s log takes (`localEntryBytesMax` or `replicatedEntryBytesMax`).
    func entryBytesMax(_ replica: Replica) -> Int {
        replica.raft.memberCount > 1 ? Self.replicatedEntryBytesMax : Self.localEntryBytesMax
    }

    /// A plain write (one command, no transaction, no WATCH): it joins the open batch
    /// queued before it when there is one (`WriteBatch`), with no array built around it;
    /// otherwise it is proposed as `proposeWrite` does and opens a batch.
    func proposePlainWrite(_ replica: Replica, _ command: [Bytes], database: Int, version: ProtocolVersion,
                           reply: @escaping ReplySink) {
        if replica.data != nil, replica.queuedWrites.count < Replica.queuedWritesMax,
           let open = replica.queuedWrites.last?.write, open.isOpenBatch,
           open.join(command, bytes: Self.entryBytes(command), bytesMax: entryBytesMax(replica), database: database,
                     version: version, reply: reply) {
            return
        }
        proposeWrite(replica, commands: [command], transaction: false, watches: [], database: database, version: version,
                     batchable: true, reply: reply)
    }

    /// `stamp`: the entry's time, when the caller needs that one (a busy script's effects,
    /// run at it); it must not be older than the shard's newest.
    /// `database`: the numbered database the commands start in (0 on a cluster node).
    func proposeWrite(_ replica: Replica, commands: [[Bytes]], transaction: Bool, watches: [WatchedValue], database: Int,
                      version: ProtocolVersion = .resp2, stamp: Int64? = nil, batchable: Bool = false, reply: @escaping ReplySink) {
        guard let data = replica.data else { return reply(.error("ERR not a data shard")) }
        guard replica.queuedWrites.count < Replica.queuedWritesMax else {
            return reply(Redirect.tryAgain("shard \(replica.shard.rawValue) has too many writes waiting; retry").reply)
        }
        let bytes = commands.reduce(0) { $0 + Self.entryBytes($1) }
        let replicated = replica.raft.memberCount > 1
        let limit = entryBytesMax(replica)
        guard bytes <= limit else {
            return reply(.error("ERR the write is too large for one log entry: about \(bytes) bytes, at most \(limit)\(replicated ? " when a shard is replicated" : "")"))
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
