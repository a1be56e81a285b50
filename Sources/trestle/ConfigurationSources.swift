// Where `trestle server` and `trestle node` take their settings from, besides the command
// line: a configuration file (`--config FILE`) and `TRESTLE_*` environment variables. Both
// are turned into command-line arguments placed before the real ones, so one parser checks
// everything and the precedence is: command line, then environment, then file.
//
// The file has Redis's format: one setting per line, the option's long name without its
// dashes, then its value (`port 7001`, `fsync always`, `requirepass "a b"`); `#` starts a
// comment line; a flag takes `yes` or `no` (`proxy yes`); a repeatable option may appear on
// several lines. An environment variable is the option's name in capitals with `_` for
// `-`, after `TRESTLE_` (`TRESTLE_PORT=7001`, `TRESTLE_PROXY=yes`). Only names of the
// subcommand's own options count, read from its help, so other TRESTLE_ variables (a test
// harness's) are left alone; an unknown name in the file is an error naming its line.
import ArgumentParser
import Foundation

enum ConfigurationSources {
    /// The subcommands that read a file and the environment.
    static let configurable: [String: ParsableCommand.Type] = ["server": ServerCommand.self, "node": NodeCommand.self]
    /// Largest configuration file read.
    static let fileBytesMax = 1 << 20

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `arguments` (without the program name) with the file's and the environment's
    /// settings inserted after the subcommand.
    static func expand(_ arguments: [String], environment: [String: String]) throws -> [String] {
        guard let subcommand = arguments.first, let command = configurable[subcommand] else { return arguments }
        var rest = Array(arguments.dropFirst())
        if rest.contains("--help") || rest.contains("-h") { return arguments }
        let options = optionKinds(command)
        var fromFile: [String] = []
        if let index = rest.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) {
            let path: String
            if rest[index] == "--config" {
                guard index + 1 < rest.count else { throw Failure(description: "--config needs a file name") }
                path = rest[index + 1]
                rest.removeSubrange(index...(index + 1))
            } else {
                path = String(rest[index].dropFirst("--config=".count))
                rest.remove(at: index)
            }
            fromFile = try fileArguments(path, options: options)
        }
        let fromEnvironment = try environmentArguments(environment, options: options)
        return [subcommand] + fromFile + fromEnvironment + rest
    }

    /// Each long option of `command` and whether it takes a value, from its help text.
    static func optionKinds(_ command: ParsableCommand.Type) -> [String: Bool] {
        var kinds: [String: Bool] = [:]
        let help = command.helpMessage(columns: 10_000)
        // A constant pattern: it compiles, or every start would fail in tests.
        let pattern = try! NSRegularExpression(pattern: #"^\s+(?:-\w, )?--([a-z][a-z0-9-]*)( <[^>]+>)?"#, options: .anchorsMatchLines)
        for match in pattern.matches(in: help, range: NSRange(help.startIndex..., in: help)) {
            guard let name = Range(match.range(at: 1), in: help).map({ String(help[$0]) }) else { continue }
            kinds[name] = match.range(at: 2).location != NSNotFound
        }
        kinds.removeValue(forKey: "help")
        kinds.removeValue(forKey: "version")
        return kinds
    }

    static func fileArguments(_ path: String, options: [String: Bool]) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "cannot read --config file \(path)") }
        guard data.count <= fileBytesMax else { throw Failure(description: "--config file \(path) is larger than \(fileBytesMax) bytes") }
        guard let text = String(data: data, encoding: .utf8) else { throw Failure(description: "--config file \(path) is not UTF-8 text") }
        var arguments: [String] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let name = String(line.prefix { !$0.isWhitespace })
            let value = unquoted(line.dropFirst(name.count).trimmingCharacters(in: .whitespaces))
            guard let takesValue = options[name], name != "config" else {
                throw Failure(description: "\(path):\(number + 1): unknown setting '\(name)'")
            }
            arguments += try setting(name, value: value, takesValue: takesValue, source: "\(path):\(number + 1)")
        }
        return arguments
    }

    static func environmentArguments(_ environment: [String: String], options: [String: Bool]) throws -> [String] {
        var arguments: [String] = []
        for (variable, value) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix("TRESTLE_") {
            let name = variable.dropFirst("TRESTLE_".count).lowercased().replacingOccurrences(of: "_", with: "-")
            guard let takesValue = options[name], name != "config" else { continue }
            arguments += try setting(name, value: value, takesValue: takesValue, source: variable)
        }
        return arguments
    }

    /// The arguments one setting stands for: `--name value`, or `--name` for a flag set to yes.
    private static func setting(_ name: String, value: String, takesValue: Bool, source: String) throws -> [String] {
        if takesValue { return ["--\(name)", value] }
        switch value.lowercased() {
        case "yes", "true", "1", "on": return ["--\(name)"]
        case "no", "false", "0", "off", "": return []
        default: throw Failure(description: "\(source): '\(name)' is a flag: give yes or no, not '\(value)'")
        }
    }

    /// A value in double quotes loses them (Redis's config files quote values with spaces).
    private static func unquoted(_ value: String) -> String {
        guard value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") else { return value }
        return String(value.dropFirst().dropLast())
    }
}
