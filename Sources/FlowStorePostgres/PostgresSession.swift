import FlowStoreCore
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Synchronization

/// Makes connections for one store: the PostgresNIO configuration (TLS context included)
/// built once from the store's `PostgresStoreConfiguration`.
package struct PostgresConnector: Sendable {
    let configuration: PostgresStoreConfiguration
    private let connection: PostgresConnection.Configuration
    private static let ids = Atomic<Int>(0)
    /// PostgresNIO logs to swift-log; the store reports through `StoreError` instead, so a
    /// CLI's output is not mixed with a library's log lines.
    static let logger = Logger(label: "flowstore.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    package init(_ configuration: PostgresStoreConfiguration) throws(StoreError) {
        self.configuration = configuration
        var connection: PostgresConnection.Configuration
        switch configuration.endpoint {
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            switch configuration.tls {
            case .disable:
                tls = .disable
            case .require, .verifyCA, .verifyFull:
                var settings = TLSConfiguration.makeClientConfiguration()
                switch configuration.tls {
                case .require: settings.certificateVerification = .none  // libpq's `require`: encrypted, not authenticated
                case .verifyCA: settings.certificateVerification = .noHostnameVerification
                default: settings.certificateVerification = .fullVerification
                }
                if let roots = configuration.rootCertificatePath { settings.trustRoots = .file(roots) }
                do {
                    tls = .require(try NIOSSLContext(configuration: settings))
                } catch {
                    throw .io(path: configuration.database, message: "cannot set up TLS (sslmode=\(configuration.tls.rawValue)): \(error)")
                }
            }
            connection = .init(
                host: host, port: port, username: configuration.user, password: configuration.password,
                database: configuration.database, tls: tls)
        case .unixSocket:
            connection = .init(
                unixSocketPath: configuration.endpoint.socketPath ?? "", username: configuration.user, password: configuration.password,
                database: configuration.database)
        }
        connection.options.connectTimeout = configuration.connectTimeout.timeAmount
        // Session settings in the startup packet, so a new connection costs no extra round trip:
        // - synchronous_commit on: an acknowledged write is on disk (the server's default may
        //   have been lowered for speed; a store's contract is durable on return);
        // - lock_timeout: every wait for a row or advisory lock is bounded, then `lockTimeout`;
        // - idle_in_transaction_session_timeout: a process stopped in the middle of a
        //   transaction (SIGSTOP, a debugger) gives its ref locks back within a minute.
        let idleLimit = max(60_000, configuration.lockTimeout.postgresMilliseconds * 6)
        connection.options.additionalStartupParameters = [
            ("application_name", "flowstore"),
            ("synchronous_commit", "on"),
            ("lock_timeout", "\(configuration.lockTimeout.postgresMilliseconds)"),
            ("idle_in_transaction_session_timeout", "\(idleLimit)"),
        ]
        self.connection = connection
    }

    /// How long a caller waits for any one answer: longer than any lock wait the server
    /// bounds itself, so `lock_timeout` reports first; past it, the server is not answering.
    var answerTimeout: Duration { configuration.lockTimeout + .seconds(60) }

    package func connect() throws(StoreError) -> PostgresSession {
        let id = Self.ids.add(1, ordering: .relaxed).newValue
        let future = PostgresConnection.connect(
            on: BlockingAnswer.eventLoopGroup.next(), configuration: connection, id: id, logger: Self.logger)
        switch BlockingAnswer.wait(future, timeout: configuration.connectTimeout + .seconds(5)) {
        case .success(let connection)?:
            return PostgresSession(connection: connection, connector: self)
        case .failure(let error)?:
            throw PostgresFailure(error, configuration: configuration, waitingFor: "a connection").error
        case nil:
            // The connect timeout is PostgresNIO's; this is the backstop behind it.
            future.whenSuccess { connection in connection.closeNow() }
            throw .unavailable("PostgreSQL at \(configuration.serverDescription) did not answer within \(configuration.connectTimeout)")
        }
    }
}

/// One connection, used by one thread at a time (the pool hands it out and takes it back).
package final class PostgresSession: Sendable {
    let connection: PostgresConnection
    let connector: PostgresConnector
    /// Set once a statement found the connection gone or in an unknown state (a timeout, an
    /// error mid-transaction that could not be rolled back): the pool drops it.
    private let broken = Atomic<Bool>(false)

    init(connection: PostgresConnection, connector: PostgresConnector) {
        self.connection = connection
        self.connector = connector
    }

    /// A session nobody closed (a pool torn down with it checked out) closes as it goes.
    deinit { connection.closeNow() }

    var configuration: PostgresStoreConfiguration { connector.configuration }

    var isUsable: Bool { !broken.load(ordering: .acquiring) && !connection.isClosed }

    func markBroken() {
        broken.store(true, ordering: .releasing)
        connection.closeNow()
    }

    /// Runs one statement and returns its rows; blocks the calling thread (see `BlockingAnswer`).
    /// `what` names what a lock wait was for, for `lockTimeout`.
    @discardableResult
    package func run(_ query: PostgresQuery, waitingFor what: String = "a lock") throws(StoreError) -> PostgresQueryResult {
        do throws(PostgresFailure) {
            return try execute(query, waitingFor: what)
        } catch {
            throw error.error
        }
    }

    /// `run`, failing with the whole `PostgresFailure` (its SQLSTATE included), for the few
    /// callers that tell server errors apart (a missing table: not a store).
    func execute(_ query: PostgresQuery, waitingFor what: String = "a lock") throws(PostgresFailure) -> PostgresQueryResult {
        if !isUsable {
            throw PostgresFailure(
                .unavailable("the connection to PostgreSQL at \(configuration.serverDescription) was lost"), connectionLost: true)
        }
        let future = connection.query(query, logger: PostgresConnector.logger)
        switch BlockingAnswer.wait(future, timeout: connector.answerTimeout) {
        case .success(let result)?:
            return result
        case .failure(let error)?:
            let failure = PostgresFailure(error, configuration: configuration, waitingFor: what)
            if failure.connectionLost { markBroken() }
            throw failure
        case nil:
            markBroken()
            throw PostgresFailure(
                .unavailable("PostgreSQL at \(configuration.serverDescription) did not answer within \(connector.answerTimeout)"),
                connectionLost: true)
        }
    }

    /// Sends a statement whose answer nobody waits for (releasing a lock on the way back to the
    /// pool); `then` runs on the event loop with whether it worked.
    func send(_ query: PostgresQuery, then: @escaping @Sendable (Bool) -> Void) {
        guard isUsable else { return then(false) }
        connection.query(query, logger: PostgresConnector.logger).whenComplete { result in
            if case .failure = result { self.markBroken() }
            then(!self.isClosedOrBroken)
        }
    }

    private var isClosedOrBroken: Bool { !isUsable }

    package func close() {
        connection.closeNow()
    }
}

extension PostgresConnection {
    /// Starts closing, answer not awaited (the async `close()` is not for plain threads). The
    /// connection is kept until its channel is closed: PostgresNIO asserts that a connection
    /// is closed when it is freed.
    func closeNow() {
        let closed: EventLoopFuture<Void> = close()
        closed.whenComplete { _ in withExtendedLifetime(self) {} }
    }
}
