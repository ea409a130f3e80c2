#if canImport(Glibc)
import Glibc
#endif
import FlowStoreCore
import FlowStoreTestSupport
@testable import FlowStorePostgres
import Foundation
import Synchronization
import Testing

/// What only the PostgreSQL backend has: a schema, connections to lose, a server to restart,
/// advisory locks shared with other processes.
///
/// Serialized: these tests block the thread they run on (the store is synchronous), and test
/// functions run on Swift's cooperative pool, two threads here. Run side by side they would
/// queue ahead of other suites' async work (the group commit tests wait for tasks of theirs
/// to be scheduled) for tens of seconds; one at a time, they hold at most one thread.
@Suite("PostgreSQL backend", .serialized, .enabled(if: PostgresTestServer.isTested))
struct PostgresBackendTests {
    private func id(_ text: String) -> ObjectID { ObjectID(hashing: Array(text.utf8)) }

    // MARK: Schema

    @Test func openRefusesADatabaseWithoutTheSchema() throws {
        let database = try PostgresTestDatabase()
        #expect(throws: StoreError.notAStore(database.configuration.description)) {
            try PostgresBackend.open(configuration: database.configuration)
        }
        let message = StoreError.notAStore(database.configuration.description).description
        #expect(message.contains("run `flowstore init --store postgres://"))
    }

    @Test func initializeIsIdempotentAndKeepsWhatIsStored() throws {
        let database = try PostgresTestDatabase()
        let first = try PostgresBackend.initialize(configuration: database.configuration)
        let stored = try first.objects.put(Array(#"{"type":"note"}"#.utf8))
        try first.refs.compareAndSwap(try RefName("paths/a"), expected: nil, new: stored)
        let stamp = first.refs.listingStamp(prefix: "paths/")
        first.close()
        let again = try PostgresBackend.initialize(configuration: database.configuration)
        defer { again.close() }
        #expect(try again.objects.has(stored))
        #expect(try again.refs.read(try RefName("paths/a")) == stored)
        #expect(again.refs.listingStamp(prefix: "paths/") == stamp)
        let opened = try PostgresBackend.open(configuration: database.configuration)
        opened.close()
    }

    @Test func aNewerSchemaIsRefused() throws {
        let database = try PostgresTestDatabase()
        try PostgresBackend.initialize(configuration: database.configuration).close()
        try PostgresTestServer.admin(["UPDATE flowstore_schema SET version = 99"], configuration: database.configuration)
        for creating in [false, true] {
            do {
                _ = creating
                    ? try PostgresBackend.initialize(configuration: database.configuration)
                    : try PostgresBackend.open(configuration: database.configuration)
                Issue.record("a version-99 schema was accepted")
            } catch {
                #expect(error.description.contains("schema is version 99, newer than this build reads (1)"), "\(error)")
            }
        }
    }

    @Test func aDatabaseThatIsNotThereIsAClearError() throws {
        var configuration = try PostgresTestServer.adminConfiguration()
        configuration.database = "flowstore_no_such_database"
        do {
            _ = try PostgresBackend.open(configuration: configuration)
            Issue.record("opened")
        } catch {
            #expect(error.description.contains("does not exist"), "\(error)")
        }
    }

    @Test func aServerThatIsNotThereIsUnavailable() throws {
        let configuration = try PostgresStoreConfiguration(url: "postgres://postgres@127.0.0.1:1/x?connect_timeout=2")
        do {
            _ = try PostgresBackend.open(configuration: configuration)
            Issue.record("opened")
        } catch {
            guard case .unavailable(let why) = error else { Issue.record("not unavailable: \(error)"); return }
            #expect(why.contains("127.0.0.1:1"), "\(why)")
        }
    }

    // MARK: Connections

    /// Every connection ended under the store (an administrator, a failover): the next calls
    /// work on fresh connections, reads at once, the rest once the pool has seen the loss.
    @Test func thePoolReconnectsAfterItsConnectionsAreKilled() throws {
        let database = try PostgresTestDatabase()
        let backend = try PostgresBackend.initialize(configuration: database.configuration)
        defer { backend.close() }
        let a = try RefName("paths/a")
        try backend.refs.compareAndSwap(a, expected: nil, new: id("1"))
        try database.terminateConnections()
        #expect(try backend.refs.read(a) == id("1"))
        try database.terminateConnections()
        Thread.sleep(forTimeInterval: 0.2)
        try backend.refs.compareAndSwap(a, expected: id("1"), new: id("2"))
        #expect(try backend.refs.read(a) == id("2"))
    }

    /// The connection lost between prepare and commit: commit throws, and nothing moved.
    @Test func aTransactionThatLosesItsConnectionMovesNothing() throws {
        let database = try PostgresTestDatabase()
        let backend = try PostgresBackend.initialize(configuration: database.configuration)
        defer { backend.close() }
        let a = try RefName("paths/a")
        let b = try RefName("files/\(id("f").hex)/head")
        try backend.refs.compareAndSwap(a, expected: nil, new: id("1"))
        let stamp = backend.refs.listingStamp(prefix: "paths/")
        let transaction = try backend.transactions.begin()
        let object = try transaction.stage(Array(#"{"type":"note","text":"lost"}"#.utf8))
        #expect(try transaction.prepare([RefMove(name: a, expected: id("1"), new: object), RefMove(name: b, expected: nil, new: object)]) == [])
        try database.terminateConnections()
        #expect(throws: StoreError.self) { try transaction.commit(skipping: []) }
        #expect(try backend.refs.read(a) == id("1"))
        #expect(try backend.refs.read(b) == nil)
        #expect(backend.refs.listingStamp(prefix: "paths/") == stamp)
        try backend.refs.compareAndSwap(b, expected: nil, new: object)  // released
    }

    /// A server stopped under the store: calls fail with `unavailable`, quickly; started
    /// again, the same backend works with no help. On a cluster of its own (the shared test
    /// server is in use by every other test).
    @Test func aRestartedServerIsUnavailableThenBack() throws {
        let cluster = try PrivateCluster()
        defer { cluster.stop() }
        let backend = try PostgresBackend.initialize(url: cluster.url + "?connect_timeout=3")
        defer { backend.close() }
        let a = try RefName("paths/a")
        try backend.refs.compareAndSwap(a, expected: nil, new: id("1"))
        try cluster.run("halt")
        for _ in 0..<3 {
            do {
                _ = try backend.refs.read(a)
                Issue.record("read from a stopped server")
            } catch {
                guard case .unavailable(let why) = error else { Issue.record("not unavailable: \(error)"); continue }
                #expect(!why.contains("\n"))
            }
        }
        #expect(throws: StoreError.self) { try backend.refs.compareAndSwap(a, expected: id("1"), new: id("2")) }
        try cluster.run("resume")
        #expect(try backend.refs.read(a) == id("1"))
        try backend.refs.compareAndSwap(a, expected: id("1"), new: id("2"))
        #expect(try backend.refs.read(a) == id("2"))

        // The same store through the cluster's unix socket (in its data directory).
        guard let port = URL(string: cluster.url)?.port else { Issue.record("no port in \(cluster.url)"); return }
        // The socket's name has the port in it: `postgres://user@:PORT/db?host=DIR`.
        let local = try PostgresBackend.open(url: "postgres://postgres@:\(port)/postgres?host=\(try cluster.dataDirectory())")
        defer { local.close() }
        #expect(try local.refs.read(a) == id("2"))
    }

    /// `sslmode=require` encrypts (the server's certificate not checked, as libpq's);
    /// `verify-full` checks it, against `sslrootcert`; a certificate nobody vouches for is
    /// refused with a clear error. On a cluster of its own, with TLS on.
    @Test func tlsConnections() throws {
        let cluster = try PrivateCluster(tls: true)
        defer { cluster.stop() }
        let certificate = try cluster.dataDirectory() + "/server.crt"
        for query in ["sslmode=require", "sslmode=verify-full&sslrootcert=\(certificate)"] {
            let backend = try PostgresBackend.initialize(url: "\(cluster.url)?\(query)")
            defer { backend.close() }
            try backend.refs.compareAndSwap(try RefName("paths/\(query.count)"), expected: nil, new: id("tls"))
            let encrypted = try backend.objects.pool.withSession { (session) throws(StoreError) -> Bool in
                let rows = try session.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                guard let row = rows.rows.first else { return false }
                return try PostgresSchema.decode(Bool.self, row, session.configuration)
            }
            #expect(encrypted, "\(query)")
        }
        do {
            _ = try PostgresBackend.open(url: "\(cluster.url)?sslmode=verify-full")
            Issue.record("a self-signed certificate was trusted")
        } catch {
            #expect(error.description.contains("TLS with PostgreSQL at 127.0.0.1:"), "\(error)")
            #expect(error.description.contains("certificate could not be verified"), "\(error)")
            #expect(!error.description.contains("\n"))
        }
        let plain = try PostgresBackend.open(url: "\(cluster.url)?sslmode=disable")
        plain.close()
    }

    // MARK: Transactions

    /// Conflicting refs are released by `prepare` itself, not at commit: another writer moves
    /// one while the transaction is still open.
    @Test func prepareReleasesTheRefsThatConflict() throws {
        let database = try PostgresTestDatabase()
        let backend = try PostgresBackend.initialize(url: "\(database.configuration)?lock_timeout=2")
        defer { backend.close() }
        let a = try RefName("paths/a")
        let b = try RefName("paths/b")
        try backend.refs.compareAndSwap(a, expected: nil, new: id("1"))
        try backend.refs.compareAndSwap(b, expected: nil, new: id("1"))
        let transaction = try backend.transactions.begin()
        #expect(try transaction.prepare([RefMove(name: a, expected: id("0"), new: id("2")), RefMove(name: b, expected: id("1"), new: id("2"))]) == [a])
        let started = ContinuousClock.now
        try backend.refs.compareAndSwap(a, expected: id("1"), new: id("3"))
        #expect(ContinuousClock.now - started < .seconds(1), "not waiting for the transaction")
        #expect(throws: StoreError.lockTimeout(b.rawValue)) { try backend.refs.compareAndSwap(b, expected: id("1"), new: id("3")) }
        #expect(try transaction.commit(skipping: []).isEmpty)
        #expect(try backend.refs.read(a) == id("3"))
        #expect(try backend.refs.read(b) == id("2"))
    }

    /// A ref expected absent is held too: a second transaction creating it waits, then
    /// conflicts once the first commits.
    @Test func twoTransactionsCreatingOneRef() throws {
        let database = try PostgresTestDatabase()
        let backend = try PostgresBackend.initialize(configuration: database.configuration)
        defer { backend.close() }
        let c = try RefName("paths/c")
        let first = try backend.transactions.begin()
        #expect(try first.prepare([RefMove(name: c, expected: nil, new: id("1"))]) == [])
        let second = Mutex<[RefName]?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            defer { done.signal() }
            let other = try? backend.transactions.begin()
            second.withLock { $0 = try? other?.prepare([RefMove(name: c, expected: nil, new: id("2"))]) }
            _ = try? other?.commit(skipping: [])
        }.start()
        #expect(done.wait(timeout: .now() + 0.3) == .timedOut, "the second waits")
        #expect(try first.commit(skipping: []).isEmpty)
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(second.withLock { $0 } == [c])
        #expect(try backend.refs.read(c) == id("1"))
    }

    // MARK: Divergence records

    @Test func divergenceRecordsRoundTrip() throws {
        let database = try PostgresTestDatabase()
        let backend = try PostgresBackend.initialize(configuration: database.configuration)
        defer { backend.close() }
        let records = backend.divergences
        #expect(try records.load() == [])
        let a = DivergedRef(name: try RefName("paths/a"), local: id("l"), incoming: [id("1"), id("2")].sorted())
        let b = DivergedRef(name: try RefName("files/\(id("f").hex)/head"), local: nil, incoming: [id("3")])
        let returned = try records.update { (entries: inout [DivergedRef]) throws(StoreError) -> Int in
            entries = [a, b, DivergedRef(name: try RefName("paths/empty"), local: nil, incoming: [])]
            return 7
        }
        #expect(returned == 7)
        #expect(try records.load() == [b, a], "sorted by name, empty entries dropped")
        try records.update { (entries: inout [DivergedRef]) throws(StoreError) in entries.removeAll { $0.name == a.name } }
        #expect(try records.load() == [b])
    }

    // MARK: Latency

    /// Rough per-call cost of a ref read and of a compare-and-swap on loopback, printed for
    /// the record; bounded loosely so a pathological slowdown (a thread hop gone wrong, a
    /// connection per call) fails.
    @Test func perCallLatency() throws {
        let database = try PostgresTestDatabase()
        let backend = try PostgresBackend.initialize(configuration: database.configuration)
        defer { backend.close() }
        let a = try RefName("paths/a")
        try backend.refs.compareAndSwap(a, expected: nil, new: id("0"))
        for _ in 0..<50 { _ = try backend.refs.read(a) }  // warm: the connection is made
        let reads = 500
        var started = ContinuousClock.now
        for _ in 0..<reads { _ = try backend.refs.read(a) }
        let perRead = (ContinuousClock.now - started) / reads
        let body = Array(#"{"type":"note","text":"latency"}"#.utf8)
        let gets = 300
        let stored = try backend.objects.put(body)
        started = ContinuousClock.now
        for _ in 0..<gets { _ = try backend.objects.get(stored) }
        let perGet = (ContinuousClock.now - started) / gets
        let swaps = 100
        started = ContinuousClock.now
        var current = id("0")
        for n in 1...swaps {
            let next = id("\(n)")
            try backend.refs.compareAndSwap(a, expected: current, new: next)
            current = next
        }
        let perSwap = (ContinuousClock.now - started) / swaps
        print("postgres latency: ref read \(perRead), object get \(perGet), compare-and-swap \(perSwap) (loopback, one thread)")
        #expect(perRead < .milliseconds(5))
    }
}

/// A PostgreSQL cluster of its own, for a test that stops and starts its server.
final class PrivateCluster: Sendable {
    let state: String
    let url: String
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/postgres-test-server.sh").standardized.path

    init(tls: Bool = false) throws {
        state = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-pg-\(UUID().uuidString)").path
        let output = try Self.run(["start", state], environment: tls ? "FLOWSTORE_TEST_POSTGRES_TLS=1 " : "")
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("FLOWSTORE_TEST_POSTGRES=") }) else {
            throw StoreError.io(path: Self.script, message: "printed no URL: \(output)")
        }
        url = String(line.dropFirst("FLOWSTORE_TEST_POSTGRES=".count))
    }

    func run(_ command: String) throws { _ = try Self.run([command, state]) }

    func dataDirectory() throws -> String {
        try String(contentsOfFile: "\(state)/data", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() { _ = try? Self.run(["stop", state]) }

    /// The script's output. posix_spawn and waitpid, not Foundation's `Process`, whose exit
    /// notification was seen to go missing here (a test waiting for ever).
    @discardableResult
    static func run(_ arguments: [String], environment: String = "") throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-pg-out-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let command = environment + ([script] + arguments).map { "'\($0)'" }.joined(separator: " ") + " > '\(output)'"
        var pid: pid_t = 0
        let words: [String] = ["/bin/bash", "-c", command]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        guard posix_spawn(&pid, "/bin/bash", nil, nil, argv, environ) == 0 else {
            throw StoreError.io(path: script, message: "cannot run it")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw StoreError.io(path: script, message: "\(arguments.joined(separator: " ")) failed (status \(status))")
        }
        return text
    }
}
