import FlowStoreCore
import Logging

/// What every handler shares: the store and the configuration. A value type: the store is
/// itself a `Sendable` struct over the on-disk directory, so handlers on any thread use it
/// directly and the file system's locks and compare-and-swap refs do the coordination.
struct ServerState: Sendable {
    let store: VersionStore
    let configuration: ServerConfiguration
    let logger: Logger

    var environments: [EnvironmentSpec] { configuration.environments }

    var defaultEnvironment: EnvironmentSpec {
        environments.first { $0.tag == .default } ?? EnvironmentSpec(name: "development", tag: .default)
    }

    var keyring: APIKeyring {
        if case .keys(let ring) = configuration.authentication { return ring }
        return .emptyRing
    }

    /// Runs a store call, turning its error into the client-facing one.
    @discardableResult
    func run<T>(location: [JSONValue] = ["body"], _ body: () throws(StoreError) -> T) throws(APIError) -> T {
        do { return try body() } catch { throw APIError(error, location: location) }
    }
}

extension APIKeyring {
    static let emptyRing: APIKeyring = {
        do { return try APIKeyring([]) } catch { preconditionFailure("an empty keyring is always valid") }
    }()
}
