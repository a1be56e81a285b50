// Named bounds on what a client may send. Defaults follow Redis 7.

/// Limits the request decoder enforces. A request that exceeds one is a protocol error
/// that closes only the offending connection.
public struct ProtocolLimits: Sendable, Equatable {
    /// Largest bulk string accepted (Redis `proto-max-bulk-len`, 512 MiB).
    public var bulkLengthBytesMax: Int = 512 * 1024 * 1024
    /// Largest number of elements in one request array.
    public var multibulkCountMax: Int = 1024 * 1024
    /// Largest inline request line (Redis PROTO_INLINE_MAX_SIZE, 64 KiB).
    public var inlineBytesMax: Int = 64 * 1024
    /// Largest number of bytes one client may have buffered for an incomplete request
    /// (Redis `client-query-buffer-limit`, 1 GiB).
    public var queryBufferBytesMax: Int = 1024 * 1024 * 1024
    /// Deepest nesting of aggregates accepted by the generic RESP parser. Requests are flat.
    public var nestingDepthMax: Int = 32

    public init() {}
}
