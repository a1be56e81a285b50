// Glob-style matching as Redis's stringmatchlen: `*`, `?`, `[...]` with ranges and `^`
// negation, and `\` escapes. Recursion on `*` is bounded by a nesting limit, as in Redis,
// so hostile patterns cannot exhaust the stack.

public enum Glob {
    static let starNestingMax = 1000

    public static func matches(pattern: Bytes, _ string: Bytes, ignoringCase: Bool = false) -> Bool {
        var skipLongerMatches = false
        return match(pattern[...], string[...], ignoringCase, &skipLongerMatches, nesting: 0)
    }

    private static func match(_ pattern: ArraySlice<UInt8>, _ string: ArraySlice<UInt8>, _ nocase: Bool,
                              _ skipLongerMatches: inout Bool, nesting: Int) -> Bool {
        if nesting > starNestingMax { return false }
        var p = pattern.startIndex, s = string.startIndex
        while p < pattern.endIndex, s < string.endIndex || pattern[p] == UInt8(ascii: "*") {
            switch pattern[p] {
            case UInt8(ascii: "*"):
                while p + 1 < pattern.endIndex, pattern[p + 1] == UInt8(ascii: "*") { p += 1 }
                if p + 1 == pattern.endIndex { return true }
                var position = s
                while position <= string.endIndex {
                    if match(pattern[(p + 1)...], string[position...], nocase, &skipLongerMatches, nesting: nesting + 1) { return true }
                    if skipLongerMatches { return false }
                    position += 1
                }
                skipLongerMatches = true
                return false
            case UInt8(ascii: "?"):
                s += 1
            case UInt8(ascii: "["):
                p += 1
                let negate = p < pattern.endIndex && pattern[p] == UInt8(ascii: "^")
                if negate { p += 1 }
                var matched = false
                while p < pattern.endIndex, pattern[p] != UInt8(ascii: "]") {
                    if pattern[p] == UInt8(ascii: "\\"), p + 1 < pattern.endIndex {
                        p += 1
                        if equal(pattern[p], string[s], nocase) { matched = true }
                    } else if p + 2 < pattern.endIndex, pattern[p + 1] == UInt8(ascii: "-") {
                        var low = pattern[p], high = pattern[p + 2]
                        if low > high { swap(&low, &high) }
                        var character = string[s]
                        if nocase { low = lower(low); high = lower(high); character = lower(character) }
                        if character >= low, character <= high { matched = true }
                        p += 2
                    } else if equal(pattern[p], string[s], nocase) {
                        matched = true
                    }
                    p += 1
                }
                if p >= pattern.endIndex { p = pattern.endIndex - 1 }
                if negate { matched.toggle() }
                if !matched { return false }
                s += 1
            case UInt8(ascii: "\\") where p + 1 < pattern.endIndex:
                p += 1
                if !equal(pattern[p], string[s], nocase) { return false }
                s += 1
            default:
                if !equal(pattern[p], string[s], nocase) { return false }
                s += 1
            }
            p += 1
            if s == string.endIndex {
                while p < pattern.endIndex, pattern[p] == UInt8(ascii: "*") { p += 1 }
                break
            }
        }
        return p == pattern.endIndex && s == string.endIndex
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }

    private static func equal(_ a: UInt8, _ b: UInt8, _ nocase: Bool) -> Bool {
        nocase ? lower(a) == lower(b) : a == b
    }
}
