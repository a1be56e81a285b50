// A RESP reply value. One type covers RESP2 and RESP3; the encoder lowers RESP3-only
// types (map, set, double, boolean, null) to their RESP2 forms when the connection speaks
// RESP2, exactly as Redis does.

/// The protocol a connection speaks, switched by HELLO.
public enum ProtocolVersion: Int, Sendable {
    case resp2 = 2
    case resp3 = 3
}

/// A reply to a client. Error texts carry their code prefix, e.g. `ERR syntax error`.
public enum RESPValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    case null
    /// A missing aggregate: `*-1` in RESP2, `_` in RESP3.
    case nullArray
    case array([RESPValue])
    case map([RESPPair])
    case set([RESPValue])
    case double(Double)
    /// A double written with the digits given, as Redis's addReplyHumanLongDouble writes
    /// GEOPOS coordinates ("%.17Lf" without trailing zeros): `,text` in RESP3, a bulk
    /// string in RESP2.
    case humanDouble(String)
    case boolean(Bool)
    case verbatim(format: String, text: String)
    case bigNumber(String)
    case push([RESPValue])
    /// A reply preceded by RESP3 attributes (`|n` then the pairs); RESP2 gets the reply
    /// alone. Only DEBUG PROTOCOL attrib sends one, as in Redis.
    indirect case attributed([RESPPair], RESPValue)
    /// Bytes written as they are, in any protocol: only a full resynchronization's payload
    /// (`$<length>` and the RDB file without a closing CRLF, as Redis sends it to replicas).
    case raw([UInt8])

    public static let ok = RESPValue.simple("OK")
    public static let queued = RESPValue.simple("QUEUED")

    public static func bulk(_ text: String) -> RESPValue { .bulk(Array(text.utf8)) }
    public static func integer(_ value: Int) -> RESPValue { .integer(Int64(value)) }
    public static func bulkOrNull(_ bytes: [UInt8]?) -> RESPValue { bytes.map(RESPValue.bulk) ?? .null }
}

/// A key/value pair of a RESP3 map.
public struct RESPPair: Equatable, Sendable {
    public var key: RESPValue
    public var value: RESPValue
    public init(_ key: RESPValue, _ value: RESPValue) { self.key = key; self.value = value }
    public init(_ key: String, _ value: RESPValue) { self.key = .bulk(key); self.value = value }
}

extension RESPValue {
    /// True for error replies.
    public var isError: Bool {
        if case .error = self { return true }
        return false
    }

    /// True for out-of-band pushes (pub/sub messages and confirmations).
    public var isPush: Bool {
        if case .push = self { return true }
        return false
    }
}
