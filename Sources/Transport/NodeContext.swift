// What every client connection on a node shares: the engine, the durability gate, the
// registry of open connections and the clock. Confined to the engine's event loop.
import Core
import Engine
import Logging
import NIOCore

/// Where write records go and when replies may be released. Implemented by the server
/// over the durable log; all calls happen on the engine's event loop.
public protocol Durability: AnyObject {
    /// Appends a record and returns its sequence number (1, 2, 3, ...).
    func append(_ record: [UInt8]) -> UInt64
    /// The sequence a reply produced now must wait for before it is sent: the last
    /// appended sequence when replies wait for fsync, 0 when they do not.
    var visibilityBarrier: UInt64 { get }
    /// The highest sequence known durable.
    var durableSequence: UInt64 { get }
    /// True while more is queued for the disk than the log's bound: connections stop
    /// reading requests until it drains.
    var isBacklogged: Bool { get }
}

extension Durability {
    public var isBacklogged: Bool { false }
}

/// Durability that keeps nothing: for tests of the pipeline and for `--fsync none`-like runs.
public final class NoDurability: Durability {
    private var sequence: UInt64 = 0
    public init() {}
    public func append(_ record: [UInt8]) -> UInt64 { sequence += 1; return sequence }
    public var visibilityBarrier: UInt64 { 0 }
    public var durableSequence: UInt64 { sequence }
}

public final class NodeContext {
    public let engine: Engine
    public let durability: Durability
    public let clock: WallClock
    public let logger: Logger
    public let eventLoop: EventLoop
    var connections: [ClientID: ClientConnectionHandler] = [:]
    /// Connections holding replies until a sequence becomes durable.
    var waitingForDurability: [ClientID: ClientConnectionHandler] = [:]
    /// Connections that stopped reading because the log was backlogged.
    var pausedForBacklog: [ClientID: ClientConnectionHandler] = [:]
    /// True while the server accepts no new work (graceful shutdown).
    public var draining = false

    public init(engine: Engine, durability: Durability, clock: WallClock, logger: Logger, eventLoop: EventLoop) {
        self.engine = engine
        self.durability = durability
        self.clock = clock
        self.logger = logger
        self.eventLoop = eventLoop
    }

    /// Call on the event loop when the durable sequence advanced: releases held replies.
    public func durabilityAdvanced() {
        eventLoop.preconditionInEventLoop()
        let durable = durability.durableSequence
        for (id, connection) in waitingForDurability {
            if connection.releaseReplies(upTo: durable) { waitingForDurability.removeValue(forKey: id) }
        }
        if !pausedForBacklog.isEmpty, !durability.isBacklogged {
            let paused = pausedForBacklog
            pausedForBacklog.removeAll()
            for connection in paused.values { connection.resumeAfterBacklog() }
        }
    }

    /// Number of connections that still hold replies waiting for durability.
    public var connectionsWaitingForDurability: Int { waitingForDurability.count }

    public var connectionCount: Int { connections.count }

    /// Closes every client connection (used at shutdown after replies drained).
    public func closeAllConnections() {
        for connection in connections.values { connection.close() }
    }

    func kill(_ ids: [ClientID]) {
        for id in ids { connections[id]?.close() }
    }
}
