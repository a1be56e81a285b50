// Client connections as the node sees them: a session, the requests not started yet and a
// reply slot per started request. Requests may be answered out of order by the shards (a
// read on one shard can finish before a write on another), so each started request gets a
// slot in arrival order and replies leave in that order.
//
// Ordering rule, so a connection always sees its own writes: a write may start while
// earlier writes are still in flight (they enter their shard's log in order), but any
// other request starts only when everything before it has been answered.
//
// Bounds: the shell stops reading a connection that has `clientRequestsMax` requests
// without a reply; the node enforces the same bound by closing a client that exceeds it.
import Collections
import Core
import Engine
import Keyspace
import Wire

final class ReplySlot {
    var reply: RESPValue?
    var version: ProtocolVersion
    let isWrite: Bool
    /// CLIENT REPLY OFF or SKIP: the reply is not written (the slot keeps its place).
    var silent = false
    /// What a started request's answer needs: who asked, what, and since when (a protocol
    /// error's slot has no node: nothing started). Fields of the slot itself, not a struct
    /// in it: reading such a struct out of a class copies it, a retain of each reference.
    let node: Node?
    let client: ClientPipeline?
    let request: [Bytes]
    let spec: CommandSpec?
    let startedMicroseconds: Int64

    /// A protocol error's slot.
    init(version: ProtocolVersion, isWrite: Bool) {
        self.version = version
        self.isWrite = isWrite
        (node, client, request, spec, startedMicroseconds) = (nil, nil, [], nil, 0)
    }

    /// A started request's slot.
    init(version: ProtocolVersion, isWrite: Bool, node: Node, client: ClientPipeline, request: [Bytes], spec: CommandSpec?,
         startedMicroseconds: Int64) {
        self.version = version
        self.isWrite = isWrite
        (self.node, self.client, self.request, self.spec, self.startedMicroseconds) = (node, client, request, spec, startedMicroseconds)
    }

    /// The request's reply sink: the slot is its only capture, so handing it out
    /// allocates nothing.
    func answer(_ value: RESPValue) {
        node?.answered(self, with: value, later: true)
    }
}

/// A request the client sent that has not started yet, or the protocol error that ended
/// its stream (answered in its turn, then the connection closes).
enum WaitingRequest {
    case request([Bytes])
    case protocolError(String)
}

final class ClientPipeline {
    let session: Session
    var waiting = Deque<WaitingRequest>()
    var slots = Deque<ReplySlot>()
    var unansweredOthers = 0
    var processing = false
    var closeWhenAnswered = false
    /// No more replies go out (the connection is closing or gone).
    var closed = false
    /// Slots answered and taken off so far (held pushes count their place by it).
    var slotsAnswered = 0
    /// Pushes waiting for replies owed before them (Node+HeldPushes).
    var heldPushes = Deque<HeldPush>()
    /// Its requests blocked waiting for data (BLPOP and the like).
    var blockedRequests = 0

    init(session: Session) { self.session = session }

    var unanswered: Int { waiting.count + slots.count }
}

extension Node {
    /// Most requests one client may have sent without a reply yet.
    public static let clientRequestsMax = 4096

    func openClient(_ id: ClientID, address: String, localAddress: String) {
        guard clients[id] == nil else {
            assertionFailure("client id \(id) opened twice")
            return
        }
        if draining || front.sessions.count >= front.settings.maxClients {
            emit(.reply(id, .error("ERR max number of clients reached"), .resp2))
            emit(.close(id))
            return
        }
        if ProtectedMode.refuses(address, settings: front.settings) {
            logger.warning("client refused: protected mode (no password set) and not on loopback", metadata: ["address": "\(address)"])
            emit(.reply(id, .error(ProtectedMode.deniedMessage), .resp2))
            emit(.close(id))
            return
        }
        let session = front.connect(id: id, address: address, localAddress: localAddress, now: now())
        clients[id] = ClientPipeline(session: session)
    }

    func receiveRequest(_ id: ClientID, _ arguments: [Bytes]) {
        guard let client = clients[id], !client.closed, !client.closeWhenAnswered, !arguments.isEmpty else { return }
        guard client.unanswered < Self.clientRequestsMax else {
            return receiveProtocolError(id, message: "ERR Protocol error: too many requests without reading replies")
        }
        client.waiting.append(.request(arguments))
        process(client)
    }

