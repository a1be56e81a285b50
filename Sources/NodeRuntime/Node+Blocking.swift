// Blocking pops (BLPOP and friends) on a shard's leader. The command first runs as a
// committed write like any other; when every key was empty it comes back with the
// "nothing to pop" reply, and the node keeps the request here, blocked on its keys. A
// committed write that touches one of the keys (seen through the keyspace's touched-key
// tracking, as WATCH is) runs the first request blocked on that key again, through the
// log; so every pop is an entry every replica applies, and requests are served in the
// order they blocked. A request ends when it pops, at its timeout (Redis's null reply),
// when its client goes, on CLIENT UNBLOCK, or when this node stops leading the shard or
// the shard hands the key's slot to another (the client gets a redirect or -TRYAGAIN: it
// never loses an element, since nothing was popped for it).
//
// Invariants: `blockedByKey[k]` lists, in blocking order, exactly the live requests
// blocked on `k`; a key with blocked requests is in its shard engine's `watchedKeys`.
import Cluster
import Core
import Engine
import Keyspace
import Wire

final class BlockedRequest {
    let client: ClientID
    let id: CommandID
    let arguments: [Bytes]
    let keys: [Bytes]
    let shard: ShardID
    let slot: HashSlot
    /// Monotonic milliseconds at which the request times out; nil: never.
    let deadline: Int64?
    let version: ProtocolVersion
    /// The numbered database the client blocked in.
    let database: Int
    let reply: ReplySink
    var retrying = false
    var done = false

    init(client: ClientID, id: CommandID, arguments: [Bytes], keys: [Bytes], shard: ShardID, slot: HashSlot,
         deadline: Int64?, version: ProtocolVersion, database: Int, reply: @escaping ReplySink) {
        self.client = client
        self.id = id
        self.arguments = arguments
        self.keys = keys
        self.shard = shard
        self.slot = slot
        self.deadline = deadline
        self.version = version
        self.database = database
        self.reply = reply
    }
}

extension Node {
    /// A deadline from client-chosen waits: the sum, or Int64.max where it would overflow.
    static func saturatingSum(_ values: Int64...) -> Int64 {
        values.reduce(0) { total, value in
            let (sum, overflowed) = total.addingReportingOverflow(value)
            return overflowed ? (value > 0 ? .max : .min) : sum
        }
    }

    /// Most requests blocked on one node at once; more get an error at once.
    static let blockedRequestsMax = 65_536

    /// Runs a blocking command on a shard this node leads: once now, then again whenever
    /// one of its keys is written, until it pops or times out.
    func blockingWrite(_ replica: Replica, _ arguments: [Bytes], id: CommandID, spec: CommandSpec, slot: HashSlot,
                       session: Session, reply: @escaping ReplySink) {
        let timeout: Int64
        do {
            timeout = try Engine.blockingTimeout(arguments, id: id)
        } catch {
            return reply(error.reply)
        }
        let deadline = timeout == 0 ? nil : Self.saturatingSum(now(), timeout)
        let keys = spec.keyPositions(in: arguments).map { arguments[$0] }
        let arguments = id == .xread ? (replica.data?.engine.resolvingLastIDs(arguments, database: session.database, now: now()) ?? arguments) : arguments
        let client = session.id
        let version = session.protocolVersion
        let database = session.database
        // Fairness, as Redis: a client already blocked on one of these keys pops first (a
        // write that woke it may have been applied just now, its retry not proposed yet).
        for key in keys {
            if let first = firstBlocked(on: key, database: database) { retry(first) }
        }
        proposeWrite(replica, commands: [arguments], transaction: false, watches: [], database: database, version: version) { [self] value in
            guard value == Engine.nothingToPop(id), blocked.count < Self.blockedRequestsMax, clients[client] != nil || client.rawValue == 0 else {
                return reply(value)
            }
            let request = BlockedRequest(client: client, id: id, arguments: arguments, keys: keys, shard: replica.shard, slot: slot,
                                         deadline: deadline, version: version, database: database, reply: reply)
            block(request)
        }
    }

