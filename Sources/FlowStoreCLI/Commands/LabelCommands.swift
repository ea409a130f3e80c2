import ArgumentParser
import FlowStoreCore

struct LabelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Set, remove and list release labels (production, staging, …).",
        discussion: """
            A label names one version of a file (PromptLayer's release labels). Every move is \
            an audited event; see `flowstore audit`.

            Examples:
              flowstore label set "Personal Projects/MedQA Flow" production 2
              flowstore label set agents/router production --expect none
              flowstore label ls agents/router
              flowstore label rm agents/router staging
            """,
        subcommands: [LabelSetCommand.self, LabelRemoveCommand.self, LabelListCommand.self, LabelResolveCommand.self])
}

struct LabelSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Point a label at a version.",
        discussion: """
            REV is a version number of PATH (2), a revision (PATH#2, PATH@staging, PATH~1), or \
            a version id prefix; it defaults to the head. With --expect the label moves only \
            if it currently points at that version (none: only if it is unset), a \
            compare-and-swap that fails with nothing changed when someone moved it first.

            Examples:
              flowstore label set "Personal Projects/MedQA Flow" production 2
              flowstore label set agents/router staging
              flowstore label set agents/router production 3 --expect 2
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var author: AuthorOptions

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    @Argument(help: ArgumentHelp("The label, e.g. production.", valueName: "label"))
    var label: String

    @Argument(help: ArgumentHelp("The version (default: the head).", valueName: "rev"))
    var revision: String?

    @Option(help: ArgumentHelp("Only move the label if it points at this version now (none: if it is unset).", valueName: "rev|none"))
    var expect: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Why, for the audit log.", valueName: "message"))
    var message: String?

    func run() async throws {
        try NamedRefActions.set(
            .labels, path: path, name: label, revision: revision, expect: expect, message: message, store: store,
            author: author)
    }
}

struct LabelRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove a label (the removal is recorded; its history stays).",
        discussion: """
            Example:
              flowstore label rm agents/router staging
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var author: AuthorOptions

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    @Argument(help: ArgumentHelp("The label.", valueName: "label"))
    var label: String

    @Option(name: [.short, .long], help: ArgumentHelp("Why, for the audit log.", valueName: "message"))
    var message: String?

    func run() async throws {
        try NamedRefActions.remove(.labels, path: path, name: label, message: message, store: store, author: author)
    }
}

struct LabelListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List a file's labels and the versions they point at.",
        discussion: """
            --json prints an array of {name, version_id, number}.

            Example:
              flowstore label ls "Personal Projects/MedQA Flow"
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    func run() async throws {
        try NamedRefActions.list(.labels, path: path, store: store, json: json.enabled)
    }
}
