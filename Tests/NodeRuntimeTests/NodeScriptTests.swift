// Runs every testdata/*.txt node script through NodeScriptHarness and compares
// each command's output with the recorded one. TRESTLE_REWRITE=1 re-records the files in
// the source tree instead of comparing.

import Foundation
import Testing

@Suite struct NodeScriptTests {
    static let scripts = ["single_node", "three_nodes_proxy", "three_nodes_redirect"]

    struct Block {
        var command: String
        var expected: [String]
    }

    static func parse(_ text: String) -> (blocks: [Block], comments: [Int: [String]]) {
        var blocks: [Block] = []
        var comments: [Int: [String]] = [:]
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
            blocks.append(Block(command: line, expected: expected))
        }
        return (blocks, comments)
    }

    @Test(arguments: scripts)
    func script(_ name: String) throws {
        guard let url = Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "testdata") else {
            Issue.record("missing testdata/\(name).txt")
            return
        }
        let text = try String(contentsOf: url, encoding: .utf8)
        let (blocks, comments) = Self.parse(text)
        let harness = NodeScriptHarness()
        let rewrite = ProcessInfo.processInfo.environment["TRESTLE_REWRITE"] == "1"
        var rewritten: [String] = []
        for (position, block) in blocks.enumerated() {
            let actual = harness.run(block.command)
            let actualLines = actual.isEmpty ? [] : actual.components(separatedBy: "\n")
            if rewrite {
                if position > 0 { rewritten.append("") }
                rewritten.append(contentsOf: comments[position] ?? [])
                rewritten.append(block.command)
                rewritten.append("----")
                rewritten.append(contentsOf: actualLines.isEmpty ? ["ok"] : actualLines)
            } else {
                let expected = block.expected == ["ok"] ? [] : block.expected
                #expect(actualLines == expected, "\(name).txt, command \(position + 1) `\(block.command)`:\n\(actual)")
            }
        }
        if rewrite {
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("testdata").appendingPathComponent("\(name).txt")
            try (rewritten.joined(separator: "\n") + "\n").write(to: source, atomically: true, encoding: .utf8)
        }
    }
}
