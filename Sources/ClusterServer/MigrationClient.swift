// The shell's side of MIGRATE (`.migrate`): a short-lived client connection to the target
// server on a thread of its own, with blocking sockets bounded by the job's timeout at
// every step (connect, each write, each read), as Redis's own MIGRATE client does.
import Foundation
import NIOCore
import NodeRuntime
import Wire

enum MigrationClient {
    /// Most reply bytes held while waiting for the rest: a target that sends more than
    /// its few short replies could need is not one to wait on.
    static let replyBytesMax = 1 << 20

    static func perform(_ job: MigrationJob) -> MigrationJob.Outcome {
        guard job.port > 0, let socket = connect(host: job.host, port: job.port, timeoutMilliseconds: job.timeoutMilliseconds) else {
            return .connectFailed
        }
        defer { close(socket) }
        var timeout = timeval(tv_sec: job.timeoutMilliseconds / 1000, tv_usec: Int((job.timeoutMilliseconds % 1000) * 1000))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var outbound = ByteBufferAllocator().buffer(capacity: 1024)
        for command in job.commands { RESPEncoder.writeCommand(command, into: &outbound) }
        guard sendAll(socket, outbound) else { return .ioFailed }
        var inbound = ByteBufferAllocator().buffer(capacity: 4096)
        var replies: [RESPValue] = []
        let reader = RESPReader()
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while replies.count < job.commands.count {
            do {
                while replies.count < job.commands.count, let value = try reader.next(from: &inbound) { replies.append(value) }
            } catch {
                return .ioFailed
            }
            if replies.count == job.commands.count { break }
            guard inbound.readableBytes < replyBytesMax else { return .ioFailed }
            let received = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard received > 0 else { return .ioFailed }
            inbound.writeBytes(chunk[0..<received])
        }
        return .replies(replies)
    }

    /// Writes every readable byte of `buffer` to the blocking `socket`; false when a write
    /// fails (errno says why) or the socket's send timeout passes.
    static func sendAll(_ socket: Int32, _ buffer: ByteBuffer) -> Bool {
        let bytes = buffer.readableBytesView
        var sent = 0
        while sent < bytes.count {
            let written = bytes.withContiguousStorageIfAvailable { storage in
                guard let base = storage.baseAddress else { return -1 }
                return send(socket, base + sent, storage.count - sent, Int32(MSG_NOSIGNAL))
            } ?? -1
            guard written > 0 else { return false }
            sent += written
        }
        return true
    }

    /// A connected blocking TCP socket to `host`:`port`, or nil when none could be made
    /// within the timeout (each address tried in turn).
    static func connect(host: String, port: Int, timeoutMilliseconds: Int) -> Int32? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let first = found else { return nil }
        defer { freeaddrinfo(first) }
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let socket = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard socket >= 0 else { continue }
            let flags = fcntl(socket, F_GETFL, 0)
            _ = fcntl(socket, F_SETFL, flags | O_NONBLOCK)
            var connected = Glibc.connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0
            if !connected, errno == EINPROGRESS {
                var poller = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
                if poll(&poller, 1, Int32(clamping: timeoutMilliseconds)) == 1 {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    connected = getsockopt(socket, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0
                }
            }
            if connected {
                _ = fcntl(socket, F_SETFL, flags)
                return socket
            }
            close(socket)
        }
        return nil
    }
}
