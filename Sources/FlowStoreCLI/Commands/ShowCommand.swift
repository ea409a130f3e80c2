import ArgumentParser
import FlowStoreCore

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a version (header and definition) or any object.",
        discussion: """
            REV is a revision: PATH (the head), PATH@LABEL, PATH@environments/ENV, PATH#N, \
            REV~K, or an id prefix of any object. A version prints a header (id, path, number, \
            name, message, author, date, parents, and the labels and environments pointing at \
            it) followed by its definition; other objects print as JSON.

            --json prints, for a version, {version_id, file_id, path, kind, number, name, \
            message, author, created_at, parents, content_id, metadata, labels, environments, \
            is_head, definition}; for any other object, the object's fields plus id.

            Examples:
              flowstore show "Personal Projects/MedQA Flow"
              flowstore show "Personal Projects/MedQA Flow@production"
              flowstore show "Personal Projects/MedQA Flow#1" --json
              flowstore show 3f2a9c1b
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("A revision or an object id prefix.", valueName: "rev"))
    var revision: String

    func run() async throws {
        let store = try store.open()
        let console = Console.current
        let id = try store.resolve(revision)
        let object = try store.object(id)
        guard case .version(let version) = object else {
            var o = object.json.objectValue ?? JSONObject()
            o["id"] = .id(id)
            return console.print(json.enabled ? JSONValue.object(o).prettyPrinted() : object.json.prettyPrinted())
        }
        let refs = try FileRefs(store: store, file: version.file)
        let definition = try store.content(version.content).definition
        if json.enabled {
            var o = JSONShapes.version(id, version, refs: refs)
            o["definition"] = .object(definition)
            return console.printJSON(.object(o))
        }
        for line in Self.header(id, version, refs: refs) { console.print(line) }
        console.print("")
        console.print(JSONValue.object(definition).prettyPrinted())
    }

    static func header(_ id: ObjectID, _ v: VersionObject, refs: FileRefs) -> [String] {
        var lines = [TextStyle.paint("version \(id.hex)", .yellow)]
        func field(_ name: String, _ value: String) { lines.append(TextStyle.pad("\(name):", 14) + value) }
        field("path", TextStyle.safe(v.path.rawValue))
        field("kind", v.kind.rawValue)
        field("number", "\(v.number)\(refs.head == id ? " (head)" : "")")
        if let name = v.name { field("name", TextStyle.safe(name)) }
        if let message = v.message {
            let lines = message.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            field("message", TextStyle.safe(lines.first ?? ""))
            for more in lines.dropFirst() { field("", TextStyle.safe(more)) }
        }
        field("author", TextStyle.safe(v.author))
        field("date", v.createdAt)
        field("parents", v.parents.isEmpty ? "(none)" : v.parents.map(\.short).joined(separator: " "))
        field("content", v.content.short)
        let labels = refs.names(.labels, at: id)
        if !labels.isEmpty { field("labels", labels.map(TextStyle.safe).joined(separator: ", ")) }
        let environments = refs.names(.environments, at: id)
        if !environments.isEmpty { field("environments", environments.map(TextStyle.safe).joined(separator: ", ")) }
        if let metadata = v.metadata { field("metadata", TextStyle.compactJSON(.object(metadata))) }
        return lines
    }
}

struct CatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Write an object's raw canonical bytes to standard output.",
        discussion: """
            Like `git cat-file -p`, but raw: exactly the stored bytes, no trailing newline, so \
            `flowstore cat ID | sha256sum` prints ID again. Accepts revisions too (a version's \
            bytes).

            Examples:
              flowstore cat 3f2a9c1b
              flowstore cat "Personal Projects/MedQA Flow@production" | jq .content
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("An object id prefix or a revision.", valueName: "id"))
    var revision: String

    func run() async throws {
        let store = try store.open()
        let id = try store.resolve(revision)
        Console.current.write(try store.objects.get(id))
    }
}
