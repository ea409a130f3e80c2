import ArgumentParser
import FlowStoreCore

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changed between two versions.",
        discussion: """
            Compares the definitions (and the path, name and message) of two versions, in the \
            terms of the definition: changed attributes of a flow, added, removed and changed \
            nodes and edges of an agent:

              ~ attributes.prompt.temperature: 0.8 → 0.9
              + nodes["summarize"]
              - edges["router" -> "sales_handler"]

            Values are shown in canonical JSON, long ones shortened. Colour is used only on a \
            terminal and never when NO_COLOR is set.

            --json prints {from, to, changes: [{location, change: added|removed|changed, \
            from, to}]} with complete values (null where a side has none).

            Examples:
              flowstore diff "Personal Projects/MedQA Flow#1" "Personal Projects/MedQA Flow"
              flowstore diff "agents/router@production" "agents/router@staging" --json
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The older version (a revision).", valueName: "a"))
    var from: String

    @Argument(help: ArgumentHelp("The newer version (a revision).", valueName: "b"))
    var to: String

    func run() async throws {
        let store = try store.open()
        let console = Console.current
        let diff = try store.diff(try store.resolveVersion(from), try store.resolveVersion(to))
        if json.enabled {
            let changes: [JSONValue] = diff.entries.map { entry in
                let (kind, old, new): (String, JSONValue?, JSONValue?) =
                    switch entry.change {
                    case .added(let value): ("added", nil, value)
                    case .removed(let value): ("removed", value, nil)
                    case .changed(let a, let b): ("changed", a, b)
                    }
                return ["location": .string(entry.location), "change": .string(kind), "from": old ?? .null, "to": new ?? .null]
            }
            return console.printJSON(["from": .id(diff.from), "to": .id(diff.to), "changes": .array(changes)])
        }
        guard !diff.isEmpty else { return console.print("no differences") }
        for entry in diff.entries { console.print(Self.line(entry)) }
    }

    /// One change, one line: `~ location: old → new`, `+ location: value`, `- location`.
    /// A whole node or edge added or removed is named, not printed (`show` prints it).
    static func line(_ entry: VersionDiff.Entry) -> String {
        let location = TextStyle.safe(entry.location)
        switch entry.change {
        case .added(let value):
            return TextStyle.paint("+ \(location)\(valueSuffix(entry.location, value))", .green)
        case .removed(let value):
            return TextStyle.paint("- \(location)\(valueSuffix(entry.location, value))", .red)
        case .changed(let old, let new):
            let limit = 60
            return TextStyle.paint(
                "~ \(location): \(TextStyle.compactJSON(old, limit: limit)) → \(TextStyle.compactJSON(new, limit: limit))",
                .yellow)
        }
    }

    private static func valueSuffix(_ location: String, _ value: JSONValue) -> String {
        location.hasSuffix("]") ? "" : ": \(TextStyle.compactJSON(value, limit: 60))"
    }
}
