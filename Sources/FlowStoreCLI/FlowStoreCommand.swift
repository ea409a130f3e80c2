import ArgumentParser

/// `flowstore`: the git-like face of the version store.
public struct FlowStoreCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flowstore",
        abstract: "A git-style, content-addressed version store for LLM flows and agents.",
        subcommands: [ServeCommand.self]
    )

    public init() {}
}
