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

    func run() async throws {
        let author = try authorOptions.resolved()
        let console = Console.current
        let store = try store.open()
        let started = Date()
        let batch = try store.batch(author: author, keepResults: true)
        for source in sources {
            for (name, bytes) in try Self.bodies(source, console: console) {
                let version: NewVersion
                do {
                    let value = try JSONParser.parse(bytes)
                    let body = try SeedBody.parse(value)
                    guard let pathText = body.path else {
                        throw CLIError("no path: put \"path\" (Humanloop) or \"name\" (PromptLayer) in the body")
                    }
                    var labels: [RefLabel] = []
                    for text in body.labels { labels.append(try Arguments.label(text, kind: .labels)) }
                    version = NewVersion(
                        path: try Arguments.path(pathText), definition: body.checked,
                        name: body.versionName, message: body.message, metadata: body.metadata, labels: labels, reuse: .head)
                    try batch.add(version)
                } catch let error as CLIError {
                    try batch.finish()
                    throw CLIError("\(name): \(error.description)")
                } catch let error as JSONError {
                    try batch.finish()
                    throw CLIError("\(name): \(error.description)")
                } catch let error as StoreError {
                    try batch.finish()
                    throw CLIError("\(name): \(error.description)")
                }
            }
        }
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

    /// The bodies a source names, with a name for error messages.
    static func bodies(_ source: String, console: Console) throws -> [(String, [UInt8])] {
        let path = console.absolutePath(source)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CLIError("\(source): no such file or directory")
        }
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".json") }.sorted()
            return try names.map { name in
                ("\(source)/\(name)", try FileDescriptorIO.readFile("\(path)/\(name)", name: "\(source)/\(name)"))
            }
        }
        let bytes = try FileDescriptorIO.readFile(path, name: source)
        guard source.hasSuffix(".jsonl") else { return [(source, bytes)] }
        var out: [(String, [UInt8])] = []
        for (index, line) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated()
        where line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
            out.append(("\(source):\(index + 1)", Array(line)))
        }
        return out
    }
}
