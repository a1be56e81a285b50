// SYNC and PSYNC: a Redis replica, or `redis-cli --rdb`, follows a standalone Trestle server
// as it follows a Redis primary: a full resynchronization (the dataset as an RDB file,
// Keyspace/RDBWriter.swift), then the effects of every committed write
// (Engine+Propagation.swift) as commands, with SELECT before a change of database,
// MULTI/EXEC around an entry of several effects and a PING every
// `repl-ping-replica-period` seconds. PSYNC always answers FULLRESYNC (no backlog is kept,
// so there is no partial resynchronization). The link's own requests (REPLCONF ACK) get
// no replies, as on Redis. A cluster node refuses: its shards are Raft groups, not one
// stream.
import Core
import Engine
import Keyspace
import Wire

/// A Redis replica's link: the database its stream last selected, and when it last
/// acknowledged (REPLCONF ACK; attaching counts), for `min-replicas-to-write`.
struct ReplicationLink {
    var database: Int?
    var lastAcknowledged: Int64
}

extension Node {
    /// Most replicas one server streams to.
    static let replicationLinksMax = 16
    /// Largest full-resynchronization payload (the RDB file is built in memory).
    static let syncPayloadBytesMax = 1 << 30

    /// SYNC or PSYNC from `session`: the RDB payload as the reply, and the link registered.
    func startReplication(_ id: CommandID, session: Session) -> Outcome {
        guard configuration.standalone, let replica = replicas.values.first(where: { $0.data != nil }), let data = replica.data else {
            return Outcome(reply: .error("ERR SYNC and PSYNC are served by a standalone Trestle server only: a cluster node's shards replicate with Raft"))
        }
        guard replicationLinks[session.id] != nil || replicationLinks.count < Self.replicationLinksMax else {
            return Outcome(reply: .error("ERR too many replicas: at most \(Self.replicationLinksMax) follow one server"))
        }
        let time = max(now(), data.lastRecordTime)
        let rdb: [UInt8]
        do {
            rdb = try RDBWriter.encode(data.engine.databaseImage.databases, now: time,
                                       aux: [("redis-ver", Engine.compatibleRedisVersion), ("redis-bits", "64"),
                                             ("ctime", String(time / 1000))])
        } catch {
            guard case .unsupported(let key, let type) = error else { return Outcome(reply: .error("ERR \(error)")) }
            return Outcome(reply: .error("ERR cannot send the dataset to a replica: key '\(String(decoding: key, as: UTF8.self))' is a \(type), which Trestle's RDB writer does not encode yet"))
        }
        guard rdb.count <= Self.syncPayloadBytesMax else {
            return Outcome(reply: .error("ERR cannot send the dataset to a replica: its RDB file is larger than \(Self.syncPayloadBytesMax) bytes"))
        }
        // The PING period starts with the first link (tests stretch it just before SYNC).
        if replicationLinks.isEmpty { lastReplicationPing = time }
        replicationLinks[session.id] = ReplicationLink(lastAcknowledged: time)
        session.replyMode = .off
        var payload: [UInt8] = []
        if id == .psync { payload += Array("+FULLRESYNC \(Engine.replicationID) \(replicationOffset)\r\n".utf8) }
        payload += Array("$\(rdb.count)\r\n".utf8)
        payload += rdb
        logger.info("a replica is attached", metadata: ["client": "\(session.address)", "rdb_bytes": "\(rdb.count)"])
        return Outcome(reply: .raw(payload))
    }

    /// REPLCONF: the options a replica sends before SYNC are accepted; ACK and GETACK (from
    /// an attached link, whose replies are off) need no answer. An ACK notes the replica
    /// as good for `min-replicas-to-write`.
    func replicationConfiguration(_ arguments: [Bytes], session: Session) -> Outcome {
        guard (arguments.count - 1).isMultiple(of: 2) else { return Outcome(reply: CommandError.syntax.reply) }
        if Self.lowercased(arguments[1]) == Array("ack".utf8) { replicationLinks[session.id]?.lastAcknowledged = now() }
        return Outcome(reply: .ok)
    }

    /// Streams the effects the engine recorded to every link, and stops recording when no
    /// link is left.
    func feedReplicationLinks(_ engine: Engine) {
        let entries = engine.propagated
        engine.propagated.removeAll()
        guard !replicationLinks.isEmpty else { return }
        for entry in entries {
            let wrapped = entry.commands.count > 1
            for id in replicationLinks.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
                // As Redis 7+: MULTI first, then each command's SELECT where the database changes.
                if wrapped { sendToReplica(id, [Array("MULTI".utf8)]) }
                for command in entry.commands {
                    select(command.database, on: id)
                    sendToReplica(id, command.arguments)
                }
                if wrapped { sendToReplica(id, [Array("EXEC".utf8)]) }
            }
        }
    }

    /// A command that changed no key yet goes to every link, as Redis propagates PUBLISH
    /// (a replica's subscribers hear it too): in the database each link has selected.
    func streamToReplicas(_ arguments: [Bytes]) {
        for id in replicationLinks.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            if replicationLinks[id]?.database == nil { select(0, on: id) }
            sendToReplica(id, arguments)
        }
    }

    /// The timer's PING to every link, every `repl-ping-replica-period` seconds.
    func pingReplicasIfDue() {
        guard !replicationLinks.isEmpty else { return }
        let period = Int64(front.settings.inertParameters["repl-ping-replica-period"] ?? "") ?? 10
        let time = now()
        guard time - lastReplicationPing >= max(1, period) * 1000 else { return }
        lastReplicationPing = time
        for id in replicationLinks.keys.sorted(by: { $0.rawValue < $1.rawValue }) { sendToReplica(id, [Array("PING".utf8)]) }
    }

    private func select(_ database: Int, on id: ClientID) {
        guard replicationLinks[id]?.database != database else { return }
        sendToReplica(id, [Array("SELECT".utf8), Array(String(database).utf8)])
        replicationLinks[id]?.database = database
    }

    private func sendToReplica(_ id: ClientID, _ arguments: [Bytes]) {
        replicationOffset += Int64(Self.encodedLength(arguments))
        emit(.push(id, .array(arguments.map(RESPValue.bulk)), .resp2))
    }

    /// Bytes of `arguments` as a RESP array of bulk strings (the stream's offset counts them).
    static func encodedLength(_ arguments: [Bytes]) -> Int {
        arguments.reduce(String(arguments.count).utf8.count + 3) { $0 + String($1.count).utf8.count + 5 + $1.count }
    }
}
