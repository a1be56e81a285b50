// Writes PeerFrames into a ByteBuffer. This file is also the wire format's reference.
//
// Frame on the wire (all integers little-endian):
//   length  u32   bytes after this 8-byte header: the kind byte plus the body (>= 1)
//   crc     u32   CRC-32C (Castagnoli) over those `length` bytes
//   kind    u8    1 hello, 2 raft, 3 request, 4 reply, 5 proof
//   body
// Bodies:
//   hello    version u16 (= 2), node u64, cluster name: u32 length + UTF-8 bytes,
//            nonce: u32 length + bytes (version 1 had no nonce; it is still read)
//   proof    mac: u32 length + bytes
//   raft     shard u64, message count u32, messages
//   request  id u64, payload: u32 length + bytes
//   reply    id u64, payload: u32 length + bytes
// Message: from u64, to u64, term u64, body tag u8, then per tag:
//   1 appendEntries      prevIndex u64, prevTerm u64, commit u64, entry count u32, entries
//   2 appendResponse     index u64, reject bool, hintIndex u64, hintTerm u64
//   3 heartbeat          commit u64, readSequence u64
//   4 heartbeatResponse  readSequence u64
//   5 requestVote        lastIndex u64, lastTerm u64, preVote bool, transfer bool
//   6 voteResponse       granted bool, preVote bool
//   7 snapshotChunk      metadata, offset u64, bytes (u32 length + bytes), done bool
//   8 snapshotResponse   index u64, nextOffset u64
//   9 timeoutNow         (nothing)
// Entry: term u64, index u64, payload tag u8: 0 empty | 1 command (u32 length + bytes)
//   | 2 configChange: change kind u8 (1 addLearner, 2 promote, 3 remove), node u64, membership
// Membership: voter count u32, voters u64..., learner count u32, learners u64...
// SnapshotMetadata: index u64, term u64, membership. A bool is one byte, 0 or 1.
//
// Invariant: the encoder never produces a frame its own decoder (same limits) rejects; a
// frame over a limit throws and leaves the buffer as it was.
import Cluster
import Consensus
import Core
import NIOCore

public enum PeerWire {
    /// Bytes of the frame header: length u32 + crc u32.
    public static let headerBytes = 8
    /// The hello protocol version this code speaks (2 added the nonce).
    public static let protocolVersion: UInt16 = 2
    /// Hello versions this code reads.
    public static let protocolVersionsRead: ClosedRange<UInt16> = 1...2
    /// Most bytes of a hello nonce or a proof's MAC.
    public static let authBytesMax = 64

    /// The largest hello under `limits` (kind, version, node, name length, name, nonce
    /// length, nonce): the length limit for a connection's frames before it is trusted
    /// (a proof is smaller).
    public static func helloBytesMax(_ limits: PeerLimits) -> Int { 1 + 2 + 8 + 4 + limits.clusterNameBytesMax + 4 + authBytesMax }
}

public struct PeerFrameEncoder: Sendable {
    public let limits: PeerLimits

    public init(limits: PeerLimits = PeerLimits()) { self.limits = limits }

