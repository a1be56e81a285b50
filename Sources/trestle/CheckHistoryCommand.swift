// `trestle check-history FILE [--json]`: checks a register history recorded by real clients
// (JSON lines, see `RegisterHistoryReader`) for linearizability with the simulator's checker.
//
// Exit status is the contract scripts rely on: 0 linearizable, 1 not linearizable (the
// offending key and a shrunk counterexample are printed), 2 unreadable input, 3 unknown
// (the search hit its budget on some key and no key was found illegal).

import ArgumentParser
import Foundation
import Simulation

struct CheckHistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-history",
        abstract: "Check a recorded SET/GET history (JSON lines) for linearizability.",
        discussion: """
            One operation per line (JSON lines), e.g.
            {"client": 3, "key": "k17", "op": "set", "value": "v-3-88", "start": 123, "end": 456, "outcome": "ok"}

            A get carries the value it read ("value": "..." or null). Times are
            monotonic nanoseconds. outcome: ok (completed), fail (definitely not
            applied), info (unknown: timeout, lost connection; "end" may be null).

            Exit status: 0 linearizable, 1 not linearizable, 2 unreadable input,
            3 unknown (search budget exhausted).
            """)

    /// Largest history file accepted, in bytes.
    static let historyBytesMax = 2 * 1024 * 1024 * 1024
    /// Most operations of the offending key printed around the counterexample (which is always printed in full).
    static let offendingOperationsShownMax = 200

    @Argument(help: "The history file (JSON lines).") var file: String
    @Flag(help: "Print the result as one JSON object.") var json = false
    @Option(help: "Search budget per key: most (linearized set, state) pairs explored before answering unknown.")
    var exploredStatesMax: Int = LinearizabilityChecker.exploredStatesMax

    func validate() throws {
        guard exploredStatesMax > 0 else { throw ValidationError("--explored-states-max must be positive") }
    }

    func run() throws {
        let started = ContinuousClock.now
        let bytes: [UInt8]
        do {
            bytes = try readFile()
        } catch let failure as ReadFailure {
            printError("cannot read \(file): \(failure.reason)")
            throw ExitCode(2)
        } catch {
            printError("cannot read \(file): \((error as NSError).localizedDescription)")
            throw ExitCode(2)
        }
        let operations: [RegisterOperation]
        do {
            operations = try RegisterHistoryReader.parse(bytes)
        } catch {
            printError("\(file): \(error)")
            throw ExitCode(2)
        }
        let report = RegisterHistoryChecker.check(operations, exploredStatesMax: exploredStatesMax)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let origin = operations.map(\.start).min() ?? 0
        if json {
            print(CheckHistoryOutput(report: report, seconds: seconds).encoded())
        } else {
            printText(report, seconds: seconds, origin: origin)
        }
        switch report.verdict {
        case .linearizable: return
        case .illegal: throw ExitCode(1)
        case .unknown: throw ExitCode(3)
        }
    }

    /// The whole file, bounded by `historyBytesMax`.
    func readFile() throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: file) else { throw ReadFailure(reason: "no such file") }
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= Self.historyBytesMax else {
            throw ReadFailure(reason: "\(size) bytes, more than \(Self.historyBytesMax)")
        }
        guard let handle = FileHandle(forReadingAtPath: file) else { throw ReadFailure(reason: "cannot open") }
        defer { try? handle.close() }
        return Array(try handle.readToEnd() ?? Data())
    }

    struct ReadFailure: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    func printText(_ report: RegisterCheckReport, seconds: Double, origin: Int64) {
        let counts = "\(report.operationCount) operations (\(report.checkedOperationCount) checked) on \(report.keyCount) key\(report.keyCount == 1 ? "" : "s")"
        let time = String(format: "%.3f s", seconds)
        switch report.verdict {
        case .linearizable:
            print("linearizable: \(counts), \(time)")
        case let .unknown(keys):
            print("unknown: the search hit its budget (\(exploredStatesMax) states) on \(keys.count) key(s): \(keys.prefix(10).map { "\"\($0)\"" }.joined(separator: ", "))")
            print("no key was found illegal; \(counts), \(time)")
        case let .illegal(key, counterexample, all):
            print("NOT linearizable: key \"\(key)\" has no linearization (\(all.count) operations on it); \(counts), \(time)")
            print("counterexample (\(counterexample.count) of its operations; no linearization exists even for these alone,")
            print("and only reads and unobserved writes were dropped, so the violation is real). Times in ms from the first operation:")
            for operation in counterexample { print("  " + line(operation, origin: origin)) }
            // Context: every checked operation on the key that overlaps the counterexample's span.
            let spanStart = counterexample.map(\.start).min() ?? 0
            let spanEnd = counterexample.map { $0.outcome == .info ? $0.start : $0.end }.max() ?? 0
            let context = all.filter { $0.start <= spanEnd && ($0.outcome == .info || $0.end >= spanStart) }
            guard context.count > counterexample.count else { return }
            let half = Self.offendingOperationsShownMax / 2
            let elided = context.count > Self.offendingOperationsShownMax
            print("all \(context.count) checked operations on \"\(key)\" overlapping that span\(elided ? " (first and last \(half))" : ""):")
            for operation in elided ? Array(context.prefix(half)) : context { print("  " + line(operation, origin: origin)) }
            guard elided else { return }
            print("  ... \(context.count - 2 * half) more ...")
            for operation in context.suffix(half) { print("  " + line(operation, origin: origin)) }
        }
    }

    /// One operation, times relative to the history's first invocation.
    func line(_ operation: RegisterOperation, origin: Int64) -> String {
        func at(_ time: Int64) -> String { String(format: "%.3f", Double(time &- origin) / 1e6) }
        let end = operation.outcome == .info ? "?" : at(operation.end)
        let value = operation.value.map { "\"\($0)\"" } ?? "null"
        let what = operation.kind == .set ? "set \(value)" : "get -> \(value)"
        let outcome = operation.outcome == .ok ? "" : " (\(operation.outcome.rawValue): \(operation.kind == .set ? "may or may not have happened" : "no result"))"
        return "[\(at(operation.start)) .. \(end)] client \(operation.client) \(what)\(outcome)"
    }

    func printError(_ message: String) {
        FileHandle.standardError.write(Data(("trestle check-history: " + message + "\n").utf8))
    }
}

