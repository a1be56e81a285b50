// The peer frame codec: round trips of every frame and message case, exact bytes of a
// frame, incremental decoding byte by byte and at random splits, and rejection of bad
// lengths, checksums, kinds, tags, counts and garbage.
import Cluster
import Consensus
import Core
import NIOCore
import Testing
@testable import Transport

enum Samples {
    static let membership = Membership(voters: [NodeID(1), NodeID(2), NodeID(3)], learners: [NodeID(7)])
    static let metadata = SnapshotMetadata(index: LogIndex(90), term: Term(4), membership: membership)

    /// One message per MessageBody case, entries of every payload case.
    static let messages: [Message] = {
        let entries = [
            Entry(term: Term(3), index: LogIndex(11), payload: .empty),
            Entry(term: Term(3), index: LogIndex(12), payload: .command([1, 2, 3, 0xFF])),
            Entry(term: Term(3), index: LogIndex(13), payload: .command([])),
            Entry(term: Term(4), index: LogIndex(14), payload: .configChange(ConfigChange(.addLearner, NodeID(7)), membership)),
            Entry(term: Term(4), index: LogIndex(15), payload: .configChange(ConfigChange(.promote, NodeID(7)), Membership(voters: [NodeID(1), NodeID(7)]))),
            Entry(term: Term(4), index: LogIndex(16), payload: .configChange(ConfigChange(.remove, NodeID(2)), Membership(voters: [NodeID(1)]))),
        ]
        let bodies: [MessageBody] = [
            .appendEntries(prevIndex: LogIndex(10), prevTerm: Term(3), entries: entries, commit: LogIndex(9)),
            .appendEntries(prevIndex: .zero, prevTerm: .zero, entries: [], commit: .zero),
            .appendResponse(index: LogIndex(16), reject: false, hintIndex: .zero, hintTerm: .zero),
            .appendResponse(index: LogIndex(16), reject: true, hintIndex: LogIndex(12), hintTerm: Term(2)),
            .heartbeat(commit: LogIndex(16), readSequence: 42),
            .heartbeatResponse(readSequence: UInt64.max),
            .requestVote(lastIndex: LogIndex(16), lastTerm: Term(4), preVote: true, transfer: false),
            .requestVote(lastIndex: LogIndex(16), lastTerm: Term(4), preVote: false, transfer: true),
            .voteResponse(granted: true, preVote: false),
            .voteResponse(granted: false, preVote: true),
            .snapshotChunk(metadata: metadata, offset: 4096, bytes: Array(0..<200).map { UInt8($0) }, done: false),
            .snapshotChunk(metadata: metadata, offset: 0, bytes: [], done: true),
            .snapshotResponse(index: LogIndex(90), nextOffset: 8192),
            .timeoutNow,
        ]
        return bodies.enumerated().map { offset, body in
            Message(from: NodeID(1), to: NodeID(UInt64(2 + offset % 2)), term: Term(UInt64(4 + offset)), body: body)
        }
    }()

    static let frames: [PeerFrame] = {
        var frames: [PeerFrame] = [
            .hello(node: NodeID(5), cluster: "trestle-test"),
            .hello(node: NodeID(UInt64.max), cluster: ""),
            .hello(node: NodeID(2), cluster: "ünïcode ✓"),
            .hello(node: NodeID(3), cluster: "c", nonce: Array(0..<32)),
            .proof(mac: Array(100..<132)),
            .proof(mac: []),
            .raft(shard: ShardID(0), messages: []),
            .raft(shard: ShardID(3), messages: messages),
            .request(id: 1, payload: Array("*1\r\n$4\r\nPING\r\n".utf8)),
            .request(id: UInt64.max, payload: []),
            .reply(id: 1, payload: Array("+PONG\r\n".utf8)),
            .reply(id: 0, payload: Array(repeating: 0xAB, count: 70_000)),
        ]
        for message in messages { frames.append(.raft(shard: ShardID(9), messages: [message])) }
        return frames
    }()

    static func encode(_ frames: [PeerFrame], limits: PeerLimits = PeerLimits()) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        let encoder = PeerFrameEncoder(limits: limits)
        for frame in frames { try encoder.encode(frame, into: &buffer) }
        return buffer
    }

    /// A frame with a correct header around arbitrary kind and body bytes.
    static func rawFrame(kind: UInt8, body: [UInt8]) -> ByteBuffer {
        let payload = [kind] + body
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(payload.count), endianness: .little)
        buffer.writeInteger(CRC32C.checksum(payload), endianness: .little)
        buffer.writeBytes(payload)
        return buffer
    }

    static func le64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

