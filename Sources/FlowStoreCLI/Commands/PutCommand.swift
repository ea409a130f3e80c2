import ArgumentParser
import FlowStoreCore

struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Record a new version of a flow or agent from a request body.",
        discussion: """
            FILE (or - for standard input) is the JSON body a client would send: a Humanloop \
            Upsert Flow body (attributes, path, version_name, version_description) or a \
            PromptLayer Create Workflow body (nodes, edges, required_input_variables, name or \
            workflow_name, commit_message, release_labels, folder_id). The kind is taken from \
            the body (attributes: flow, nodes: agent) unless --kind says otherwise.

            Flags override the body: --path over path/name/workflow_name, --name over \
            version_name, --message over version_description/commit_message, and --label (if \
            given) replaces release_labels. The file is created on first put.

            Putting a definition identical to the head records nothing and says "unchanged" \
            (labels are still applied). Everything is validated before anything is written.

            --json prints {path, kind, file_id, file_created, version_id, number, created, \
            content_id, labels}.

            Examples:
              flowstore put flow.json --path "Personal Projects/MedQA Flow" -m "Initial version"
              flowstore put agent.json --label staging
              curl -s https://… | flowstore put - --path agents/router --kind agent
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var authorOptions: AuthorOptions

    @Argument(help: ArgumentHelp("The request body: a JSON file, or - for standard input.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("Where the flow or agent lives, e.g. \"Personal Projects/MedQA Flow\".", valueName: "path"))
    var path: String?

    @Option(help: ArgumentHelp("Read the body as a flow or an agent (default: from its fields).", valueName: "flow|agent"))
    var kind: FileKind?

    @Option(help: ArgumentHelp("A name for the version, unique within the file.", valueName: "name"))
    var name: String?

    @Option(name: [.short, .long], help: ArgumentHelp("What changed in this version.", valueName: "message"))
    var message: String?

    @Option(name: .customLong("label"), help: ArgumentHelp("Point this label at the version (repeatable).", valueName: "label"))
    var labels: [String] = []

    @Flag(name: .customLong("json"), help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        let author = try authorOptions.resolved()
        let body = try SeedBody.parse(try JSONInput.read(file), kind: kind)
        guard let pathText = path ?? body.path else {
            throw CLIError("no path: pass --path, or put \"path\" (Humanloop) or \"name\" (PromptLayer) in the body")
        }
        let flowPath = try Arguments.path(pathText)
        var refLabels: [RefLabel] = []
        for text in labels.isEmpty ? body.labels : labels {
            refLabels.append(try Arguments.label(text, kind: .labels))
        }
        let store = try store.open()
        let result = try store.commit(
            NewVersion(
                path: flowPath, definition: body.checked, name: name ?? body.versionName,
                message: message ?? body.message, metadata: body.metadata, labels: refLabels, reuse: .head),
            author: author)

        let console = Console.current
        let labelNames = refLabels.map(\.rawValue)
        if json {
            var o = JSONObject()
            o["path"] = .string(flowPath.rawValue)
            o["kind"] = .string(result.version.kind.rawValue)
            o["file_id"] = .id(result.file)
            o["file_created"] = .bool(result.fileCreated)
            o["version_id"] = .id(result.versionID)
            o["number"] = .int(result.version.number)
            o["created"] = .bool(result.created)
            o["content_id"] = .id(result.version.content)
            o["labels"] = .strings(labelNames)
            return console.printJSON(.object(o))
        }
        let where_ = "of \(TextStyle.quoted(flowPath.rawValue)) \(result.versionID.short)"
        var line = result.created
            ? "created version \(result.version.number) \(where_)"
            : "unchanged: version \(result.version.number) \(where_) is identical"
        if !labelNames.isEmpty { line += " [\(labelNames.joined(separator: ", "))]" }
        console.print(line)
    }
}