    private func block(_ request: BlockedRequest) {
        blocked.append(request)
        if let client = clients[request.client] {
            client.blockedRequests += 1
            // Nothing may wait behind a reply that waits for data.
            releaseHeldPushes(client, all: true)
        }
        let engine = replicas[request.shard]?.data?.engine
        for key in request.keys {
            blockedByKey[key, default: []].append(request)
            engine?.keyspace.watchedKeys.insert(key)
        }
        // A write may have landed between the attempt and now: look once.
        if let engine, engine.inDatabase(request.database, { request.keys.contains { engine.keyspace.peek($0, now: now()) != nil } }) {
            retry(request)
        }
        wantTurn()
    }

    /// After a replica applied writes: on each touched key (in its database), a request
    /// blocked on it runs again. As Redis's handleClientsBlockedOnKey, a request waits for
    /// its own type: the first request the key's type can serve runs (a BLPOP blocked
    /// first on a key that became a stream does not hold back an XREADGROUP behind it),
    /// else the first blocked; and when the key is gone every XREADGROUP blocked on it is
    /// answered (-NOGROUP), besides the first blocked (which may pop from its other keys).
    func wakeBlocked(touched keys: [(database: Int, key: Bytes)], on replica: Replica) {
        guard !blockedByKey.isEmpty, replica.isLeader else { return }
        let ordered = keys.sorted { $0.database != $1.database ? $0.database < $1.database : $0.key.lexicographicallyPrecedes($1.key) }
        for (database, key) in ordered {
            guard let requests = blockedByKey[key] else { continue }
            let live = requests.filter { !$0.done && $0.database == database }
            guard let first = live.first else { continue }
            guard let type = currentType(of: key, database: database, on: replica) else {
                retry(first)
                for request in live where request.id == .xreadgroup { retry(request) }
                continue
            }
            retry(live.first { request in
                request.id == .xreadgroup || (Self.blockedType(request.id).map { $0 == type } ?? true)
            } ?? first)
        }
    }

    /// The type name of what `key` holds now on `replica`, nil when it holds nothing.
    private func currentType(of key: Bytes, database: Int, on replica: Replica) -> String? {
        guard let engine = replica.data?.engine else { return nil }
        let time = max(now(), replica.data?.lastRecordTime ?? 0)
        return engine.inDatabase(database) { engine.keyspace.peek(key, now: time)?.value.typeName }
    }

    /// The type a blocking command pops from: "list", "zset" or "stream"; nil for others.
    static func blockedType(_ id: CommandID) -> String? {
        switch id {
        case .blpop, .brpop, .blmpop, .blmove, .brpoplpush: return "list"
        case .bzpopmin, .bzpopmax, .bzmpop: return "zset"
        case .xread, .xreadgroup: return "stream"
        default: return nil
        }
    }

    /// The longest-waiting request still blocked on `key` in `database`: the one a write
    /// to the key serves first.
    private func firstBlocked(on key: Bytes, database: Int) -> BlockedRequest? {
        blockedByKey[key]?.first { !$0.done && $0.database == database }
    }

    private func retry(_ request: BlockedRequest) {
        guard !request.done, !request.retrying else { return }
        guard let replica = replicas[request.shard], replica.isLeader else { return finish(request, redirect(request)) }
        // As Redis, which runs a woken command through its checks again: a user whose
        // permissions changed while it waited gets NOPERM (logged in ACL LOG).
        if let session = clients[request.client]?.session, let spec = CommandTable.lookup(request.arguments[0]),
           let refusal = front.permissionDenial(spec, request.arguments, session, now: now()) {
            return finish(request, refusal.reply)
        }
        request.retrying = true
        proposeWrite(replica, commands: [request.arguments], transaction: false, watches: [], database: request.database,
                     version: request.version) { [self] value in
            request.retrying = false
            guard !request.done else { return }
            if value != Engine.nothingToPop(request.id), !sourceHasOtherType(request, value, on: replica) {
                finish(request, value)
                // An error (a destination of another type) took nothing: as Redis, the next
                // client blocked on the key gets its chance (a pop wakes it by its own write).
                if value.isError { wakeBlocked(touched: request.keys.map { (request.database, $0) }, on: replica) }
                return
            }
            if let deadline = request.deadline, deadline <= now() { finish(request, .nullArray) }
        }
    }

