import Dispatch
import FlowStoreCore
import Synchronization

/// One connection of its own for a lock only one thread of the process can hold at a time
/// anyway (the sweep's exclusive fence, the divergence records' update lock), behind a gate
/// that threads of this process wait at, bounded.
///
/// Its own connection, not one from a pool, because what runs under the lock uses the pools:
/// a holder that needed a pooled connection while other threads held them all waiting for
/// this lock would deadlock until a timeout. Made on first use; made again after it is lost.
final class DedicatedSession: Sendable {
    private let connector: PostgresConnector
    private let gate = DispatchSemaphore(value: 0)
    private let current = Mutex<PostgresSession?>(nil)
    private let closed = Atomic<Bool>(false)
    private let what: String

    init(connector: PostgresConnector, for what: String) {
        self.connector = connector
        self.what = what
        gate.signal()  // signalled, not created at 1: see PostgresConnectionPool
    }

    deinit { close() }

    /// Runs `body` on the connection, once no other thread of this process is in it.
    func withSession<T>(_ body: (PostgresSession) throws(StoreError) -> T) throws(StoreError) -> T {
        let timeout = connector.configuration.lockTimeout
        guard gate.wait(timeout: .now() + timeout.dispatchInterval) == .success else { throw .lockTimeout(what) }
        defer { gate.signal() }
        if closed.load(ordering: .acquiring) {
            throw .unavailable("the PostgreSQL store \(connector.configuration) was closed")
        }
        let session: PostgresSession
        if let existing = current.withLock({ $0 }), existing.isUsable {
            session = existing
        } else {
            session = try connector.connect()
            current.withLock { $0 = session }
        }
        return try body(session)
    }

    func close() {
        closed.store(true, ordering: .releasing)
        current.withLock { session in
            session?.close()
            session = nil
        }
    }
}
