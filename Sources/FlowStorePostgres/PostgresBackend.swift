import FlowStoreCore

/// A whole store in a PostgreSQL database: objects, refs, listing stamps, transactions, the
/// sweep fence and the divergence records, shared by every process and server that opens the
/// same database.
///
/// ```swift
/// let backend = try PostgresBackend.initialize(url: "postgres://flowstore@db.internal/flowstore")
/// let store = backend.versionStore()
/// ```
///
/// Every call blocks the calling thread until the database answers (see `BlockingAnswer` for
/// why, and why that is safe from any thread but PostgreSQL's own event loops). Connections
/// come from a bounded pool that reconnects by itself after a restart; a database that cannot
/// be reached makes calls fail with `StoreError.unavailable`, and nothing half-done is left.
public final class PostgresBackend: Sendable {
    public let configuration: PostgresStoreConfiguration
    public let objects: PostgresObjectStore
    public let refs: PostgresRefStore
    public let sweepFence: PostgresSweepFence
    public let divergences: PostgresDivergenceRecords
    public let transactions: PostgresTransactions
    private let data: PostgresConnectionPool
    private let windows: PostgresConnectionPool
    private let sweeper: DedicatedSession
    private let updater: DedicatedSession

    /// Creates the schema if the database has none (or upgrades an older one), then opens it.
    public static func initialize(url: String) throws(StoreError) -> PostgresBackend {
        try initialize(configuration: PostgresStoreConfiguration(url: url))
    }

    public static func initialize(configuration: PostgresStoreConfiguration) throws(StoreError) -> PostgresBackend {
        try PostgresBackend(configuration: configuration, creating: true)
    }

    /// Opens an existing store; refuses a database without FlowStore's schema (`notAStore`) or
    /// with a schema version this build does not read.
    public static func open(url: String) throws(StoreError) -> PostgresBackend {
        try open(configuration: PostgresStoreConfiguration(url: url))
    }

    public static func open(configuration: PostgresStoreConfiguration) throws(StoreError) -> PostgresBackend {
        try PostgresBackend(configuration: configuration, creating: false)
    }

    private init(configuration: PostgresStoreConfiguration, creating: Bool) throws(StoreError) {
        self.configuration = configuration
        let connector = try PostgresConnector(configuration)
        data = PostgresConnectionPool(purpose: "data", capacity: configuration.poolSize, connector: connector)
        windows = PostgresConnectionPool(purpose: "write window", capacity: configuration.windowPoolSize, connector: connector)
        sweeper = DedicatedSession(connector: connector, for: "the store's sweep (another gc of this process is sweeping)")
        updater = DedicatedSession(connector: connector, for: "the divergence records (another sync of this process is updating them)")
        let info: PostgresSchema.Info
        do {
            info = try data.withSession { (session) throws(StoreError) -> PostgresSchema.Info in
                creating ? try PostgresSchema.initialize(session) : try PostgresSchema.open(session)
            }
        } catch {
            data.close()
            throw error
        }
        objects = PostgresObjectStore(pool: data)
        refs = PostgresRefStore(pool: data, storeID: info.storeID)
        sweepFence = PostgresSweepFence(windows: windows, sweeper: sweeper)
        divergences = PostgresDivergenceRecords(pool: data, updater: updater)
        transactions = PostgresTransactions(objects: objects, refs: refs)
    }

    // No `deinit` that closes: the version stores made from this backend hold its pools and
    // sessions, which close themselves when the last of them goes, so a store outlives the
    // backend value that opened it.

    /// A version store over this backend.
    public func versionStore(clock: @escaping @Sendable () -> String = Timestamp.now) -> VersionStore {
        VersionStore(
            objects: objects, refs: refs, root: nil, clock: clock, sweepFence: sweepFence,
            transactions: transactions, divergences: divergences, location: configuration.description)
    }

    /// Closes every idle connection; connections in use close when they are given back. Calls
    /// made after this fail with `unavailable`.
    public func close() {
        data.close()
        windows.close()
        sweeper.close()
        updater.close()
    }
}
