// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest common
// subsequence of two strings by dynamic programming over a (len1+1) x (len2+1) table of
// 32-bit lengths. The table is bounded as Redis bounds it: by proto-max-bulk-len bytes.
// Matches are reported walking back from the ends of both strings, as Redis reports them.
import Core
import Keyspace
import Wire

extension Engine {
    func runLCS(_ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try lcs(arguments, session, now: now) }
    }

    private func lcs(_ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        var wantLength = false, wantIndexes = false, withMatchLength = false
        var minimumMatch: Int64 = 0
        var index = 3
        while index < arguments.count {
            if Arguments.isKeyword(arguments[index], "len") {
                wantLength = true
            } else if Arguments.isKeyword(arguments[index], "idx") {
                wantIndexes = true
            } else if Arguments.isKeyword(arguments[index], "withmatchlen") {
                withMatchLength = true
            } else if Arguments.isKeyword(arguments[index], "minmatchlen"), index + 1 < arguments.count {
                minimumMatch = max(0, try Arguments.integer(arguments[index + 1]))
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        let first: Bytes, second: Bytes
        do {
            first = try keyspace.getString(arguments[1], now: now) ?? []
            second = try keyspace.getString(arguments[2], now: now) ?? []
        } catch {
            throw CommandError.message("ERR The specified keys must contain string values")
        }
        if wantLength && wantIndexes {
            throw CommandError.message("ERR If you want both the length and indexes, please just use IDX.")
        }
        let rows = first.count + 1, columns = second.count + 1
        let (cells, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, cells <= Int(UInt32.max), cells <= settings.limits.bulkLengthBytesMax / 4 else {
            throw CommandError.message("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        }
        var table = [UInt32](repeating: 0, count: cells)
        for i in 1..<rows {
            for j in 1..<columns {
                table[i * columns + j] = first[i - 1] == second[j - 1]
                    ? table[(i - 1) * columns + j - 1] + 1
                    : max(table[(i - 1) * columns + j], table[i * columns + j - 1])
            }
        }
        let length = Int(table[cells - 1])
        if wantLength { return .integer(length) }

        var common = [UInt8](repeating: 0, count: length)
        var remaining = length
        var matches: [RESPValue] = []
        // The range being grown backwards; nil when there is none.
        var range: (aStart: Int, aEnd: Int, bStart: Int, bEnd: Int)? = nil
        var i = first.count, j = second.count
        while i > 0 && j > 0 {
            var emit = false
            if first[i - 1] == second[j - 1] {
                common[remaining - 1] = first[i - 1]
                if let current = range {
                    if current.aStart == i && current.bStart == j {
                        range = (current.aStart - 1, current.aEnd, current.bStart - 1, current.bEnd)
                    } else {
                        emit = true
                    }
                } else {
                    range = (i - 1, i - 1, j - 1, j - 1)
                }
                if let current = range, current.aStart == 0 || current.bStart == 0 { emit = true }
                remaining -= 1
                i -= 1
                j -= 1
            } else {
                if table[(i - 1) * columns + j] > table[i * columns + j - 1] { i -= 1 } else { j -= 1 }
                if range != nil { emit = true }
            }
            if emit, let current = range {
                let matchLength = current.aEnd - current.aStart + 1
                if minimumMatch == 0 || Int64(matchLength) >= minimumMatch {
                    var match: [RESPValue] = [.array([.integer(current.aStart), .integer(current.aEnd)]),
                                              .array([.integer(current.bStart), .integer(current.bEnd)])]
                    if withMatchLength { match.append(.integer(matchLength)) }
                    matches.append(.array(match))
                }
                range = nil
            }
        }
        guard wantIndexes else { return .bulk(common) }
        return .map([RESPPair("matches", .array(matches)), RESPPair("len", .integer(length))])
    }
}
