// A minimal blocking RESP client for the administration commands: one request, one reply,
// with a timeout. Not for load (trestle bench has its own client).
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import ClusterServer
import Wire

struct AdminClient {
    enum Failure: Error, CustomStringConvertible {
        case address(String)
        case connect(String, Int32)
        case io(String)
        var description: String {
            switch self {
            case .address(let text): return "bad address \(text) (expected HOST:PORT)"
            case let .connect(address, code): return "cannot connect to \(address): \(String(cString: strerror(code)))"
            case .io(let text): return text
            }
        }
    }

    static let timeoutSeconds = 15

    let address: String
    private let socketDescriptor: Int32

    init(_ address: String) throws {
        self.address = address
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else { throw Failure.address(address) }
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        guard inet_pton(AF_INET, String(parts[0] == "localhost" ? "127.0.0.1" : parts[0]), &socketAddress.sin_addr) == 1 else {
            throw Failure.address(address)
        }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: Self.timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw Failure.connect(address, code)
        }
        socketDescriptor = descriptor
    }

    func close() { Glibc.close(socketDescriptor) }

    func call(_ arguments: [String]) throws -> RESPValue {
        var buffer = ByteBuffer()
        RESPEncoder.writeCommand(arguments.map { Array($0.utf8) }, into: &buffer)
        let bytes = Array(buffer.readableBytesView)
        let sent = bytes.withUnsafeBytes { send(socketDescriptor, $0.baseAddress, $0.count, 0) }
        guard sent == bytes.count else { throw Failure.io("cannot send to \(address)") }
        var inbound = ByteBuffer()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        // A backup's reply is one shard's whole state.
        var limits = ProtocolLimits()
        limits.bulkLengthBytesMax = BackupArchive.shardFileBytesMax
        let reader = RESPReader(limits: limits)
        while true {
            if let value = try reader.next(from: &inbound) { return value }
            let count = chunk.withUnsafeMutableBytes { recv(socketDescriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw Failure.io("\(address) closed the connection or did not answer in \(Self.timeoutSeconds) s") }
            inbound.writeBytes(chunk[0..<count])
        }
    }

    /// Calls once on a fresh connection.
    static func call(_ address: String, _ arguments: [String]) throws -> RESPValue {
        let client = try AdminClient(address)
        defer { client.close() }
        return try client.call(arguments)
    }
}

extension RESPValue {
    var text: String {
        switch self {
        case .simple(let text), .error(let text): return text
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .verbatim(_, let text): return text
        case .integer(let value): return String(value)
        default: return "\(self)"
        }
    }
}
