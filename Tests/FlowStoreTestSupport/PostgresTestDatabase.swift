#if canImport(Glibc)
import Glibc
#endif
import FlowStoreCore
import FlowStorePostgres
import PostgresNIO
import Foundation

/// The PostgreSQL server the tests use: `FLOWSTORE_TEST_POSTGRES`, an admin URL (`make test`
/// starts one with scripts/postgres-test-server.sh and sets it).
///
/// Unset, the postgres cases are left out with a note, so `swift test` alone still runs the
/// rest on a machine without PostgreSQL; unset under CI, they are kept and fail, so a CI that
/// lost its server cannot pass quietly.
public enum PostgresTestServer {
    public static let adminURL: String? = ProcessInfo.processInfo.environment["FLOWSTORE_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }

    public static let isRequired = !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty

    /// Whether this run tests the postgres backend (printing why not, once, when it does not).
    public static let isTested: Bool = {
        if adminURL != nil || isRequired { return true }
        FileHandle.standardError.write(
            Data(
                "note: FLOWSTORE_TEST_POSTGRES is unset: the PostgreSQL backend's tests are skipped (`make test` starts a server; or `eval $(scripts/postgres-test-server.sh start)` and export it)\n"
                    .utf8))
        return false
    }()

    public static func adminConfiguration() throws -> PostgresStoreConfiguration {
        guard let adminURL else {
            throw StoreError.unavailable("FLOWSTORE_TEST_POSTGRES is unset, and CI needs the PostgreSQL tests: run `make test`")
        }
        return try PostgresStoreConfiguration(url: adminURL)
    }

    /// Runs statements on the admin database, on a connection of their own.
    public static func admin(_ statements: [String], configuration: PostgresStoreConfiguration? = nil) throws {
        let session = try PostgresConnector(configuration ?? adminConfiguration()).connect()
        defer { session.close() }
        for statement in statements { try session.run(.init(unsafeSQL: statement)) }
    }

    /// The first column of each row of a query on the admin database.
    public static func adminValues(_ sql: String, configuration: PostgresStoreConfiguration? = nil) throws -> [String] {
        let session = try PostgresConnector(configuration ?? adminConfiguration()).connect()
        defer { session.close() }
        return try session.run(.init(unsafeSQL: sql)).rows.map { try $0.decode(String.self) }
    }
}

/// A database of its own for one test, dropped (with whatever is still connected to it) when
/// the value goes away, so tests running side by side never see each other's refs.
public final class PostgresTestDatabase: Sendable {
    public let name: String
    public let configuration: PostgresStoreConfiguration

    public init() throws {
        var configuration = try PostgresTestServer.adminConfiguration()
        name = "flowstore_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        // template0 and C collation: the encoding and order a store asks for, whatever the
        // server's defaults.
        try PostgresTestServer.admin([#"CREATE DATABASE "\#(name)" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"#])
        configuration.database = name
        self.configuration = configuration
    }

    /// This database's URL, as `--store` takes it (the test server trusts local connections,
    /// so it holds no password).
    public var url: String { "\(configuration)" }

    /// This database's URL with other parameters (`lock_timeout=1`…).
    public func configuration(_ query: String) throws -> PostgresStoreConfiguration {
        try PostgresStoreConfiguration(url: "\(configuration)?\(query)")
    }

    /// Ends every connection to this database (as a restart or an administrator would).
    public func terminateConnections() throws {
        _ = try PostgresTestServer.adminValues(
            "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE datname = '\(name)' AND pid <> pg_backend_pid()")
    }

    deinit {
        try? PostgresTestServer.admin([#"DROP DATABASE IF EXISTS "\#(name)" WITH (FORCE)"#])
    }
}
