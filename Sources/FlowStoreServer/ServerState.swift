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
    /// `fl_` id → where that flow was last seen. Only a hint: every use re-reads the path's
    /// ref and checks it still names the file, so a moved or deleted flow is never served
    /// from here; a miss (or a stale hint) falls back to scanning the paths.
    let flowLocations: BoundedCache<String, FlowLocation>
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
        flowLocations = BoundedCache(capacity: 100_000)
        flowResponses = BoundedCache(capacity: 32 << 20)
    }

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
        do { return try await commits.commit(version, author: author) } catch { throw APIError(error) }
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

/// Where a flow was last seen (see `ServerState.flowLocations`).
struct FlowLocation: Sendable {
    var file: ObjectID
    var path: FlowPath
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