    /// Several requests of one client, in order: queued together, then started.
    func receiveRequests(_ id: ClientID, _ list: [[Bytes]]) {
        guard let client = clients[id] else { return }
        for arguments in list where !arguments.isEmpty {
            guard !client.closed, !client.closeWhenAnswered else { return }
            guard client.unanswered < Self.clientRequestsMax else {
                process(client)
                return receiveProtocolError(id, message: "ERR Protocol error: too many requests without reading replies")
            }
            client.waiting.append(.request(arguments))
        }
        process(client)
    }

    func receiveProtocolError(_ id: ClientID, message: String) {
        guard let client = clients[id], !client.closed, !client.closeWhenAnswered else { return }
        front.stats.protocolErrors += 1
        client.waiting.append(.protocolError(message))
        process(client)
    }

    func closeClient(_ id: ClientID) {
        guard let client = clients.removeValue(forKey: id) else { return }
        client.closed = true
        // Unanswered slots hold their client (ReplySlot.client): let them go with it.
        client.slots.removeAll()
        unwatchAll(client.session)
        unsubscribeAll(client.session)
        unblockClosed(id)
        monitors.removeAll { $0 == id }
        if replicationLinks.removeValue(forKey: id) != nil { logger.info("a replica is detached", metadata: ["client": "\(client.session.address)"]) }
        trackingClients.remove(id)
        pausedClients.remove(id)
        front.disconnect(client.session)
        if following?.client == id { masterClientClosed() }
    }

    /// Closes other clients (CLIENT KILL): no more replies go to them.
    func kill(_ ids: [ClientID]) {
        for id in ids {
            guard let client = clients[id], !client.closed else { continue }
            client.closed = true
            emit(.close(id))
        }
    }

    /// Starts what a client had waiting (after a pause).
    func resumeClient(_ id: ClientID) {
        if let client = clients[id] { process(client) }
    }

    /// Starts every waiting request that may start now; stops at the first that must wait.
    private func process(_ client: ClientPipeline) {
        guard !client.processing else { return }
        client.processing = true
        defer { client.processing = false }
        // Taken off the queue, and put back if it must wait: moved, not copied (a copy of
        // a request retains it and each of its arguments' buffers).
        while !client.closed, !client.closeWhenAnswered, let next = client.waiting.popFirst() {
            switch next {
            case .protocolError(let message):
                client.closeWhenAnswered = true
                let slot = ReplySlot(version: client.session.protocolVersion, isWrite: true)
                client.slots.append(slot)
                fill(client, slot, with: .error(message))
            case .request(let request):
                let spec = CommandTable.lookup(request[0])
                // A blocking command holds the connection as Redis's does: nothing after it
                // starts until it is answered.
                var isWrite = !client.session.inTransaction && (spec?.isWrite ?? false) && !(spec?.isBlocking ?? false)
                if isWrite, let id = spec?.id, id == .eval || id == .evalsha || id == .fcall, !scriptMayPipeline(request, id: id) {
                    isWrite = false  // a trial script (Node+BusyScripts.swift)
                }
                let mayStart = isWrite ? client.unansweredOthers == 0 : client.slots.isEmpty
                guard mayStart else {
                    client.waiting.prepend(next)
                    return
                }
                if clientPause != nil, pausePostpones(request, spec: spec, session: client.session) {
                    pausedClients.insert(client.session.id)  // CLIENT PAUSE: started when it ends
                    client.waiting.prepend(next)
                    return
                }
                startRequest(request, spec: spec, isWrite: isWrite, on: client)
            }
        }
    }

    private func startRequest(_ request: [Bytes], spec: CommandSpec?, isWrite: Bool, on client: ClientPipeline) {
        let session = client.session
        commandsServed += 1
        // As Redis: a lowered `tracking-table-max-keys` evicts remembered keys before the
        // next command runs, so their invalidations precede its reply (the timer does the
        // same when no command comes).
        if !trackingTable.isEmpty, trackingTable.count > trackingKeysMax { enforceTrackingLimit() }
        if !monitors.isEmpty { feedMonitors(request, spec: spec, database: session.database, address: session.address, from: session.id) }
        let slot = ReplySlot(version: session.protocolVersion, isWrite: isWrite, node: self, client: client, request: request, spec: spec,
                             startedMicroseconds: inputMonotonicMicroseconds())
        if session.replyMode != .on {
            slot.silent = true
            if session.replyMode == .skipNext { session.replyMode = .on }
        }
        client.slots.append(slot)
        if !isWrite { client.unansweredOthers += 1 }
        // The sink holds the slot, which holds the client and the node: strong references
        // that live only until the request is answered (a closing client drops its slots).
        let outcome = serve(request, spec: spec, session: session, forwarded: false, reply: slot.answer)
        guard let outcome else { return }
        slot.version = session.protocolVersion
        // CLIENT REPLY OFF and SKIP are not answered; ON is, even after OFF.
        if spec?.id == .client, request.count == 3, Self.lowercased(request[1]) == Array("reply".utf8), !outcome.reply.isError {
            slot.silent = session.replyMode != .on
        }
        if !outcome.killed.isEmpty { kill(outcome.killed.filter { $0 != session.id }) }
        if outcome.close || session.killed { client.closeWhenAnswered = true }
        answered(slot, with: outcome.reply)
    }

