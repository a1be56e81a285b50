// Splits an inline request line into arguments the way Redis's sdssplitargs does:
// whitespace separates arguments; double quotes allow \n \r \t \b \a \\ \" and \xHH
// escapes; single quotes allow \'; a closing quote must be followed by whitespace or the
// end of the line, otherwise the quotes are unbalanced.

public enum InlineSplitter {
    public static func split(_ line: [UInt8]) throws(ProtocolError) -> [[UInt8]] {
        var arguments: [[UInt8]] = []
        var index = 0
        while true {
            while index < line.count, isSpace(line[index]) { index += 1 }
            if index >= line.count { return arguments }
            var current: [UInt8] = []
            var inDouble = false, inSingle = false, done = false
            while !done {
                if inDouble {
                    guard index < line.count else { throw .unbalancedQuotes }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\"), index + 3 < line.count, line[index + 1] == UInt8(ascii: "x"),
                       let high = hexValue(line[index + 2]), let low = hexValue(line[index + 3]) {
                        current.append(high << 4 | low)
                        index += 3
                    } else if byte == UInt8(ascii: "\\"), index + 1 < line.count {
                        index += 1
                        current.append(unescape(line[index]))
                    } else if byte == UInt8(ascii: "\"") {
                        if index + 1 < line.count, !isSpace(line[index + 1]) { throw .unbalancedQuotes }
                        done = true
                    } else {
                        current.append(byte)
                    }
                } else if inSingle {
                    guard index < line.count else { throw .unbalancedQuotes }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\"), index + 1 < line.count, line[index + 1] == UInt8(ascii: "'") {
                        index += 1
                        current.append(UInt8(ascii: "'"))
                    } else if byte == UInt8(ascii: "'") {
                        if index + 1 < line.count, !isSpace(line[index + 1]) { throw .unbalancedQuotes }
                        done = true
                    } else {
                        current.append(byte)
                    }
                } else if index >= line.count {
                    done = true
                } else {
                    switch line[index] {
                    case let byte where isSpace(byte): done = true
                    case UInt8(ascii: "\""): inDouble = true
                    case UInt8(ascii: "'"): inSingle = true
                    default: current.append(line[index])
                    }
                }
                if index < line.count { index += 1 }
            }
            arguments.append(current)
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 32 || byte == 9 || byte == 10 || byte == 13 || byte == 11 || byte == 12
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func unescape(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "n"): return 10
        case UInt8(ascii: "r"): return 13
        case UInt8(ascii: "t"): return 9
        case UInt8(ascii: "b"): return 8
        case UInt8(ascii: "a"): return 7
        default: return byte
        }
    }
}
