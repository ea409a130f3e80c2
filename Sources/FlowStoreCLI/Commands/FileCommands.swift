import ArgumentParser
import FlowStoreCore

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the flows and agents in the store.",
        discussion: """
            One line per file, sorted by path: kind, head version number, path, then its labels \
            and environments (env:NAME) with the version numbers they point at.

            --json prints an array of {path, file_id, kind, head_version_id, head_number, \
            labels: [{name, version_id, number}], environments: [{name, version_id, number}]}.

            Example:
              flowstore ls
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    func run() async throws {
        let store = try store.open()
        let console = Console.current
        var rows: [JSONValue] = []
        var lines: [(kind: String, head: String, path: String, names: String)] = []
        for (path, file) in try store.files() {
            let kind = try store.fileObject(file).kind
            let refs = try FileRefs(store: store, file: file)
            var numbers: [ObjectID: Int] = [:]
            for id in [refs.head].compactMap({ $0 }) + refs.labels.map(\.version) + refs.environments.map(\.version) {
                numbers[id] = try store.version(id).number
            }
            func named(_ kind: RefKind) -> [JSONValue] {
                refs.refs(kind).map { JSONShapes.namedRef($0.label, $0.version, number: numbers[$0.version]) }
            }
            rows.append([
                "path": .string(path.rawValue), "file_id": .id(file), "kind": .string(kind.rawValue),
                "head_version_id": .id(refs.head), "head_number": refs.head.flatMap { numbers[$0] }.map(JSONValue.int) ?? .null,
                "labels": .array(named(.labels)), "environments": .array(named(.environments)),
            ])
            let names = refs.labels.map { "\($0.label.rawValue)=#\(numbers[$0.version] ?? 0)" }
                + refs.environments.map { "env:\($0.label.rawValue)=#\(numbers[$0.version] ?? 0)" }
            lines.append(
                (kind.rawValue, refs.head.flatMap { numbers[$0] }.map { "#\($0)" } ?? "-", TextStyle.safe(path.rawValue),
                 names.isEmpty ? "" : "  (\(names.map(TextStyle.safe).joined(separator: ", ")))"))
        }
        if json.enabled { return console.printJSON(.array(rows)) }
        let headWidth = lines.map(\.head.count).max() ?? 0
        for line in lines {
            console.print("\(TextStyle.pad(line.kind, 5))  \(TextStyle.pad(line.head, headWidth))  \(line.path)\(line.names)")
        }
    }
}

struct MoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mv",
        abstract: "Move a flow or agent to a new path (it keeps its id, history and labels).",
        discussion: """
            Example:
              flowstore mv "Personal Projects/MedQA Flow" "Clinical/MedQA Flow"
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var author: AuthorOptions

    @Argument(help: ArgumentHelp("The current path.", valueName: "path"))
    var path: String

    @Argument(help: ArgumentHelp("The new path (must be free).", valueName: "new-path"))
    var newPath: String

    func run() async throws {
        let author = try author.resolved()
        let from = try Arguments.path(path)
        let to = try Arguments.path(newPath)
        let store = try store.open()
        try store.moveFile(from: from, to: to, author: author)
        Console.current.print("moved \(TextStyle.quoted(from.rawValue)) to \(TextStyle.quoted(to.rawValue))")
    }
}

struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove a flow or agent from its path (its objects and history stay).",
        discussion: """
            The path is freed and the file no longer listed; the removal is an audited event, \
            and every version stays readable by id (`flowstore show ID`).

            Example:
              flowstore rm "Personal Projects/Old Flow" -m "superseded by MedQA Flow"
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var author: AuthorOptions

    @Argument(help: ArgumentHelp("The flow or agent.", valueName: "path"))
    var path: String

    @Option(name: [.short, .long], help: ArgumentHelp("Why, for the audit log.", valueName: "message"))
    var message: String?

    func run() async throws {
        let author = try author.resolved()
        let flowPath = try Arguments.path(path)
        let store = try store.open()
        let file = try store.requireFile(at: flowPath)
        try store.deleteFile(at: flowPath, author: author, message: message)
        Console.current.print("removed \(TextStyle.quoted(flowPath.rawValue)) (file \(file.short); history kept)")
    }
}
