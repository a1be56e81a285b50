// Simulated RESP clients of the cluster simulator. Each client holds one connection to one
// node at a time (proxy mode: any node serves any key) and runs one operation at a time:
// SET, GET, INCR (also as an EVAL script that stores a random draw beside the key), or a
// compare-and-set made of WATCH k, GET k, then MULTI, SET k new,
// EXEC — recorded as CAS(k, expected: the value GET saw, new). Values are unique per
// operation, so no value ever comes back (no ABA) and the CAS reading is exact.
//
// Lists and sorted sets are checked as registers too, under register numbers past the
// string keys (see `RegisterSpace`): a list's tail element is a register that RPUSH writes
// (followed by an LTRIM that keeps the tail, so lists stay short and trimming is exercised)
// and LINDEX -1 reads; a member's score is a register that ZADD writes, ZINCRBY increments
// and ZSCORE reads. A push or a score lost, applied twice or applied out of order breaks
// linearizability like any lost SET.
//
// Outcomes: a reply is an observed output; an error that says nothing was applied (a
// redirect, TRYAGAIN, CLUSTERDOWN, EXECABORT, "write not applied") drops the operation from
// the history — so a dishonest "nothing applied" shows up as a linearizability violation;
// any other error, a timeout or a lost connection makes a write's outcome unknown.
import Core
import Engine
import Keyspace
import NodeRuntime
import Wire

struct SimulatedClient {
    var node = -1
    var connection: ClientID?
    var pending: PendingOperation?
    /// A node a MOVED reply named: the next operation connects there.
    var preferredNode: Int?
}

struct PendingOperation {
    enum Phase { case simple, watch, exec, cleanup }
    var id: Int
    var command: KVCommand
    var invocation: Int64
    var phase: Phase
    var awaiting: Int
    var replies: [RESPValue] = []
}

/// The administrator: adds a node, then removes one of the original members.
struct AdminClient {
    enum Step { case idle, adding(Int), removing(Int), done }
    var step = Step.idle
    var node = -1
    var connection: ClientID?
    var command: [Bytes]?
    var done: Bool { if case .done = step { return true } else { return false } }
    /// The node whose removal was asked for, once asked.
    var removedIndex: Int?
}

extension ClusterSimulator {
    /// Errors that promise the operation was not applied.
    static let definiteFailures = ["MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN", "EXECABORT", "CROSSSLOT", "ERR write not applied"]

    static func isDefiniteFailure(_ text: String) -> Bool {
        definiteFailures.contains { text.hasPrefix($0) }
    }

    // MARK: - Connections

    /// Nodes a client may connect to: running members that are not being removed.
    private var servingNodes: [Int] {
        nodes.indices.filter { nodes[$0].isRunning && nodes[$0].started && !removedNodes.contains($0) && joinedNodes.contains($0) }
    }

    func openConnection(_ owner: Int, preferred: Int?) -> (node: Int, connection: ClientID)? {
        let candidates = servingNodes
        guard !candidates.isEmpty else { return nil }
        let node = preferred.flatMap { candidates.contains($0) ? $0 : nil } ?? candidates[clientRandom.int(in: 0...(candidates.count - 1))]
        let connection = ClientID(rawValue: nextConnection)
        nextConnection += 1
        connectionOwners[connection] = owner
        // Loopback addresses: the simulated clients run beside the nodes (protected mode).
        input(node, .clientOpened(connection, address: "127.0.0.1:\(40000 + owner)", localAddress: "127.0.0.1:7000"))
        return (node, connection)
    }

    func closeConnection(node: Int, connection: ClientID) {
        connectionOwners.removeValue(forKey: connection)
        lastArrival.removeValue(forKey: connection)
        input(node, .clientClosed(connection))
    }

    func deliverReply(from node: Int, connection: ClientID, _ value: RESPValue) {
        guard let owner = connectionOwners[connection] else { return }
        traceLine("n\(node + 1) -> \(owner == Self.adminOwner ? "admin" : owner == Self.moverOwner ? "mover" : "c\(owner)"): \(value)")
        // One TCP connection: replies arrive in the order they were sent.
        let arrival = max(now + Int64(networkRandom.int(in: 50...500)), (lastArrival[connection] ?? 0) + 1)
        lastArrival[connection] = arrival
        let delay = arrival - now
        if owner == Self.adminOwner {
            queue.push(.adminReceive(connection: connection, value: value), at: now + delay)
        } else if owner == Self.moverOwner {
            queue.push(.moverReceive(connection: connection, value: value), at: now + delay)
        } else {
            queue.push(.clientReceive(client: owner, connection: connection, value: value), at: now + delay)
        }
    }

