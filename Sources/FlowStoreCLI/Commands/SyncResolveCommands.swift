import ArgumentParser
import FlowStoreCore

struct SyncResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Join a ref that diverged in a sync, keeping one side's target.",
        discussion: """
            When both stores moved the same ref, a sync changes neither; this records a merge \
            event whose previous event is the local head and which names the incoming head(s), \
            so both histories stay provable (`flowstore audit` shows them). --take local keeps \
            the local target, --take incoming takes the other side's, --take REV sets another \
            version. For a diverged head, a merge version is committed with both heads as \
            parents and the chosen side's definition.

            Which ref: PATH alone is the file's head; with --label NAME or --env NAME, that \
            label or environment; with --path, the path itself (both sides created a file \
            there); --ref NAME gives a raw ref name, as `flowstore sync --status` shows it.

            --json prints {ref, display, event_id, target, merge_version}.

            Examples:
              flowstore resolve "Personal Projects/MedQA Flow" --label production --take incoming
              flowstore resolve "Personal Projects/MedQA Flow" --env staging --take 3
              flowstore resolve "Personal Projects/MedQA Flow" --take local
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var author: AuthorOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String?

    @Option(help: ArgumentHelp("Resolve this label of PATH.", valueName: "name"))
    var label: String?

    @Option(name: .customLong("env"), help: ArgumentHelp("Resolve this environment of PATH.", valueName: "name"))
    var environment: String?

    @Flag(name: .customLong("path"), help: "Resolve the path ref of PATH (which file lives there).")
    var pathRef = false

    @Option(help: ArgumentHelp("Resolve this ref, by its raw name.", valueName: "ref"))
    var ref: String?

    @OptionGroup var choice: ResolveChoiceOptions

    func validate() throws {
        let selectors = [label != nil, environment != nil, pathRef].filter { $0 }.count
        if ref != nil {
            guard path == nil, selectors == 0 else { throw ValidationError("--ref excludes PATH, --label, --env and --path") }
        } else {
            guard path != nil else { throw ValidationError("give PATH (with --label, --env or --path) or --ref NAME") }
            guard selectors <= 1 else { throw ValidationError("give at most one of --label, --env, --path") }
        }
    }

    func run() async throws {
        let local = try store.open()
        let name: RefName
        var file: FlowPath?
        if let ref {
            name = try RefName(ref)
        } else {
            let path = try Arguments.path(path ?? "")
            if pathRef {
                name = RefNames.path(path)
            } else {
                file = path
                let id = try local.requireFile(at: path)
                if let label {
                    name = RefNames.named(id, .labels, try Arguments.label(label, kind: .labels))
                } else if let environment {
                    name = RefNames.named(id, .environments, try Arguments.label(environment, kind: .environments))
                } else {
                    name = RefNames.head(id)
                }
            }
        }
        try SyncResolveAction.run(
            name, path: file, take: choice.take, message: choice.message, store: local, author: try author.resolved(), json: json.enabled)
    }
}

/// `flowstore label resolve PATH LABEL --take …`: the same as `resolve PATH --label LABEL`.
/// (Registered in `LabelCommand`'s subcommands.)
struct LabelResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Join a label that diverged in a sync (see `flowstore resolve`).",
        discussion: """
            Example:
              flowstore label resolve "Personal Projects/MedQA Flow" production --take incoming
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var author: AuthorOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    @Argument(help: ArgumentHelp("The label.", valueName: "label"))
    var label: String

    @OptionGroup var choice: ResolveChoiceOptions

    func run() async throws {
        try SyncResolveAction.named(
            .labels, path: path, name: label, take: choice.take, message: choice.message, store: store, author: author, json: json.enabled)
    }
}

/// `flowstore env resolve PATH ENV --take …`: the same as `resolve PATH --env ENV`.
/// (Registered in `EnvironmentCommand`'s subcommands.)
struct EnvironmentResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Join an environment that diverged in a sync (see `flowstore resolve`).",
        discussion: """
            Example:
              flowstore env resolve "Personal Projects/MedQA Flow" production --take local
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var author: AuthorOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    @Argument(help: ArgumentHelp("The environment.", valueName: "env"))
    var environment: String

    @OptionGroup var choice: ResolveChoiceOptions

    func run() async throws {
        try SyncResolveAction.named(
            .environments, path: path, name: environment, take: choice.take, message: choice.message, store: store, author: author,
            json: json.enabled)
    }
}

enum SyncResolveAction {
    static func named(
        _ kind: RefKind, path pathText: String, name: String, take: String, message: String?, store: StoreOptions,
        author: AuthorOptions, json: Bool
    ) throws {
        let local = try store.open()
        let path = try Arguments.path(pathText)
        let ref = RefNames.named(try local.requireFile(at: path), kind, try Arguments.label(name, kind: kind))
        try run(ref, path: path, take: take, message: message, store: local, author: try author.resolved(), json: json)
    }

    /// Resolves `name`; `path` (when the ref belongs to a file at a path) lets REV be a bare
    /// version number or `@label`, as in `label set`.
    static func run(
        _ name: RefName, path: FlowPath?, take: String, message: String?, store: VersionStore, author: String, json: Bool
    ) throws {
        let choice: ResolveChoice
        switch take {
        case "local": choice = .local
        case "incoming": choice = .incoming
        default:
            if let path {
                choice = .target(try Arguments.version(take, of: path, in: store))
            } else {
                choice = .target(try store.resolve(take))
            }
        }
        let result = try store.resolveDivergence(name, take: choice, author: author, message: message)
        var display = try RefDisplay(store: store)
        let console = Console.current
        if json {
            return console.printJSON([
                "ref": .string(name.rawValue), "display": .string(display.name(name)), "event_id": .id(result.event),
                "target": .id(result.target), "merge_version": .id(result.mergeVersion),
            ])
        }
        var line = "resolved \(TextStyle.safe(display.name(name))): now at \(SyncOutput.describe(result.target, in: store))"
        if let merged = result.mergeVersion, let version = try? store.version(merged) {
            line += ", a merge of \(version.parents.map(\.short).joined(separator: " and "))"
        }
        console.print("\(line); merge event \(result.event.short)")
    }
}

/// `--take` and `-m`, shared by `resolve`, `label resolve` and `env resolve`.
struct ResolveChoiceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Which target to keep: local, incoming, or a version.", valueName: "local|incoming|rev"))
    var take: String

    @Option(name: [.short, .long], help: ArgumentHelp("Why, for the audit log.", valueName: "message"))
    var message: String?
}
