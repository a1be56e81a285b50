// The incremental request decoder.
//
// Contract: `next(from:)` consumes bytes from the buffer only as whole protocol elements
// (a header line, a complete bulk string, a complete inline line) and keeps the partial
// request in its own state, so bytes already parsed are never parsed again. It returns a
// complete request as its arguments, or nil when it needs more bytes. It never reserves
// more than `argumentsReservedMax` slots from a count read off the wire: arguments are
// appended as their bytes arrive. Header lines (`*N`, `$N`) are parsed in place, not
// copied. Empty requests (`*0`, blank inline lines) are skipped, as Redis does. After it
// throws, the stream is broken: the caller stops using the decoder.
#if canImport(Glibc)
import Glibc
#endif
import NIOCore

public struct RequestDecoder: Sendable {
    public var limits: ProtocolLimits

    private enum State: Sendable {
        case idle
        /// Inside a `*N` request: `remaining` arguments still to come.
        case multibulk(remaining: Int, arguments: [[UInt8]], bytes: Int)
    }

    private var state: State = .idle
    /// Length of the bulk string whose header was consumed but whose body has not arrived.
    private var pendingBulkLength: Int? = nil
    /// The command name of the last whole request: the next request naming the same bytes
    /// shares it instead of allocating its own (a pipeline repeats one command), which is
    /// one allocation of the three a GET costs.
    private var lastName: [UInt8] = []
    /// Longest name `lastName` keeps (a command's name; a longer first argument is not one).
    static let sharedNameBytesMax = 32

    /// Most argument slots reserved up front from a request's announced count (a GET or
    /// SET then fills one allocation; a larger request grows as its arguments arrive).
    static let argumentsReservedMax = 8

    public init(limits: ProtocolLimits = ProtocolLimits()) { self.limits = limits }

    /// True when a request has started but is not complete.
    public var isMidRequest: Bool {
        if case .idle = state { return false }
        return true
    }

    /// Returns the next complete request, or nil if more bytes are needed.
    public mutating func next(from buffer: inout ByteBuffer) throws(ProtocolError) -> [[UInt8]]? {
        while true {
            switch state {
            case .idle:
                guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
                if first == UInt8(ascii: "*") {
                    if let whole = Self.wholeRequest(&buffer, limits: limits, lastName: &lastName) { return whole }
                    guard let count = try readMultibulkHeader(&buffer) else { return nil }
                    if count <= 0 { continue }
                    state = .multibulk(remaining: count, arguments: [], bytes: 0)
                } else {
                    guard let line = try readInlineLine(&buffer) else { return nil }
                    let arguments = try InlineSplitter.split(line)
                    if arguments.isEmpty { continue }
                    return arguments
                }
            case .multibulk(var remaining, var arguments, var bytes):
                // The partial request moves out of `state`, so appending does not copy it.
                state = .idle
                if arguments.isEmpty { arguments.reserveCapacity(Swift.min(remaining, Self.argumentsReservedMax)) }
                while remaining > 0 {
                    guard let argument = try readBulk(&buffer, bufferedBytes: bytes) else {
                        state = .multibulk(remaining: remaining, arguments: arguments, bytes: bytes)
                        return nil
                    }
                    bytes += argument.count
                    arguments.append(argument)
                    remaining -= 1
                }
                state = .idle
                return arguments
            }
        }
    }

    // MARK: - Whole requests

