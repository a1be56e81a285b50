// The secret every node of a cluster shares (`--cluster-secret-file`): peers prove they
// know it in the handshake, by signing each other's fresh nonce with HMAC-SHA256. The
// secret itself never travels. Without one, the peer port trusts any node that names the
// right cluster, which is safe only on loopback.
import Crypto
import Foundation

public struct ClusterSecret: Sendable {
    /// Fewer bytes than this cannot be a secret worth the name.
    public static let bytesMin = 16
    /// A secret file larger than this is not a secret file.
    public static let fileBytesMax = 4096
    /// Random bytes in a nonce (each connection, each direction).
    public static let nonceBytes = 32

    /// The secret's bytes (a SymmetricKey is made per use: it is not Sendable).
    private let bytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: bytes) }

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String, String)
        case tooShort(String)
        case tooLong(String)
        public var description: String {
            switch self {
            case let .unreadable(path, reason): return "cannot read the cluster secret file \(path): \(reason)"
            case .tooShort(let path): return "the cluster secret in \(path) is shorter than \(ClusterSecret.bytesMin) bytes"
            case .tooLong(let path): return "the cluster secret file \(path) is larger than \(ClusterSecret.fileBytesMax) bytes"
            }
        }
    }

    /// A secret of these bytes (trailing whitespace is not trimmed here).
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Reads a secret file: its bytes, without trailing whitespace or newlines.
    public static func load(path: String) throws -> ClusterSecret {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Failure.unreadable(path, error.localizedDescription)
        }
        guard data.count <= fileBytesMax else { throw Failure.tooLong(path) }
        var bytes = [UInt8](data)
        while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 { bytes.removeLast() }
        guard bytes.count >= bytesMin else { throw Failure.tooShort(path) }
        return ClusterSecret(bytes: bytes)
    }

    /// Writes a new random secret (64 hex digits, readable by the owner only) unless the
    /// file exists.
    public static func createIfMissing(path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let text = SymmetricKey(size: .bits256).withUnsafeBytes { raw in raw.map { String(format: "%02x", $0) }.joined() } + "\n"
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Failure.unreadable(path, "cannot create it")
        }
    }

    /// A fresh random nonce.
    public static func nonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<nonceBytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// The proof `sender` gives `receiver`: HMAC over a fixed label, the cluster name, both
    /// ids and both nonces, the receiver's first (so it can only answer this connection's
    /// challenge, and a proof cannot be reflected back to its sender).
    public func proof(cluster: String, sender: UInt64, receiver: UInt64, receiverNonce: [UInt8], senderNonce: [UInt8]) -> [UInt8] {
        let message = Self.signed(cluster: cluster, sender: sender, receiver: receiver, receiverNonce: receiverNonce, senderNonce: senderNonce)
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }

    /// True if `mac` is the proof `sender` owes this node (compared in constant time).
    public func verify(_ mac: [UInt8], cluster: String, sender: UInt64, receiver: UInt64, receiverNonce: [UInt8], senderNonce: [UInt8]) -> Bool {
        let message = Self.signed(cluster: cluster, sender: sender, receiver: receiver, receiverNonce: receiverNonce, senderNonce: senderNonce)
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: message, using: key)
    }

    /// The bytes a proof signs: a fixed label, then length-prefixed fields.
    private static func signed(cluster: String, sender: UInt64, receiver: UInt64, receiverNonce: [UInt8], senderNonce: [UInt8]) -> [UInt8] {
        Array("trestle peer proof v1".utf8) + blob(Array(cluster.utf8)) + le(sender) + le(receiver) + blob(receiverNonce) + blob(senderNonce)
    }

    private static func le(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    private static func blob(_ bytes: [UInt8]) -> [UInt8] { le(UInt64(bytes.count)) + bytes }
}
