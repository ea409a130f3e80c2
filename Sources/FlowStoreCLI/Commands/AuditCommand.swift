import ArgumentParser
import FlowStoreCore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show who moved which name, when and why, newest first.",
        discussion: """
            Every change of a head, label, environment or path is an event in a hash-linked \
            chain; this prints them for one file (PATH) or the whole store: time, author, \
            action (create, move, delete, merge), the name (PATH for a head, PATH@LABEL, \
            PATH@environments/ENV, path PATH for where a file lives), from → to, and the message.

            --json prints an array of {event_id, time, author, action, ref, display, from, to, \
            prev, message}; ref is the raw ref name, display the readable one.

            Examples:
              flowstore audit
              flowstore audit "Personal Projects/MedQA Flow" -n 10
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("Only this flow or agent.", valueName: "path"))
    var path: String?

    @Option(name: [.customShort("n"), .customLong("max-count")], help: ArgumentHelp("Show at most N events.", valueName: "n"))
    var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("-n must be at least 1") }
    }

    func run() async throws {
        let flowPath = try path.map { (text: String) throws(StoreError) in try Arguments.path(text) }
        let store = try store.open()
        let entries = try store.audit(path: flowPath, limit: limit)
        var display = try RefDisplay(store: store)
        let console = Console.current
        if json.enabled {
            return console.printJSON(
                .array(
                    entries.map { entry in
                        let e = entry.event
                        return [
                            "event_id": .id(entry.id), "time": .string(e.time), "author": .string(e.author),
                            "action": .string(e.action.rawValue), "ref": .string(e.ref.rawValue),
                            "display": .string(display.name(e.ref)), "from": .id(e.from), "to": .id(e.to),
                            "prev": .id(e.prev), "message": .nullable(e.message),
                        ]
                    }))
        }
        let authorWidth = entries.map { TextStyle.safe($0.event.author).count }.max() ?? 0
        for entry in entries {
            let e = entry.event
            var line = "\(e.time)  \(TextStyle.pad(TextStyle.safe(e.author), authorWidth))  "
                + "\(TextStyle.pad(e.action.rawValue, 6))  \(TextStyle.paint(TextStyle.safe(display.name(e.ref)), .cyan))  "
                + "\(TextStyle.short(e.from)) → \(TextStyle.short(e.to))"
            if let message = e.message {
                line += "  \(TextStyle.safe(message.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ")))"
            }
            console.print(line)
        }
    }
}