    /// Whether a retry's WRONGTYPE comes from a key the request pops from now holding
    /// another type: as in Redis, such a client stays blocked until the key holds its type
    /// again (a wrong destination, or XREADGROUP's key, still answers the error).
    private func sourceHasOtherType(_ request: BlockedRequest, _ value: RESPValue, on replica: Replica) -> Bool {
        guard case .error(let text) = value, text.hasPrefix("WRONGTYPE"), let engine = replica.data?.engine else { return false }
        guard request.id != .xreadgroup, let expected = Self.blockedType(request.id) else { return false }
        let sources = request.id == .blmove || request.id == .brpoplpush ? Array(request.keys.prefix(1)) : request.keys
        let time = max(now(), replica.data?.lastRecordTime ?? 0)
        return engine.inDatabase(request.database) {
            sources.contains { key in engine.keyspace.peek(key, now: time).map { $0.value.typeName != expected } ?? false }
        }
    }

    private func redirect(_ request: BlockedRequest) -> RESPValue {
        switch locate(request.slot) {
        case .here: return Redirect.tryAgain("shard leadership changed while blocked; retry").reply
        case .elsewhere(_, let node, _): return Redirect.moved(slot: request.slot, to: node).reply
        case .down(let reason): return reason.reply
        }
    }

    private func finish(_ request: BlockedRequest, _ value: RESPValue) {
        guard !request.done else { return }
        request.done = true
        blocked.removeAll { $0 === request }
        clients[request.client]?.blockedRequests -= 1
        for key in request.keys {
            blockedByKey[key]?.removeAll { $0 === request }
            if blockedByKey[key]?.isEmpty == true {
                blockedByKey.removeValue(forKey: key)
                if watchers[key] == nil { replicas[request.shard]?.data?.engine.keyspace.watchedKeys.remove(key) }
            }
        }
        request.reply(value)
    }

    /// Timer work: timeouts, and requests whose shard this node no longer leads.
    func sweepBlocked() {
        guard !blocked.isEmpty else { return }
        let time = now()
        for request in blocked where !request.retrying {
            if let deadline = request.deadline, deadline <= time {
                finish(request, .nullArray)
            } else if replicas[request.shard]?.isLeader != true {
                finish(request, redirect(request))
            } else if replicas[request.shard]?.data?.migration.givenAway(request.slot.rawValue) != nil {
                // The slot moved to another shard: no write here will ever wake it.
                finish(request, Redirect.tryAgain("slot \(request.slot.rawValue) moved to another shard while blocked; retry").reply)
            }
        }
    }

    /// A client went away: its blocked requests end without a reply.
    func unblockClosed(_ client: ClientID) {
        for request in blocked where request.client == client {
            request.done = true
        }
        let gone = blocked.filter { $0.client == client }
        blocked.removeAll { $0.client == client }
        for request in gone {
            for key in request.keys {
                blockedByKey[key]?.removeAll { $0 === request }
                if blockedByKey[key]?.isEmpty == true { blockedByKey.removeValue(forKey: key) }
            }
        }
    }

    /// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when the client was blocked (it gets the
    /// timeout reply, or an UNBLOCKED error), else 0.
    func clientUnblock(_ arguments: [Bytes]) -> RESPValue {
        guard let raw = UInt64(String(decoding: arguments[2], as: UTF8.self)) else {
            return .error("ERR value is not an integer or out of range")
        }
        var withError = false
        if arguments.count == 4 {
            switch String(decoding: arguments[3], as: UTF8.self).lowercased() {
            case "timeout": withError = false
            case "error": withError = true
            default: return .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
            }
        }
        guard let request = blocked.first(where: { $0.client == ClientID(rawValue: raw) && !$0.done }) else { return .integer(0) }
        finish(request, withError ? .error("UNBLOCKED client unblocked via CLIENT UNBLOCK") : .nullArray)
        return .integer(1)
    }
}