    func deliverClose(from node: Int, connection: ClientID) {
        guard let owner = connectionOwners.removeValue(forKey: connection) else { return }
        if owner == Self.adminOwner {
            queue.push(.adminRetry, at: now + 300_000)
            admin.connection = nil
        } else if owner == Self.moverOwner {
            queue.push(.moverRetry, at: now + 300_000)
            mover.connection = nil
        } else {
            queue.push(.clientDisconnected(client: owner, connection: connection), at: now)
        }
    }

    /// A node crashed: its clients' connections are gone.
    func dropConnections(of node: Int) {
        for client in clients.indices where clients[client].node == node {
            if let connection = clients[client].connection {
                connectionOwners.removeValue(forKey: connection)
                queue.push(.clientDisconnected(client: client, connection: connection), at: now)
            }
        }
        if admin.node == node, let connection = admin.connection {
            connectionOwners.removeValue(forKey: connection)
            admin.connection = nil
            queue.push(.adminRetry, at: now + 300_000)
        }
        if mover.node == node, let connection = mover.connection {
            connectionOwners.removeValue(forKey: connection)
            mover.connection = nil
            queue.push(.moverRetry, at: now + 300_000)
        }
    }

    // MARK: - Operations

    func startOperation(_ client: Int) {
        guard clients[client].pending == nil, operationsStarted < options.operations else { return }
        // Plain clients behind a load balancer land on any node: now and then move.
        if let connection = clients[client].connection, clientRandom.chance(0.3) {
            closeConnection(node: clients[client].node, connection: connection)
            clients[client].connection = nil
        }
        if clients[client].connection == nil {
            guard let (node, connection) = openConnection(client, preferred: clients[client].preferredNode) else {
                queue.push(.clientStart(client: client), at: now + 100_000)
                return
            }
            clients[client].node = node
            clients[client].connection = connection
            clients[client].preferredNode = nil
        }
        operationsStarted += 1
        let id = operationsStarted
        let key = clientRandom.int(in: 0...(options.keys - 1))
        let name = Array("k\(key)".utf8)
        let unique = Int64(client + 1) << 40 | Int64(id) << 16
        let roll = clientRandom.int(in: 0...99)
        var operation: PendingOperation
        var requests: [[Bytes]]
        switch roll {
        case 0..<35:
            operation = PendingOperation(id: id, command: .get(key: key), invocation: now, phase: .simple, awaiting: 1)
            requests = [[Array("GET".utf8), name]]
        case 35..<60:
            operation = PendingOperation(id: id, command: .set(key: key, value: unique), invocation: now, phase: .simple, awaiting: 1)
            requests = [[Array("SET".utf8), name, Array(String(unique).utf8)]]
        case 60..<75:
            operation = PendingOperation(id: id, command: .increment(key: key), invocation: now, phase: .simple, awaiting: 1)
            requests = [[Array("INCR".utf8), name]]
        case 75..<79:
            let register = RegisterSpace.listTail.register(key, keys: options.keys)
            operation = PendingOperation(id: id, command: .set(key: register, value: unique), invocation: now, phase: .simple, awaiting: 2)
            let list = RegisterSpace.listTail.name(key)
            requests = [[Array("RPUSH".utf8), list, Array(String(unique).utf8)], [Array("LTRIM".utf8), list, Array("-3".utf8), Array("-1".utf8)]]
        case 79..<82:
            let register = RegisterSpace.listTail.register(key, keys: options.keys)
            operation = PendingOperation(id: id, command: .get(key: register), invocation: now, phase: .simple, awaiting: 1)
            requests = [[Array("LINDEX".utf8), RegisterSpace.listTail.name(key), Array("-1".utf8)]]
        case 82..<85:
            let register = RegisterSpace.memberScore.register(key, keys: options.keys)
            let zset = RegisterSpace.memberScore.name(key)
            switch clientRandom.int(in: 0...2) {
            case 0:
                operation = PendingOperation(id: id, command: .set(key: register, value: unique), invocation: now, phase: .simple, awaiting: 1)
                requests = [[Array("ZADD".utf8), zset, Array(String(unique).utf8), Array("m".utf8)]]
            case 1:
                operation = PendingOperation(id: id, command: .increment(key: register), invocation: now, phase: .simple, awaiting: 1)
                requests = [[Array("ZINCRBY".utf8), zset, Array("1".utf8), Array("m".utf8)]]
            default:
                operation = PendingOperation(id: id, command: .get(key: register), invocation: now, phase: .simple, awaiting: 1)
                requests = [[Array("ZSCORE".utf8), zset, Array("m".utf8)]]
            }
        case 85..<88:
            // The same increment as a script that also stores a random draw and the time
            // beside the key: replicas run scripts themselves, so they converge only if
            // scripts are deterministic.
            operation = PendingOperation(id: id, command: .increment(key: key), invocation: now, phase: .simple, awaiting: 1)
            requests = [[Array("EVAL".utf8), Self.incrementScript, Array("1".utf8), name]]
        case 88..<90:
            // An increment by a script too long for its trial's slice: it reruns off the
            // node's thread and its effects enter the log as a transaction watching the key
            // (or, when the key changed meanwhile, the script itself does).
            operation = PendingOperation(id: id, command: .increment(key: key), invocation: now, phase: .simple, awaiting: 1)
            requests = [[Array("EVAL".utf8), Self.slowIncrementScript, Array("1".utf8), name]]
        default:
            operation = PendingOperation(id: id, command: .compareAndSet(key: key, expected: nil, new: unique), invocation: now, phase: .watch, awaiting: 2)
            requests = [[Array("WATCH".utf8), name], [Array("GET".utf8), name]]
        }
        clients[client].pending = operation
        traceLine("c\(client) #\(id) \(operation.command) on n\(clients[client].node + 1)")
        send(client, requests)
        queue.push(.clientTimeout(client: client, operation: id), at: now + options.operationTimeoutMilliseconds * 1000)
    }

