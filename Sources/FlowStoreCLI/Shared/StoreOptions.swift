import ArgumentParser
import FlowStoreCore
import FlowStoreDirectory

/// `--store LOCATION`, shared by every subcommand: which store to work in.
struct StoreOptions: ParsableArguments {
    static let defaultDirectory = ".flowstore"

    @Option(
        name: .customLong("store"),
        help: ArgumentHelp(
            "The store: a directory, or a PostgreSQL database as postgres://user:password@host:port/db (default: $FLOWSTORE_STORE, else $FLOWSTORE_DIR, else ./.flowstore).",
            valueName: "location"))
    var location: String?

    /// Where the store is: `--store`, else `FLOWSTORE_STORE`, else `FLOWSTORE_DIR`, else
    /// `./.flowstore`.
    func resolved(_ console: Console = .current) -> StoreLocation {
        StoreLocation(
            location ?? console.variable("FLOWSTORE_STORE") ?? console.variable("FLOWSTORE_DIR") ?? Self.defaultDirectory,
            console: console)
    }

    /// Opens the store; a location that holds none is an error (nothing is created).
    func open() throws(StoreError) -> VersionStore {
        try resolved().open()
    }
}

/// `--author NAME`, shared by every command that writes.
struct AuthorOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Who is making the change (default: $FLOWSTORE_AUTHOR, else $USER).", valueName: "name"))
    var author: String?

    /// `--author`, else `$FLOWSTORE_AUTHOR`, else `$USER`, else `unknown`.
    func resolved(_ console: Console = .current) throws -> String {
        let name = author ?? console.variable("FLOWSTORE_AUTHOR") ?? console.variable("USER") ?? "unknown"
        guard !name.isEmpty, !name.unicodeScalars.contains(where: TextStyle.isControl) else {
            throw CLIError("invalid author \(TextStyle.quoted(name)): must be non-empty, without control characters")
        }
        return name
    }
}

/// `--json`, shared by every command that reads.
struct JSONOption: ParsableArguments {
    @Flag(name: .customLong("json"), help: "Print JSON (stable snake_case field names) instead of text.")
    var enabled = false
}

extension FileKind: ExpressibleByArgument {}

/// Arguments as the store's validated types; every command converts with these before it
/// writes anything, so bad input is refused with nothing changed.
enum Arguments {
    static func path(_ text: String) throws(StoreError) -> FlowPath {
        try FlowPath(text)
    }

    static func label(_ text: String, kind: RefKind) throws(StoreError) -> RefLabel {
        try RefLabel(text, kind: kind.noun)
    }

    /// A revision given alongside a path: a bare number is that version of `path`; `#N`, `~K`
    /// and `@NAME` are taken relative to `path`; anything else (`P@staging`, an id prefix) is
    /// resolved as it is. `nil` is the head of `path`.
    static func version(_ revision: String?, of path: FlowPath, in store: VersionStore) throws(StoreError) -> ObjectID {
        guard let revision else { return try store.head(of: path) }
        if !revision.isEmpty, revision.utf8.count <= 6, revision.utf8.allSatisfy({ (48...57).contains($0) }),
            let number = Int(revision)
        {
            return try store.version(numbered: number, of: path)
        }
        if let first = revision.first, "#~@".contains(first) {
            return try store.resolveVersion(path.rawValue + revision)
        }
        return try store.resolveVersion(revision)
    }
}
