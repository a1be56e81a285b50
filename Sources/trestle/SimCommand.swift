import ArgumentParser

/// Placeholder: the consensus work replaces this file with the simulator's command.
struct SimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sim", abstract: "Run the deterministic cluster simulator.")
    func run() async throws { print("not yet") }
}