/// Feeds `bytes` in pieces of the given sizes, decoding greedily after each, as a
/// connection handler would.
private func decodeInPieces(_ bytes: [UInt8], sizes: [Int], limits: PeerLimits = PeerLimits()) throws -> [PeerFrame] {
    let decoder = PeerFrameDecoder(limits: limits)
    var accumulated = ByteBuffer()
    var frames: [PeerFrame] = []
    var offset = 0
    for size in sizes where offset < bytes.count {
        let end = min(bytes.count, offset + size)
        accumulated.writeBytes(bytes[offset..<end])
        offset = end
        while let decoded = try decoder.decodeFrame(from: &accumulated) { frames.append(decoded.frame) }
    }
    #expect(offset == bytes.count)
    #expect(accumulated.readableBytes == 0)
    return frames
}

@Suite struct PeerFrameCodecTests {
    @Test func everyFrameRoundTrips() throws {
        let decoder = PeerFrameDecoder()
        for frame in Samples.frames {
            var buffer = try Samples.encode([frame])
            let size = buffer.readableBytes
            let decoded = try #require(try decoder.decodeFrame(from: &buffer))
            #expect(decoded.frame == frame)
            #expect(decoded.wireBytes == size)
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func messageSizesMatchTheEncoding() throws {
        for message in Samples.messages {
            let frame = try Samples.encode([.raft(shard: ShardID(1), messages: [message])])
            #expect(frame.readableBytes == PeerWire.raftFrameOverheadBytes + PeerWire.encodedBytes(of: message), "\(message)")
        }
        let all = try Samples.encode([.raft(shard: ShardID(1), messages: Samples.messages)])
        #expect(all.readableBytes == Samples.messages.reduce(PeerWire.raftFrameOverheadBytes) { $0 + PeerWire.encodedBytes(of: $1) })
    }

    @Test func helloHasTheDocumentedBytes() throws {
        let buffer = try Samples.encode([.hello(node: NodeID(2), cluster: "t", nonce: [7, 8])])
        let payload: [UInt8] = [1, 2, 0] + Samples.le64(2) + Samples.le32(1) + [UInt8(ascii: "t")] + Samples.le32(2) + [7, 8]
        let expected = Samples.le32(UInt32(payload.count)) + Samples.le32(CRC32C.checksum(payload)) + payload
        #expect(Array(buffer.readableBytesView) == expected)
    }

    @Test func aVersionOneHelloIsStillReadWithoutANonce() throws {
        let payload: [UInt8] = [1, 1, 0] + Samples.le64(2) + Samples.le32(1) + [UInt8(ascii: "t")]
        var buffer = ByteBuffer(bytes: Samples.le32(UInt32(payload.count)) + Samples.le32(CRC32C.checksum(payload)) + payload)
        #expect(try PeerFrameDecoder().decodeFrame(from: &buffer)?.frame == .hello(node: NodeID(2), cluster: "t", nonce: []))
    }

    @Test func proofHasTheDocumentedBytes() throws {
        let buffer = try Samples.encode([.proof(mac: [1, 2, 3])])
        let payload: [UInt8] = [5] + Samples.le32(3) + [1, 2, 3]
        let expected = Samples.le32(UInt32(payload.count)) + Samples.le32(CRC32C.checksum(payload)) + payload
        #expect(Array(buffer.readableBytesView) == expected)
    }

    @Test func requestHasTheDocumentedBytes() throws {
        let buffer = try Samples.encode([.request(id: 0x0102, payload: [9, 8])])
        let payload: [UInt8] = [3] + Samples.le64(0x0102) + Samples.le32(2) + [9, 8]
        let expected = Samples.le32(UInt32(payload.count)) + Samples.le32(CRC32C.checksum(payload)) + payload
        #expect(Array(buffer.readableBytesView) == expected)
    }

    @Test func decodesByteByByte() throws {
        let bytes = Array(try Samples.encode(Samples.frames).readableBytesView)
        let frames = try decodeInPieces(bytes, sizes: Array(repeating: 1, count: bytes.count))
        #expect(frames == Samples.frames)
    }

    @Test func decodesAtRandomSplitsAndWhole() throws {
        let bytes = Array(try Samples.encode(Samples.frames).readableBytesView)
        #expect(try decodeInPieces(bytes, sizes: [bytes.count]) == Samples.frames)
        for seed in UInt64(1)...20 {
            var random = SeededRandom(seed: seed)
            var sizes: [Int] = []
            var total = 0
            while total < bytes.count {
                let size = random.int(in: 1...(seed % 2 == 0 ? 64 : 20_000))
                sizes.append(size)
                total += size
            }
            #expect(try decodeInPieces(bytes, sizes: sizes) == Samples.frames, "seed \(seed)")
        }
    }

    @Test func incompleteFrameConsumesNothing() throws {
        var full = try Samples.encode([.request(id: 7, payload: [1, 2, 3])])
        let decoder = PeerFrameDecoder()
        for length in 0..<full.readableBytes {
            var partial = try #require(full.getSlice(at: 0, length: length))
            #expect(try decoder.decodeFrame(from: &partial) == nil)
            #expect(partial.readableBytes == length)
        }
        #expect(try decoder.decodeFrame(from: &full)?.frame == .request(id: 7, payload: [1, 2, 3]))
    }

    // MARK: - Rejections

    @Test func zeroLengthIsRejected() {
        var buffer = ByteBuffer(bytes: Samples.le32(0) + Samples.le32(0))
        #expect(throws: PeerCodecError.invalidLength(0)) { try PeerFrameDecoder().decodeFrame(from: &buffer) }
    }

    @Test func oversizedLengthIsRejectedFromTheHeaderAlone() {
        var limits = PeerLimits()
        limits.frameBytesMax = 1000
        var buffer = ByteBuffer(bytes: Samples.le32(1001))
        #expect(throws: PeerCodecError.invalidLength(1001)) { try PeerFrameDecoder(limits: limits).decodeFrame(from: &buffer) }
        var huge = ByteBuffer(bytes: Samples.le32(UInt32.max))
        #expect(throws: PeerCodecError.invalidLength(UInt32.max)) { try PeerFrameDecoder().decodeFrame(from: &huge) }
    }

    @Test func aLowerLengthLimitAppliesBeforeTheHello() throws {
        var big = try Samples.encode([.request(id: 1, payload: Array(repeating: 0, count: 400))])
        let helloMax = PeerWire.helloBytesMax(PeerLimits())
        #expect(throws: PeerCodecError.self) { try PeerFrameDecoder().decodeFrame(from: &big, lengthMax: helloMax) }
        var longestHello = try Samples.encode([.hello(node: NodeID(1), cluster: String(repeating: "x", count: 255),
                                                      nonce: Array(repeating: 1, count: PeerWire.authBytesMax))])
        #expect(longestHello.readableBytes == PeerWire.headerBytes + helloMax)
        #expect(try PeerFrameDecoder().decodeFrame(from: &longestHello, lengthMax: helloMax) != nil)
    }

    @Test func everyFlippedBodyOrChecksumByteIsRejected() throws {
        let original = Array(try Samples.encode([.raft(shard: ShardID(3), messages: Array(Samples.messages.prefix(3)))]).readableBytesView)
        for position in 4..<original.count {
            var corrupted = original
            corrupted[position] ^= 0x20
            var buffer = ByteBuffer(bytes: corrupted)
            #expect(throws: PeerCodecError.self) { try PeerFrameDecoder().decodeFrame(from: &buffer) }
        }
    }

    @Test func checksumMismatchIsTyped() throws {
        var bytes = Array(try Samples.encode([.reply(id: 1, payload: [1, 2, 3])]).readableBytesView)
        let expected = UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24
        bytes[bytes.count - 1] ^= 1
        let actual = CRC32C.checksum(Array(bytes[8...]))
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: PeerCodecError.checksumMismatch(expected: expected, actual: actual)) {
            try PeerFrameDecoder().decodeFrame(from: &buffer)
        }
    }

    @Test func unknownKindAndTagsAreRejected() {
        var kind = Samples.rawFrame(kind: 9, body: [])
        #expect(throws: PeerCodecError.unknownFrameKind(9)) { try PeerFrameDecoder().decodeFrame(from: &kind) }
        let header = Samples.le64(1) + Samples.le64(2) + Samples.le64(3)
        var tag = Samples.rawFrame(kind: 2, body: Samples.le64(0) + Samples.le32(1) + header + [77])
        #expect(throws: PeerCodecError.unknownTag(field: "message", value: 77)) { try PeerFrameDecoder().decodeFrame(from: &tag) }
        let append = header + [1] + Samples.le64(0) + Samples.le64(0) + Samples.le64(0) + Samples.le32(1)
        var payload = Samples.rawFrame(kind: 2, body: Samples.le64(0) + Samples.le32(1) + append + Samples.le64(1) + Samples.le64(1) + [5])
        #expect(throws: PeerCodecError.unknownTag(field: "payload", value: 5)) { try PeerFrameDecoder().decodeFrame(from: &payload) }
    }

    @Test func unsupportedHelloVersionIsRejected() {
        var buffer = Samples.rawFrame(kind: 1, body: [3, 0] + Samples.le64(1) + Samples.le32(0))
        #expect(throws: PeerCodecError.unsupportedVersion(3)) { try PeerFrameDecoder().decodeFrame(from: &buffer) }
    }

    @Test func truncatedAndTrailingBodiesAreRejected() {
        var truncated = Samples.rawFrame(kind: 1, body: [1, 0] + Samples.le64(1) + Samples.le32(5) + [65])
        #expect(throws: PeerCodecError.truncated(field: "cluster name")) { try PeerFrameDecoder().decodeFrame(from: &truncated) }
        var trailing = Samples.rawFrame(kind: 3, body: Samples.le64(1) + Samples.le32(1) + [65, 66])
        #expect(throws: PeerCodecError.trailingBytes(1)) { try PeerFrameDecoder().decodeFrame(from: &trailing) }
    }

    @Test func booleansMustBeZeroOrOne() {
        let body = Samples.le64(0) + Samples.le32(1) + Samples.le64(1) + Samples.le64(2) + Samples.le64(3) + [6, 2, 0]
        var buffer = Samples.rawFrame(kind: 2, body: body)
        #expect(throws: PeerCodecError.invalidValue(field: "granted")) { try PeerFrameDecoder().decodeFrame(from: &buffer) }
    }

    @Test func clusterNameMustBeUTF8() {
        var buffer = Samples.rawFrame(kind: 1, body: [1, 0] + Samples.le64(1) + Samples.le32(2) + [0xC3, 0x28])
        #expect(throws: PeerCodecError.self) { try PeerFrameDecoder().decodeFrame(from: &buffer) }
    }

    @Test func countsAboveLimitsAreRejectedBeforeReading() {
        var limits = PeerLimits()
        limits.messagesPerFrameMax = 2
        var tooMany = Samples.rawFrame(kind: 2, body: Samples.le64(0) + Samples.le32(3))
        #expect(throws: PeerCodecError.limitExceeded(field: "messages per frame", count: 3, limit: 2)) {
            try PeerFrameDecoder(limits: limits).decodeFrame(from: &tooMany)
        }
        // A count within limits but with no bytes behind it is truncation, not an allocation.
        var hollow = Samples.rawFrame(kind: 2, body: Samples.le64(0) + Samples.le32(4000))
        #expect(throws: PeerCodecError.truncated(field: "message from")) { try PeerFrameDecoder().decodeFrame(from: &hollow) }
        var hugeBlob = Samples.rawFrame(kind: 3, body: Samples.le64(0) + Samples.le32(30_000_000))
        #expect(throws: PeerCodecError.truncated(field: "request payload")) { try PeerFrameDecoder().decodeFrame(from: &hugeBlob) }
    }

