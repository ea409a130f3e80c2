import ArgumentParser

/// `flowstore serve` (owned by the server work; stub until it lands).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the Humanloop Flows and PromptLayer Workflows APIs over HTTP."
    )

    func run() async throws {
        throw ValidationError("not implemented yet")
    }
}
