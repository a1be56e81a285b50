// Data-driven test scripts (testdata/*.txt), shared by the Raft interaction scripts and the
// node runtime scripts: blocks of one command, a `----` line and the expected output lines
// (`ok` for none), with `#` comments before a block. Tests compare each command's actual
// output with the recorded one; TRESTLE_REWRITE=1 re-records the file instead.
import Foundation

public struct ScriptFile {
    public struct Block {
        public var command: String
        /// The recorded output lines (empty for `ok`).
        public var expected: [String]
    }

    public private(set) var blocks: [Block] = []
    private var comments: [Int: [String]] = [:]

    /// True when the scripts are being re-recorded (TRESTLE_REWRITE=1).
    public static var rewriting: Bool { ProcessInfo.processInfo.environment["TRESTLE_REWRITE"] == "1" }

    public init(parsing text: String) {
        var lines = text.components(separatedBy: "\n")[...]
        var pendingComments: [String] = []
        while let line = lines.popFirst() {
            if line.hasPrefix("#") || line.trimmingCharacters(in: .whitespaces).isEmpty {
                if line.hasPrefix("#") { pendingComments.append(line) }
                continue
            }
            var expected: [String] = []
            if lines.first == "----" {
                lines.removeFirst()
                while let next = lines.first, !next.isEmpty {
                    expected.append(next)
                    lines.removeFirst()
                }
            }
            comments[blocks.count] = pendingComments
            pendingComments = []
            blocks.append(Block(command: line, expected: expected == ["ok"] ? [] : expected))
        }
    }

    /// The script text with every block's output replaced by `outputs` (one per block).
    public func rewritten(with outputs: [[String]]) -> String {
        var lines: [String] = []
        for (position, block) in blocks.enumerated() {
            if position > 0 { lines.append("") }
            lines.append(contentsOf: comments[position] ?? [])
            lines.append(block.command)
            lines.append("----")
            let output = position < outputs.count ? outputs[position] : []
            lines.append(contentsOf: output.isEmpty ? ["ok"] : output)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Splits one command's output into lines (none for an empty output).
    public static func lines(_ output: String) -> [String] {
        output.isEmpty ? [] : output.components(separatedBy: "\n")
    }

    /// Runs testdata/`name`.txt from `bundle` command by command through `run` and returns a
    /// description of every command whose output differs from the recording. When
    /// rewriting, records the outputs into the copy next to `sourceFile` and returns none.
    public static func check(_ name: String, bundle: Bundle, sourceFile: String, run: (String) -> String) throws -> [String] {
        guard let url = bundle.url(forResource: name, withExtension: "txt", subdirectory: "testdata") else {
            return ["missing testdata/\(name).txt"]
        }
        let script = ScriptFile(parsing: try String(contentsOf: url, encoding: .utf8))
        var outputs: [[String]] = []
        var failures: [String] = []
        for (position, block) in script.blocks.enumerated() {
            let actual = run(block.command)
            outputs.append(lines(actual))
            if outputs[position] != block.expected {
                failures.append("\(name).txt, command \(position + 1) `\(block.command)` printed:\n\(actual)\nrecorded:\n\(block.expected.joined(separator: "\n"))")
            }
        }
        guard rewriting else { return failures }
        let source = URL(fileURLWithPath: sourceFile).deletingLastPathComponent()
            .appendingPathComponent("testdata").appendingPathComponent("\(name).txt")
        try script.rewritten(with: outputs).write(to: source, atomically: true, encoding: .utf8)
        return []
    }
}
