// The `trestle` executable: thin subcommands over the library modules.
import ArgumentParser

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
}

enum TrestleVersion {
    static let string = "0.2.0"
}