    /// Which register numbers name what: string keys are 0..<keys, then each key's list
    /// tail, then each key's sorted-set member score. All of a key's registers share its
    /// hash tag, so they live in one slot.
    enum RegisterSpace: Int {
        case listTail = 1, memberScore = 2

        func register(_ key: Int, keys: Int) -> Int { rawValue * keys + key }

        func name(_ key: Int) -> Bytes {
            Array((self == .listTail ? "{k\(key)}:list" : "{k\(key)}:zset").utf8)
        }
    }

    static let incrementScript = Array("""
        redis.call('set', '{' .. KEYS[1] .. '}:draw', math.random(1000000000) .. '@' .. redis.call('time')[2])
        return redis.call('incr', KEYS[1])
        """.utf8)

    /// Reads the key, spins past the slice (`scriptSliceInstructions`), then increments
    /// what it read: an effect replayed on a changed key would return a stale count.
    static let slowIncrementScript = Array("""
        local current = tonumber(redis.call('get', KEYS[1]) or '0')
        local spin = 0
        for i = 1, 20000 do spin = spin + 1 end
        redis.call('set', KEYS[1], current + 1)
        return current + 1
        """.utf8)

    /// VM instructions a script's trial runs before it goes off the thread.
    static let scriptSliceInstructions: Int64 = 20_000

    private func send(_ client: Int, _ requests: [[Bytes]]) {
        guard let connection = clients[client].connection else { return }
        for request in requests {
            traceLine("c\(client) -> n\(clients[client].node + 1): \(request.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " "))")
            input(clients[client].node, .request(connection, request))
        }
    }

    func receive(_ client: Int, connection: ClientID, _ value: RESPValue) {
        guard clients[client].connection == connection, var operation = clients[client].pending else { return }
        if case .error(let text) = value, text.hasPrefix("ASK ") {
            // A handed-off slot's requests are forwarded to the target: a client that
            // does not know the target (redis-py) could not follow -ASK.
            report.violations.append("c\(client) #\(operation.id) \(operation.command): a client was sent -\(text)")
        }
        operation.replies.append(value)
        operation.awaiting -= 1
        clients[client].pending = operation
        guard operation.awaiting == 0 else { return }
        switch operation.phase {
        case .simple: completeSimple(client, operation)
        case .watch: completeWatch(client, operation)
        case .exec: completeExec(client, operation)
        case .cleanup: finishOperation(client, operation, output: nil, refused: true)
        }
    }

    private func completeSimple(_ client: Int, _ operation: PendingOperation) {
        let reply = operation.replies[0]
        if case .error(let text) = reply {
            if operation.command.isRead || Self.isDefiniteFailure(text) {
                noteRedirect(client, text)
                return finishOperation(client, operation, output: nil, refused: true)
            }
            return finishOperation(client, operation, output: nil, refused: false)
        }
        guard let output = output(of: operation.command, reply) else {
            report.violations.append("c\(client) #\(operation.id) \(operation.command): unexpected reply \(reply)")
            return finishOperation(client, operation, output: nil, refused: true)
        }
        finishOperation(client, operation, output: output, refused: false)
    }