    @Test func encoderRefusesWhatTheDecoderWouldRejectAndLeavesTheBuffer() throws {
        var limits = PeerLimits()
        limits.entriesPerMessageMax = 1
        limits.frameBytesMax = 100
        let encoder = PeerFrameEncoder(limits: limits)
        var buffer = ByteBuffer(bytes: [42])
        #expect(throws: PeerCodecError.self) { try encoder.encode(.raft(shard: ShardID(1), messages: [Samples.messages[0]]), into: &buffer) }
        #expect(throws: PeerCodecError.self) { try encoder.encode(.request(id: 1, payload: Array(repeating: 0, count: 200)), into: &buffer) }
        let negative = Message(from: NodeID(1), to: NodeID(2), term: Term(1),
                               body: .snapshotResponse(index: LogIndex(1), nextOffset: -1))
        #expect(throws: PeerCodecError.invalidValue(field: "snapshot response offset")) {
            try encoder.encode(.raft(shard: ShardID(1), messages: [negative]), into: &buffer)
        }
        #expect(Array(buffer.readableBytesView) == [42])
    }

    @Test func garbageNeverCrashesTheDecoder() throws {
        var random = SeededRandom(seed: 7)
        let decoder = PeerFrameDecoder()
        let valid = Array(try Samples.encode(Samples.frames).readableBytesView)
        for round in 0..<2000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<random.int(in: 0...64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = valid
                for _ in 0..<random.int(in: 1...4) {
                    bytes[random.int(in: 0...(bytes.count - 1))] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            var buffer = ByteBuffer(bytes: bytes)
            do {
                while let decoded = try decoder.decodeFrame(from: &buffer) { _ = decoded }
            } catch {
                // Rejection is the expected outcome for most inputs; crashing is not.
            }
        }
    }

    @Test func corruptedFramesWithValidChecksumsAreRejectedNotCrashing() throws {
        // Mutate bodies and then fix the checksum, so the parser itself sees the garbage.
        var random = SeededRandom(seed: 11)
        let decoder = PeerFrameDecoder()
        var rejected = 0
        for round in 0..<3000 {
            let frame = Samples.frames[round % Samples.frames.count]
            var payload = Array(try Samples.encode([frame]).readableBytesView.dropFirst(8))
            for _ in 0..<random.int(in: 1...3) {
                payload[random.int(in: 0...(payload.count - 1))] = UInt8(truncatingIfNeeded: random.next())
            }
            if random.chance(0.3) { payload.removeLast(random.int(in: 0...(payload.count - 1))) }
            var buffer = Samples.rawFrame(kind: payload[0], body: Array(payload.dropFirst()))
            do {
                _ = try decoder.decodeFrame(from: &buffer)
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 100)
    }
}
