// Every bound of the peer transport in one place: sizes on the wire, queue sizes, timers.
// The defaults suit a LAN cluster; tests shrink the timers.
import NIOCore

/// Limits and timers of the peer transport. All byte sizes are exact; all times are
/// measured on the transport's event loop clock (`NIODeadline.now()`).
public struct PeerLimits: Sendable, Equatable {
    /// Largest frame accepted or produced, counting the kind byte and the body (not the
    /// 8-byte header). A larger length read off the wire closes the connection at once.
    public var frameBytesMax: Int = 32 * 1024 * 1024
    /// Raft messages in one `.raft` frame.
    public var messagesPerFrameMax: Int = 4096
    /// `sendRaft` packs a destination's messages into one frame until it would pass this
    /// many bytes (a single larger message still gets a frame of its own).
    public var raftFrameBytesTarget: Int = 1024 * 1024
    /// Entries in one appendEntries message.
    public var entriesPerMessageMax: Int = 65_536
    /// Voters plus learners in one encoded Membership.
    public var membershipNodesMax: Int = 1024
    /// Bytes of the cluster name in a hello (UTF-8).
    public var clusterNameBytesMax: Int = 255
    /// Encoded bytes queued for one peer and not yet handed to its socket. A frame that
    /// would exceed it is dropped and counted, except that an empty queue always takes one
    /// frame (up to `frameBytesMax`), so a frame larger than the queue can still be sent.
    public var queueBytesMax: Int = 8 * 1024 * 1024
    /// Accepted connections that have not said hello yet; a new one beyond this is closed.
    public var inboundHandshakesMax: Int = 64
    /// First reconnect delay; it doubles per failed attempt up to `reconnectDelayMax`, and
    /// each actual delay is drawn uniformly from [delay/2, delay] (jitter).
    public var reconnectDelayMin: TimeAmount = .milliseconds(50)
    public var reconnectDelayMax: TimeAmount = .seconds(2)
    /// A dial that has not connected by then fails (and is retried with backoff).
    public var connectTimeout: TimeAmount = .seconds(1)
    /// A connection whose peer has not said hello by then is closed.
    public var helloTimeout: TimeAmount = .seconds(2)
    /// How long a link may be down, or connected but not draining (socket unwritable),
    /// before its breaker opens and `send` fails fast.
    public var breakerOpenAfter: TimeAmount = .seconds(1)
    /// A connection on which frames went out but nothing came back for this long is closed
    /// (and redialled by the lower id). Raft answers every message but timeoutNow, and
    /// forwarded requests get replies, so a healthy busy link is never silent this long;
    /// this catches half-open connections and proxies that swallow traffic, which TCP alone
    /// reports as healthy. Idle links (nothing sent) are left alone. nil disables it.
    public var silentLinkTimeout: TimeAmount? = .seconds(5)
    /// How often the transport re-evaluates breakers and silent links (breakers are also
    /// checked on every send).
    public var breakerCheckInterval: TimeAmount = .milliseconds(50)
    /// NIO write-buffer water marks of a peer socket: above `high` the channel turns
    /// unwritable and queued frames stay in the peer queue; below `low` it drains again.
    public var writeBufferLowBytes: Int = 256 * 1024
    public var writeBufferHighBytes: Int = 1024 * 1024

    public init() {}
}
