// Case-insensitive matching of a request's argument against a command keyword, the one
// comparison every parser of requests (the engine's, the master link's) uses.

public enum Keyword {
    /// Whether `bytes` spell `keyword` ignoring ASCII case. `keyword` must be lowercase
    /// ASCII letters, digits or punctuation (bytes differing only in bit 0x20 compare
    /// equal, which for letters is case and for the keywords in use is nothing else).
    @inlinable
    public static func matches(_ bytes: [UInt8], _ keyword: StaticString) -> Bool {
        guard bytes.count == keyword.utf8CodeUnitCount else { return false }
        return keyword.withUTF8Buffer { expected in
            for index in 0..<bytes.count where bytes[index] | 0x20 != expected[index] | 0x20 { return false }
            return true
        }
    }
}
