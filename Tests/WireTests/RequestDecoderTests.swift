import Core
import NIOCore
import Testing
@testable import Wire

/// Feeds `bytes` to a decoder in chunks of the given sizes and collects every request.
private func decodeAll(_ bytes: [UInt8], chunks: [Int], limits: ProtocolLimits = ProtocolLimits()) throws -> [[[UInt8]]] {
    var decoder = RequestDecoder(limits: limits)
    var buffer = ByteBuffer()
    var requests: [[[UInt8]]] = []
    var offset = 0
    var chunkIndex = 0
    while offset < bytes.count {
        let size = min(chunks[chunkIndex % chunks.count], bytes.count - offset)
        buffer.writeBytes(bytes[offset..<(offset + size)])
        offset += size
        chunkIndex += 1
        while let request = try decoder.next(from: &buffer) { requests.append(request) }
        buffer.discardReadBytes()
    }
    return requests
}

private func command(_ parts: String...) -> [[UInt8]] { parts.map { Array($0.utf8) } }

private let sampleStream: [UInt8] = Array(
    ("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n" + "PING\r\n" + "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
        + "*0\r\n" + "\r\n" + "set \"a b\" 'c d'\n" + "*1\r\n$0\r\n\r\n").utf8)

private let sampleRequests: [[[UInt8]]] = [
    command("SET", "key", "value"), command("PING"), command("GET", "key"),
    command("set", "a b", "c d"), [[]],
]

@Suite struct RequestDecoderTests {
    @Test func wholeByteByByteAndBatchedGiveTheSameRequests() throws {
        #expect(try decodeAll(sampleStream, chunks: [sampleStream.count]) == sampleRequests)
        #expect(try decodeAll(sampleStream, chunks: [1]) == sampleRequests)
        #expect(try decodeAll(sampleStream + sampleStream, chunks: [7, 3, 11]) == sampleRequests + sampleRequests)
    }

    @Test func randomSplitsOfValidStreamsDecodeIdentically() throws {
        var random = SeededRandom(seed: 7)
        for _ in 0..<300 {
            var stream: [UInt8] = []
            var expected: [[[UInt8]]] = []
            for _ in 0..<random.int(in: 1...20) {
                let arguments = (0..<random.int(in: 1...5)).map { _ in
                    (0..<random.int(in: 0...40)).map { _ in UInt8(random.int(in: 0...255)) }
                }
                var buffer = ByteBuffer()
                RESPEncoder.writeCommand(arguments, into: &buffer)
                stream += buffer.readableBytesView
                expected.append(arguments)
            }
            let chunks = (0..<5).map { _ in random.int(in: 1...64) }
            #expect(try decodeAll(stream, chunks: chunks) == expected)
        }
    }

    @Test func partialRequestIsNotReparsed() throws {
        var decoder = RequestDecoder()
        var buffer = ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$3\r\nke")
        #expect(try decoder.next(from: &buffer) == nil)
        // The header and the first argument were consumed; only the partial bulk remains.
        #expect(buffer.readableBytes == "$3\r\nke".utf8.count - "$3\r\n".utf8.count)
        buffer.writeString("y\r\n")
        #expect(try decoder.next(from: &buffer) == command("GET", "key"))
    }

