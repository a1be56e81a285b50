// Everything the transport keeps about one peer: where to dial it, the current connection
// or dial, reconnect backoff, breaker, the bounded queue of encoded frames, and counters.
// A plain record confined to the transport's event loop; PeerTransport holds the logic.
//
// Invariants: at most one current connection (`connection`) and at most one dial in
// flight (`dialing`), never both; `pending` holds only whole encoded frames and never more
// than `limits.queueBytesMax` bytes.
import Core
import NIOCore

final class PeerLink {
    let node: NodeID
    var host: String?
    var port: Int = 0
    /// The connection whose hellos were exchanged; frames go out on it.
    var connection: PeerConnectionHandler?
    /// True from the start of a dial until its hello is accepted or it fails.
    var dialing = false
    /// Incremented per dial and when a dial is abandoned, so stale results are ignored.
    var dialAttempt: UInt64 = 0
    /// The channel of the dial in flight once TCP connected (to close it if abandoned).
    var dialChannel: Channel?
    var reconnect: Scheduled<Void>?
    var backoff: ReconnectBackoff
    var breaker: CircuitBreaker
    /// When the link last stopped being connected (or was added).
    var disconnectedSince: NIODeadline
    /// Encoded frames waiting for `flush` (or for the link to connect / drain).
    var pending: ByteBuffer
    var pendingFrames = 0
    var counters = PeerCounters()
    /// When frames first went out on the current connection after the last frame received
    /// on it; nil while nothing is awaited (see PeerLimits.silentLinkTimeout).
    var unansweredSince: NIODeadline?
    /// The state last reported through onPeerStateChange.
    var reportedState: PeerLinkState

    init(node: NodeID, limits: PeerLimits, now: NIODeadline, allocator: ByteBufferAllocator) {
        self.node = node
        self.backoff = ReconnectBackoff(delayMin: limits.reconnectDelayMin, delayMax: limits.reconnectDelayMax)
        self.breaker = CircuitBreaker(openAfter: limits.breakerOpenAfter, unhealthySince: now)
        self.disconnectedSince = now
        self.pending = allocator.buffer(capacity: 0)
        self.reportedState = PeerLinkState(connection: .down(since: now), breakerOpen: false)
    }

    var state: PeerLinkState {
        let connectionState: PeerLinkState.Connection
        if connection != nil {
            connectionState = .connected
        } else if dialing {
            connectionState = .connecting
        } else {
            connectionState = .down(since: disconnectedSince)
        }
        return PeerLinkState(connection: connectionState, breakerOpen: breaker.isOpen)
    }

    /// Connected with a socket that accepts writes: the breaker's notion of healthy.
    var isHealthy: Bool { connection?.isWritable ?? false }
}
