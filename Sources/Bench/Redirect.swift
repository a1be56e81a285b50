// Cluster-aware routing for the load generator: parses `-MOVED slot host:port` and
// `-ASK slot host:port` replies and computes a key's hash slot (CRC16/XMODEM of the key or
// of its `{hash tag}`, mod 16384, as Redis Cluster does). A single node never redirects;
// a cluster does, and the client re-sends to the named address. Only loopback addresses are
// followed: the benchmark never sends traffic off this machine.

/// A redirect reply from a cluster node.
public struct Redirect: Equatable, Sendable {
    public enum Kind: String, Sendable { case moved = "MOVED", ask = "ASK" }
    public var kind: Kind
    public var slot: Int
    public var address: BenchAddress

    /// Parses the text of an error reply (without the leading `-`); nil if it is not a
    /// well-formed MOVED or ASK.
    public static func parse(_ errorText: String) -> Redirect? {
        let parts = errorText.split(separator: " ")
        guard parts.count == 3, let kind = Kind(rawValue: String(parts[0])),
              let slot = Int(parts[1]), (0..<HashSlots.count).contains(slot),
              let address = BenchAddress.parse(String(parts[2])) else { return nil }
        return Redirect(kind: kind, slot: slot, address: address)
    }
}

/// A host and port; `isLoopback` tells whether the benchmark may connect to it.
public struct BenchAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`.
    public static func parse(_ text: String) -> BenchAddress? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65_535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return BenchAddress(host: host, port: port)
    }

    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Redis Cluster's hash slots.
public enum HashSlots {
    public static let count = 16_384

    /// The slot of a key: CRC16 of the hash tag if the key has a non-empty `{...}`, else of
    /// the whole key.
    public static func slot(of key: [UInt8]) -> Int {
        var bytes = key[...]
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            bytes = key[(open + 1)..<close]
        }
        return Int(crc16(bytes) % UInt16(count))
    }

    /// CRC16/XMODEM (polynomial 0x1021, initial value 0), bit by bit.
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
        }
        return crc
    }
}
