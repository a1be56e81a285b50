// Simulated clients: each runs one operation at a time, follows redirects to the leader,
// retries requests that were certainly not applied, and gives up after a timeout (the
// operation is then recorded as possibly applied). Every operation enters the history
// with its invocation and completion in simulated time.

import Consensus
import Core

extension Simulator {
    func startOperation(_ client: Int) {
        guard !clients[client].done, clients[client].command == nil else { return }
        guard operationsStarted < options.operations else {
            clients[client].done = true
            return
        }
        if !healing, operationsStarted * 5 >= options.operations * 4 { startHealing() }
        operationsStarted += 1
        clients[client].operation += 1
        let command = randomCommand(client)
        clients[client].command = command
        clients[client].invocation = now
        if clientRandom.chance(0.5) { clients[client].target = clientRandom.int(in: 0...(nodes.count - 1)) }
        trace("client \(client) invokes \(command) at n\(clients[client].target + 1)")
        schedule(.clientTimeout(client: client, operation: clients[client].operation), after: options.operationTimeoutMicros)
        schedule(.clientRetransmit(client: client, operation: clients[client].operation), after: Self.retransmitMicros)
        sendRequest(client)
    }

    /// A client that hears nothing sends the same operation again, to a random node half
    /// the time; sessions make a write that arrives twice take effect once.
    static let retransmitMicros: Int64 = 150_000

    func retransmit(client: Int, operation: Int) {
        guard clients[client].operation == operation, clients[client].command != nil else { return }
        if clientRandom.chance(0.5) { clients[client].target = clientRandom.int(in: 0...(nodes.count - 1)) }
        sendRequest(client)
        schedule(.clientRetransmit(client: client, operation: operation), after: Self.retransmitMicros)
    }

    func randomCommand(_ client: Int) -> KVCommand {
        let key = clientRandom.int(in: 0...(options.keys - 1))
        let unique = Int64(client + 1) * 1_000_000 + Int64(clients[client].operation)
        switch clientRandom.int(in: 0...99) {
        case 0..<35: return .get(key: key)
        case 35..<55: return .set(key: key, value: unique)
        case 55..<80: return .increment(key: key)
        default: return .compareAndSet(key: key, expected: clients[client].lastSeen[key], new: unique)
        }
    }

    func sendRequest(_ client: Int) {
        guard let command = clients[client].command else { return }
        let request = ClientRequest(client: client, operation: clients[client].operation, command: command)
        if clientRandom.chance(lossRate) { return }
        schedule(.request(node: clients[client].target, request), after: networkDelay())
    }

    func resend(client: Int, operation: Int) {
        guard clients[client].operation == operation, clients[client].command != nil else { return }
        sendRequest(client)
    }

    func receive(_ request: ClientRequest, at index: Int) {
        guard nodes[index].isUp else { return }
        if nodes[index].paused {
            nodes[index].inbox.append(.request(request))
            return
        }
        if request.command.isRead { handleRead(request, at: index) } else { handleWrite(request, at: index) }
        drain(index)
    }

    func handleWrite(_ request: ClientRequest, at index: Int) {
        let envelope = CommandEnvelope(client: request.client, operation: request.operation, command: request.command)
        do {
            try nodes[index].raft?.propose(envelope.encode())
            nodes[index].writeWaiters[SimulatedNode.waiterKey(client: request.client, operation: request.operation)] = request
        } catch {
            reject(request, from: index, error)
        }
    }

    func handleRead(_ request: ClientRequest, at index: Int) {
        if clientRandom.chance(options.leaseReadShare), let readIndex = try? nodes[index].raft?.leaseRead() {
            checkLeaseExclusive(reader: index)
            nodes[index].readsAwaitingApply.append((readIndex, request))
            report.leaseReads += 1
            return
        }
        let context = nodes[index].nextReadContext
        nodes[index].nextReadContext += 1
        do {
            try nodes[index].raft?.readIndex(context: context)
            nodes[index].readWaiters[context] = request
        } catch {
            reject(request, from: index, error)
        }
    }

    /// While a leader holds a lease (and so may serve reads alone), no node may lead a
    /// later term.
    func checkLeaseExclusive(reader: Int) {
        guard let term = nodes[reader].raft?.term else { return }
        for node in nodes where node.raft?.roleKind == .leader {
            guard let other = node.raft?.term, other > term else { continue }
            invariants.fail("lease safety: \(nodes[reader].id) holds a lease in \(term) while \(node.id) leads \(other)")
            return
        }
    }

    func reject(_ request: ClientRequest, from index: Int, _ error: RaftError) {
        if case let .notLeader(leader) = error {
            reply(to: request, from: index, .redirect(leader))
        } else {
            reply(to: request, from: index, .retry)
        }
    }

    func reply(to request: ClientRequest, from index: Int, _ reply: ClientReply) {
        if networkRandom.chance(lossRate) { return }
        schedule(.reply(client: request.client, operation: request.operation, reply), after: networkDelay())
    }

    func handleReply(client: Int, operation: Int, _ reply: ClientReply) {
        guard clients[client].operation == operation, clients[client].command != nil else { return }
        switch reply {
        case .output(let output):
            complete(client, output: output)
        case .redirect(let leader):
            let hinted = Int(leader.rawValue) - 1
            clients[client].target = nodes.indices.contains(hinted) ? hinted : clientRandom.int(in: 0...(nodes.count - 1))
            schedule(.clientResend(client: client, operation: operation), after: Int64(clientRandom.int(in: 1_000...10_000)))
        case .retry:
            schedule(.clientResend(client: client, operation: operation), after: 10_000)
        }
    }

    func timeOut(client: Int, operation: Int) {
        guard clients[client].operation == operation, clients[client].command != nil else { return }
        complete(client, output: nil)
        clients[client].target = clientRandom.int(in: 0...(nodes.count - 1))
    }

    func complete(_ client: Int, output: KVOutput?) {
        guard let command = clients[client].command else { return }
        let operation = HistoryOperation(client: client, command: command, output: output,
                                         invocation: clients[client].invocation, completion: now)
        history.append(operation)
        trace("client \(client) completes \(operation)")
        mix(UInt64(client) << 40 | UInt64(clients[client].operation))
        if output == nil { report.operationsTimedOut += 1 } else { report.operationsCompleted += 1 }
        switch (command, output) {
        case let (.set(key, value), .some): clients[client].lastSeen[key] = value
        case let (.get(key), .value(value)?), let (.increment(key), .value(value)?): clients[client].lastSeen[key] = value
        case let (.compareAndSet(key, _, new), .swapped(true)?): clients[client].lastSeen[key] = new
        default: break
        }
        clients[client].command = nil
        schedule(.clientStart(client: client), after: Int64(clientRandom.int(in: 0...thinkMicrosMax)))
    }
}
