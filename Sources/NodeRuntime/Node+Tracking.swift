// Server-assisted client-side caching, the node's half (Redis's tracking.c): the keys each
// tracking client read through this node, and the invalidations sent when a committed
// write changes them.
//
// Reads are remembered when the request is routed (a read redirected elsewhere is
// remembered too: an extra invalidation is harmless, a missed one is not). Changes come
// from the change journals of the shard replicas this node holds (Keyspace.changeJournal,
// turned on while any client tracks), after each round of applied entries: a key read
// through this node is invalidated once, then forgotten until read again; a BCAST client
// gets the changed keys under its prefixes in one message per prefix. A FLUSHALL sends
// every tracking client a null invalidation. With three replicas on three nodes every node
// sees every write; in a larger cluster a client must read through nodes holding the
// keys' shards (a cluster-aware client reads at the leaders, which do). When a replica
// leaves this node, the keys of its shard read here are invalidated at once.
//
// Invariants: `trackingTable` holds at most `trackingKeysMax` keys (after the limit is
// lowered, once the timer has evicted the excess); `trackingClients` is exactly the
// connected clients with tracking on.
import Cluster
import Core
import Engine
import Keyspace
import Wire

extension Node {
    /// Most keys remembered for all clients when `tracking-table-max-keys` is 0 (Redis's
    /// "no limit"); past the limit an arbitrary remembered key is invalidated and
    /// forgotten (Redis evicts random keys).
    static let trackingKeysHardMax = 10_000_000
    /// Most keys a timer tick evicts after the limit was lowered (Redis too evicts a
    /// bounded number per cron run).
    static let trackingEvictionsPerTick = 1_000

    /// The tracking table's limit now (`tracking-table-max-keys`).
    var trackingKeysMax: Int {
        let configured = front.settings.trackingTableMaxKeys
        return configured == 0 ? Self.trackingKeysHardMax : min(configured, Self.trackingKeysHardMax)
    }
    /// Most keys waiting to be matched against NOLOOP writers (written, not yet applied).
    static let noLoopKeysMax = 100_000

    /// After CLIENT TRACKING ran for `session`: keep `trackingClients` in step.
    func trackingChanged(_ session: Session) {
        if session.tracking != nil { trackingClients.insert(session.id) } else { trackingClients.remove(session.id) }
    }

    /// A tracking client read `keys`: remember them for it (default mode only, and in
    /// OPTIN/OPTOUT as CLIENT CACHING said).
    func rememberReads(_ keys: [Bytes], session: Session, caching: Bool) {
        guard let tracking = session.tracking, tracking.remembersReads(caching: caching) else { return }
        for key in keys {
            if trackingTable[key] == nil, trackingTable.count >= trackingKeysMax, let victim = trackingTable.keys.first {
                evictTracked(victim)
            }
            trackingTable[key, default: []].insert(session.id)
        }
    }

    /// Runs a script for a tracking client (`run` routes it with the reply it is given):
    /// as Redis 7.2+, the keys remembered are those of the read-only commands it called,
    /// which the engine that ran it tells right after (the reply of a script forwarded to
    /// another node cannot tell, nor one that read more than `Engine.scriptReadKeysMax`
    /// keys: its declared `keys` are remembered, an extra invalidation being harmless
    /// where a missing one would serve stale data).
    func trackingScriptReads(_ keys: [Bytes], session: Session, caching: Bool, reply: @escaping ReplySink,
                             run: (@escaping ReplySink) -> Outcome?) -> Outcome? {
        var engine: Engine? = nil
        if let first = keys.first, case .here(let replica) = locate(HashSlot.of(key: first)) { engine = replica.data?.engine }
        let remember = { [self] in
            guard let engine, !engine.scriptReadKeysOverflowed else { return rememberReads(keys, session: session, caching: caching) }
            rememberReads(engine.scriptReadKeys.map(\.bytes).sorted { $0.lexicographicallyPrecedes($1) }, session: session, caching: caching)
        }
        let outcome = run { value in
            remember()
            reply(value)
        }
        if outcome != nil { remember() }
        return outcome
    }

    /// A NOLOOP client proposed a write to `keys`: it gets no invalidation for them.
    func noteTrackedWrite(_ keys: [Bytes], session: Session) {
        guard session.tracking?.noLoop == true, noLoopWriters.count < Self.noLoopKeysMax else { return }
        for key in keys { noLoopWriters[key, default: []].insert(session.id) }
    }

