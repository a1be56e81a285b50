// Malformed input from the network. Each case renders to Redis's exact error text; the
// server replies with it and closes that connection only.

public enum ProtocolError: Error, Equatable, Sendable {
    case invalidMultibulkLength
    case invalidBulkLength
    case expectedDollar(got: UInt8)
    case tooBigInlineRequest
    case tooBigMultibulkCountString
    case tooBigBulkCountString
    case unbalancedQuotes
    case queryBufferExceeded
    case nestingTooDeep
    case unexpectedByte(UInt8)

    /// The reply text, as Redis words it.
    public var message: String {
        switch self {
        case .invalidMultibulkLength: return "ERR Protocol error: invalid multibulk length"
        case .invalidBulkLength: return "ERR Protocol error: invalid bulk length"
        case .expectedDollar(let byte): return "ERR Protocol error: expected '$', got '\(Self.printable(byte))'"
        case .tooBigInlineRequest: return "ERR Protocol error: too big inline request"
        case .tooBigMultibulkCountString: return "ERR Protocol error: too big mbulk count string"
        case .tooBigBulkCountString: return "ERR Protocol error: too big bulk count string"
        case .unbalancedQuotes: return "ERR Protocol error: unbalanced quotes in request"
        case .queryBufferExceeded: return "ERR Protocol error: query buffer limit exceeded"
        case .nestingTooDeep: return "ERR Protocol error: nesting too deep"
        case .unexpectedByte(let byte): return "ERR Protocol error: unexpected byte '\(Self.printable(byte))'"
        }
    }

    /// Redis writes the offending byte as it is (the reply encoder then turns CR and LF
    /// into spaces). A byte outside ASCII cannot live in a Swift string, so it is spelled
    /// as an escape instead.
    private static func printable(_ byte: UInt8) -> String {
        byte < 128 ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }
}
