import Dispatch
import FlowStoreCore
import Synchronization

/// A bounded set of connections, handed to one thread at a time.
///
/// Why our own and not PostgresNIO's `PostgresClient`: that pool is async (its leases are
/// `async` calls and it runs as a structured-concurrency service), which puts a cooperative
/// thread in every store call's path — see `BlockingAnswer` for why that must not be. This one
/// is a semaphore and a list:
///
/// - `checkout` waits, bounded by the store's lock timeout, for one of `capacity` slots, then
///   takes an idle connection or makes one. A caller that cannot get one in time gets
///   `lockTimeout`; one whose connection cannot be made gets `unavailable`.
/// - `checkin` keeps a healthy connection for the next caller and drops a broken one. Finding
///   one broken also drops every idle one (after a server restart they are all dead), so the
///   pool reconnects by itself: the next checkout makes a fresh connection.
/// - Connections are made lazily, so a CLI run that reads one ref opens one connection.
final class PostgresConnectionPool: Sendable {
    let purpose: String
    let capacity: Int
    let connector: PostgresConnector
    private let slots = DispatchSemaphore(value: 0)
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var idle: [PostgresSession] = []
        var closed = false
    }

    init(purpose: String, capacity: Int, connector: PostgresConnector) {
        self.purpose = purpose
        self.capacity = max(1, capacity)
        self.connector = connector
        // Signalled up to capacity instead of created with it: libdispatch traps when a
        // semaphore is freed below its initial value, which a pool torn down with a
        // connection still out would be.
        for _ in 0..<self.capacity { slots.signal() }
    }

    deinit { close() }

    func checkout() throws(StoreError) -> PostgresSession {
        let timeout = connector.configuration.lockTimeout
        guard slots.wait(timeout: .now() + timeout.dispatchInterval) == .success else {
            throw .lockTimeout("a \(purpose) connection to PostgreSQL (all \(capacity) in use for \(timeout))")
        }
        while true {
            let next: Next = state.withLock { state in
                if state.closed { return .closed }
                return state.idle.popLast().map(Next.idle) ?? .none
            }
            switch next {
            case .closed:
                slots.signal()
                throw .unavailable("the PostgreSQL store \(connector.configuration) was closed")
            case .idle(let session):
                if session.isUsable { return session }
                session.close()
            case .none:
                do {
                    return try connector.connect()
                } catch {
                    slots.signal()
                    throw error
                }
            }
        }
    }

    private enum Next {
        case closed
        case idle(PostgresSession)
        case none
    }

    func checkin(_ session: PostgresSession) {
        let keep = session.isUsable
        let dropped: [PostgresSession] = state.withLock { state in
            if keep, !state.closed {
                state.idle.append(session)
                return []
            }
            // One dead connection: the others may be too (a restart). Drop them all now
            // rather than fail one caller per stale connection.
            let dropped = keep ? [] : state.idle
            if !keep { state.idle.removeAll() }
            return dropped
        }
        if !keep || state.withLock({ $0.closed }) { session.close() }
        for stale in dropped { stale.close() }
        slots.signal()
    }

    /// Runs `body` on a connection. `idempotent` bodies (reads, idempotent writes) that lose
    /// their connection run once more on a fresh one: after a restart, the first use of each
    /// pooled connection fails, and a caller should not see that.
    func withSession<T>(idempotent: Bool = false, _ body: (PostgresSession) throws(StoreError) -> T) throws(StoreError) -> T {
        var attempts = idempotent ? 2 : 1
        while true {
            attempts -= 1
            let session = try checkout()
            do {
                let result = try body(session)
                checkin(session)
                return result
            } catch {
                let lost = !session.isUsable
                checkin(session)
                guard lost, attempts > 0 else { throw error }
            }
        }
    }

    func close() {
        let idle = state.withLock { state in
            state.closed = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        for session in idle { session.close() }
    }
}
