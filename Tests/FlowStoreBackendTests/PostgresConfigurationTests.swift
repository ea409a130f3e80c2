import FlowStoreCore
import FlowStorePostgres
import Testing

/// Store URLs: no server needed.
@Suite("PostgreSQL store URLs") struct PostgresConfigurationTests {
    private let environment = ["USER": "ada"]

    @Test func aFullURLParses() throws {
        let c = try PostgresStoreConfiguration(
            url: "postgres://flow%40store:p%40ss:w@db.internal:6543/flows?sslmode=require&pool=4&window_pool=9&lock_timeout=2.5&connect_timeout=3",
            environment: environment)
        #expect(c.endpoint == .tcp(host: "db.internal", port: 6543))
        #expect(c.user == "flow@store")
        #expect(c.password == "p@ss:w")
        #expect(c.database == "flows")
        #expect(c.tls == .require)
        #expect(c.poolSize == 4)
        #expect(c.windowPoolSize == 9)
        #expect(c.lockTimeout == .milliseconds(2500))
        #expect(c.connectTimeout == .seconds(3))
        #expect(c.description == "postgres://flow%40store@db.internal:6543/flows", "no password")
    }

    @Test func defaultsAreLibpqs() throws {
        let c = try PostgresStoreConfiguration(url: "postgresql://localhost", environment: ["USER": "ada", "PGPASSWORD": "pw"])
        #expect(c.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(c.user == "ada")
        #expect(c.database == "ada")
        #expect(c.password == "pw")
        #expect(c.tls == .disable)
        #expect(c.poolSize == PostgresStoreConfiguration.defaultPoolSize)
        let pgUser = try PostgresStoreConfiguration(url: "postgres://[::1]:5433/x", environment: ["USER": "ada", "PGUSER": "bob"])
        #expect(pgUser.endpoint == .tcp(host: "::1", port: 5433))
        #expect(pgUser.user == "bob")
        #expect(pgUser.description == "postgres://bob@[::1]:5433/x")
    }

    @Test func aUnixSocketDirectory() throws {
        let c = try PostgresStoreConfiguration(url: "postgres://ada@/flows?host=/var/run/postgresql", environment: environment)
        #expect(c.endpoint == .unixSocket(directory: "/var/run/postgresql", port: 5432))
        #expect(c.endpoint.socketPath == "/var/run/postgresql/.s.PGSQL.5432")
        #expect(c.description == "postgres://ada@/flows?host=/var/run/postgresql")
        #expect(try PostgresStoreConfiguration(url: c.description, environment: environment) == c, "the description parses back")
        let otherPort = try PostgresStoreConfiguration(url: "postgres://ada@:6000/flows?host=/tmp/pg", environment: environment)
        #expect(otherPort.endpoint.socketPath == "/tmp/pg/.s.PGSQL.6000")
        #expect(otherPort.description == "postgres://ada@:6000/flows?host=/tmp/pg")
    }

    @Test(arguments: [
        ("mysql://db/x", "it must start with postgres:// or postgresql://"),
        ("postgres://ada@db:99999/x", "port \"99999\" is not a number from 1 to 65535"),
        ("postgres://ada@db:abc/x", "port \"abc\" is not a number from 1 to 65535"),
        ("postgres://ada@/x", "no host"),
        ("postgres://ada@db/x/y", "the path must be only a database name"),
        ("postgres://ada@db/x?sslmode=allow", "sslmode \"allow\" is not one of disable, require, verify-ca, verify-full"),
        ("postgres://ada@db/x?pool=0", "pool=0 must be a whole number from 1 to 1000"),
        ("postgres://ada@db/x?lock_timeout=soon", "lock_timeout=soon must be a number of seconds from 0 to 86400"),
        ("postgres://ada@db/x?colour=blue", "unknown parameter \"colour\""),
        ("postgres://ada@db/x?pool=2&pool=3", "parameter pool is given twice"),
        ("postgres://ada@db/x?pool", "parameter pool has no value"),
        ("postgres://ada@db/x?host=relative", "must be a unix socket directory"),
        ("postgres://ada@db/x?host=/tmp", "give either a host or host=/socket/directory, not both"),
        ("postgres://ada@db/%zz", "malformed %-escape in the database name"),
        ("postgres://ada@db/x?sslrootcert=/ca.pem", "sslrootcert needs sslmode=verify-ca or verify-full"),
    ])
    func badURLsSayWhyInOneLine(_ url: String, _ reason: String) {
        do {
            _ = try PostgresStoreConfiguration(url: url, environment: environment)
            Issue.record("\(url) parsed")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
            #expect(error.description.hasPrefix("invalid PostgreSQL store URL "))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func aBadURLNeverShowsItsPassword() {
        do {
            _ = try PostgresStoreConfiguration(url: "postgres://ada:hunter2@db:0/x", environment: environment)
            Issue.record("parsed")
        } catch {
            #expect(!error.description.contains("hunter2"))
            #expect(error.description.contains("postgres://ada:***@db:0/x"))
        }
    }

    @Test func notAStoreNamesTheURLToInitialise() {
        let error = StoreError.notAStore("postgres://ada@db:5432/x")
        #expect(error.description == "not a FlowStore store: postgres://ada@db:5432/x (run `flowstore init --store postgres://ada@db:5432/x`)")
    }
}