    @Test func redisProtocolErrorTexts() throws {
        let cases: [(String, String)] = [
            ("*abc\r\n", "ERR Protocol error: invalid multibulk length"),
            ("*2\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
            ("*2\r\n+3\r\n", "ERR Protocol error: expected '$', got '+'"),
            ("set \"abc\n", "ERR Protocol error: unbalanced quotes in request"),
            ("*99999999999999999999\r\n", "ERR Protocol error: invalid multibulk length"),
        ]
        for (input, message) in cases {
            var decoder = RequestDecoder()
            var buffer = ByteBuffer(string: input)
            #expect(throws: ProtocolError.self) { _ = try decoder.next(from: &buffer) }
            var again = RequestDecoder()
            buffer = ByteBuffer(string: input)
            do { _ = try again.next(from: &buffer) } catch { #expect(error.message == message) }
        }
    }

    /// The whole-request fast path gives way to the element-by-element path on anything
    /// unusual: fed whole or a byte at a time, a stream decodes to the same requests and
    /// ends with the same error.
    @Test func fastAndSlowPathsAgreeOnEdgeCases() throws {
        let streams = [
            "*1\r\n$03\r\nabc\r\n", "*01\r\n$1\r\na\r\n", "*2\r\n$1\r\na\r\n+1\r\n", "*1\r\n$-1\r\n",
            "*1\r\n$1\r\nab\r\n*1\r\n$4\r\nPING\r\n", "*0\r\n*1\r\n$4\r\nPING\r\n", "*-1\r\n*1\r\n$0\r\n\r\n",
            "*1\r\n$1\r\nAxx*1\r\n$1\r\nB\r\n", "*1\r\n$1\nx\r\n", "*1\r\n$\r\n", "*\r\n", "*1\r$1\r\na\r\n",
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "*1\r\n$1234567890123456789\r\n",
        ]
        func outcome(_ stream: String, chunk: Int) -> String {
            do { return "\(try decodeAll(Array(stream.utf8), chunks: [chunk]))" } catch { return "error \(error)" }
        }
        for stream in streams {
            #expect(outcome(stream, chunk: stream.utf8.count) == outcome(stream, chunk: 1), "\(stream.debugDescription)")
        }
        var lastName: [UInt8] = []
        var buffer = ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
        #expect(RequestDecoder.wholeRequest(&buffer, limits: ProtocolLimits(), lastName: &lastName) == command("GET", "key"))
        #expect(buffer.readableBytes == 0)
        buffer = ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$3\r\nke")
        #expect(RequestDecoder.wholeRequest(&buffer, limits: ProtocolLimits(), lastName: &lastName) == nil)
        #expect(buffer.readerIndex == 0, "an incomplete request is left for the slow path")
    }

    /// A pipeline of one command shares the name's array; another name (even the same
    /// command in other letters) gets its own bytes.
    @Test func repeatedCommandNamesShareOneArray() throws {
        var decoder = RequestDecoder()
        var buffer = ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*2\r\n$3\r\nget\r\n$1\r\nc\r\n*1\r\n$3\r\nGET\r\n")
        let first = try #require(try decoder.next(from: &buffer))
        let second = try #require(try decoder.next(from: &buffer))
        let third = try #require(try decoder.next(from: &buffer))
        let fourth = try #require(try decoder.next(from: &buffer))
        #expect(first == command("GET", "a") && second == command("GET", "b") && third == command("get", "c") && fourth == command("GET"))
        func address(_ bytes: [UInt8]) -> UnsafeRawPointer? { bytes.withUnsafeBytes { $0.baseAddress } }
        #expect(address(first[0]) == address(second[0]))
        #expect(address(second[0]) != address(third[0]))
    }

    @Test func giantHeadersAreRejectedWithoutAllocating() throws {
        var limits = ProtocolLimits()
        limits.multibulkCountMax = 1000
        var decoder = RequestDecoder(limits: limits)
        var buffer = ByteBuffer(string: "*10000000\r\n")
        #expect(throws: ProtocolError.invalidMultibulkLength) { _ = try decoder.next(from: &buffer) }

        // A huge but legal bulk header waits for bytes; it does not reserve them.
        var bulkDecoder = RequestDecoder()
        buffer = ByteBuffer(string: "*1\r\n$536870912\r\nabc")
        #expect(try bulkDecoder.next(from: &buffer) == nil)
        #expect(buffer.capacity < 1024 * 1024)

        var tooBig = RequestDecoder()
        buffer = ByteBuffer(string: "*1\r\n$536870913\r\n")
        #expect(throws: ProtocolError.invalidBulkLength) { _ = try tooBig.next(from: &buffer) }
    }

    /// CONFIG SET proto-max-bulk-len accepts up to Int.max; a bulk header of that length
    /// used to trap adding the terminator's two bytes to it (issue 13).
    @Test func bulkLengthAtIntMaxWaitsInsteadOfOverflowing() throws {
        var limits = ProtocolLimits()
        limits.bulkLengthBytesMax = Int.max
        limits.queryBufferBytesMax = 64
        var decoder = RequestDecoder(limits: limits)
        var buffer = ByteBuffer(string: "*1\r\n$9223372036854775807\r\nabc")
        #expect(try decoder.next(from: &buffer) == nil)
        buffer.writeString(String(repeating: "a", count: 100))
        #expect(throws: ProtocolError.queryBufferExceeded) { _ = try decoder.next(from: &buffer) }
    }

    @Test func queryBufferLimitIsEnforced() throws {
        var limits = ProtocolLimits()
        limits.queryBufferBytesMax = 100
        var decoder = RequestDecoder(limits: limits)
        var buffer = ByteBuffer(string: "*2\r\n$60\r\n" + String(repeating: "a", count: 60) + "\r\n$60\r\n" + String(repeating: "b", count: 50))
        #expect(throws: ProtocolError.queryBufferExceeded) { _ = try decoder.next(from: &buffer) }
    }

    @Test func inlineLineWithoutNewlineIsBounded() throws {
        var decoder = RequestDecoder()
        var buffer = ByteBuffer(bytes: [UInt8](repeating: UInt8(ascii: "a"), count: 70 * 1024))
        #expect(throws: ProtocolError.tooBigInlineRequest) { _ = try decoder.next(from: &buffer) }
    }

    @Test func randomGarbageNeverCrashes() {
        var random = SeededRandom(seed: 99)
        var limits = ProtocolLimits()
        limits.queryBufferBytesMax = 1 << 16
        for _ in 0..<2000 {
            var decoder = RequestDecoder(limits: limits)
            var buffer = ByteBuffer()
            let alphabet: [UInt8] = Array("*$\r\n-0123456789 \"'\\xab".utf8)
            for _ in 0..<random.int(in: 1...200) {
                buffer.writeInteger(random.chance(0.7) ? alphabet[random.int(in: 0...(alphabet.count - 1))] : UInt8(random.int(in: 0...255)))
            }
            do {
                while try decoder.next(from: &buffer) != nil {}
            } catch {
                #expect(error.message.hasPrefix("ERR Protocol error: "))
            }
        }
    }
}

@Suite struct RESPEncoderTests {
    private func encode(_ value: RESPValue, _ version: ProtocolVersion) -> String {
        var buffer = ByteBuffer()
        RESPEncoder.write(value, as: version, into: &buffer)
        return buffer.readString(length: buffer.readableBytes) ?? ""
    }

    @Test func attributesPrecedeTheReplyInResp3Only() {
        let value = RESPValue.attributed([RESPPair("key-popularity", .array([.bulk("key:123"), .integer(90)]))], .bulk("reply"))
        #expect(encode(value, .resp3) == "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$5\r\nreply\r\n")
        #expect(encode(value, .resp2) == "$5\r\nreply\r\n")
    }

    @Test func lowersResp3TypesForResp2() {
        #expect(encode(.null, .resp2) == "$-1\r\n")
        #expect(encode(.null, .resp3) == "_\r\n")
        #expect(encode(.nullArray, .resp2) == "*-1\r\n")
        #expect(encode(.map([RESPPair("a", .integer(1))]), .resp2) == "*2\r\n$1\r\na\r\n:1\r\n")
        #expect(encode(.map([RESPPair("a", .integer(1))]), .resp3) == "%1\r\n$1\r\na\r\n:1\r\n")
        #expect(encode(.boolean(true), .resp2) == ":1\r\n")
        #expect(encode(.double(1.5), .resp3) == ",1.5\r\n")
        #expect(encode(.integer(-1234567), .resp2) == ":-1234567\r\n")
        #expect(encode(.integer(Int64.min), .resp2) == ":-9223372036854775808\r\n")
        // Each CR and LF becomes a space, as redis-server writes them.
        #expect(encode(.error("ERR a\r\nb"), .resp2) == "-ERR a  b\r\n")
        #expect(encode(.bigNumber("12\r\n3"), .resp3) == "(12  3\r\n")
        #expect(encode(.humanDouble("13.36138933897018433"), .resp3) == ",13.36138933897018433\r\n")
        #expect(encode(.humanDouble("180"), .resp2) == "$3\r\n180\r\n")
    }

    @Test func readerRoundTripsEncoderOutput() throws {
        let values: [RESPValue] = [
            .simple("OK"), .error("ERR x"), .integer(42), .bulk("hello"), .null,
            .array([.integer(1), .array([.bulk("nested")])]), .map([RESPPair("k", .bulk("v"))]),
            .set([.bulk("a")]), .boolean(false), .double(2.5),
        ]
        for value in values {
            var buffer = ByteBuffer()
            RESPEncoder.write(value, as: .resp3, into: &buffer)
            #expect(try RESPReader().next(from: &buffer) == value)
            #expect(buffer.readableBytes == 0)
        }
    }

    /// Lengths and counts in replies come from a peer: at the limits' extremes they must
    /// be waited for or refused, never overflow (issue 13).
    @Test func readerSurvivesExtremeLengthsAndCounts() throws {
        var limits = ProtocolLimits()
        limits.bulkLengthBytesMax = Int.max
        limits.multibulkCountMax = Int.max
        var buffer = ByteBuffer(string: "$9223372036854775807\r\nabc")
        #expect(try RESPReader(limits: limits).next(from: &buffer) == nil)
        buffer = ByteBuffer(string: "%4611686018427387904\r\n")
        #expect(throws: ProtocolError.invalidMultibulkLength) { _ = try RESPReader(limits: limits).next(from: &buffer) }
        buffer = ByteBuffer(string: "%4611686018427387903\r\n:1\r\n")
        #expect(try RESPReader(limits: limits).next(from: &buffer) == nil)
    }

    @Test func readerBoundsNesting() {
        var buffer = ByteBuffer(string: String(repeating: "*1\r\n", count: 100) + ":1\r\n")
        #expect(throws: ProtocolError.nestingTooDeep) { _ = try RESPReader().next(from: &buffer) }
    }
}