    /// Sends the invalidations the applied changes call for (see the file comment).
    func invalidate(_ changes: [KeyChange]) {
        var broadcast: [ClientID: [Bytes: [Bytes]]] = [:]
        var flushed = false
        var seen: Set<Bytes> = []
        for change in changes {
            if change.kind == .flushed { flushed = true; continue }
            guard seen.insert(change.key).inserted else { continue }
            let writers = noLoopWriters.removeValue(forKey: change.key) ?? []
            if let readers = trackingTable.removeValue(forKey: change.key) {
                for id in readers.sorted() where !writers.contains(id) {
                    guard let tracking = clients[id]?.session.tracking, !tracking.broadcast else { continue }
                    sendInvalidation(to: id, .array([.bulk(change.key)]))
                }
            }
            for id in trackingClients.sorted() where !writers.contains(id) {
                guard let tracking = clients[id]?.session.tracking, tracking.broadcasts(change.key) else { continue }
                for prefix in tracking.prefixes where change.key.starts(with: prefix) {
                    broadcast[id, default: [:]][prefix, default: []].append(change.key)
                }
            }
        }
        for (id, byPrefix) in broadcast.sorted(by: { $0.key < $1.key }) {
            for (_, keys) in byPrefix.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                sendInvalidation(to: id, .array(keys.map { .bulk($0) }))
            }
        }
        if flushed {
            trackingTable.removeAll()
            for id in trackingClients.sorted() { sendInvalidation(to: id, .null) }
        }
    }

    /// After this node dropped a shard replica it no longer sees that shard's writes: each
    /// key a client read through it whose shard it now holds no replica of is invalidated
    /// at once (and forgotten, as after a write), and each BCAST client, whose prefixes may
    /// cover any key of the shard, gets a null invalidation (drop everything), as after a
    /// FLUSHALL. Without this a client could keep serving a cached value that a later
    /// write, applied only on other nodes, changed.
    func invalidateKeysNoLongerHeld() {
        guard !trackingClients.isEmpty, let map else { return }
        let unheld = trackingTable.keys.filter { key in
            guard let shard = map.shardID(forSlot: HashSlot.of(key: key)) else { return true }
            return replicas[shard] == nil
        }
        for key in unheld.sorted(by: { $0.lexicographicallyPrecedes($1) }) { evictTracked(key) }
        for id in trackingClients.sorted() where clients[id]?.session.tracking?.broadcast == true {
            sendInvalidation(to: id, .null)
        }
    }

    /// After `tracking-table-max-keys` was lowered: evicts remembered keys down to it, at
    /// most `trackingEvictionsPerTick` per call (called by the timer, and before a request
    /// starts while the table is over the limit).
    func enforceTrackingLimit() {
        let excess = trackingTable.count - trackingKeysMax
        guard excess > 0 else { return }
        for key in Array(trackingTable.keys.prefix(min(excess, Self.trackingEvictionsPerTick))) { evictTracked(key) }
    }

    /// Forgets a remembered key, telling its readers to drop it (the table is full, or its
    /// shard left this node).
    private func evictTracked(_ key: Bytes) {
        for id in (trackingTable.removeValue(forKey: key) ?? []).sorted() { sendInvalidation(to: id, .array([.bulk(key)])) }
    }

    /// One invalidation message to `id`, or to the client it redirects to (Redis's
    /// sendTrackingMessage): a RESP3 push, or on RESP2 a `__redis__:invalidate` message to
    /// a subscribed redirect target. A missing target marks the redirect broken.
    private func sendInvalidation(to id: ClientID, _ keys: RESPValue) {
        guard let client = clients[id], let tracking = client.session.tracking else { return }
        let session = client.session
        guard let redirect = tracking.redirect else {
            if session.protocolVersion == .resp3 { pushOrHold(client, .push([.bulk("invalidate"), keys]), .resp3) }
            return
        }
        guard let targetClient = clients[redirect] else {
            session.tracking?.redirectBroken = true
            if session.protocolVersion == .resp3 {
                emit(.push(id, .push([.bulk("tracking-redir-broken"), .integer(Int64(redirect.rawValue))]), .resp3))
            }
            return
        }
        let target = targetClient.session
        if target.protocolVersion == .resp3 {
            pushOrHold(targetClient, .push([.bulk("invalidate"), keys]), .resp3)
        } else if target.isSubscribed {
            pushOrHold(targetClient, .push([.bulk("message"), .bulk("__redis__:invalidate"), keys]), .resp2)
        }
    }
}
