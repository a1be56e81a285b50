// The load generator's state machine for one target: its connections and the phase being
// measured. Everything here runs on the one client event loop, so there are no locks.
// Invariants: every operation issued in a phase ends exactly once, as a success (latency
// recorded), an error or a timeout; `issued - ended` is the phase's outstanding count; a
// phase ends only when nothing is outstanding or the drain time has passed, and then all
// that is left is counted as timeouts. Open loop measures from each request's intended
// send time, so latency includes client-side queueing and a stalled server shows.
import Core
import NIOCore
import NIOPosix
import Wire

/// How the phase issues operations.
enum PhaseMode: Equatable, Sendable {
    case closedLoop
    case openLoop(ratePerSecond: Double)
    /// One PING per ready connection, to check that every connection is served.
    case onePerConnection
}

/// The running phase's counters.
struct PhaseState {
    var id: Int
    var mode: PhaseMode
    var startNanos: UInt64
    var deadlineNanos: UInt64
    var requestLimit: Int
    var issued = 0
    var ended = 0
    var issuing = true
    var promise: EventLoopPromise<PhaseOutcome>
    var drainTask: Scheduled<Void>?
    var outstanding: Int { issued - ended }
}

/// What a finished phase measured.
struct PhaseOutcome: Sendable {
    var recorder: LatencyRecorder
    var elapsedSeconds: Double
    var issued: Int
}

final class LoadPool: @unchecked Sendable {
    let loop: EventLoop
    let settings: LoadSettings
    private(set) var connections: [BenchConnection] = []
    private var redirectConnections: [BenchAddress: BenchConnection] = [:]
    /// Slots a MOVED reply assigned elsewhere; empty against a single node.
    private var slotOwners: [Int: BenchAddress] = [:]
    private var generator: OperationGenerator
    private var dirty: [BenchConnection] = []
    private var phase: PhaseState?
    /// The running phase's latencies. Kept outside `PhaseState` so recording never copies
    /// the histogram (a copy of the phase state would share its storage).
    private var recorder = LatencyRecorder()
    /// Where the open loop assigns its next request (round robin over live connections).
    private var openLoopCursor = 0
    private var phaseCounter = 0
    private let keyPrefix: [UInt8]
    private let value: [UInt8]
    let progress: ProgressReporter?

    init(loop: EventLoop, settings: LoadSettings, progress: ProgressReporter?) {
        self.loop = loop
        self.settings = settings
        self.progress = progress
        generator = OperationGenerator(workload: settings.workload, keyspace: settings.keyspace, seed: settings.seed)
        keyPrefix = Array(settings.keyPrefix.utf8)
        value = [UInt8](repeating: UInt8(ascii: "x"), count: settings.valueBytes)
    }

    // MARK: - Connections

    /// Opens `count` more connections to the target, `batch` at a time.
    func connect(count: Int, batch: Int) -> EventLoopFuture<Int> {
        loop.preconditionInEventLoop()
        let wanted = min(count, BenchLimits.connectionsMax - connections.count)
        var future = loop.makeSucceededFuture(0)
        var remaining = wanted
        while remaining > 0 {
            let size = min(batch, remaining)
            remaining -= size
            future = future.flatMap { failuresSoFar in
                let base = self.connections.count
                let opened = (0..<size).map { self.open(self.settings.target, index: base + $0) }
                for connection in opened { self.connections.append(connection.0) }
                return EventLoopFuture.whenAllComplete(opened.map(\.1), on: self.loop).map { results in
                    failuresSoFar + results.filter { if case .failure = $0 { return true } else { return false } }.count
                }
            }
        }
        return future
    }

