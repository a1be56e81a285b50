// Parsing and formatting numbers the way Redis does, so replies match byte for byte.

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

    /// Floating-point parsing as Redis's strtold checks: no surrounding spaces, the whole
    /// string consumed, not NaN.
    public static func parseDouble(_ bytes: Bytes) -> Double? {
        guard !bytes.isEmpty, bytes.count <= 5000 else { return nil }
        guard let first = bytes.first, let last = bytes.last, !isSpace(first), !isSpace(last) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        let lowered = text.lowercased()
        let value: Double?
        switch lowered {
        case "inf", "+inf", "infinity", "+infinity": value = .infinity
        case "-inf", "-infinity": value = -.infinity
        default: value = lowered.contains("x") || lowered.contains("n") ? nil : Double(text)
        }
        guard let value, !value.isNaN else { return nil }
        return value
    }

    public static func formatInteger(_ value: Int64) -> Bytes { Array(String(value).utf8) }

    /// Formats a double the way INCRBYFLOAT replies: the shortest representation that
    /// round-trips, never in exponent notation, without trailing zeros.
    public static func formatDouble(_ value: Double) -> Bytes {
        if value.isInfinite { return Array((value > 0 ? "inf" : "-inf").utf8) }
        if value == 0 { return Array("0".utf8) }
        if value == value.rounded(), abs(value) < 1e18 { return Array(String(Int64(value)).utf8) }
        let text = "\(value)"
        guard let exponentIndex = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return Array(text.utf8) }
        return Array(expandExponent(mantissa: String(text[..<exponentIndex]), exponent: Int(text[text.index(after: exponentIndex)...]) ?? 0).utf8)
    }

    private static func expandExponent(mantissa: String, exponent: Int) -> String {
        var negative = false
        var digits = mantissa
        if digits.hasPrefix("-") { negative = true; digits.removeFirst() }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = String(parts[0])
        let fractionPart = parts.count > 1 ? String(parts[1]) : ""
        var all = integerPart + fractionPart
        var point = integerPart.count + exponent
        if point <= 0 {
            all = String(repeating: "0", count: -point + 1) + all
            point = 1
        } else if point > all.count {
            all += String(repeating: "0", count: point - all.count)
        }
        var integer = String(all.prefix(point))
        var fraction = String(all.dropFirst(point))
        while fraction.hasSuffix("0") { fraction.removeLast() }
        while integer.count > 1, integer.hasPrefix("0") { integer.removeFirst() }
        let body = fraction.isEmpty ? integer : integer + "." + fraction
        return negative ? "-" + body : body
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 32 || (9...13).contains(byte) }
}
