import ArgumentParser
import FlowStoreCore

struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Point one label at the version another label names (staging → production).",
        discussion: """
            Copies the target of --from onto --to, as one audited event. With --environments \
            the names are environments instead of labels.

            Examples:
              flowstore promote agents/router --from staging --to production
              flowstore promote "Personal Projects/MedQA Flow" --from development --to production --environments
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var author: AuthorOptions

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    @Option(help: ArgumentHelp("The label to read, e.g. staging.", valueName: "label"))
    var from: String

    @Option(help: ArgumentHelp("The label to move, e.g. production.", valueName: "label"))
    var to: String

    @Flag(help: "Promote between environments rather than labels.")
    var environments = false

    @Option(name: [.short, .long], help: ArgumentHelp("Why, for the audit log.", valueName: "message"))
    var message: String?

    func run() async throws {
        let kind: RefKind = environments ? .environments : .labels
        let author = try author.resolved()
        let path = try Arguments.path(path)
        let source = try Arguments.label(from, kind: kind)
        let destination = try Arguments.label(to, kind: kind)
        let store = try store.open()
        let (version, event) = try store.promote(
            path, kind: kind, from: source, to: destination, author: author, message: message)
        let number = try store.version(version).number
        let what = "\(kind.noun) \(destination.rawValue) of \(TextStyle.quoted(path.rawValue))"
        Console.current.print(
            event == nil
                ? "\(what) already points at version \(number) (\(version.short)), as \(source.rawValue) does"
                : "promoted \(source.rawValue) → \(destination.rawValue): \(what) now points at version \(number) (\(version.short))")
    }
}