    private func open(_ address: BenchAddress, index: Int) -> (BenchConnection, EventLoopFuture<Void>) {
        let connection = BenchConnection(index: index, address: address, pool: self)
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BenchChannelHandler(connection: connection))
                }
            }
        let future = bootstrap.connect(host: address.host, port: address.port).map { channel in
            connection.attach(channel)
            self.drainBacklog(of: connection)
            self.flushDirty()
        }
        future.whenFailure { _ in self.connectionFailed(connection, kind: "connect") }
        return (connection, future)
    }

    var liveConnectionCount: Int { connections.filter(\.isReady).count }

    func closeAll() {
        for connection in connections + Array(redirectConnections.values) { _ = connection.close() }
    }

    // MARK: - Phases

    func startPhase(mode: PhaseMode, durationSeconds: Double?, requestLimit: Int?) -> EventLoopFuture<PhaseOutcome> {
        loop.preconditionInEventLoop()
        let promise = loop.makePromise(of: PhaseOutcome.self)
        guard phase == nil else {
            promise.fail(BenchError.invalid("a phase is already running"))
            return promise.futureResult
        }
        for connection in connections { connection.backlog.removeAll() }
        phaseCounter += 1
        let now = NIODeadline.now().uptimeNanoseconds
        let seconds = min(durationSeconds ?? BenchLimits.durationSecondsMax, BenchLimits.durationSecondsMax)
        var limit = min(requestLimit ?? BenchLimits.requestsMax, BenchLimits.requestsMax)
        if mode == .onePerConnection { limit = connections.count }
        let id = phaseCounter
        recorder.reset()
        phase = PhaseState(id: id, mode: mode, startNanos: now,
                           deadlineNanos: now + UInt64(seconds * 1e9), requestLimit: limit, promise: promise)
        loop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { self.stopIssuing(phaseID: id) }
        progress?.start(on: loop, pool: self)
        switch mode {
        case .closedLoop:
            for connection in connections where connection.isReady {
                for _ in 0..<settings.pipeline { issue(origin: connection.index, now: now) }
            }
        case .onePerConnection:
            for connection in connections { issue(origin: connection.index, now: now, kind: .ping) }
        case .openLoop:
            openLoopTick()
        }
        flushDirty()
        checkEnd()
        return promise.futureResult
    }

    /// Issues one new operation from `origin` if the phase still issues.
    private func issue(origin: Int, now: UInt64, kind: OperationKind? = nil) {
        guard var state = phase, state.issuing, state.issued < state.requestLimit else { return }
        var operation = generator.next()
        if let kind { operation.kind = kind }
        state.issued += 1
        phase = state
        let request = PendingRequest(intendedNanos: now, operation: operation, stage: .first,
                                     redirects: 0, origin: origin, phase: state.id)
        send(request, on: route(operation, origin: origin))
        // The last request is out: from here the drain time bounds the wait for replies.
        if state.issued == state.requestLimit { stopIssuing(phaseID: state.id) }
    }

    private func openLoopTick() {
        guard var state = phase, state.issuing, case .openLoop(let rate) = state.mode else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        let elapsed = Double(now - state.startNanos) / 1e9
        let due = min(Int(elapsed * rate) + 1, state.requestLimit)
        var anyLive = true
        while state.issued < due {
            guard let origin = nextOpenLoopOrigin() else {
                anyLive = false
                break
            }
            let intended = state.startNanos + UInt64(Double(state.issued) / rate * 1e9)
            state.issued += 1
            phase = state
            let operation = generator.next()
            let request = PendingRequest(intendedNanos: intended, operation: operation, stage: .first,
                                         redirects: 0, origin: origin, phase: state.id)
            send(request, on: route(operation, origin: origin))
            if let current = phase { state = current } else { return }
        }
        flushDirty()
        guard state.issued < state.requestLimit, anyLive else {
            stopIssuing(phaseID: state.id)
            return
        }
        let nextIntended = state.startNanos + UInt64(Double(state.issued) / rate * 1e9)
        let wait = max(Int64(nextIntended) - Int64(NIODeadline.now().uptimeNanoseconds),
                       BenchLimits.sendTickMicrosecondsMin * 1_000)
        loop.scheduleTask(in: .nanoseconds(wait)) { self.openLoopTick() }
    }

    /// The next connection that is not closed, round robin; nil when all are closed.
    private func nextOpenLoopOrigin() -> Int? {
        for _ in 0..<connections.count {
            openLoopCursor = (openLoopCursor + 1) % connections.count
            if !connections[openLoopCursor].isClosed { return openLoopCursor }
        }
        return nil
    }

    private func stopIssuing(phaseID: Int) {
        guard var state = phase, state.id == phaseID, state.issuing else { return }
        state.issuing = false
        state.drainTask = loop.scheduleTask(in: .nanoseconds(Int64(BenchLimits.drainSecondsMax * 1e9))) {
            self.endPhase(phaseID: phaseID)
        }
        phase = state
        checkEnd()
    }

    private func checkEnd() {
        guard let state = phase else { return }
        let limitReached = state.issued >= state.requestLimit
        if state.outstanding == 0 && (!state.issuing || limitReached) { endPhase(phaseID: state.id) }
    }

    private func endPhase(phaseID: Int) {
        guard var state = phase, state.id == phaseID else { return }
        phase = nil
        state.drainTask?.cancel()
        recorder.recordTimeouts(state.outstanding)
        let elapsed = Double(NIODeadline.now().uptimeNanoseconds - state.startNanos) / 1e9
        progress?.stop()
        let outcome = PhaseOutcome(recorder: recorder, elapsedSeconds: elapsed, issued: state.issued)
        recorder.reset()
        state.promise.succeed(outcome)
    }

    // MARK: - Requests and replies

    private func route(_ operation: Operation, origin: Int) -> BenchConnection {
        if !slotOwners.isEmpty, let owner = slotOwners[HashSlots.slot(of: key(operation.keyIndex))],
           owner != settings.target, let connection = redirectConnection(owner) {
            return connection
        }
        return connections[origin]
    }

    private func key(_ index: Int) -> [UInt8] {
        keyPrefix + Array(String(index).utf8)
    }

    private static let askingName = Array("ASKING".utf8)
    private static let pingName = Array("PING".utf8)
    private static let getName = Array("GET".utf8)
    private static let setName = Array("SET".utf8)

    private func arguments(_ request: PendingRequest) -> [[UInt8]] {
        switch (request.stage, request.operation.kind) {
        case (.asking, _): return [LoadPool.askingName]
        case (_, .ping): return [LoadPool.pingName]
        case (.first, .get), (.first, .rmw), (.second, .get): return [LoadPool.getName, key(request.operation.keyIndex)]
        case (_, .set), (_, .insert), (.second, .rmw): return [LoadPool.setName, key(request.operation.keyIndex), value]
        }
    }

    /// Writes the request if the connection has room, else queues it with its intended time.
    private func send(_ request: PendingRequest, on connection: BenchConnection) {
        if connection.isClosed {
            fail(request, kind: "connection-closed")
        } else if connection.isReady && connection.inFlight.count < settings.pipeline && connection.backlog.isEmpty {
            connection.write(arguments(request), request: request)
        } else if connection.backlog.count < BenchLimits.backlogPerConnectionMax {
            connection.backlog.append(request)
        } else {
            fail(request, kind: "client-backlog-full")
        }
    }

    private func drainBacklog(of connection: BenchConnection) {
        while connection.isReady, connection.inFlight.count < settings.pipeline, let next = connection.backlog.popFirst() {
            connection.write(arguments(next), request: next)
        }
    }

    func markDirty(_ connection: BenchConnection) { dirty.append(connection) }

    func flushDirty() {
        let pending = dirty
        dirty.removeAll(keepingCapacity: true)
        for connection in pending { connection.flush() }
    }

    func completed(_ request: PendingRequest, reply: RESPValue, on connection: BenchConnection) {
        drainBacklog(of: connection)
        guard request.phase == phase?.id, request.stage != .asking else { return }
        if case .error(let text) = reply {
            if let redirect = Redirect.parse(text), Int(request.redirects) < BenchLimits.redirectsPerRequestMax {
                follow(redirect, request: request)
            } else {
                fail(request, kind: String(text.prefix { $0 != " " }))
            }
            return
        }
        if request.operation.kind == .rmw && request.stage == .first {
            var second = request
            second.stage = .second
            send(second, on: connection)
            return
        }
        let now = NIODeadline.now().uptimeNanoseconds
        let micros = now > request.intendedNanos ? (now - request.intendedNanos) / 1_000 : 0
        recorder.record(microseconds: micros)
        progress?.record(microseconds: micros)
        finish(request, now: now)
    }

    private func follow(_ redirect: Redirect, request: PendingRequest) {
        guard redirect.address.isLoopback else {
            fail(request, kind: "redirect-off-loopback")
            return
        }
        if redirect.kind == .moved { slotOwners[redirect.slot] = redirect.address }
        let target = redirect.address == settings.target ? connections[request.origin] : redirectConnection(redirect.address)
        guard let target else {
            fail(request, kind: "redirect-connections-full")
            return
        }
        var again = request
        again.redirects += 1
        if redirect.kind == .ask {
            var asking = again
            asking.stage = .asking
            send(asking, on: target)
        }
        send(again, on: target)
    }

    private func redirectConnection(_ address: BenchAddress) -> BenchConnection? {
        if let existing = redirectConnections[address], !existing.isClosed { return existing }
        guard redirectConnections.count < BenchLimits.connectionsMax else { return nil }
        let (connection, _) = open(address, index: -1)
        redirectConnections[address] = connection
        return connection
    }

    private func fail(_ request: PendingRequest, kind: String) {
        guard request.phase == phase?.id, request.stage != .asking else { return }
        recorder.recordError(kind: kind)
        progress?.recordError()
        finish(request, now: NIODeadline.now().uptimeNanoseconds)
    }

    private func finish(_ request: PendingRequest, now: UInt64) {
        phase?.ended += 1
        if phase?.mode == .closedLoop, request.origin >= 0, connections[request.origin].isReady {
            issue(origin: request.origin, now: now)
        }
        checkEnd()
    }

    func connectionFailed(_ connection: BenchConnection, kind: String) {
        let lost = connection.close()
        for request in lost { fail(request, kind: kind) }
        if connection.index < 0, let entry = redirectConnections.first(where: { $0.value === connection }) {
            redirectConnections[entry.key] = nil
        }
    }
}
