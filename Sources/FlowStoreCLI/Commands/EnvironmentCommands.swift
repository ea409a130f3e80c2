import ArgumentParser
import FlowStoreCore

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Deploy a version to an environment (development, production, …).",
        discussion: """
            Environments are Humanloop's deployments: each names one version of a file. REV is \
            a version number of PATH, a revision or an id prefix, and defaults to the head. \
            --expect makes the move a compare-and-swap, as in `label set`.

            Examples:
              flowstore deploy "Personal Projects/MedQA Flow" production 2
              flowstore deploy "Personal Projects/MedQA Flow" development
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var author: AuthorOptions

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    @Argument(help: ArgumentHelp("The environment, e.g. production.", valueName: "env"))
    var environment: String

    @Argument(help: ArgumentHelp("The version (default: the head).", valueName: "rev"))
    var revision: String?

    @Option(help: ArgumentHelp("Only deploy if this version is deployed there now (none: if nothing is).", valueName: "rev|none"))
    var expect: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Why, for the audit log.", valueName: "message"))
    var message: String?

    func run() async throws {
        try NamedRefActions.set(
            .environments, path: path, name: environment, revision: revision, expect: expect, message: message,
            store: store, author: author)
    }
}

struct UndeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undeploy",
        abstract: "Remove a deployment from an environment.",
        discussion: """
            Example:
              flowstore undeploy "Personal Projects/MedQA Flow" staging
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var author: AuthorOptions

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    @Argument(help: ArgumentHelp("The environment.", valueName: "env"))
    var environment: String

    @Option(name: [.short, .long], help: ArgumentHelp("Why, for the audit log.", valueName: "message"))
    var message: String?

    func run() async throws {
        try NamedRefActions.remove(.environments, path: path, name: environment, message: message, store: store, author: author)
    }
}

struct EnvironmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "List a file's deployments, or resolve one that diverged in a sync.",
        subcommands: [EnvironmentListCommand.self, EnvironmentResolveCommand.self])
}

struct EnvironmentListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List a file's deployments (same as `flowstore deployments`).",
        discussion: """
            --json prints an array of {name, version_id, number}.

            Example:
              flowstore env ls "Personal Projects/MedQA Flow"
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    func run() async throws {
        try NamedRefActions.list(.environments, path: path, store: store, json: json.enabled)
    }
}

struct DeploymentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployments",
        abstract: "List a file's deployments (same as `flowstore env ls`).",
        discussion: """
            --json prints an array of {name, version_id, number}.

            Example:
              flowstore deployments "Personal Projects/MedQA Flow" --json
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    func run() async throws {
        try NamedRefActions.list(.environments, path: path, store: store, json: json.enabled)
    }
}
