// The shell's side of REPLICAOF (`.followMaster`): a replica's connection to a Redis
// master on a thread of its own, with blocking sockets, as MigrationClient's. It dials,
// runs the handshake, reads the full resynchronization's RDB file, feeds the dataset's
// load and then the master's stream to the node as requests of the master's client
// (MasterLink.swift), answers REPLCONF GETACK and sends REPLCONF ACK every second. When
// the link breaks it reports why and dials again after a pause, until stopped.
//
// Bounds: at most `MasterLink.requestsInFlightMax` requests unanswered by the node (the
// thread stops reading the master meanwhile), an RDB file of at most
// `MasterLink.payloadBytesMax`, status lines of at most `lineBytesMax`, and the master's
// stream parsed with the protocol limits clients have.
import Engine
import Core
import Foundation
import Keyspace
import NIOCore
import NodeRuntime
import Wire

final class MasterLinkClient: @unchecked Sendable {
    /// Pause between a failed link and the next dial.
    static let retryMilliseconds = 1000
    static let connectTimeoutMilliseconds = 5000
    /// How often the replica tells the master its offset (REPLCONF ACK), as Redis.
    static let acknowledgeMilliseconds: UInt64 = 1000
    /// Longest status line (PING's, PSYNC's answer, the RDB's length line).
    static let lineBytesMax = 64 * 1024
    /// Most requests handed to the node at once.
    static let batchMax = 512

    struct Failure: Error { let reason: String }

    let job: MasterLinkJob
    private let deliver: @Sendable (MasterLinkEvent) -> Void
    private let onAnswerError: @Sendable (String) -> Void
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var stopped = false
    private var socket: Int32 = -1
    private var client: ClientID?
    private var inFlight = 0

    /// `deliver` hands an event to the node (on its event loop, without waiting);
    /// `onAnswerError` hears the node's error replies to the master's requests.
    init(job: MasterLinkJob, deliver: @escaping @Sendable (MasterLinkEvent) -> Void,
         onAnswerError: @escaping @Sendable (String) -> Void) {
        self.job = job
        self.deliver = deliver
        self.onAnswerError = onAnswerError
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "trestle.master-link"
        thread.start()
    }

    /// Ends the link: the thread stops at its next step (a blocked read is woken).
    func stop() {
        condition.lock()
        stopped = true
        if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
        condition.broadcast()
        condition.unlock()
    }

    /// The node answered one request of `id` (the master's client of some connection).
    func answered(_ id: ClientID, _ value: RESPValue) {
        condition.lock()
        let current = id == client
        if current {
            inFlight -= 1
            condition.broadcast()
        }
        condition.unlock()
        if current, case .error(let text) = value { onAnswerError(text) }
    }

    // MARK: - The thread

    private var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    private func run() {
        var attempt: UInt64 = 0
        while !isStopped {
            attempt += 1
            do {
                try follow(attempt: attempt)
            } catch {
                if !isStopped { deliver(.down(error.reason)) }
            }
            closeSocket()
            condition.lock()
            if !stopped { _ = condition.wait(until: Date().addingTimeInterval(Double(Self.retryMilliseconds) / 1000)) }
            condition.unlock()
        }
    }

    private func closeSocket() {
        condition.lock()
        if socket >= 0 { close(socket) }
        socket = -1
        client = nil
        inFlight = 0
        condition.unlock()
    }

