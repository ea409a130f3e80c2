import FlowStoreCore
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// Bodies holding more JSON values (numbers, strings, arrays, …: anything but object keys)
    /// are refused with 413 as they are parsed. The parsed tree takes a 16-byte slot per value
    /// however short its text, so a 10 MiB body of `0,0,0,…` (five million values) would
    /// otherwise cost several hundred MiB; at the default, a body's tree stays in the tens of MiB.
    public var maxBodyValues: Int = defaultMaxBodyValues
    public var logLevel: Logger.Level
    /// Called once the listener is bound, with the actual port.
    public var onServerRunning: @Sendable (Int) async -> Void
    /// A connection that neither sends nor receives for this long is closed: an idle or
    /// stalled client (one that connects and sends nothing, or stops part-way through a body)
    /// cannot hold a connection and its file descriptor forever. The rest of a refused body is
    /// bounded more tightly (`EarlyResponseCloseHandler.LingerBounds`).
    public var idleTimeout: Duration = .seconds(60)

    public static let defaultMaxBodyBytes = 10 * 1024 * 1024
    public static let defaultMaxBodyValues = 1_000_000

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
                "--insecure-no-auth is only allowed on a loopback address (127.0.0.1, ::1, or a name that resolves only to loopback addresses, such as localhost), not \(host)")
        }
        if case .keys(let ring) = authentication, ring.isEmpty {
            throw ServerConfigurationError("no API keys configured")
        }
        guard maxBodyValues > 0 else { throw ServerConfigurationError("the body value limit must be positive") }
        guard (0...65535).contains(port) else { throw ServerConfigurationError("port \(port) is out of range") }
    }

    /// Whether `host` can only ever mean this machine: a literal loopback address
    /// (127.0.0.0/8, ::1, or ::ffff:127.x.y.z), or a name that resolves to loopback addresses
    /// only. A prefix test is not enough: `127.evil.example` is a DNS name and can resolve
    /// anywhere. A name that does not resolve at all is refused too (it cannot be checked).
    static func isLoopback(_ host: String) -> Bool {
        var literal = host
        if literal.hasPrefix("["), literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        if let loopback = literalIsLoopback(literal) { return loopback }
        return resolvesOnlyToLoopback(literal)
    }

    /// `nil` when `text` is not a numeric address; otherwise whether it is a loopback one.
    static func literalIsLoopback(_ text: String) -> Bool? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return isLoopback(v4) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return isLoopback(v6) }
        return nil
    }

    private static func isLoopback(_ address: in_addr) -> Bool {
        UInt32(bigEndian: address.s_addr) >> 24 == 127
    }

    private static func isLoopback(_ address: in6_addr) -> Bool {
        let bytes = withUnsafeBytes(of: address) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }), bytes[15] == 1 { return true }  // ::1
        // ::ffff:127.x.y.z, an IPv4 loopback address in IPv6 form.
        return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff && bytes[12] == 127
    }

    /// Every address `getaddrinfo` gives for the name is loopback (and there is at least one).
    private static func resolvesOnlyToLoopback(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return false }
        defer { freeaddrinfo(first) }
        var any = false
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ai_next }
            guard let address = entry.pointee.ai_addr else { return false }
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                let loopback = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { isLoopback($0.pointee.sin_addr) }
                guard loopback else { return false }
            case AF_INET6:
                let loopback = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { isLoopback($0.pointee.sin6_addr) }
                guard loopback else { return false }
            default:
                return false
            }
            any = true
        }
        return any
    }
}
