// Why bytes from a peer could not be read as frames, or a frame could not be written.
// A decoding error closes only the connection it came from.

public enum PeerCodecError: Error, Equatable, Sendable {
    /// The length field is zero (a frame has at least its kind byte) or above the limit.
    case invalidLength(UInt32)
    /// The CRC-32C over kind and body does not match the header.
    case checksumMismatch(expected: UInt32, actual: UInt32)
    /// An unknown frame kind byte.
    case unknownFrameKind(UInt8)
    /// An unknown tag inside a body (message kind, payload kind, change kind, ...).
    case unknownTag(field: String, value: UInt8)
    /// The body ended before a field was complete.
    case truncated(field: String)
    /// Bytes left over after the body was fully read.
    case trailingBytes(Int)
    /// A count (messages, entries, members, name bytes) above its named limit.
    case limitExceeded(field: String, count: Int, limit: Int)
    /// A field whose value is not allowed (a boolean other than 0/1, a negative offset,
    /// a cluster name that is not UTF-8, a frame larger than `frameBytesMax` to encode).
    case invalidValue(field: String)
    /// A hello speaking a protocol version this node does not know.
    case unsupportedVersion(UInt16)
}
