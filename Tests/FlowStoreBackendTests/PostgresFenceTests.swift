import FlowStoreCore
import FlowStoreTestSupport
@testable import FlowStorePostgres
import Foundation
import Synchronization
import Testing

/// The sweep fence across processes: PostgreSQL advisory locks. Serialized, as
/// `PostgresBackendTests` is, for the same reason.
@Suite("PostgreSQL sweep fence", .serialized, .enabled(if: PostgresTestServer.isTested))
struct PostgresFenceTests {
    /// Whether some session waits for the fence's lock exclusively (a sweep waiting its turn).
    private func aSweepWaits(_ database: PostgresTestDatabase) throws -> Bool {
        let waiting = try PostgresTestServer.adminValues(
            """
            SELECT count(*)::text FROM pg_locks l JOIN pg_database d ON d.oid = l.database
            WHERE l.locktype = 'advisory' AND l.mode = 'ExclusiveLock' AND NOT l.granted AND d.datname = '\(database.name)'
            """)
        return waiting.first.flatMap(Int.init).map { $0 > 0 } ?? false
    }

    /// The claim the design rests on: once a sweep waits, a window asked for after it waits
    /// behind it, however many windows are open, so a busy server cannot starve gc. Two
    /// backends, as two processes would be.
    @Test func aWaitingSweepGoesBeforeLaterWindows() throws {
        let database = try PostgresTestDatabase()
        let writer = try PostgresBackend.initialize(configuration: database.configuration(("lock_timeout=20")))
        let collector = try PostgresBackend.open(configuration: database.configuration("lock_timeout=20"))
        defer {
            writer.close()
            collector.close()
        }
        let events = Mutex<[String]>([])
        @Sendable func note(_ event: String) { events.withLock { $0.append(event) } }

        let first = try writer.sweepFence.acquireWindow()
        let swept = DispatchSemaphore(value: 0)
        Thread {
            defer { swept.signal() }
            do {
                try collector.sweepFence.whileSweeping { () throws(StoreError) in
                    note("sweep")
                    Thread.sleep(forTimeInterval: 0.2)
                    note("sweep done")
                }
            } catch { note("sweep failed: \(error)") }
        }.start()
        var waited = 0
        while try !aSweepWaits(database), waited < 200 {
            Thread.sleep(forTimeInterval: 0.01)
            waited += 1
        }
        #expect(try aSweepWaits(database), "the sweep waits for the open window")

        let later = DispatchSemaphore(value: 0)
        Thread {
            defer { later.signal() }
            do {
                let window = try writer.sweepFence.acquireWindow()
                note("later window")
                window.close()
            } catch { note("later window failed: \(error)") }
        }.start()
        #expect(later.wait(timeout: .now() + 0.5) == .timedOut, "the later window waits behind the sweep")
        note("first window closes")
        first.close()
        #expect(swept.wait(timeout: .now() + 10) == .success)
        #expect(later.wait(timeout: .now() + 10) == .success)
        #expect(events.withLock { $0 } == ["first window closes", "sweep", "sweep done", "later window"])
    }

    /// A window held open longer than the lock timeout: the sweep gives up with
    /// `lockTimeout`, and the store is as it was.
    @Test func aSweepTimesOutBehindAnOpenWindow() throws {
        let database = try PostgresTestDatabase()
        let backend = try PostgresBackend.initialize(configuration: database.configuration("lock_timeout=0.5"))
        defer { backend.close() }
        let window = try backend.sweepFence.acquireWindow()
        let started = ContinuousClock.now
        do {
            try backend.sweepFence.whileSweeping { () throws(StoreError) in Issue.record("swept inside a window") }
            Issue.record("no timeout")
        } catch {
            guard case .lockTimeout = error else { Issue.record("not lockTimeout: \(error)"); return }
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        window.close()
        try backend.sweepFence.whileSweeping { () throws(StoreError) in }
    }

    /// Windows do not exclude each other, across backends either.
    @Test func windowsShareTheFence() throws {
        let database = try PostgresTestDatabase()
        let one = try PostgresBackend.initialize(configuration: database.configuration("lock_timeout=2"))
        let two = try PostgresBackend.open(configuration: database.configuration("lock_timeout=2"))
        defer {
            one.close()
            two.close()
        }
        let windows = try (0..<5).map { _ in try one.sweepFence.acquireWindow() } + [try two.sweepFence.acquireWindow()]
        for window in windows { window.close() }
        try two.sweepFence.whileSweeping { () throws(StoreError) in }
    }
}
