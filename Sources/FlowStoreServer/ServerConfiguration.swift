import FlowStoreCore
import Logging

/// A Humanloop environment the server offers for deployments. Environments are server
/// configuration, not stored objects: a deployment is the ref
/// `files/<file>/environments/<name>`, so the name is what the store knows.
public struct EnvironmentSpec: Sendable, Equatable {
    public enum Tag: String, Sendable { case `default`, other }

    public var name: String
    public var tag: Tag

    public init(name: String, tag: Tag) {
        self.name = name
        self.tag = tag
    }

    /// Humanloop's default set: `development` (the default), `staging`, `production`.
    public static let standard = [
        EnvironmentSpec(name: "development", tag: .default),
        EnvironmentSpec(name: "staging", tag: .other),
        EnvironmentSpec(name: "production", tag: .other),
    ]

    var id: String { PublicIDs.environment(name) }
}

/// How the server authenticates requests.
public enum AuthenticationMode: Sendable {
    /// `X-API-KEY` must be one of these keys.
    case keys(APIKeyring)
    /// Every request acts as `APIUser.anonymous` (`--insecure-no-auth`; loopback only).
    case disabled
}

/// Everything `buildApplication` needs besides the store.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port; `onServerRunning` reports the one bound.
    public var port: Int
    public var authentication: AuthenticationMode
    public var environments: [EnvironmentSpec]
    /// Larger request bodies are refused with 413 before they are read in full.
    public var maxBodyBytes: Int
    public var logLevel: Logger.Level
    /// Called once the listener is bound, with the actual port.
    public var onServerRunning: @Sendable (Int) async -> Void
    /// A connection that neither sends nor receives for this long is closed: an idle or
    /// stalled client (one that connects and sends nothing, or keeps sending a refused body
    /// the server no longer reads) cannot hold a connection and its file descriptor forever.
    public var idleTimeout: Duration = .seconds(60)

    public static let defaultMaxBodyBytes = 10 * 1024 * 1024

    public init(
        host: String = "127.0.0.1", port: Int = 8080, authentication: AuthenticationMode,
        environments: [EnvironmentSpec] = EnvironmentSpec.standard, maxBodyBytes: Int = defaultMaxBodyBytes,
        logLevel: Logger.Level = .info, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        self.authentication = authentication
        self.environments = environments
        self.maxBodyBytes = maxBodyBytes
        self.logLevel = logLevel
        self.onServerRunning = onServerRunning
    }

    /// Refuses configurations that would be unsafe or cannot work: no environment marked
    /// default, repeated or invalid environment names, and auth disabled on a non-loopback
    /// address (an open, unauthenticated write API must not be reachable from the network).
    public func validate() throws(ServerConfigurationError) {
        guard environments.filter({ $0.tag == .default }).count == 1 else {
            throw ServerConfigurationError("exactly one environment must be tagged default")
        }
        var names = Set<String>()
        for env in environments {
            do { _ = try RefLabel(env.name, kind: "environment") } catch {
                throw ServerConfigurationError(error.description)
            }
            guard names.insert(env.name).inserted else {
                throw ServerConfigurationError("environment \(env.name) is listed twice")
            }
        }
        if case .disabled = authentication, !Self.isLoopback(host) {
            throw ServerConfigurationError(
                "--insecure-no-auth is only allowed on a loopback address (127.0.0.1, ::1, localhost), not \(host)")
        }
        if case .keys(let ring) = authentication, ring.isEmpty {
            throw ServerConfigurationError("no API keys configured")
        }
        guard (0...65535).contains(port) else { throw ServerConfigurationError("port \(port) is out of range") }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}
