// What the transport reports about one peer link: its connection and its breaker.
import NIOCore

public struct PeerLinkState: Sendable, Equatable, CustomStringConvertible {
    public enum Connection: Sendable, Equatable {
        /// Hellos exchanged; frames flow.
        case connected
        /// This node is dialling the peer (TCP connect or hello in progress).
        case connecting
        /// No connection since the given time: waiting to redial (lower id) or for the peer
        /// to dial in (higher id).
        case down(since: NIODeadline)
        /// The transport does not manage this node (never added, or removed).
        case unknown
    }

    public var connection: Connection
    /// True while `send` fails fast for this peer (see PeerLimits.breakerOpenAfter).
    public var breakerOpen: Bool

    public init(connection: Connection, breakerOpen: Bool) {
        self.connection = connection
        self.breakerOpen = breakerOpen
    }

    public static let unknown = PeerLinkState(connection: .unknown, breakerOpen: false)

    public var isConnected: Bool { connection == .connected }

    public var description: String {
        let breaker = breakerOpen ? " breaker=open" : ""
        switch connection {
        case .connected: return "connected" + breaker
        case .connecting: return "connecting" + breaker
        case .down: return "down" + breaker
        case .unknown: return "unknown"
        }
    }
}

/// Per-peer counters for metrics. Frames and bytes count whole frames including headers;
/// hellos are not counted. `queuedBytes` is a gauge: bytes waiting in the peer queue.
public struct PeerCounters: Sendable, Equatable {
    public var framesSent: UInt64 = 0
    public var bytesSent: UInt64 = 0
    public var framesReceived: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    /// Frames refused by `send` (breaker open, queue full, frame over a limit) or dropped
    /// from the queue when the breaker opened.
    public var framesDropped: UInt64 = 0
    /// Connections established (hellos exchanged) with this peer.
    public var connects: UInt64 = 0
    /// Times the breaker opened (the link stayed unhealthy for `breakerOpenAfter`).
    public var breakerTrips: UInt64 = 0
    public var queuedBytes: Int = 0

    public init() {}
}
