import FlowStoreCore
import NIOSSL
import PostgresNIO

/// What went wrong talking to PostgreSQL, as a `StoreError`, and whether the connection it
/// happened on is still good for the next statement.
struct PostgresFailure: Error {
    var error: StoreError
    /// The connection is gone or in an unknown state: drop it (the pool makes a fresh one).
    var connectionLost: Bool
    /// The server's SQLSTATE, when the server answered with an error.
    var sqlState: String?

    /// - `what`: the thing waited for, for `lockTimeout` (a ref name, "the store (a gc …)").
    init(_ raw: any Error, configuration: PostgresStoreConfiguration, waitingFor what: String) {
        let database = configuration.database
        let server = "PostgreSQL at \(configuration.serverDescription)"
        guard let psql = raw as? PSQLError else {
            error = .io(path: database, message: Self.oneLine(String(describing: raw)))
            connectionLost = true
            return
        }
        switch psql.code {
        case .server:
            let state = psql.serverInfo?[.sqlState] ?? ""
            sqlState = state
            let message = Self.oneLine(psql.serverInfo?[.message] ?? "server error")
            (error, connectionLost) = Self.serverError(state: state, message: message, database: database, server: server, what: what)
        case .connectionError where psql.underlying is NIOSSLError:
            // Not a server that is down: retrying will not help until the certificate (or the
            // sslmode) is put right.
            let reason = Self.reason(psql.underlying)
            let why =
                reason.contains("CERTIFICATE_VERIFY_FAILED")
                ? "the server's certificate could not be verified (sslmode=\(configuration.tls.rawValue); sslrootcert=FILE names the CA that signed it)"
                : reason
            error = .io(path: database, message: "TLS with \(server) failed: \(why)")
            connectionLost = true
        case .connectionError:
            error = .unavailable("cannot reach \(server): \(Self.reason(psql.underlying))")
            connectionLost = true
        case .serverClosedConnection, .uncleanShutdown:
            error = .unavailable("\(server) closed the connection\(Self.reason(psql.underlying).isEmpty ? "" : ": " + Self.reason(psql.underlying))")
            connectionLost = true
        case .clientClosedConnection:
            error = .unavailable("the connection to \(server) was closed")
            connectionLost = true
        case .sslUnsupported:
            error = .io(path: database, message: "\(server) does not accept TLS connections (sslmode=\(configuration.tls.rawValue))")
            connectionLost = true
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            error = .io(path: database, message: "TLS with \(server) failed: \(Self.reason(psql.underlying))")
            connectionLost = true
        case .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            error = .io(path: database, message: "cannot log in to \(server) as \(configuration.user): \(psql.code)")
            connectionLost = true
        default:
            error = .io(path: database, message: Self.oneLine(String(reflecting: psql)))
            connectionLost = true
        }
    }

    init(_ error: StoreError, connectionLost: Bool) {
        self.error = error
        self.connectionLost = connectionLost
    }

    /// SQLSTATE classes: https://www.postgresql.org/docs/current/errcodes-appendix.html
    private static func serverError(
        state: String, message: String, database: String, server: String, what: String
    ) -> (StoreError, lost: Bool) {
        switch state {
        case "55P03":  // lock_not_available: `lock_timeout` passed
            return (.lockTimeout(what), false)
        case "40P01":  // deadlock_detected: PostgreSQL cancelled us to break a cycle
            return (.lockTimeout("\(what) (a deadlock with another writer)"), false)
        case "57P01", "57P02", "57P03":  // admin / crash shutdown, cannot connect now (starting up)
            return (.unavailable("\(server): \(message)"), true)
        case "53300":  // too_many_connections
            return (.unavailable("\(server): \(message)"), true)
        case "3D000":  // invalid_catalog_name
            return (.io(path: database, message: "\(message) (create it first, e.g. `createdb \(database)`)"), true)
        case _ where state.hasPrefix("08"):  // connection exception
            return (.unavailable("\(server): \(message)"), true)
        case _ where state.hasPrefix("28"):  // invalid authorization
            return (.io(path: database, message: "cannot log in to \(server): \(message)"), true)
        case _ where state.hasPrefix("53"):  // insufficient resources (disk full, out of memory)
            return (.io(path: database, message: message), false)
        default:
            return (.io(path: database, message: message), false)
        }
    }

    private static func reason(_ error: (any Error)?) -> String {
        guard let error else { return "" }
        return oneLine(String(describing: error))
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
    }
}