    private func completeWatch(_ client: Int, _ operation: PendingOperation) {
        var operation = operation
        let watched = operation.replies[0]
        let read = operation.replies[1]
        guard case .simple = watched, case .value(let expected)? = output(of: .get(key: operation.command.key), read) else {
            if case .error(let text) = watched { noteRedirect(client, text) }
            // A redirect closed the connection (and its watches with it).
            if clients[client].connection == nil { return finishOperation(client, operation, output: nil, refused: true) }
            // The WATCH may have registered: clear it before the next operation.
            operation.phase = .cleanup
            operation.awaiting = 1
            operation.replies = []
            clients[client].pending = operation
            return send(client, [[Array("UNWATCH".utf8)]])
        }
        guard case .compareAndSet(let key, _, let new) = operation.command else { return }
        operation.command = .compareAndSet(key: key, expected: expected, new: new)
        operation.phase = .exec
        operation.awaiting = 3
        operation.replies = []
        clients[client].pending = operation
        send(client, [[Array("MULTI".utf8)], [Array("SET".utf8), Array("k\(key)".utf8), Array(String(new).utf8)], [Array("EXEC".utf8)]])
    }

    private func completeExec(_ client: Int, _ operation: PendingOperation) {
        switch operation.replies[2] {
        case .array: finishOperation(client, operation, output: .swapped(true), refused: false)
        case .nullArray: finishOperation(client, operation, output: .swapped(false), refused: false)
        case .error(let text):
            noteRedirect(client, text)
            finishOperation(client, operation, output: nil, refused: Self.isDefiniteFailure(text))
        default:
            report.violations.append("c\(client) #\(operation.id) EXEC: unexpected reply \(operation.replies[2])")
            finishOperation(client, operation, output: nil, refused: true)
        }
    }

    private func output(of command: KVCommand, _ reply: RESPValue) -> KVOutput? {
        switch (command, reply) {
        case (.get, .null): return .value(nil)
        case (.get, .bulk(let bytes)):
            guard let value = Int64(String(decoding: bytes, as: UTF8.self)) else { return nil }
            return .value(value)
        case (.set, .simple("OK")): return .ok
        case (.set, .integer): return .ok  // RPUSH's length, ZADD's count of added members
        case (.increment, .integer(let value)): return .value(value)
        case (.increment, .bulk(let bytes)):  // ZINCRBY's new score (RESP2), an integer here
            guard let value = Int64(String(decoding: bytes, as: UTF8.self)) else { return nil }
            return .value(value)
        case (.increment, .double(let score)), (.get, .double(let score)):  // ZINCRBY and ZSCORE on RESP3
            guard let value = Int64(exactly: score) else { return nil }
            return .value(value)
        default: return nil
        }
    }

    /// A MOVED names the node to use next time (as a cluster-aware client would).
    private func noteRedirect(_ client: Int, _ text: String) {
        guard text.hasPrefix("MOVED "), let colon = text.lastIndex(of: ":"),
              let port = Int(text[text.index(after: colon)...]) else { return }
        let node = port - 7001
        if node >= 0, node < nodes.count, node != clients[client].node {
            clients[client].preferredNode = node
            if let connection = clients[client].connection { closeConnection(node: clients[client].node, connection: connection) }
            clients[client].connection = nil
        }
    }

    func finishOperation(_ client: Int, _ operation: PendingOperation, output: KVOutput?, refused: Bool) {
        clients[client].pending = nil
        if refused {
            report.operationsRefused += 1
        } else if let output {
            report.operationsCompleted += 1
            history.append(HistoryOperation(client: client, command: operation.command, output: output, invocation: operation.invocation, completion: now))
        } else if !operation.command.isRead {
            report.operationsUnknown += 1
            history.append(HistoryOperation(client: client, command: operation.command, output: nil, invocation: operation.invocation, completion: now))
        }
        traceLine("c\(client) #\(operation.id) \(operation.command) -> \(refused ? "refused" : output?.description ?? "unknown")")
        queue.push(.clientStart(client: client), at: now + thinkTimeMicros())
    }

    /// A pause between a client's operations, so the workload spans the fault phase
    /// (on average the phase's length over each client's share of the operations).
    private func thinkTimeMicros() -> Int64 {
        let mean = options.faultPhaseMilliseconds * 1000 * Int64(options.clients) / Int64(max(1, options.operations))
        return Int64(clientRandom.int(in: 0...Int(max(2, 2 * mean * 8 / 10))))
    }

    /// The client gave up waiting, or lost its connection: a write's outcome is unknown.
    func abandon(_ client: Int) {
        guard let operation = clients[client].pending else { return }
        let unknownWrite = operation.phase == .simple ? !operation.command.isRead : operation.phase == .exec
        if let connection = clients[client].connection {
            if connectionOwners[connection] != nil { closeConnection(node: clients[client].node, connection: connection) }
            clients[client].connection = nil
        }
        finishOperation(client, operation, output: nil, refused: !unknownWrite)
    }

    func timeout(_ client: Int, operation: Int) {
        guard clients[client].pending?.id == operation else { return }
        abandon(client)
    }

    func disconnected(_ client: Int, connection: ClientID) {
        guard clients[client].connection == connection else { return }
        if clients[client].pending != nil {
            abandon(client)
        } else {
            clients[client].connection = nil
        }
    }
}