/// The `--json` form of a report.
struct CheckHistoryOutput: Encodable {
    struct Operation: Encodable {
        var client: Int
        var key: String
        var op: String
        var value: String?
        var start: Int64
        var end: Int64?
        var outcome: String

        init(_ operation: RegisterOperation) {
            client = operation.client
            key = operation.key
            op = operation.kind.rawValue
            value = operation.value
            start = operation.start
            end = operation.outcome == .info ? nil : operation.end
            outcome = operation.outcome.rawValue
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(client, forKey: .client)
            try container.encode(key, forKey: .key)
            try container.encode(op, forKey: .op)
            try container.encode(value, forKey: .value)  // null stays explicit
            try container.encode(start, forKey: .start)
            try container.encode(end, forKey: .end)
            try container.encode(outcome, forKey: .outcome)
        }

        enum CodingKeys: String, CodingKey { case client, key, op, value, start, end, outcome }
    }

    var result: String
    var operations: Int
    var checked: Int
    var keys: Int
    var seconds: Double
    var key: String?
    var counterexample: [Operation]?
    var unknownKeys: [String]?

    init(report: RegisterCheckReport, seconds: Double) {
        operations = report.operationCount
        checked = report.checkedOperationCount
        keys = report.keyCount
        self.seconds = seconds
        switch report.verdict {
        case .linearizable:
            result = "linearizable"
        case let .illegal(key, counterexample, _):
            result = "illegal"
            self.key = key
            self.counterexample = counterexample.map(Operation.init)
        case let .unknown(keys):
            result = "unknown"
            unknownKeys = keys
        }
    }

    func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(self) else { return "{\"result\": \"\(result)\"}" }
        return String(decoding: data, as: UTF8.self)
    }
}
