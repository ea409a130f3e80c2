import FlowStoreCore
import PostgresNIO

/// The fence between `gc`'s sweep and writers, across every process and server on the
/// database: one PostgreSQL advisory lock, held shared by each write window and exclusively by
/// a sweep.
///
/// - A window holds `pg_advisory_lock_shared` on a connection of its own for as long as it is
///   open, taken from a pool of its own (`window_pool`), so that open windows can never use up
///   the connections their writes need and deadlock. Closing it sends the unlock without
///   waiting for the answer; the connection goes back to the pool when the unlock is done.
/// - A sweep takes `pg_advisory_lock` exclusively on a dedicated connection (the sweep's body
///   uses the data pool, which it must find free), bounded by `lock_timeout`: `lockTimeout`.
/// - No starvation: PostgreSQL queues a new request behind a waiting one it conflicts with, so
///   once a sweep waits, new windows wait behind it (the directory store's turnstile, for
///   free). `PostgresFenceTests` checks this.
/// - A process that dies loses its locks with its connections, so nothing stays stuck.
///
/// Re-entrant windows (a commit inside a batch's window) are the protocol extension's: only
/// the outermost window of a thread reaches `acquireWindow`.
public final class PostgresSweepFence: SweepFence {
    let windows: PostgresConnectionPool
    let sweeper: DedicatedSession

    init(windows: PostgresConnectionPool, sweeper: DedicatedSession) {
        self.windows = windows
        self.sweeper = sweeper
    }

    private static let classKey = PostgresSchema.lockClass
    private static let fenceKey = PostgresSchema.LockKey.sweepFence.rawValue

    public func acquireWindow() throws(StoreError) -> WriteWindow {
        let session = try windows.checkout()
        do {
            try session.run(
                "SELECT pg_advisory_lock_shared(\(Self.classKey), \(Self.fenceKey))", waitingFor: "the store (a gc was sweeping it)")
        } catch {
            windows.checkin(session)
            throw error
        }
        let pool = windows
        return WriteWindow {
            // A lost connection has lost the lock with it; the pool then drops the connection.
            session.send("SELECT pg_advisory_unlock_shared(\(Self.classKey), \(Self.fenceKey))") { _ in pool.checkin(session) }
        }
    }

    public func whileSweeping<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try sweeper.withSession { (session) throws(StoreError) -> T in
            try session.run(
                "SELECT pg_advisory_lock(\(Self.classKey), \(Self.fenceKey))",
                waitingFor: "the store's writers (they kept it busy; nothing was removed: run gc again)")
            let result: T
            do throws(StoreError) {
                result = try body()
            } catch {
                Self.unlock(session)
                throw error
            }
            Self.unlock(session)
            return result
        }
    }

    /// Releases the exclusive lock; if that fails, dropping the connection releases it.
    private static func unlock(_ session: PostgresSession) {
        do {
            try session.run("SELECT pg_advisory_unlock(\(classKey), \(fenceKey))")
        } catch {
            session.markBroken()
        }
    }
}
