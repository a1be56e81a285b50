// REPLICAOF on a standalone server: following a Redis master (a way off Redis: follow it,
// then REPLICAOF NO ONE), and the refusals Redis's replication state brings to clients.
//
// The shell runs the link (MasterLink.swift); the node keeps its state for ROLE and INFO,
// opens the master's client when a full resynchronization starts and serves what the link
// feeds as that client's requests, through the one shard's log like any write. While it
// follows a master, the server refuses clients' writes (-READONLY, `replica-read-only`),
// everything but `stale` commands while the link is down when `replica-serve-stale-data`
// is no (-MASTERDOWN), and everything but `loading` commands while the master's dataset
// loads (-LOADING; not while its RDB file travels, as Redis serves meanwhile). As a
// master, `min-replicas-to-write` counts the Redis replicas that acknowledged within
// `min-replicas-max-lag` seconds (-NOREPLICAS when too few did).
//
// Not kept across a restart: a server restarted while following comes back as a master
// with the data it had applied (Redis forgets REPLICAOF too unless CONFIG REWRITE saved it).
import Core
import Engine
import Keyspace
import Scripting
import Wire

/// What this server follows, and how far the link got.
struct MasterFollowing {
    enum State: String {
        case connect, connecting, handshake, sync, connected
    }

    let job: MasterLinkJob
    var state = State.connect
    /// The master's client on the current connection (from its FULLRESYNC on).
    var client: ClientID?
    var replicationID = Engine.replicationID
    var offset: Int64 = 0
    /// From the first request of the dataset's load until the link is up: clients get
    /// -LOADING (while the RDB file travels, they are served the data as it was).
    var loading = false
    /// When the link last did something (INFO's master_last_io_seconds_ago).
    var lastInteraction: Int64
    /// When the link went down (nil while it is up, and before it first came up).
    var downSince: Int64?
    var lastFailure: String?
}

