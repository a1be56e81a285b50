// Serializes replies into a ByteBuffer. RESP3-only types are lowered for RESP2 clients:
// maps become flat arrays, sets become arrays, doubles become bulk strings, booleans become
// integers, and nulls become `$-1` / `*-1`.
import NIOCore

public enum RESPEncoder {
    private static let crlf: StaticString = "\r\n"

    public static func write(_ value: RESPValue, as version: ProtocolVersion, into buffer: inout ByteBuffer) {
        switch value {
        case .simple(let text):
            buffer.writeInteger(UInt8(ascii: "+"))
            writeLine(sanitized(text), into: &buffer)
        case .error(let text):
            buffer.writeInteger(UInt8(ascii: "-"))
            writeLine(sanitized(text), into: &buffer)
        case .integer(let number):
            writeHeader(UInt8(ascii: ":"), number, into: &buffer)
        case .bulk(let bytes):
            writeHeader(UInt8(ascii: "$"), Int64(bytes.count), into: &buffer)
            buffer.writeBytes(bytes)
            buffer.writeStaticString(crlf)
        case .null:
            buffer.writeStaticString(version == .resp3 ? "_\r\n" : "$-1\r\n")
        case .nullArray:
            buffer.writeStaticString(version == .resp3 ? "_\r\n" : "*-1\r\n")
        case .array(let elements):
            writeAggregate(UInt8(ascii: "*"), elements, as: version, into: &buffer)
        case .set(let elements):
            writeAggregate(version == .resp3 ? UInt8(ascii: "~") : UInt8(ascii: "*"), elements, as: version, into: &buffer)
        case .push(let elements):
            writeAggregate(version == .resp3 ? UInt8(ascii: ">") : UInt8(ascii: "*"), elements, as: version, into: &buffer)
        case .map(let pairs):
            writeMap(pairs, as: version, into: &buffer)
        case .double(let number):
            let text = formatDouble(number)
            if version == .resp3 {
                buffer.writeInteger(UInt8(ascii: ","))
                writeLine(text, into: &buffer)
            } else {
                write(.bulk(Array(text.utf8)), as: version, into: &buffer)
            }
        case .humanDouble(let text):
            if version == .resp3 {
                buffer.writeInteger(UInt8(ascii: ","))
                writeLine(text, into: &buffer)
            } else {
                write(.bulk(Array(text.utf8)), as: version, into: &buffer)
            }
        case .boolean(let flag):
            if version == .resp3 {
                buffer.writeStaticString(flag ? "#t\r\n" : "#f\r\n")
            } else {
                buffer.writeStaticString(flag ? ":1\r\n" : ":0\r\n")
            }
        case .attributed(let attributes, let reply):
            if version == .resp3 {
                writeHeader(UInt8(ascii: "|"), Int64(attributes.count), into: &buffer)
                for pair in attributes {
                    write(pair.key, as: version, into: &buffer)
                    write(pair.value, as: version, into: &buffer)
                }
            }
            write(reply, as: version, into: &buffer)
        case .verbatim(let format, let text):
            if version == .resp3 {
                let body = Array("\(format):\(text)".utf8)
                writeHeader(UInt8(ascii: "="), Int64(body.count), into: &buffer)
                buffer.writeBytes(body)
                buffer.writeStaticString(crlf)
            } else {
                write(.bulk(Array(text.utf8)), as: version, into: &buffer)
            }
        case .bigNumber(let digits):
            if version == .resp3 {
                buffer.writeInteger(UInt8(ascii: "("))
                writeLine(sanitized(digits), into: &buffer)
            } else {
                write(.bulk(Array(digits.utf8)), as: version, into: &buffer)
            }
        case .raw(let bytes):
            buffer.writeBytes(bytes)
        }
    }

    /// Encodes a command as a RESP array of bulk strings, as clients send it.
    public static func writeCommand(_ arguments: [[UInt8]], into buffer: inout ByteBuffer) {
        writeHeader(UInt8(ascii: "*"), Int64(arguments.count), into: &buffer)
        for argument in arguments {
            writeHeader(UInt8(ascii: "$"), Int64(argument.count), into: &buffer)
            buffer.writeBytes(argument)
            buffer.writeStaticString(crlf)
        }
    }

