import FlowStoreCore
import FlowStoreDirectory
import FlowStorePostgres

/// Where a store lives, as `--store`, `FLOWSTORE_STORE` or `FLOWSTORE_DIR` name it: a directory,
/// or a PostgreSQL database given as a `postgres://` URL. Every command opens its store through
/// this one type, so any command works on either backend.
public enum StoreLocation: Equatable, Sendable, CustomStringConvertible {
    /// An absolute path.
    case directory(String)
    /// `postgres://user:password@host:port/database?sslmode=…`, as given.
    case postgres(String)

    /// `text` as a location: a `postgres://` or `postgresql://` URL, else a path, made
    /// absolute against the working directory.
    public init(_ text: String) {
        self.init(text, console: .current)
    }

    init(_ text: String, console: Console) {
        let lower = text.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
            self = .postgres(text)
        } else {
            self = .directory(console.absolutePath(text))
        }
    }

    /// For messages: the path, or the URL without its password (it must never reach a terminal
    /// or a log line).
    public var description: String {
        switch self {
        case .directory(let path): path
        case .postgres(let url): PostgresStoreConfiguration.redacting(url)
        }
    }

    /// Opens an existing store; a location that holds none is an error, and nothing is created.
    public func open() throws(StoreError) -> VersionStore {
        switch self {
        case .directory(let path): try VersionStore.open(at: path)
        case .postgres(let url): try PostgresStores.open(url)
        }
    }

    /// Creates the store (idempotent: an existing store is left as it is) and opens it.
    @discardableResult
    public func initialize(shared: Bool = false) throws(StoreError) -> VersionStore {
        switch self {
        case .directory(let path): try VersionStore.initialize(at: path, shared: shared)
        case .postgres(let url): try PostgresStores.initialize(url)
        }
    }

    /// Whether a store exists there already (for `init`'s "Reinitialized" message).
    func holdsStore() -> Bool {
        (try? open()) != nil
    }
}
