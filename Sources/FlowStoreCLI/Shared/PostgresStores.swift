import FlowStoreCore

/// Opens and creates stores in PostgreSQL databases.
enum PostgresStores {
    static func open(_ url: String) throws(StoreError) -> VersionStore {
        throw .unavailable("this build has no PostgreSQL backend")
    }

    static func initialize(_ url: String) throws(StoreError) -> VersionStore {
        throw .unavailable("this build has no PostgreSQL backend")
    }
}
