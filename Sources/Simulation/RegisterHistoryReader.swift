// Parses a register history from JSON lines, one operation per line:
//   {"client": 3, "key": "k17", "op": "set", "value": "v-3-88", "start": 123, "end": 456, "outcome": "ok"}
// A `get` carries the value it read in "value" (a string, or null for a missing key). Blank
// lines are skipped. Times are integers (monotonic nanoseconds). `end` may be null or absent
// for an `info` operation (its completion is unknown).
//
// Invariants: parsing is total: any input yields operations or a typed error naming the
// line; nothing traps. Every returned `set` has a value; every `ok`/`fail` operation has
// end >= start. Bounded by `lineBytesMax` and `operationsMax`.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

public enum RegisterHistoryReadError: Error, Equatable, CustomStringConvertible {
    case lineTooLong(line: Int, bytes: Int)
    case tooManyOperations(max: Int)
    case malformed(line: Int, reason: String)

    public var description: String {
        switch self {
        case let .lineTooLong(line, bytes):
            return "line \(line): \(bytes) bytes, more than \(RegisterHistoryReader.lineBytesMax)"
        case let .tooManyOperations(max):
            return "more than \(max) operations"
        case let .malformed(line, reason):
            return "line \(line): \(reason)"
        }
    }
}

public enum RegisterHistoryReader {
    /// Longest accepted line, in bytes.
    public static let lineBytesMax = 64 * 1024
    /// Most operations in one history.
    public static let operationsMax = 5_000_000

    /// Parses JSON lines (UTF-8) into operations, in file order.
    public static func parse(_ bytes: [UInt8]) throws(RegisterHistoryReadError) -> [RegisterOperation] {
        var operations: [RegisterOperation] = []
        var lineStart = 0
        var lineNumber = 0
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            let line = bytes[lineStart..<lineEnd]
            lineStart = lineEnd + 1
            guard line.count <= lineBytesMax else { throw .lineTooLong(line: lineNumber, bytes: line.count) }
            guard line.contains(where: { !isWhitespace($0) }) else { continue }
            guard operations.count < operationsMax else { throw .tooManyOperations(max: operationsMax) }
            operations.append(try parseLine(line, number: lineNumber))
        }
        return operations
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    static func parseLine(_ line: ArraySlice<UInt8>, number: Int) throws(RegisterHistoryReadError) -> RegisterOperation {
        let record: OperationRecord
        do {
            record = try JSONDecoder().decode(OperationRecord.self, from: Data(line))
        } catch let error as DecodingError {
            throw .malformed(line: number, reason: describe(error))
        } catch {
            throw .malformed(line: number, reason: "not a JSON object")
        }
        return try validate(record, number: number)
    }

    static func validate(_ record: OperationRecord, number: Int) throws(RegisterHistoryReadError) -> RegisterOperation {
        guard let kind = RegisterOperationKind(rawValue: record.op) else {
            throw .malformed(line: number, reason: "\"op\" must be \"set\" or \"get\", not \"\(record.op)\"")
        }
        guard let outcome = RegisterOutcome(rawValue: record.outcome) else {
            throw .malformed(line: number, reason: "\"outcome\" must be \"ok\", \"fail\" or \"info\", not \"\(record.outcome)\"")
        }
        if kind == .set, record.value == nil {
            throw .malformed(line: number, reason: "a set needs a string \"value\"")
        }
        if kind == .get, outcome == .ok, !record.hasValue {
            throw .malformed(line: number, reason: "an ok get needs \"value\" (a string, or null)")
        }
        let end: Int64
        switch (record.end, outcome) {
        case (nil, .info): end = Int64.max
        case (nil, _): throw .malformed(line: number, reason: "\"end\" is required unless the outcome is info")
        case let (value?, _): end = value
        }
        if outcome != .info, end < record.start {
            throw .malformed(line: number, reason: "\"end\" (\(end)) is before \"start\" (\(record.start))")
        }
        return RegisterOperation(client: record.client, key: record.key, kind: kind, value: record.value,
                                 start: record.start, end: end, outcome: outcome)
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .keyNotFound(key, _): return "missing \"\(key.stringValue)\""
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            let field = context.codingPath.last?.stringValue ?? "value"
            return "\"\(field)\" has the wrong type"
        case .dataCorrupted: return "not valid JSON"
        @unknown default: return "not a valid operation"
        }
    }
}

/// A line as decoded, before validation.
struct OperationRecord: Decodable {
    var client: Int
    var key: String
    var op: String
    var value: String?
    /// Whether the line had a "value" field at all (null counts as present).
    var hasValue: Bool
    var start: Int64
    var end: Int64?
    var outcome: String

    enum CodingKeys: String, CodingKey {
        case client, key, op, value, start, end, outcome
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        client = try container.decode(Int.self, forKey: .client)
        key = try container.decode(String.self, forKey: .key)
        op = try container.decode(String.self, forKey: .op)
        hasValue = container.contains(.value)
        value = try container.decodeIfPresent(String.self, forKey: .value)
        start = try container.decode(Int64.self, forKey: .start)
        end = try container.decodeIfPresent(Int64.self, forKey: .end)
        outcome = try container.decode(String.self, forKey: .outcome)
    }
}
