import ArgumentParser
import FlowStoreCore

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "List the versions of a flow or agent, newest first.",
        discussion: """
            Walks history from REV (usually a path, meaning its head) through parents, newest \
            first, showing each version's number, id, author, date, name, message, and the \
            head, labels and environments (env:NAME) pointing at it.

            --json prints an array of versions: {version_id, file_id, path, kind, number, \
            name, message, author, created_at, parents, content_id, metadata, labels, \
            environments, is_head}.

            Examples:
              flowstore log "Personal Projects/MedQA Flow"
              flowstore log "Personal Projects/MedQA Flow@production" -n 5
              flowstore log agents/router --oneline
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("A path or any revision to start from.", valueName: "rev"))
    var revision: String

    @Option(name: [.customShort("n"), .customLong("max-count")], help: ArgumentHelp("Show at most N versions.", valueName: "n"))
    var limit: Int?

    @Flag(help: "One line per version.")
    var oneline = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("-n must be at least 1") }
    }

    func run() async throws {
        let store = try store.open()
        let console = Console.current
        let start = try store.resolveVersion(revision)
        let history = try store.history(from: start, limit: limit)
        let refs = try FileRefs(store: store, file: try store.version(start).file)
        if json.enabled {
            return console.printJSON(.array(history.map { .object(JSONShapes.version($0.0, $0.1, refs: refs)) }))
        }
        for (index, (id, v)) in history.enumerated() {
            let decorations = refs.decorations(at: id).map(TextStyle.safe)
            let names = decorations.isEmpty ? "" : " (\(decorations.joined(separator: ", ")))"
            if oneline {
                let title = v.name.map { "\($0): " } ?? ""
                let summary = title + (v.message?.split(separator: "\n").first.map(String.init) ?? "")
                let line = "\(TextStyle.paint("#\(v.number) \(id.short)", .yellow))\(names) \(String(v.createdAt.prefix(10))) "
                    + "\(TextStyle.safe(v.author))" + (summary.isEmpty ? "" : "  \(TextStyle.safe(summary))")
                console.print(line)
                continue
            }
            if index > 0 { console.print("") }
            console.print(TextStyle.paint("version \(v.number) \(id.short)", .yellow) + names)
            console.print("Author: \(TextStyle.safe(v.author))")
            console.print("Date:   \(v.createdAt)")
            if let name = v.name { console.print("Name:   \(TextStyle.safe(name))") }
            if let message = v.message {
                console.print("")
                for line in TextStyle.indentedLines(message) { console.print(line) }
            }
        }
    }
}
