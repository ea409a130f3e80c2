import FlowStoreCore
import FlowStorePostgres

/// Opens and creates stores in PostgreSQL databases (`postgres://…` locations).
enum PostgresStores {
    static func open(_ url: String) throws(StoreError) -> VersionStore {
        try PostgresBackend.open(url: url).versionStore()
    }

    static func initialize(_ url: String) throws(StoreError) -> VersionStore {
        try PostgresBackend.initialize(url: url).versionStore()
    }
}