    /// Appends `frame` to `buffer` and returns the bytes written (header included). On error
    /// `buffer` is unchanged.
    @discardableResult
    public func encode(_ frame: PeerFrame, into buffer: inout ByteBuffer) throws(PeerCodecError) -> Int {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0), endianness: .little)
        buffer.writeInteger(UInt32(0), endianness: .little)
        buffer.writeInteger(frame.kind.rawValue)
        do {
            try writeBody(frame, into: &buffer)
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
        let length = buffer.writerIndex - start - PeerWire.headerBytes
        guard length <= limits.frameBytesMax else {
            buffer.moveWriterIndex(to: start)
            throw .invalidValue(field: "frame larger than frameBytesMax (\(length) bytes)")
        }
        let crc = Self.checksum(of: buffer, at: start + PeerWire.headerBytes, length: length)
        buffer.setInteger(UInt32(length), at: start, endianness: .little)
        buffer.setInteger(crc, at: start + 4, endianness: .little)
        return length + PeerWire.headerBytes
    }

    /// The checksum a frame of `length` body bytes at the start of `buffer` needs (nil if
    /// the buffer is shorter): lets a fuzzer reach the body parsers.
    public static func checksumForFuzzing(of buffer: ByteBuffer, length: Int) -> UInt32? {
        guard length >= 1, buffer.readableBytes >= PeerWire.headerBytes + length else { return nil }
        return checksum(of: buffer, at: buffer.readerIndex + PeerWire.headerBytes, length: length)
    }

    /// CRC-32C of `length` bytes at absolute index `index` of `buffer`.
    static func checksum(of buffer: ByteBuffer, at index: Int, length: Int) -> UInt32 {
        buffer.withUnsafeReadableBytes { raw in
            let offset = index - buffer.readerIndex
            return CRC32C.update(0, UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)]))
        }
    }

    // MARK: - Bodies

    private func writeBody(_ frame: PeerFrame, into buffer: inout ByteBuffer) throws(PeerCodecError) {
        switch frame {
        case let .hello(node, cluster, nonce):
            let name = Array(cluster.utf8)
            try check("cluster name bytes", name.count, limits.clusterNameBytesMax)
            try check("hello nonce bytes", nonce.count, PeerWire.authBytesMax)
            buffer.writeInteger(PeerWire.protocolVersion, endianness: .little)
            buffer.writeInteger(node.rawValue, endianness: .little)
            writeBlob(name, into: &buffer)
            writeBlob(nonce, into: &buffer)
        case let .proof(mac):
            try check("proof bytes", mac.count, PeerWire.authBytesMax)
            writeBlob(mac, into: &buffer)
        case let .raft(shard, messages):
            try check("messages per frame", messages.count, limits.messagesPerFrameMax)
            buffer.writeInteger(shard.rawValue, endianness: .little)
            buffer.writeInteger(UInt32(messages.count), endianness: .little)
            for message in messages { try writeMessage(message, into: &buffer) }
        case let .request(id, payload), let .reply(id, payload):
            buffer.writeInteger(id, endianness: .little)
            try check("payload bytes", payload.count, limits.frameBytesMax)
            writeBlob(payload, into: &buffer)
        }
    }

    private func writeMessage(_ message: Message, into buffer: inout ByteBuffer) throws(PeerCodecError) {
        write(message.from.rawValue, &buffer)
        write(message.to.rawValue, &buffer)
        write(message.term.rawValue, &buffer)
        switch message.body {
        case let .appendEntries(prevIndex, prevTerm, entries, commit):
            try check("entries per message", entries.count, limits.entriesPerMessageMax)
            buffer.writeInteger(MessageTag.appendEntries.rawValue)
            write(prevIndex.rawValue, &buffer)
            write(prevTerm.rawValue, &buffer)
            write(commit.rawValue, &buffer)
            buffer.writeInteger(UInt32(entries.count), endianness: .little)
            for entry in entries { try writeEntry(entry, into: &buffer) }
        case let .appendResponse(index, reject, hintIndex, hintTerm):
            buffer.writeInteger(MessageTag.appendResponse.rawValue)
            write(index.rawValue, &buffer)
            write(reject, &buffer)
            write(hintIndex.rawValue, &buffer)
            write(hintTerm.rawValue, &buffer)
        case let .heartbeat(commit, readSequence):
            buffer.writeInteger(MessageTag.heartbeat.rawValue)
            write(commit.rawValue, &buffer)
            write(readSequence, &buffer)
        case let .heartbeatResponse(readSequence):
            buffer.writeInteger(MessageTag.heartbeatResponse.rawValue)
            write(readSequence, &buffer)
        case let .requestVote(lastIndex, lastTerm, preVote, transfer):
            buffer.writeInteger(MessageTag.requestVote.rawValue)
            write(lastIndex.rawValue, &buffer)
            write(lastTerm.rawValue, &buffer)
            write(preVote, &buffer)
            write(transfer, &buffer)
        case let .voteResponse(granted, preVote):
            buffer.writeInteger(MessageTag.voteResponse.rawValue)
            write(granted, &buffer)
            write(preVote, &buffer)
        case let .snapshotChunk(metadata, offset, bytes, done):
            guard offset >= 0 else { throw .invalidValue(field: "snapshot chunk offset") }
            try check("snapshot chunk bytes", bytes.count, limits.frameBytesMax)
            buffer.writeInteger(MessageTag.snapshotChunk.rawValue)
            try writeMetadata(metadata, into: &buffer)
            write(UInt64(offset), &buffer)
            writeBlob(bytes, into: &buffer)
            write(done, &buffer)
        case let .snapshotResponse(index, nextOffset):
            guard nextOffset >= 0 else { throw .invalidValue(field: "snapshot response offset") }
            buffer.writeInteger(MessageTag.snapshotResponse.rawValue)
            write(index.rawValue, &buffer)
            write(UInt64(nextOffset), &buffer)
        case .timeoutNow:
            buffer.writeInteger(MessageTag.timeoutNow.rawValue)
        }
    }

    private func writeEntry(_ entry: Entry, into buffer: inout ByteBuffer) throws(PeerCodecError) {
        write(entry.term.rawValue, &buffer)
        write(entry.index.rawValue, &buffer)
        switch entry.payload {
        case .empty:
            buffer.writeInteger(PayloadTag.empty.rawValue)
        case .command(let bytes):
            try check("command bytes", bytes.count, limits.frameBytesMax)
            buffer.writeInteger(PayloadTag.command.rawValue)
            writeBlob(bytes, into: &buffer)
        case let .configChange(change, membership):
            buffer.writeInteger(PayloadTag.configChange.rawValue)
            buffer.writeInteger(ChangeTag(change.kind).rawValue)
            write(change.node.rawValue, &buffer)
            try writeMembership(membership, into: &buffer)
        }
    }

    private func writeMetadata(_ metadata: SnapshotMetadata, into buffer: inout ByteBuffer) throws(PeerCodecError) {
        write(metadata.index.rawValue, &buffer)
        write(metadata.term.rawValue, &buffer)
        try writeMembership(metadata.membership, into: &buffer)
    }

    private func writeMembership(_ membership: Membership, into buffer: inout ByteBuffer) throws(PeerCodecError) {
        try check("membership nodes", membership.voters.count + membership.learners.count, limits.membershipNodesMax)
        for group in [membership.voters, membership.learners] {
            buffer.writeInteger(UInt32(group.count), endianness: .little)
            for node in group { write(node.rawValue, &buffer) }
        }
    }

    // MARK: - Primitives

    private func check(_ field: String, _ count: Int, _ limit: Int) throws(PeerCodecError) {
        guard count <= limit else { throw .limitExceeded(field: field, count: count, limit: limit) }
    }

    private func write(_ value: UInt64, _ buffer: inout ByteBuffer) {
        buffer.writeInteger(value, endianness: .little)
    }

    private func write(_ value: Bool, _ buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(value ? 1 : 0))
    }

    private func writeBlob(_ bytes: [UInt8], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(bytes.count), endianness: .little)
        buffer.writeBytes(bytes)
    }
}

/// Tags of MessageBody cases on the wire.
enum MessageTag: UInt8 {
    case appendEntries = 1, appendResponse, heartbeat, heartbeatResponse, requestVote, voteResponse
    case snapshotChunk, snapshotResponse, timeoutNow
}

/// Tags of EntryPayload cases on the wire.
enum PayloadTag: UInt8 {
    case empty = 0, command, configChange
}

/// Tags of ConfigChange.Kind on the wire.
enum ChangeTag: UInt8 {
    case addLearner = 1, promote, remove

    init(_ kind: ConfigChange.Kind) {
        switch kind {
        case .addLearner: self = .addLearner
        case .promote: self = .promote
        case .remove: self = .remove
        }
    }

    var kind: ConfigChange.Kind {
        switch self {
        case .addLearner: return .addLearner
        case .promote: return .promote
        case .remove: return .remove
        }
    }
}
