// Parses any RESP2 or RESP3 value, as a client reads replies. Used by the benchmark
// client and by tests. It parses from the reader index and consumes the bytes of a value
// only when the whole value has arrived; aggregates are bounded by
// `ProtocolLimits.nestingDepthMax` and never reserve capacity from a count on the wire.
import NIOCore

public struct RESPReader: Sendable {
    public var limits: ProtocolLimits

    public init(limits: ProtocolLimits = ProtocolLimits()) { self.limits = limits }

    /// Returns the next complete value, or nil if more bytes are needed.
    public func next(from buffer: inout ByteBuffer) throws(ProtocolError) -> RESPValue? {
        var cursor = buffer.readerIndex
        guard let value = try parse(buffer, &cursor, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: cursor)
        return value
    }

    private func parse(_ buffer: ByteBuffer, _ cursor: inout Int, depth: Int) throws(ProtocolError) -> RESPValue? {
        guard depth <= limits.nestingDepthMax else { throw .nestingTooDeep }
        guard let marker = buffer.getInteger(at: cursor, as: UInt8.self) else { return nil }
        guard let line = try line(buffer, cursor + 1) else { return nil }
        var next = cursor + 1 + line.count + 2
        let text = String(decoding: line, as: UTF8.self)
        let value: RESPValue
        switch marker {
        case UInt8(ascii: "+"): value = .simple(text)
        case UInt8(ascii: "-"): value = .error(text)
        case UInt8(ascii: ":"):
            guard let number = DecimalParser.int64(line) else { throw .unexpectedByte(marker) }
            value = .integer(number)
        case UInt8(ascii: "_"): value = .null
        case UInt8(ascii: "#"): value = .boolean(text == "t")
        case UInt8(ascii: ","): value = .double(Double(text) ?? .nan)
        case UInt8(ascii: "("): value = .bigNumber(text)
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            guard let length = DecimalParser.int64(line), length <= Int64(limits.bulkLengthBytesMax) else {
                throw .invalidBulkLength
            }
            if length < 0 { value = .null; break }
            // The limit may be as large as Int.max: compare without adding to the length.
            guard let size = Int(exactly: length), buffer.readableBytes(after: next) >= 2,
                  buffer.readableBytes(after: next) - 2 >= size,
                  let bytes = buffer.getBytes(at: next, length: size) else { return nil }
            next += size + 2
            if marker == UInt8(ascii: "!") {
                value = .error(String(decoding: bytes, as: UTF8.self))
            } else if marker == UInt8(ascii: "=") {
                let body = String(decoding: bytes, as: UTF8.self)
                value = .verbatim(format: String(body.prefix(3)), text: String(body.dropFirst(4)))
            } else {
                value = .bulk(bytes)
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"):
            guard let count = DecimalParser.int64(line), count <= Int64(limits.multibulkCountMax) else {
                throw .invalidMultibulkLength
            }
            if count < 0 { value = .nullArray; break }
            let (doubled, overflow) = Int(count).multipliedReportingOverflow(by: 2)
            if marker == UInt8(ascii: "%"), overflow { throw .invalidMultibulkLength }
            let elementCount = marker == UInt8(ascii: "%") ? doubled : Int(count)
            var elements: [RESPValue] = []
            for _ in 0..<elementCount {
                guard let element = try parse(buffer, &next, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            switch marker {
            case UInt8(ascii: "~"): value = .set(elements)
            case UInt8(ascii: ">"): value = .push(elements)
            case UInt8(ascii: "%"):
                value = .map(stride(from: 0, to: elements.count, by: 2).map { RESPPair(elements[$0], elements[$0 + 1]) })
            default: value = .array(elements)
            }
        default:
            throw .unexpectedByte(marker)
        }
        cursor = next
        return value
    }

    private func line(_ buffer: ByteBuffer, _ start: Int) throws(ProtocolError) -> [UInt8]? {
        guard start <= buffer.writerIndex else { return nil }
        let view = buffer.viewBytes(at: start, length: buffer.writerIndex - start) ?? ByteBufferView()
        guard let carriageReturn = view.firstIndex(of: UInt8(ascii: "\r")) else {
            if view.count > limits.inlineBytesMax { throw .tooBigInlineRequest }
            return nil
        }
        guard carriageReturn + 1 < view.endIndex else { return nil }
        return Array(view[view.startIndex..<carriageReturn])
    }
}

extension ByteBuffer {
    fileprivate func readableBytes(after index: Int) -> Int { writerIndex - index }
}
