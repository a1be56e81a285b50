// Reads PeerFrames off the front of a ByteBuffer that accumulates a connection's bytes
// (wire format: PeerFrameEncoder.swift).
//
// Contract: `decodeFrame` either consumes exactly one whole frame and returns it, returns
// nil and consumes nothing (more bytes needed), or throws. It throws as soon as the header
// shows a bad length, so a peer cannot make us buffer more than `frameBytesMax + 8` bytes.
// The checksum is verified before any field is parsed. Counts read off the wire never
// reserve memory: elements are read one by one and each read is bounds-checked.
import Cluster
import Consensus
import Core
import NIOCore

public struct PeerFrameDecoder: Sendable {
    public let limits: PeerLimits

    public init(limits: PeerLimits = PeerLimits()) { self.limits = limits }

    /// One frame and the bytes it occupied on the wire (header included).
    public struct Decoded: Sendable, Equatable {
        public var frame: PeerFrame
        public var wireBytes: Int
    }

    /// Decodes the frame at the front of `buffer`. `lengthMax`, if given, lowers the length
    /// limit below `frameBytesMax` (a connection that has not said hello yet may only send
    /// a hello-sized frame).
    public func decodeFrame(from buffer: inout ByteBuffer, lengthMax: Int? = nil) throws(PeerCodecError) -> Decoded? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self) else {
            return nil
        }
        guard length >= 1, Int(length) <= min(limits.frameBytesMax, lengthMax ?? Int.max) else { throw .invalidLength(length) }
        let total = PeerWire.headerBytes + Int(length)
        guard buffer.readableBytes >= total,
              let expected = buffer.getInteger(at: buffer.readerIndex + 4, endianness: .little, as: UInt32.self)
        else { return nil }
        let bodyStart = buffer.readerIndex + PeerWire.headerBytes
        let actual = PeerFrameEncoder.checksum(of: buffer, at: bodyStart, length: Int(length))
        guard actual == expected else { throw .checksumMismatch(expected: expected, actual: actual) }
        guard var body = buffer.getSlice(at: bodyStart, length: Int(length)) else { return nil }
        let frame = try readFrame(&body)
        guard body.readableBytes == 0 else { throw .trailingBytes(body.readableBytes) }
        buffer.moveReaderIndex(forwardBy: total)
        return Decoded(frame: frame, wireBytes: total)
    }

    // MARK: - Bodies

    private func readFrame(_ body: inout ByteBuffer) throws(PeerCodecError) -> PeerFrame {
        let kindByte = try readByte(&body, "frame kind")
        guard let kind = PeerFrameKind(rawValue: kindByte) else { throw .unknownFrameKind(kindByte) }
        switch kind {
        case .hello:
            let version = try readU16(&body, "hello version")
            guard PeerWire.protocolVersionsRead.contains(version) else { throw .unsupportedVersion(version) }
            let node = NodeID(try readU64(&body, "hello node"))
            let name = try readBlob(&body, "cluster name", limit: limits.clusterNameBytesMax)
            let cluster = String(decoding: name, as: UTF8.self)
            guard Array(cluster.utf8) == name else { throw .invalidValue(field: "cluster name is not UTF-8") }
            let nonce = version >= 2 ? try readBlob(&body, "hello nonce", limit: PeerWire.authBytesMax) : []
            return .hello(node: node, cluster: cluster, nonce: nonce)
        case .proof:
            return .proof(mac: try readBlob(&body, "proof", limit: PeerWire.authBytesMax))
        case .raft:
            let shard = ShardID(try readU64(&body, "raft shard"))
            let count = try readCount(&body, "messages per frame", limit: limits.messagesPerFrameMax)
            var messages: [Message] = []
            for _ in 0..<count { messages.append(try readMessage(&body)) }
            return .raft(shard: shard, messages: messages)
        case .request:
            let id = try readU64(&body, "request id")
            return .request(id: id, payload: try readBlob(&body, "request payload", limit: limits.frameBytesMax))
        case .reply:
            let id = try readU64(&body, "reply id")
            return .reply(id: id, payload: try readBlob(&body, "reply payload", limit: limits.frameBytesMax))
        }
    }

    private func readMessage(_ body: inout ByteBuffer) throws(PeerCodecError) -> Message {
        let from = NodeID(try readU64(&body, "message from"))
        let to = NodeID(try readU64(&body, "message to"))
        let term = Term(try readU64(&body, "message term"))
        let tagByte = try readByte(&body, "message tag")
        guard let tag = MessageTag(rawValue: tagByte) else { throw .unknownTag(field: "message", value: tagByte) }
        return Message(from: from, to: to, term: term, body: try readMessageBody(tag, &body))
    }

    private func readMessageBody(_ tag: MessageTag, _ body: inout ByteBuffer) throws(PeerCodecError) -> MessageBody {
        switch tag {
        case .appendEntries:
            let prevIndex = LogIndex(try readU64(&body, "prevIndex"))
            let prevTerm = Term(try readU64(&body, "prevTerm"))
            let commit = LogIndex(try readU64(&body, "commit"))
            let count = try readCount(&body, "entries per message", limit: limits.entriesPerMessageMax)
            var entries: [Entry] = []
            for _ in 0..<count { entries.append(try readEntry(&body)) }
            return .appendEntries(prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: commit)
        case .appendResponse:
            let index = LogIndex(try readU64(&body, "index"))
            let reject = try readBool(&body, "reject")
            let hintIndex = LogIndex(try readU64(&body, "hintIndex"))
            let hintTerm = Term(try readU64(&body, "hintTerm"))
            return .appendResponse(index: index, reject: reject, hintIndex: hintIndex, hintTerm: hintTerm)
        case .heartbeat:
            let commit = LogIndex(try readU64(&body, "commit"))
            return .heartbeat(commit: commit, readSequence: try readU64(&body, "readSequence"))
        case .heartbeatResponse:
            return .heartbeatResponse(readSequence: try readU64(&body, "readSequence"))
        case .requestVote:
            let lastIndex = LogIndex(try readU64(&body, "lastIndex"))
            let lastTerm = Term(try readU64(&body, "lastTerm"))
            let preVote = try readBool(&body, "preVote")
            let transfer = try readBool(&body, "transfer")
            return .requestVote(lastIndex: lastIndex, lastTerm: lastTerm, preVote: preVote, transfer: transfer)
        case .voteResponse:
            let granted = try readBool(&body, "granted")
            return .voteResponse(granted: granted, preVote: try readBool(&body, "preVote"))
        case .snapshotChunk:
            let metadata = try readMetadata(&body)
            let offset = try readOffset(&body, "snapshot chunk offset")
            let bytes = try readBlob(&body, "snapshot chunk bytes", limit: limits.frameBytesMax)
            let done = try readBool(&body, "done")
            return .snapshotChunk(metadata: metadata, offset: offset, bytes: bytes, done: done)
        case .snapshotResponse:
            let index = LogIndex(try readU64(&body, "index"))
            return .snapshotResponse(index: index, nextOffset: try readOffset(&body, "snapshot response offset"))
        case .timeoutNow:
            return .timeoutNow
        }
    }

    private func readEntry(_ body: inout ByteBuffer) throws(PeerCodecError) -> Entry {
        let term = Term(try readU64(&body, "entry term"))
        let index = LogIndex(try readU64(&body, "entry index"))
        let tagByte = try readByte(&body, "payload tag")
        guard let tag = PayloadTag(rawValue: tagByte) else { throw .unknownTag(field: "payload", value: tagByte) }
        switch tag {
        case .empty:
            return Entry(term: term, index: index, payload: .empty)
        case .command:
            let bytes = try readBlob(&body, "command bytes", limit: limits.frameBytesMax)
            return Entry(term: term, index: index, payload: .command(bytes))
        case .configChange:
            let changeByte = try readByte(&body, "change kind")
            guard let change = ChangeTag(rawValue: changeByte) else { throw .unknownTag(field: "change", value: changeByte) }
            let node = NodeID(try readU64(&body, "change node"))
            let membership = try readMembership(&body)
            return Entry(term: term, index: index, payload: .configChange(ConfigChange(change.kind, node), membership))
        }
    }

    private func readMetadata(_ body: inout ByteBuffer) throws(PeerCodecError) -> SnapshotMetadata {
        let index = LogIndex(try readU64(&body, "snapshot index"))
        let term = Term(try readU64(&body, "snapshot term"))
        return SnapshotMetadata(index: index, term: term, membership: try readMembership(&body))
    }

    private func readMembership(_ body: inout ByteBuffer) throws(PeerCodecError) -> Membership {
        let voterCount = try readCount(&body, "membership nodes", limit: limits.membershipNodesMax)
        var voters: [NodeID] = []
        for _ in 0..<voterCount { voters.append(NodeID(try readU64(&body, "voter"))) }
        let learnerCount = try readCount(&body, "membership nodes", limit: limits.membershipNodesMax - voterCount)
        var learners: [NodeID] = []
        for _ in 0..<learnerCount { learners.append(NodeID(try readU64(&body, "learner"))) }
        return Membership(voters: voters, learners: learners)
    }

    // MARK: - Primitives

    private func readByte(_ body: inout ByteBuffer, _ field: String) throws(PeerCodecError) -> UInt8 {
        guard let value = body.readInteger(as: UInt8.self) else { throw .truncated(field: field) }
        return value
    }

    private func readU16(_ body: inout ByteBuffer, _ field: String) throws(PeerCodecError) -> UInt16 {
        guard let value = body.readInteger(endianness: .little, as: UInt16.self) else { throw .truncated(field: field) }
        return value
    }

    private func readU64(_ body: inout ByteBuffer, _ field: String) throws(PeerCodecError) -> UInt64 {
        guard let value = body.readInteger(endianness: .little, as: UInt64.self) else { throw .truncated(field: field) }
        return value
    }

    private func readBool(_ body: inout ByteBuffer, _ field: String) throws(PeerCodecError) -> Bool {
        switch try readByte(&body, field) {
        case 0: return false
        case 1: return true
        default: throw .invalidValue(field: field)
        }
    }

    /// A u64 that must fit a non-negative Int.
    private func readOffset(_ body: inout ByteBuffer, _ field: String) throws(PeerCodecError) -> Int {
        let value = try readU64(&body, field)
        guard value <= UInt64(Int.max) else { throw .invalidValue(field: field) }
        return Int(value)
    }

    /// A u32 count checked against `limit`.
    private func readCount(_ body: inout ByteBuffer, _ field: String, limit: Int) throws(PeerCodecError) -> Int {
        guard let count = body.readInteger(endianness: .little, as: UInt32.self) else { throw .truncated(field: field) }
        guard Int(count) <= limit else { throw .limitExceeded(field: field, count: Int(count), limit: limit) }
        return Int(count)
    }

    /// A u32 length and that many bytes; the bytes must already be in the body.
    private func readBlob(_ body: inout ByteBuffer, _ field: String, limit: Int) throws(PeerCodecError) -> [UInt8] {
        let length = try readCount(&body, field, limit: limit)
        guard let bytes = body.readBytes(length: length) else { throw .truncated(field: field) }
        return bytes
    }
}