    /// A started request's reply: counted (once), then put in its slot.
    ///
    /// Its duration is what Redis times, the command's execution: a reply given `later`
    /// (a write once its entry is applied) does not count the time its entry waited from
    /// its proposal to its apply (`answerWaitMicroseconds`: the quorum, the fsync, room in
    /// the log), so a write waiting under load is not slow in SLOWLOG, INFO commandstats
    /// or LATENCY. Other waits (a read's lease check, a blocked command) still count.
    func answered(_ slot: ReplySlot, with value: RESPValue, later: Bool = false) {
        guard let client = slot.client else { return }
        if slot.reply == nil {
            let waited = later ? answerWaitMicroseconds ?? 0 : 0
            finished(slot.request, spec: slot.spec, session: client.session, reply: value,
                     startedMicroseconds: slot.startedMicroseconds + waited, later: later)
        }
        fill(client, slot, with: value)
    }

    /// MONITOR: each request this node's clients send, as Redis prints it (`<seconds>.<us>
    /// [0 <address>] "arg" ...`), except commands flagged admin.
    /// `from`: the client that sent it (not shown its own), nil for a script's call.
    func feedMonitors(_ request: [Bytes], spec: CommandSpec?, database: Int, address: String, from sender: ClientID?) {
        // `skip_monitor` marks the scripting commands, which Redis shows itself as they
        // start, before the commands they call: here every request is shown as it starts.
        guard let spec, !spec.flags.contains("admin") else { return }
        let time = now()
        let micros = String((time % 1000) * 1000)
        var line = "\(time / 1000).\(String(repeating: "0", count: max(0, 6 - micros.count)))\(micros) [\(database) \(address)]"
        for argument in SlowLog.redacted(request) { line += " " + Self.quoted(argument) }
        for id in monitors where id != sender {
            guard let monitor = clients[id] else { continue }
            emit(.push(id, .simple(line), monitor.session.protocolVersion))
        }
    }

    /// Redis's sdscatrepr: a double-quoted string with C escapes and \xHH for other bytes.
    static func quoted(_ bytes: Bytes) -> String {
        var text = "\""
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): text += "\\\\"
            case UInt8(ascii: "\""): text += "\\\""
            case 0x0a: text += "\\n"
            case 0x0d: text += "\\r"
            case 0x09: text += "\\t"
            case 0x07: text += "\\a"
            case 0x08: text += "\\b"
            case 0x20...0x7e: text.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = Array("0123456789abcdef")
                text += "\\x" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0x0f)])
            }
        }
        return text + "\""
    }

    /// Records a reply and outputs every answered reply at the head of the queue.
    private func fill(_ client: ClientPipeline, _ slot: ReplySlot, with value: RESPValue) {
        guard slot.reply == nil else { return }
        slot.reply = value
        if !slot.isWrite { client.unansweredOthers -= 1 }
        assert(client.unansweredOthers >= 0, "more replies than requests")
        while let head = client.slots.first, let reply = head.reply {
            client.slots.removeFirst()
            client.slotsAnswered &+= 1
            // CLIENT REPLY OFF|SKIP silences replies, not pushes (a SUBSCRIBE's confirmation
            // still arrives, as in Redis 7.2).
            if !client.closed, !head.silent || reply.isPush { emit(.reply(client.session.id, reply, head.version)) }
            if !client.heldPushes.isEmpty { releaseHeldPushes(client) }
        }
        if client.closeWhenAnswered, client.slots.isEmpty, !client.closed {
            client.closed = true
            emit(.close(client.session.id))
            return
        }
        if !client.processing, !client.waiting.isEmpty { process(client) }
    }
}
