// Fixtures for PeerTransport tests: nodes on real loopback sockets (port 0), an inbox that
// collects frames and state changes from the event loop, raw sockets that misbehave, and
// polling with a deadline.
import Cluster
import Consensus
import Core
import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import Transport

/// Frames and link-state changes a transport reported, readable from the test's thread.
final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var storedFrames: [(NodeID, PeerFrame)] = []
    private var storedStates: [(NodeID, PeerLinkState)] = []

    func received(_ node: NodeID, _ frame: PeerFrame) {
        lock.lock()
        defer { lock.unlock() }
        storedFrames.append((node, frame))
    }

    func changed(_ node: NodeID, _ state: PeerLinkState) {
        lock.lock()
        defer { lock.unlock() }
        storedStates.append((node, state))
    }

    var frames: [(NodeID, PeerFrame)] {
        lock.lock()
        defer { lock.unlock() }
        return storedFrames
    }

    var states: [(NodeID, PeerLinkState)] {
        lock.lock()
        defer { lock.unlock() }
        return storedStates
    }

    func frames(from node: NodeID) -> [PeerFrame] { frames.filter { $0.0 == node }.map(\.1) }
}

struct TestNode: Sendable {
    let id: NodeID
    let transport: PeerTransport
    let inbox: Inbox
    let port: Int

    /// Runs `body` on the transport's event loop and returns its result.
    func run<Result: Sendable>(_ body: @escaping @Sendable (PeerTransport) -> Result) async throws -> Result {
        let transport = self.transport
        return try await transport.eventLoop.submit { body(transport) }.get()
    }

    func state(of peer: TestNode) async throws -> PeerLinkState {
        try await run { $0.linkState(peer.id) }
    }

    /// Sends each frame to `peer`, then flushes, in one event-loop turn; returns the results.
    @discardableResult
    func send(_ frames: [PeerFrame], to peer: NodeID) async throws -> [Bool] {
        try await run { transport in
            let results = frames.map { transport.send($0, to: peer) }
            transport.flush()
            return results
        }
    }

    func shutdown() async throws { try await transport.shutdown().get() }
}

extension PeerLimits {
    /// Short timers so each test runs in well under a few seconds.
    static var fast: PeerLimits {
        var limits = PeerLimits()
        limits.reconnectDelayMin = .milliseconds(10)
        limits.reconnectDelayMax = .milliseconds(100)
        limits.connectTimeout = .milliseconds(500)
        limits.helloTimeout = .milliseconds(300)
        limits.breakerOpenAfter = .milliseconds(300)
        limits.breakerCheckInterval = .milliseconds(20)
        return limits
    }
}

func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["PEER_TEST_LOG"] == nil ? .critical : .debug
    return logger
}

func startNode(_ id: UInt64, on loop: EventLoop, cluster: String = "test", limits: PeerLimits = .fast,
               port: Int = 0, secret: ClusterSecret? = nil) async throws -> TestNode {
    let transport = PeerTransport(node: NodeID(id), cluster: cluster, eventLoop: loop, limits: limits,
                                  logger: testLogger("peer.n\(id)"))
    let inbox = Inbox()
    try await loop.submit {
        transport.secret = secret
        transport.onFrame = { inbox.received($0, $1) }
        transport.onPeerStateChange = { inbox.changed($0, $1) }
    }.get()
    let bound = try await transport.listen(host: "127.0.0.1", port: port).get()
    return TestNode(id: NodeID(id), transport: transport, inbox: inbox, port: bound)
}

/// Tells each node the other's address (only the lower id dials).
func introduce(_ a: TestNode, _ b: TestNode) async throws {
    try await a.run { $0.setAddress(b.id, host: "127.0.0.1", port: b.port) }
    try await b.run { $0.setAddress(a.id, host: "127.0.0.1", port: a.port) }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass; returns whether it held.
func eventually(within seconds: Double = 3, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    return try await condition()
}

func connected(_ a: TestNode, _ b: TestNode) async throws -> Bool {
    let forward = try await a.state(of: b).isConnected
    let backward = try await b.state(of: a).isConnected
    return forward && backward
}

/// A plain TCP client with no handlers, to speak (or not speak) the protocol by hand.
func rawConnect(port: Int, group: EventLoopGroup) async throws -> Channel {
    try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
}

func encoded(_ frames: [PeerFrame]) throws -> ByteBuffer {
    var buffer = ByteBuffer()
    for frame in frames { try PeerFrameEncoder().encode(frame, into: &buffer) }
    return buffer
}

func requests(_ range: Range<UInt64>, size: Int = 8) -> [PeerFrame] {
    range.map { .request(id: $0, payload: Array(repeating: UInt8(truncatingIfNeeded: $0), count: size)) }
}

func requestIDs(_ frames: [PeerFrame]) -> [UInt64] {
    frames.compactMap { frame in
        if case let .request(id, _) = frame { return id }
        return nil
    }
}