    /// The fast path: a complete, well-formed `*N` request at the buffer's reader index,
    /// parsed in one pass over its contiguous bytes and consumed; nil (nothing consumed)
    /// for anything else — incomplete, malformed, empty or over a limit — which the
    /// element-by-element path then handles with its exact errors. Each request start is
    /// tried at most once: when this fails, the slow path consumes the header.
    static func wholeRequest(_ buffer: inout ByteBuffer, limits: ProtocolLimits, lastName: inout [UInt8]) -> [[UInt8]]? {
        let parsed: (arguments: [[UInt8]], consumed: Int)? = buffer.withUnsafeReadableBytes { bytes in
            var cursor = 1  // past the `*`, which the caller checked
            guard let count = headerNumber(bytes, &cursor), count > 0, count <= limits.multibulkCountMax else { return nil }
            var arguments: [[UInt8]] = []
            arguments.reserveCapacity(Swift.min(count, argumentsReservedMax))
            for _ in 0..<count {
                guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "$") else { return nil }
                cursor += 1
                guard let length = headerNumber(bytes, &cursor), length <= limits.bulkLengthBytesMax,
                      bytes.count - cursor >= 2, bytes.count - cursor - 2 >= length else { return nil }
                let argument = UnsafeRawBufferPointer(rebasing: bytes[cursor..<(cursor + length)])
                if arguments.isEmpty, length <= sharedNameBytesMax {
                    let same = lastName.withUnsafeBytes { last in
                        last.count == length && (length == 0 || memcmp(last.baseAddress!, argument.baseAddress!, length) == 0)
                    }
                    if !same { lastName = Array(argument) }
                    arguments.append(lastName)
                } else {
                    arguments.append(Array(argument))
                }
                cursor += length + 2
            }
            return (arguments, cursor)
        }
        guard let parsed else { return nil }
        buffer.moveReaderIndex(forwardBy: parsed.consumed)
        return parsed.arguments
    }

    /// Digits of a canonical non-negative decimal (no sign, no leading zero) of at most 18
    /// digits, followed by `\r\n`, at `cursor`; moves the cursor past the line. Nil for
    /// anything else (the slow path decides what it is).
    private static func headerNumber(_ bytes: UnsafeRawBufferPointer, _ cursor: inout Int) -> Int? {
        var value = 0
        var digits = 0
        var index = cursor
        while index < bytes.count {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            if digits == 1, value == 0 { return nil }  // a leading zero
            digits += 1
            guard digits <= 18 else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            index += 1
        }
        guard digits > 0, bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\r"),
              bytes[index + 1] == UInt8(ascii: "\n") else { return nil }
        cursor = index + 2
        return value
    }

    // MARK: - Elements

    private func readMultibulkHeader(_ buffer: inout ByteBuffer) throws(ProtocolError) -> Int? {
        guard let number = try readHeaderNumber(&buffer, tooBig: .tooBigMultibulkCountString) else { return nil }
        guard let count = number, count <= Int64(limits.multibulkCountMax) else {
            throw .invalidMultibulkLength
        }
        return Int(count)
    }

    private mutating func readBulk(_ buffer: inout ByteBuffer, bufferedBytes: Int) throws(ProtocolError) -> [UInt8]? {
        if pendingBulkLength == nil {
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else {
                return nil
            }
            guard first == UInt8(ascii: "$") else { throw .expectedDollar(got: first) }
            guard let number = try readHeaderNumber(&buffer, tooBig: .tooBigBulkCountString) else {
                return nil
            }
            guard let length = number, length >= 0,
                  length <= Int64(limits.bulkLengthBytesMax) else {
                throw .invalidBulkLength
            }
            pendingBulkLength = Int(length)
        }
        guard let length = pendingBulkLength else { return nil }
        // `length` is at most proto-max-bulk-len, which CONFIG SET allows up to Int.max:
        // compare without adding the terminator's two bytes to it.
        guard buffer.readableBytes >= 2, buffer.readableBytes - 2 >= length else {
            if bufferedBytes + buffer.readableBytes > limits.queryBufferBytesMax { throw .queryBufferExceeded }
            return nil
        }
        let bytes = buffer.readBytes(length: length) ?? []
        buffer.moveReaderIndex(forwardBy: 2)
        pendingBulkLength = nil
        return bytes
    }

    /// Reads a `\r\n`-terminated header line (`*N` or `$N`: its first byte was checked)
    /// and parses the number after that byte where it lies. Nil: the line is incomplete;
    /// `.some(nil)`: the line is complete (and consumed) but not a number.
    private func readHeaderNumber(_ buffer: inout ByteBuffer, tooBig: ProtocolError) throws(ProtocolError) -> Int64?? {
        let view = buffer.readableBytesView
        guard let carriageReturn = view.firstIndex(of: UInt8(ascii: "\r")) else {
            if view.count > limits.inlineBytesMax { throw tooBig }
            return nil
        }
        let lineLength = carriageReturn - view.startIndex
        if lineLength > limits.inlineBytesMax { throw tooBig }
        guard view.count >= lineLength + 2 else { return nil }
        let number = lineLength > 0 ? DecimalParser.int64(view[(view.startIndex + 1)..<carriageReturn]) : nil
        buffer.moveReaderIndex(forwardBy: lineLength + 2)
        return .some(number)
    }

    /// Reads an inline request line terminated by `\n` (optionally preceded by `\r`).
    private func readInlineLine(_ buffer: inout ByteBuffer) throws(ProtocolError) -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > limits.inlineBytesMax { throw .tooBigInlineRequest }
            return nil
        }
        var lineLength = newline - view.startIndex
        if lineLength > limits.inlineBytesMax { throw .tooBigInlineRequest }
        var line = buffer.readBytes(length: lineLength) ?? []
        buffer.moveReaderIndex(forwardBy: 1)
        if lineLength > 0, line[lineLength - 1] == UInt8(ascii: "\r") {
            line.removeLast()
            lineLength -= 1
        }
        return line
    }
}

/// Strict decimal parsing, as Redis's string2ll: optional minus sign, digits only, no
/// leading zeros (except "0" itself), must fit in 64 bits.
public enum DecimalParser {
    public static func int64<Bytes: Collection>(_ bytes: Bytes) -> Int64? where Bytes.Element == UInt8 {
        var iterator = bytes.makeIterator()
        guard var byte = iterator.next() else { return nil }
        let negative = byte == UInt8(ascii: "-")
        if negative {
            guard let following = iterator.next() else { return nil }
            byte = following
        }
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        if byte == UInt8(ascii: "0") {
            return (iterator.next() == nil && !negative) ? 0 : nil
        }
        var magnitude = UInt64(byte - UInt8(ascii: "0"))
        while let next = iterator.next() {
            guard next >= UInt8(ascii: "0"), next <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(next - UInt8(ascii: "0")))
            if overflow1 || overflow2 { return nil }
            magnitude = sum
        }
        if negative {
            if magnitude > UInt64(Int64.max) + 1 { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        return magnitude > UInt64(Int64.max) ? nil : Int64(magnitude)
    }
}