    /// One connection: handshake, full resynchronization, then the stream until it breaks.
    private func follow(attempt: UInt64) throws(Failure) {
        deliver(.connecting)
        guard job.port > 0, let connected = MigrationClient.connect(host: job.host, port: job.port,
                                                                   timeoutMilliseconds: Self.connectTimeoutMilliseconds) else {
            throw Failure(reason: "cannot connect to \(job.host):\(job.port)")
        }
        condition.lock()
        socket = connected
        let stop = stopped
        condition.unlock()
        if stop { return }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(connected, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sendTimeout = timeval(tv_sec: job.timeoutMilliseconds / 1000, tv_usec: (job.timeoutMilliseconds % 1000) * 1000)
        setsockopt(connected, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        var link = Connection(socket: connected, timeoutMilliseconds: job.timeoutMilliseconds, stopped: { [self] in isStopped })
        deliver(.handshaking)
        let (replicationID, start) = try handshake(&link)
        let id = ClientID(rawValue: MasterLink.clientIDBase | (job.generation & 0x3FFF_FFFF) << 32 | (attempt & 0xFFFF_FFFF))
        condition.lock()
        client = id
        inFlight = 0
        condition.unlock()
        deliver(.transferring(replicationID: replicationID, offset: start, client: id))
        let rdb = try link.readPayload()
        let contents: RDBFile.Contents
        do {
            contents = try RDBFile.parse(rdb)
        } catch {
            throw Failure(reason: "cannot load the master's RDB file: \(error.reason)")
        }
        try feed(MasterLink.loadRequests(contents), client: id, offset: start)
        try waitUntilAnswered(0)
        deliver(.synchronized(offset: start))
        try stream(&link, client: id, offset: start)
    }

    /// PING, AUTH, REPLCONF, PSYNC: the master's replication id and starting offset.
    private func handshake(_ link: inout Connection) throws(Failure) -> (String, Int64) {
        try link.send([Array("PING".utf8)])
        let pong = try link.readLine()
        // As Redis: an error that only says authentication is needed lets the handshake go on.
        if pong.hasPrefix("-"), !["-NOAUTH", "-NOPERM", "-ERR operation not permitted"].contains(where: { pong.hasPrefix($0) }) {
            throw Failure(reason: "the master answered PING with \(pong)")
        }
        if !job.authentication.isEmpty {
            try link.send([Array("AUTH".utf8)] + job.authentication)
            let answer = try link.readLine()
            guard answer.hasPrefix("+") else { throw Failure(reason: "the master refused AUTH (masteruser/masterauth): \(answer)") }
        }
        try link.send([Array("REPLCONF".utf8), Array("listening-port".utf8), Array(String(job.listeningPort).utf8)])
        _ = try link.readLine()  // an old master's error here is not fatal (Redis goes on too)
        try link.send([Array("REPLCONF".utf8), Array("capa".utf8), Array("psync2".utf8)])
        _ = try link.readLine()
        try link.send([Array("PSYNC".utf8), Array("?".utf8), Array("-1".utf8)])
        let answer = try link.readLine()
        let words = answer.split(separator: " ")
        guard words.count == 3, words[0] == "+FULLRESYNC", let offset = Int64(words[2]) else {
            throw Failure(reason: "the master answered PSYNC with \(answer)")
        }
        return (String(words[1]), offset)
    }

    /// Hands `requests` to the node in batches, each once the node has room for it.
    private func feed(_ requests: [[Bytes]], client id: ClientID, offset: Int64) throws(Failure) {
        var start = 0
        while start < requests.count {
            let end = min(requests.count, start + Self.batchMax)
            try waitUntilAnswered(MasterLink.requestsInFlightMax - (end - start))
            condition.lock()
            inFlight += end - start
            condition.unlock()
            deliver(.requests(Array(requests[start..<end]), client: id, offset: offset))
            start = end
        }
    }

    /// Waits until at most `limit` requests are unanswered.
    private func waitUntilAnswered(_ limit: Int) throws(Failure) {
        condition.lock()
        defer { condition.unlock() }
        while inFlight > limit, !stopped { condition.wait() }
        if stopped { throw Failure(reason: "stopped") }
    }

    /// The master's stream: commands fed to the node, PINGs counted, GETACK answered, an
    /// ACK every second; until the link breaks or goes quiet for the timeout.
    private func stream(_ link: inout Connection, client id: ClientID, offset start: Int64) throws(Failure) {
        var offset = start
        var reported = start
        var lastAcknowledge = DispatchTime.now().uptimeNanoseconds
        while true {
            var batch: [[Bytes]] = []
            while batch.count < Self.batchMax, let (command, bytes) = try link.nextCommand() {
                offset += Int64(bytes)
                if Keyword.matches(command[0], "ping") { continue }
                if command.count >= 2, Keyword.matches(command[0], "replconf"), Keyword.matches(command[1], "getack") {
                    if !batch.isEmpty { try feed(batch, client: id, offset: offset) }
                    batch = []
                    try link.send(Self.acknowledgement(offset))
                    continue
                }
                batch.append(command)
            }
            if !batch.isEmpty {
                try feed(batch, client: id, offset: offset)
                reported = offset
            } else if offset != reported {
                deliver(.offset(offset))
                reported = offset
            }
            let time = DispatchTime.now().uptimeNanoseconds
            if time &- lastAcknowledge >= Self.acknowledgeMilliseconds * 1_000_000 {
                try link.send(Self.acknowledgement(offset))
                lastAcknowledge = time
            }
            if link.buffered == 0 || batch.isEmpty { try link.receive() }
        }
    }

    private static func acknowledgement(_ offset: Int64) -> [Bytes] {
        [Array("REPLCONF".utf8), Array("ACK".utf8), Array(String(offset).utf8)]
    }
}

extension MasterLinkClient {
    /// A blocking socket with a read buffer. Reads wake every second (SO_RCVTIMEO) to let
    /// the caller send ACKs and notice a stop; `timeoutMilliseconds` without a byte fails.
    struct Connection {
        let socket: Int32
        let timeoutMilliseconds: Int
        let stopped: () -> Bool
        var inbound = ByteBufferAllocator().buffer(capacity: 16_384)
        var lastByte = DispatchTime.now().uptimeNanoseconds
        let reader = RESPReader()

        var buffered: Int { inbound.readableBytes }

        mutating func send(_ command: [Bytes]) throws(Failure) {
            var outbound = ByteBufferAllocator().buffer(capacity: 64)
            RESPEncoder.writeCommand(command, into: &outbound)
            guard MigrationClient.sendAll(socket, outbound) else {
                throw Failure(reason: "writing to the master failed (errno \(errno))")
            }
        }

        /// Reads what arrives within a second into the buffer (maybe nothing).
        mutating func receive() throws(Failure) {
            if stopped() { throw Failure(reason: "stopped") }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let received = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            let time = DispatchTime.now().uptimeNanoseconds
            if received > 0 {
                inbound.writeBytes(chunk[0..<received])
                lastByte = time
                return
            }
            if received == 0 { throw Failure(reason: "the master closed the connection") }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                throw Failure(reason: "reading from the master failed (errno \(errno))")
            }
            if time &- lastByte > UInt64(timeoutMilliseconds) * 1_000_000 {
                throw Failure(reason: "no data from the master for \(timeoutMilliseconds / 1000) seconds (repl-timeout)")
            }
        }

        /// One CRLF-ended line, without the CRLF. Lone newlines (the master's keepalive
        /// while it prepares the RDB file) are skipped.
        mutating func readLine() throws(Failure) -> String {
            while true {
                while inbound.readableBytes > 0, inbound.readableBytesView.first == UInt8(ascii: "\n") { inbound.moveReaderIndex(forwardBy: 1) }
                if let end = inbound.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                    let length = end - inbound.readerIndex
                    let line = inbound.readString(length: length) ?? ""
                    inbound.moveReaderIndex(forwardBy: 1)
                    return line.hasSuffix("\r") ? String(line.dropLast()) : line
                }
                guard inbound.readableBytes <= MasterLinkClient.lineBytesMax else { throw Failure(reason: "the master sent an over-long line") }
                try receive()
            }
        }

        /// The full resynchronization's payload: `$<length>` and that many bytes.
        mutating func readPayload() throws(Failure) -> [UInt8] {
            let header = try readLine()
            if header.hasPrefix("$EOF:") { throw Failure(reason: "the master sent a diskless payload, which this replica did not ask for") }
            guard header.hasPrefix("$"), let length = Int(header.dropFirst()), length >= 0 else {
                throw Failure(reason: "the master sent \(header.prefix(64)) where the RDB file's length belongs")
            }
            guard length <= MasterLink.payloadBytesMax else {
                throw Failure(reason: "the master's RDB file (\(length) bytes) is larger than \(MasterLink.payloadBytesMax) bytes")
            }
            var payload: [UInt8] = []
            payload.reserveCapacity(length)
            while payload.count < length {
                if inbound.readableBytes == 0 { try receive() }
                let take = min(inbound.readableBytes, length - payload.count)
                if take > 0, let bytes = inbound.readBytes(length: take) { payload += bytes }
                inbound.discardReadBytes()
            }
            return payload
        }

        /// The next whole command in the buffer and the bytes it took, or nil when more
        /// bytes are needed.
        mutating func nextCommand() throws(Failure) -> ([Bytes], Int)? {
            let before = inbound.readerIndex
            let value: RESPValue?
            do {
                value = try reader.next(from: &inbound)
            } catch {
                throw Failure(reason: "the master's stream broke the protocol: \(error)")
            }
            guard let value else {
                if inbound.readerIndex > 1 << 20 { inbound.discardReadBytes() }
                return nil
            }
            let consumed = inbound.readerIndex - before
            guard case .array(let elements) = value, !elements.isEmpty else {
                throw Failure(reason: "the master sent something other than a command in its stream")
            }
            var command: [Bytes] = []
            command.reserveCapacity(elements.count)
            for element in elements {
                guard case .bulk(let bytes) = element else { throw Failure(reason: "the master sent a command with a non-string argument") }
                command.append(bytes)
            }
            return (command, consumed)
        }
    }
}
