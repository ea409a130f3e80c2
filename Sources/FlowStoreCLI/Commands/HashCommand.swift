import ArgumentParser
import FlowStoreCore

struct HashCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the id a JSON document would have, without storing anything.",
        discussion: """
            Like `git hash-object`: parses FILE (or standard input for -) strictly, \
            canonicalises it (RFC 8785) and prints the SHA-256 of the canonical bytes. \
            No store is needed (--store is accepted and ignored).

            With --content, FILE is read as a request body (a Humanloop upsert or a PromptLayer \
            create body) and the id printed is that of the content object `flowstore put` would \
            store for it: equal definitions give equal ids, whatever the formatting, key order, \
            version name or message.

            Examples:
              flowstore hash flow.json
              cat agent.json | flowstore hash --content -
              flowstore hash --content --kind flow body.json
            """)

    /// Accepted like everywhere else so scripts can pass it uniformly; hash reads no store.
    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("A JSON file, or - for standard input.", valueName: "file"))
    var file: String

    @Flag(help: "Print the id of the content object `put` would store for this body.")
    var content = false

    @Option(help: ArgumentHelp("With --content: read the body as a flow or an agent (default: from its fields).", valueName: "flow|agent"))
    var kind: FileKind?

    func validate() throws {
        if kind != nil, !content { throw ValidationError("--kind only applies with --content") }
    }

    func run() async throws {
        let value = try JSONInput.read(file)
        let bytes: [UInt8]
        if content {
            let body = try SeedBody.parse(value, kind: kind)
            bytes = StoredObject.content(ContentObject(kind: body.kind, definition: body.definition)).canonicalBytes()
        } else {
            bytes = try CanonicalJSON.encode(value)
        }
        Console.current.print(ObjectID(hashing: bytes).hex)
    }
}
