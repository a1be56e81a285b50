// The `trestle` executable: thin subcommands over the library modules.
import ArgumentParser
import Foundation

@main
struct Trestle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trestle",
        abstract: "A Redis-compatible key-value store that keeps every acknowledged write.",
        version: TrestleVersion.string,
        subcommands: [ServerCommand.self, NodeCommand.self, LocalCommand.self, ClusterAdminCommand.self, SimCommand.self, BenchCommand.self,
                      CheckHistoryCommand.self],
        defaultSubcommand: nil
    )

    /// Parses the command line after adding the settings of `--config FILE` and of
    /// `TRESTLE_*` variables (ConfigurationSources.swift), then runs the subcommand.
    static func main() async {
        do {
            let arguments = try ConfigurationSources.expand(Array(CommandLine.arguments.dropFirst()),
                                                            environment: ProcessInfo.processInfo.environment)
            var command = try parseAsRoot(arguments)
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch let failure as ConfigurationSources.Failure {
            exit(withError: ValidationError(failure.description))
        } catch {
            exit(withError: error)
        }
    }
}

enum TrestleVersion {
    static let string = "0.2.0"
}
