import ArgumentParser
import FlowStoreCore
import Foundation

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Record many versions at once from request bodies (bulk, batched durability).",
        discussion: """
            Each SOURCE is a JSON body file (as `put` takes), a directory (its *.json files, in \
            name order) or a .jsonl file (one body per line). Every body becomes a version, in \
            order, exactly as `put` would record it (same paths, names, messages, labels; a body \
            identical to its file's head is "unchanged").

            Unlike a series of `put`s, which fsync each object and ref, import writes objects \
            without per-file fsync and makes them durable with a few file-system barriers \
            (syncfs), moving refs only after the objects are on disk: the same guarantees \
            (spec/FORMAT.md §9) at a fraction of the cost. A body that is refused stops the \
            import with an error naming it; versions before it are kept.

            Any number of bodies and paths: refs are moved in flushes of at most 1,024 (fewer \
            under a low `ulimit -n`), so open descriptors stay bounded. On a terminal a progress \
            bar shows on standard error (--no-progress hides it).

            --json prints {versions, created, unchanged, files_created, seconds}.

            Examples:
              flowstore import exported-flows/
              flowstore import history.jsonl --author migration
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var authorOptions: AuthorOptions

    @Argument(help: ArgumentHelp("Body files, directories of them, or .jsonl files.", valueName: "source"))
    var sources: [String]

    @Flag(name: .customLong("json"), help: "Print the result as JSON.")
    var json = false

    @Flag(help: "Never show a progress bar.")
    var noProgress = false

    func run() async throws {
        let author = try authorOptions.resolved()
        let console = Console.current
        let store = try store.open()
        let started = Date()
        var bodies: [Body] = []
        for source in sources { bodies += try Self.bodies(source, console: console) }
        let progress = ProgressBar(enabled: !noProgress && ProgressBar.isAvailable(console))
        let batch = try store.batch(author: author, keepResults: true)
        for (index, body) in bodies.enumerated() {
            do {
                try batch.add(try Self.version(from: try body.bytes()))
            } catch {
                // What was added before the refused body is kept, as the help says.
                progress.finish()
                try batch.finish()
                throw CLIError("\(body.name): \(Self.describe(error))")
            }
            progress.update("importing bodies", done: index + 1, total: bodies.count)
        }
        progress.finish()
        let results = try batch.finish()
        let seconds = Date().timeIntervalSince(started)
        let created = results.filter(\.created).count
        let filesCreated = results.filter(\.fileCreated).count
        if json {
            var o = JSONObject()
            o["versions"] = .int(results.count)
            o["created"] = .int(created)
            o["unchanged"] = .int(results.count - created)
            o["files_created"] = .int(filesCreated)
            o["seconds"] = .number((seconds * 1000).rounded() / 1000)
            return console.printJSON(.object(o))
        }
        console.print(
            "imported \(results.count) versions: \(created) created, \(results.count - created) unchanged, "
                + "\(filesCreated) new files, in \(String(format: "%.2f", seconds)) s")
    }

    /// The version a body records, exactly as `put` would.
    static func version(from bytes: [UInt8]) throws -> NewVersion {
        let body = try SeedBody.parse(try JSONParser.parse(bytes))
        guard let pathText = body.path else {
            throw CLIError("no path: put \"path\" (Humanloop) or \"name\" (PromptLayer) in the body")
        }
        var labels: [RefLabel] = []
        for text in body.labels { labels.append(try Arguments.label(text, kind: .labels)) }
        return NewVersion(
            path: try Arguments.path(pathText), definition: body.checked,
            name: body.versionName, message: body.message, metadata: body.metadata, labels: labels, reuse: .head)
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case let error as CLIError: error.description
        case let error as JSONError: error.description
        case let error as StoreError: error.description
        default: "\(error)"
        }
    }

    /// One body to import: a file read when its turn comes (a directory of 100,000 bodies is
    /// never in memory at once), or a line of a .jsonl file.
    struct Body {
        var name: String
        var path: String?
        var inline: [UInt8] = []

        func bytes() throws -> [UInt8] {
            guard let path else { return inline }
            return try FileDescriptorIO.readFile(path, name: name)
        }
    }

    /// The bodies a source names, with a name for error messages.
    static func bodies(_ source: String, console: Console) throws -> [Body] {
        let path = console.absolutePath(source)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CLIError("\(source): no such file or directory")
        }
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasByteSuffix(".json") }
                .sorted { $0.bytesPrecede($1) }
            return names.map { name in Body(name: "\(source)/\(name)", path: "\(path)/\(name)") }
        }
        guard source.hasByteSuffix(".jsonl") else { return [Body(name: source, path: path)] }
        let bytes = try FileDescriptorIO.readFile(path, name: source)
        var out: [Body] = []
        for (index, line) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated()
        where line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
            out.append(Body(name: "\(source):\(index + 1)", inline: Array(line)))
        }
        return out
    }
}
