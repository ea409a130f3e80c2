import FlowStoreCore
import Logging
import NIOCore

/// What every handler shares: the store and the configuration. A value type: the store is
/// itself a `Sendable` struct over the on-disk directory, so handlers on any thread use it
/// directly and the file system's locks and compare-and-swap refs do the coordination.
struct ServerState: Sendable {
    let store: VersionStore
    let configuration: ServerConfiguration
    let logger: Logger
    /// Upserts from concurrent requests share durable flushes (see `GroupCommit`).
    let commits: GroupCommit
    /// Live files by their public ids (`fl_…`, PromptLayer integers): finding one is a lookup,
    /// not a walk over every path (see `FileIndex`).
    let fileIndex: FileIndex
    /// Every flow's default version, for listings sorted by time or filtered by author (see
    /// `DefaultVersionIndex`).
    let defaultVersions: DefaultVersionIndex
    /// Logs recorded without a `logids/` ref, found by a rationed walk (see `UnindexedLogs`).
    let unindexedLogs: UnindexedLogs
    /// Whether reading a ref waits on something slower than the page cache (a database): then
    /// even the cheapest reads leave the async handlers (`BlockingWork`).
    let readsWait: Bool
    let blocking: BlockingWork
    /// Encoded FlowResponse bodies, keyed by everything they are computed from (see
    /// `FlowResponseKey`): a hit is exactly what rendering again would produce.
    let flowResponses: BoundedCache<FlowResponseKey, ByteBuffer>

    /// `store` gets an object cache: a server reads the same versions over and over, and
    /// objects never change.
    init(store: VersionStore, configuration: ServerConfiguration, logger: Logger) {
        self.store = store.objectCache == nil ? store.cachingObjects(upTo: 64 << 20) : store
        self.configuration = configuration
        self.logger = logger
        commits = GroupCommit(store: self.store)
        fileIndex = FileIndex()
        defaultVersions = DefaultVersionIndex()
        unindexedLogs = UnindexedLogs()
        // A store without a root is not a directory: its reads are round trips. Enough threads
        // to keep a connection pool busy with requests that are between queries.
        readsWait = store.root == nil
        blocking = BlockingWork(threads: readsWait ? Self.networkStoreThreads : nil)
        flowResponses = BoundedCache(capacity: 32 << 20, maxEntryCost: 4 << 20)
    }

    /// Threads for a store behind a network: twice PostgreSQL's default pool of 12 connections.
    static let networkStoreThreads = 24

    var environments: [EnvironmentSpec] { configuration.environments }

    var defaultEnvironment: EnvironmentSpec {
        environments.first { $0.tag == .default } ?? EnvironmentSpec(name: "development", tag: .default)
    }

    var keyring: APIKeyring {
        if case .keys(let ring) = configuration.authentication { return ring }
        return .emptyRing
    }

    /// Commits through the group commit: durable when it returns, fsyncs shared with the
    /// concurrent commits of other requests.
    func commit(_ version: NewVersion, author: String) async throws(APIError) -> CommitResult {
        do {
            let result = try await commits.commit(version, author: author)
            fileIndex.note(file: result.file, at: version.path)
            return result
        } catch { throw APIError(error) }
    }

    /// Runs a store call, turning its error into the client-facing one.
    @discardableResult
    func run<T>(location: [JSONValue] = ["body"], _ body: () throws(StoreError) -> T) throws(APIError) -> T {
        do { return try body() } catch { throw APIError(error, location: location) }
    }
}

extension APIKeyring {
    static let emptyRing: APIKeyring = {
        do { return try APIKeyring([]) } catch { preconditionFailure("an empty keyring is always valid") }
    }()
}

/// Everything a FlowResponse is computed from besides immutable objects and the server's
/// configuration (environments, keyring): the flow's identity and path, the version, the
/// annotation event its metadata came from, the environments it is deployed to, its log count.
struct FlowResponseKey: Hashable, Sendable {
    var file: ObjectID
    var path: String
    var version: ObjectID
    var metadataEvent: ObjectID?
    var environments: [String]
    var logs: Int
}