    /// A double as Redis 7.2 prints it (addReplyDouble, fpconv_dtoa): the shortest digits
    /// that read back as the same double, laid out as C's "%.17g" would lay them out
    /// (plain notation for decimal exponents -4...16, else `d.ddde+XX`), `inf`/`-inf` for
    /// infinities and `-0` for negative zero. Redis 7.0 printed all 17 significant digits
    /// ("%.17g" itself), so 0.1 was `0.10000000000000001` there.
    public static func formatDouble(_ number: Double) -> String {
        if number.isInfinite { return number > 0 ? "inf" : "-inf" }
        if number.isNaN { return "nan" }
        let sign = number.sign == .minus ? "-" : ""
        if number == 0 { return sign + "0" }
        // Swift's description is the shortest round-tripping form ("1.5", "1e-05",
        // "1.2345e+17", "100.0"); take its digits and decimal exponent from it.
        let text = number.magnitude.description
        let parts = text.split(separator: "e", maxSplits: 1)
        let exponentPart = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
        let mantissa = parts[0].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integerDigits = Array(mantissa[0].utf8)
        let fractionDigits = mantissa.count == 2 ? Array(mantissa[1].utf8) : []
        var digits = integerDigits + fractionDigits
        var point = integerDigits.count + exponentPart
        while let first = digits.first, first == UInt8(ascii: "0") { digits.removeFirst(); point -= 1 }
        while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
        guard !digits.isEmpty else { return sign + "0" }
        let exponent = point - 1
        let zero = UInt8(ascii: "0")
        var out: [UInt8]
        if exponent < -4 || exponent >= 17 {
            out = [digits[0]]
            if digits.count > 1 { out += [UInt8(ascii: ".")] + digits[1...] }
            out += Array((exponent < 0 ? "e-" : "e+").utf8)
            let magnitude = Array(String(abs(exponent)).utf8)
            if magnitude.count < 2 { out.append(zero) }
            out += magnitude
        } else if point <= 0 {
            out = [zero, UInt8(ascii: ".")] + Array(repeating: zero, count: -point) + digits
        } else if point >= digits.count {
            out = digits + Array(repeating: zero, count: point - digits.count)
        } else {
            out = Array(digits[..<point]) + [UInt8(ascii: ".")] + Array(digits[point...])
        }
        return sign + String(decoding: out, as: UTF8.self)
    }

    private static func writeAggregate(_ marker: UInt8, _ elements: [RESPValue], as version: ProtocolVersion, into buffer: inout ByteBuffer) {
        writeHeader(marker, Int64(elements.count), into: &buffer)
        for element in elements { write(element, as: version, into: &buffer) }
    }

    private static func writeMap(_ pairs: [RESPPair], as version: ProtocolVersion, into buffer: inout ByteBuffer) {
        if version == .resp3 {
            writeHeader(UInt8(ascii: "%"), Int64(pairs.count), into: &buffer)
        } else {
            writeHeader(UInt8(ascii: "*"), Int64(pairs.count * 2), into: &buffer)
        }
        for pair in pairs {
            write(pair.key, as: version, into: &buffer)
            write(pair.value, as: version, into: &buffer)
        }
    }

    private static func writeHeader(_ marker: UInt8, _ number: Int64, into buffer: inout ByteBuffer) {
        buffer.writeInteger(marker)
        writeDecimal(number, into: &buffer)
        buffer.writeStaticString(crlf)
    }

    /// Writes a decimal integer without allocating a String.
    private static func writeDecimal(_ number: Int64, into buffer: inout ByteBuffer) {
        if number >= 0 && number < 10 {
            buffer.writeInteger(UInt8(ascii: "0") + UInt8(number))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var magnitude = number.magnitude
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            if number < 0 {
                raw[23 - count] = UInt8(ascii: "-")
                count += 1
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }

    private static func writeLine(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeString(text)
        buffer.writeStaticString(crlf)
    }

    /// Simple strings and errors may not contain CR or LF; Redis replaces each with a space
    /// (byte by byte: "\r\n" becomes two spaces).
    private static func sanitized(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 13 || $0 == 10 }) else { return text }
        return String(decoding: text.utf8.map { $0 == 13 || $0 == 10 ? 32 : $0 }, as: UTF8.self)
    }
}
