// Parsing and formatting numbers the way Redis does, so replies match byte for byte.
// INCRBYFLOAT and HINCRBYFLOAT compute in long double (80-bit on x86_64) and format with
// "%.17Lf" minus trailing zeros, exactly as Redis does; parsing goes through strtold with
// Redis's checks (no leading space, the whole string consumed, no NaN, no overflow).
#if canImport(Glibc)
import Glibc
#endif

#if arch(x86_64) || arch(i386)
/// The floating-point type Redis's INCRBYFLOAT uses (C long double).
public typealias LongDouble = Float80
#else
public typealias LongDouble = Double
#endif

public enum Numbers {
    /// Strict 64-bit integer parsing (Redis string2ll): no spaces, no plus sign, no
    /// leading zeros, at most 20 characters.
    public static func parseInteger(_ bytes: Bytes) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        var index = 0
        let negative = bytes[0] == UInt8(ascii: "-")
        if negative { index = 1; guard bytes.count > 1 else { return nil } }
        if bytes[index] == UInt8(ascii: "0") { return (bytes.count == 1) ? 0 : nil }
        var magnitude: UInt64 = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflowA) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            if overflowA || overflowB { return nil }
            magnitude = sum
            index += 1
        }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            return magnitude <= UInt64(Int64.max) ? -Int64(magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    public static func formatInteger(_ value: Int64) -> Bytes { Array(String(value).utf8) }

    /// Redis's string2ld: strtold over the whole string; rejects empty input, a leading
    /// space, trailing bytes (an embedded NUL included), NaN and out-of-range values.
    public static func parseLongDouble(_ bytes: Bytes) -> LongDouble? {
        guard !bytes.isEmpty, bytes.count < longDoubleCharactersMax else { return nil }
        guard !isSpace(bytes[0]) else { return nil }
        let terminated = bytes + [0]
        return terminated.withUnsafeBufferPointer { buffer -> LongDouble? in
            guard let base = buffer.baseAddress else { return nil }
            return base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { start -> LongDouble? in
                var end: UnsafeMutablePointer<CChar>? = nil
                errno = 0
                #if arch(x86_64) || arch(i386)
                let value = strtold(start, &end)
                #else
                let value = strtod(start, &end)
                #endif
                guard let end, end - UnsafeMutablePointer(mutating: start) == bytes.count else { return nil }
                if errno == ERANGE, value.isInfinite || value == 0 { return nil }
                if errno == EINVAL || value.isNaN { return nil }
                return value
            }
        }
    }

    /// Redis's ld2string in human mode: "%.17Lf" with trailing zeros (and a bare point)
    /// removed, "-0" printed as "0".
    public static func formatLongDouble(_ value: LongDouble) -> Bytes {
        if value.isInfinite { return Array((value > 0 ? "inf" : "-inf").utf8) }
        var buffer = [CChar](repeating: 0, count: longDoubleCharactersMax)
        let written = withVaList([value]) { arguments in
            #if arch(x86_64) || arch(i386)
            vsnprintf(&buffer, buffer.count, "%.17Lf", arguments)
            #else
            vsnprintf(&buffer, buffer.count, "%.17f", arguments)
            #endif
        }
        var length = Int(max(0, min(Int32(buffer.count - 1), written)))
        var bytes = buffer[0..<length].map { UInt8(bitPattern: $0) }
        if bytes.contains(UInt8(ascii: ".")) {
            while length > 0, bytes[length - 1] == UInt8(ascii: "0") { length -= 1 }
            if length > 0, bytes[length - 1] == UInt8(ascii: ".") { length -= 1 }
            bytes.removeLast(bytes.count - length)
        }
        if bytes == Array("-0".utf8) { return Array("0".utf8) }
        return bytes
    }

    /// Redis's string2d (scores of ZADD, ZINCRBY, WEIGHTS): strtod over the whole string;
    /// rejects empty input, a leading space, trailing bytes (an embedded NUL included),
    /// NaN, and an overflow to infinity or an underflow to zero. "inf", "+inf" and "-inf"
    /// are accepted.
    public static func parseDouble(_ bytes: Bytes) -> Double? {
        guard !bytes.isEmpty, !isSpace(bytes[0]) else { return nil }
        guard let (value, consumed, outOfRange) = scanDouble(bytes), consumed == bytes.count else { return nil }
        if outOfRange, value.isInfinite || value == 0 { return nil }
        return value.isNaN ? nil : value
    }

    /// A score bound's number as Redis's zslParseRange reads it: strtod must stop at the
    /// end of the string or at a NUL byte (so leading spaces pass and an empty string is
    /// 0); NaN is refused, an overflow becomes an infinity.
    public static func parseScoreBound(_ bytes: Bytes) -> Double? {
        guard let (value, consumed, _) = scanDouble(bytes) else { return nil }
        guard consumed == bytes.count || bytes[consumed] == 0 else { return nil }
        return value.isNaN ? nil : value
    }

    /// strtod over `bytes` (read up to the first NUL): the value, how many bytes it
    /// consumed, and whether strtod reported ERANGE.
    private static func scanDouble(_ bytes: Bytes) -> (Double, Int, Bool)? {
        let terminated = bytes + [0]
        return terminated.withUnsafeBufferPointer { buffer -> (Double, Int, Bool)? in
            guard let base = buffer.baseAddress else { return nil }
            return base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { start -> (Double, Int, Bool)? in
                var end: UnsafeMutablePointer<CChar>? = nil
                errno = 0
                let value = strtod(start, &end)
                let outOfRange = errno == ERANGE
                guard let end else { return nil }
                return (value, end - UnsafeMutablePointer(mutating: start), outOfRange)
            }
        }
    }

    /// Redis's MAX_LONG_DOUBLE_CHARS.
    public static let longDoubleCharactersMax = 5 * 1024

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 32 || (9...13).contains(byte) }
}

extension Numbers {
    /// `value` as C's "%.<decimals>f" writes it ("inf" for infinity): the GEO commands'
    /// distances and the coordinates in their error texts.
    public static func formatFixed(_ value: Double, decimals: Int) -> String {
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        if value.isNaN { return "nan" }
        var buffer = [CChar](repeating: 0, count: 400)
        let written = withVaList([Int32(decimals), value]) { arguments in
            vsnprintf(&buffer, buffer.count, "%.*f", arguments)
        }
        let length = Int(max(0, min(Int32(buffer.count - 1), written)))
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