extension Node {
    static let readOnlyReplica = RESPValue.error("READONLY You can't write against a read only replica.")
    static let masterDown = RESPValue.error("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
    static let noReplicas = RESPValue.error("NOREPLICAS Not enough good replicas to write.")
    static let loadingDataset = RESPValue.error("LOADING Redis is loading the dataset in memory")

    // MARK: - REPLICAOF

    /// REPLICAOF host port | NO ONE on a standalone server.
    func replicaOf(_ arguments: [Bytes], session: Session) -> RESPValue {
        if Self.lowercased(arguments[1]) == Array("no".utf8), Self.lowercased(arguments[2]) == Array("one".utf8) {
            guard let link = following else { return .ok }
            stopFollowing()
            logger.notice("MASTER MODE enabled (REPLICAOF NO ONE)", metadata: ["master": "\(link.job.host):\(link.job.port)", "client": "\(session.address)"])
            return .ok
        }
        guard let port = Numbers.parseInteger(arguments[2]), (0...65_535).contains(port) else {
            return .error("ERR Invalid master port")
        }
        let host = String(decoding: arguments[1], as: UTF8.self)
        if let link = following, link.job.host == host, link.job.port == Int(port) {
            return .simple("OK Already connected to specified master")
        }
        if following != nil { stopFollowing() }
        masterLinkGeneration += 1
        let settings = front.settings
        let password = settings.inertParameters["masterauth"] ?? ""
        let user = settings.inertParameters["masteruser"] ?? ""
        let job = MasterLinkJob(generation: masterLinkGeneration, host: host, port: Int(port),
                                authentication: password.isEmpty ? [] : (user.isEmpty ? [] : [Array(user.utf8)]) + [Array(password.utf8)],
                                listeningPort: configuration.port,
                                timeoutMilliseconds: 1000 * max(1, Int(settings.inertParameters["repl-timeout"] ?? "") ?? 60))
        following = MasterFollowing(job: job, lastInteraction: now())
        emit(.followMaster(job))
        logger.notice("following a master (REPLICAOF): clients' writes are refused until REPLICAOF NO ONE",
                      metadata: ["master": "\(host):\(port)", "client": "\(session.address)"])
        return .ok
    }

    private func stopFollowing() {
        let client = following?.client
        following = nil
        if let client { closeClient(client) }
        emit(.unfollowMaster)
    }

    /// The master's client was closed here (CLIENT KILL): the link starts over, with a
    /// full resynchronization, as a Redis replica reconnects to its master.
    func masterClientClosed() {
        guard var link = following else { return }
        link.client = nil
        link.state = .connect
        following = link
        logger.warning("the master's client was closed: synchronizing with the master again",
                       metadata: ["master": "\(link.job.host):\(link.job.port)"])
        emit(.followMaster(link.job))
    }

    // MARK: - The link's events

    func masterLinkEvent(_ event: MasterLinkEvent, generation: UInt64) {
        guard var link = following, link.job.generation == generation else { return }
        let time = now()
        switch event {
        case .connecting, .handshaking, .down: break
        default: link.lastInteraction = time
        }
        switch event {
        case .connecting:
            link.state = .connecting
        case .handshaking:
            link.state = .handshake
        case let .transferring(replicationID, offset, client):
            if let old = link.client {
                following?.client = nil  // replaced, not lost
                closeClient(old)
            }
            openMasterClient(client, link: link)
            link.client = client
            link.replicationID = replicationID
            link.offset = offset
            link.state = .sync
            logger.notice("full resynchronization from the master: loading its dataset",
                          metadata: ["master": "\(link.job.host):\(link.job.port)", "replication_id": "\(replicationID)", "offset": "\(offset)"])
        case let .requests(requests, client, offset):
            guard client == link.client else { return }
            link.offset = offset
            if link.state == .sync { link.loading = true }
            following = link
            receiveRequests(client, requests)
            return
        case .synchronized(let offset):
            link.offset = offset
            link.state = .connected
            link.loading = false
            link.downSince = nil
            link.lastFailure = nil
            logger.notice("MASTER <-> REPLICA sync finished: following the master's stream",
                          metadata: ["master": "\(link.job.host):\(link.job.port)", "offset": "\(offset)"])
        case .offset(let offset):
            link.offset = offset
        case .down(let reason):
            if link.downSince == nil { link.downSince = time }
            link.state = .connect
            link.loading = false
            if reason != link.lastFailure {
                logger.warning("the link with the master is down; dialling again", metadata: ["master": "\(link.job.host):\(link.job.port)", "reason": "\(reason)"])
            }
            link.lastFailure = reason
        }
        following = link
    }

    /// The master's client: authenticated, as the default user (Redis's master client
    /// bypasses ACLs; the default user runs everything unless restricted).
    private func openMasterClient(_ id: ClientID, link: MasterFollowing) {
        let session = front.connect(id: id, address: "\(link.job.host):\(link.job.port)", localAddress: "", now: now())
        front.authenticateAsMaster(session)
        clients[id] = ClientPipeline(session: session)
    }

    // MARK: - Refusals

    /// The refusal Redis's replication state gives this request, if any: LOADING,
    /// READONLY and MASTERDOWN while following a master (never to the master's own client),
    /// NOREPLICAS as a master. An EXEC counts as a write when it holds one, and as denied
    /// when stale when it holds a command that is.
    func replicationRefusal(_ spec: CommandSpec, _ arguments: [Bytes], id: CommandID, session: Session) -> RESPValue? {
        // As Redis: a subcommand's flags (CONFIG SET is `stale`, CONFIG is a container).
        let spec = arguments.count >= 2 ? spec.subcommand(arguments[1]) ?? spec : spec
        let link = following.flatMap { $0.client == session.id ? nil : $0 }
        if let link, link.loading, !spec.flags.contains("loading") { return Self.loadingDataset }
        if Self.writes(spec, id: id, session: session), let refusal = writeRefusal(session) { return refusal }
        if let link, link.state != .connected, front.settings.inertParameters["replica-serve-stale-data"] == "no",
           Self.deniedWhenStale(spec, id: id, session: session) {
            return Self.masterDown
        }
        return nil
    }

    /// Why a write of `session` may not run now, if it may not: READONLY on a read-only
    /// replica (never to the master's own client), NOREPLICAS on a master with fewer good
    /// replicas than `min-replicas-to-write`.
    func writeRefusal(_ session: Session) -> RESPValue? {
        if let link = following {
            guard link.client != session.id, front.settings.inertParameters["replica-read-only"] != "no" else { return nil }
            return Self.readOnlyReplica
        }
        let wanted = front.settings.minReplicasToWrite
        let lag = Int64(front.settings.inertParameters["min-replicas-max-lag"] ?? "") ?? 10
        guard wanted > 0, lag > 0 else { return nil }
        let time = now()
        let good = replicationLinks.values.filter { time - $0.lastAcknowledged <= lag * 1000 }.count
        return good < wanted ? Self.noReplicas : nil
    }

    /// Whether the replication refusals apply at all (the common case: they do not, and
    /// the request pays one check).
    var replicationMayRefuse: Bool { following != nil || front.settings.minReplicasToWrite > 0 }

    private static func writes(_ spec: CommandSpec, id: CommandID, session: Session) -> Bool {
        if spec.flags.contains("write") { return true }
        guard id == .exec, let queued = session.queuedCommands else { return false }
        return queued.contains { Self.flags(of: $0).contains("write") }
    }

    private static func deniedWhenStale(_ spec: CommandSpec, id: CommandID, session: Session) -> Bool {
        if !spec.flags.contains("stale") { return true }
        guard id == .exec, let queued = session.queuedCommands else { return false }
        return queued.contains { command in CommandTable.lookup(command[0]) != nil && !Self.flags(of: command).contains("stale") }
    }

    /// The flags of a request's command (its subcommand's, for a container).
    private static func flags(of command: [Bytes]) -> [String] {
        guard let spec = CommandTable.lookup(command[0]) else { return [] }
        return (command.count >= 2 ? spec.subcommand(command[1]) ?? spec : spec).flags
    }

    /// Why a script of `session` may not write now (`writeRefusal`). A script that
    /// declares it may write (a shebang without `no-writes`) is refused before it runs;
    /// one without a shebang runs as a trial and is refused if it wrote (Redis fails its
    /// first write call instead, which a script may catch with pcall).
    func scriptWriteRefusal(_ session: Session) -> RESPValue? {
        replicationMayRefuse ? writeRefusal(session) : nil
    }

    /// Whether `arguments` (an EVAL) has a shebang that does not say `no-writes`.
    static func declaresWrites(_ arguments: [Bytes]) -> Bool {
        guard arguments.count > 1, case .success(let shebang?) = Shebang.parse(arguments[1]) else { return false }
        return !shebang.flags.contains("no-writes")
    }

    // MARK: - ROLE and INFO

    /// ROLE: a master's (its stream's offset; the Redis replicas following it are not
    /// listed) or a replica's.
    var roleReply: RESPValue {
        guard let link = following else { return .array([.bulk("master"), .integer(replicationOffset), .array([])]) }
        return .array([.bulk("slave"), .bulk(Array(link.job.host.utf8)), .integer(Int64(link.job.port)),
                       .bulk(Array(link.state.rawValue.utf8)), .integer(link.state == .connected ? link.offset : -1)])
    }

    /// INFO replication's fields of a replica, after `role` (the engine renders the rest).
    func followerInfoFields() -> [(String, String)] {
        guard let link = following else { return [] }
        let time = now()
        var fields = [("role", "slave"), ("master_host", link.job.host), ("master_port", String(link.job.port)),
                      ("master_link_status", link.state == .connected ? "up" : "down"),
                      ("master_last_io_seconds_ago", String(max(0, time - link.lastInteraction) / 1000)),
                      ("master_sync_in_progress", link.state == .sync ? "1" : "0"),
                      ("slave_read_repl_offset", String(link.offset)), ("slave_repl_offset", String(link.offset))]
        if let down = link.downSince { fields.append(("master_link_down_since_seconds", String(max(0, time - down) / 1000))) }
        fields += [("slave_priority", "100"), ("slave_read_only", front.settings.inertParameters["replica-read-only"] == "no" ? "0" : "1"),
                   ("replica_announced", "1")]
        return fields
    }
}
