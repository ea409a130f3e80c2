#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowStoreCore

/// Where a PostgreSQL store lives and how to talk to it, parsed from a store location:
///
/// ```
/// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAM=VALUE&…]
/// postgresql://USER@[:PORT]/DATABASE?host=/var/run/postgresql  (a unix socket directory)
/// ```
///
/// Parameters (anything else is refused, so a typo never silently means a default):
/// - `sslmode`: `disable` (the default), `require` (encrypted, the server's certificate not
///   checked: libpq's meaning), `verify-ca` (certificate checked against the system's trust
///   roots or `sslrootcert`), `verify-full` (that, and the host name too).
/// - `sslrootcert`: a PEM file of CA certificates, for the two `verify-` modes.
/// - `host`: a unix socket directory (starts with `/`), instead of the URL's host.
/// - `pool`: how many data connections a process opens at most (default 12).
/// - `window_pool`: how many connections hold write windows at most (default 16; see
///   `PostgresSweepFence`).
/// - `lock_timeout`: seconds a writer waits for a ref, a window, a sweep or a free connection
///   before `lockTimeout` (default `FLOWSTORE_LOCK_TIMEOUT`, else 10).
/// - `connect_timeout`: seconds to wait for a connection to be made (default 10).
///
/// The password may also come from `PGPASSWORD`, so that it need not appear on a command line;
/// the user defaults to `PGUSER`, then `USER`; the database to the user's name, as libpq does.
public struct PostgresStoreConfiguration: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// A socket directory; the socket is `<directory>/.s.PGSQL.<port>`, as libpq names it.
        case unixSocket(directory: String, port: Int)

        public var socketPath: String? {
            guard case .unixSocket(let directory, let port) = self else { return nil }
            return "\(directory)/.s.PGSQL.\(port)"
        }
    }

    public enum TLSMode: String, Sendable, Equatable {
        case disable
        case require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    public var rootCertificatePath: String?
    public var poolSize: Int
    public var windowPoolSize: Int
    public var lockTimeout: Duration
    public var connectTimeout: Duration

    public static let defaultPoolSize = 12
    public static let defaultWindowPoolSize = 16

    public init(
        endpoint: Endpoint, user: String, password: String? = nil, database: String, tls: TLSMode = .disable,
        rootCertificatePath: String? = nil, poolSize: Int = Self.defaultPoolSize,
        windowPoolSize: Int = Self.defaultWindowPoolSize, lockTimeout: Duration = LockWait.defaultTimeout,
        connectTimeout: Duration = .seconds(10)
    ) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.rootCertificatePath = rootCertificatePath
        self.poolSize = poolSize
        self.windowPoolSize = windowPoolSize
        self.lockTimeout = lockTimeout
        self.connectTimeout = connectTimeout
    }

    /// Whether `location` is meant for this backend (so a caller can route it here).
    public static func isPostgresURL(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    /// Parses a store location; a bad one throws `invalidInput` with a one-line reason (and the
    /// URL without its password).
    public init(url: String, environment: [String: String] = Self.processEnvironment()) throws(StoreError) {
        func bad(_ why: String) -> StoreError {
            .invalidInput("invalid PostgreSQL store URL \(Self.redacting(url)): \(why)")
        }
        var rest: Substring
        if url.hasPrefix("postgres://") {
            rest = url.dropFirst("postgres://".count)
        } else if url.hasPrefix("postgresql://") {
            rest = url.dropFirst("postgresql://".count)
        } else {
            throw bad("it must start with postgres:// or postgresql://")
        }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        // The authority: [user[:password]@]host[:port]. The last `@` ends the user part, so a
        // password may hold an unescaped `@`.
        var userPart: Substring?
        var hostPart = rest
        if let at = rest.lastIndex(of: "@") {
            userPart = rest[..<at]
            hostPart = rest[rest.index(after: at)...]
        }
        var user: String?
        var password: String?
        if let userPart {
            if let colon = userPart.firstIndex(of: ":") {
                user = try Self.decode(userPart[..<colon], what: "user name", bad)
                password = try Self.decode(userPart[userPart.index(after: colon)...], what: "password", bad)
            } else {
                user = try Self.decode(userPart, what: "user name", bad)
            }
        }
        var host: String
        var portText: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw bad("an IPv6 host must end with ]") }
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            let after = hostPart[hostPart.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad("unexpected text after the IPv6 host") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            host = try Self.decode(hostPart[..<colon], what: "host", bad)
            portText = hostPart[hostPart.index(after: colon)...]
        } else {
            host = try Self.decode(hostPart, what: "host", bad)
        }
        var port = 5432
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw bad("port \(quotedText(portText)) is not a number from 1 to 65535")
            }
            port = value
        }
        guard !path.contains("/") else { throw bad("the path must be only a database name") }
        var database = try Self.decode(path, what: "database name", bad)

        var tls = TLSMode.disable
        var rootCertificatePath: String?
        var socketDirectory: String?
        var poolSize = Self.defaultPoolSize
        var windowPoolSize = Self.defaultWindowPoolSize
        var lockTimeout = LockWait.defaultTimeout
        var connectTimeout = Duration.seconds(10)
        var seen: Set<String> = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try Self.decode(pieces[0], what: "parameter name", bad)
            guard pieces.count == 2 else { throw bad("parameter \(key) has no value (write \(key)=VALUE)") }
            let value = try Self.decode(pieces[1], what: "value of \(key)", bad)
            guard seen.insert(key).inserted else { throw bad("parameter \(key) is given twice") }
            switch key {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw bad("sslmode \(quotedText(value)) is not one of disable, require, verify-ca, verify-full")
                }
                tls = mode
            case "sslrootcert":
                rootCertificatePath = value
            case "host":
                guard value.hasPrefix("/") else { throw bad("host=\(value) must be a unix socket directory (an absolute path)") }
                socketDirectory = value
            case "pool":
                poolSize = try Self.count(value, key: key, bad)
            case "window_pool":
                windowPoolSize = try Self.count(value, key: key, bad)
            case "lock_timeout":
                lockTimeout = try Self.seconds(value, key: key, bad)
            case "connect_timeout":
                connectTimeout = try Self.seconds(value, key: key, bad)
                if connectTimeout == .zero { throw bad("connect_timeout must be more than 0") }
            default:
                throw bad(
                    "unknown parameter \(quotedText(key)) (known: sslmode, sslrootcert, host, pool, window_pool, lock_timeout, connect_timeout)"
                )
            }
        }
        if rootCertificatePath != nil, tls != .verifyCA, tls != .verifyFull {
            throw bad("sslrootcert needs sslmode=verify-ca or verify-full")
        }
        let endpoint: Endpoint
        if let socketDirectory {
            guard host.isEmpty else { throw bad("give either a host or host=/socket/directory, not both") }
            guard tls == .disable else { throw bad("sslmode=\(tls.rawValue) does not apply to a unix socket") }
            endpoint = .unixSocket(directory: socketDirectory, port: port)
        } else {
            guard !host.isEmpty else { throw bad("no host (write postgres://user@HOST/db, or ?host=/socket/directory)") }
            endpoint = .tcp(host: host, port: port)
        }
        guard let who = user ?? environment["PGUSER"] ?? environment["USER"], !who.isEmpty else {
            throw bad("no user name (write postgres://USER@host/db)")
        }
        if password == nil { password = environment["PGPASSWORD"] }
        if database.isEmpty { database = who }
        self.init(
            endpoint: endpoint, user: who, password: password, database: database, tls: tls,
            rootCertificatePath: rootCertificatePath, poolSize: poolSize, windowPoolSize: windowPoolSize,
            lockTimeout: lockTimeout, connectTimeout: connectTimeout)
    }

    /// The location without its password: safe for messages and logs.
    public var description: String {
        let user = Self.encode(self.user)
        let database = Self.encode(self.database)
        switch endpoint {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "postgres://\(user)@\(shownHost):\(port)/\(database)"
        case .unixSocket(let directory, let port):
            return "postgres://\(user)@\(port == 5432 ? "" : ":\(port)")/\(database)?host=\(directory)"
        }
    }

    /// Where the server is, for messages: `host:port` or the socket path.
    var serverDescription: String {
        switch endpoint {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket: endpoint.socketPath ?? ""
        }
    }

    /// `url` with any password replaced by `***`, for error messages about a URL that did not parse.
    public static func redacting(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let afterScheme = url[scheme.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return url }
        return String(url[..<authority.index(after: colon)]) + "***" + String(url[at...])
    }

    public static func processEnvironment() -> [String: String] {
        var out: [String: String] = [:]
        for key in ["PGUSER", "PGPASSWORD", "USER"] {
            if let value = getenv(key) { out[key] = String(cString: value) }
        }
        return out
    }

    private static func count(_ text: String, key: String, _ bad: (String) -> StoreError) throws(StoreError) -> Int {
        guard let n = Int(text), (1...1000).contains(n) else { throw bad("\(key)=\(text) must be a whole number from 1 to 1000") }
        return n
    }

    private static func seconds(_ text: String, key: String, _ bad: (String) -> StoreError) throws(StoreError) -> Duration {
        guard let value = Double(text), value.isFinite, value >= 0, value <= 86_400 else {
            throw bad("\(key)=\(text) must be a number of seconds from 0 to 86400")
        }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    /// Percent-decoding, refusing malformed escapes and bytes that are not UTF-8.
    private static func decode(_ text: Substring, what: String, _ bad: (String) -> StoreError) throws(StoreError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var i = text.utf8.startIndex
        let utf8 = text.utf8
        while i < utf8.endIndex {
            let byte = utf8[i]
            if byte == UInt8(ascii: "%") {
                let first = utf8.index(after: i)
                guard first < utf8.endIndex, utf8.index(after: first) < utf8.endIndex,
                    let high = Hex.value(ofDigit: utf8[first]), let low = Hex.value(ofDigit: utf8[utf8.index(after: first)])
                else { throw bad("malformed %-escape in the \(what)") }
                bytes.append(high << 4 | low)
                i = utf8.index(first, offsetBy: 2)
            } else {
                bytes.append(byte)
                i = utf8.index(after: i)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw bad("the \(what) is not UTF-8") }
        guard !decoded.utf8.contains(0) else { throw bad("the \(what) holds a NUL byte") }
        return decoded
    }

    /// Percent-encodes what would not survive a round trip through `init(url:)`.
    private static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

/// `"text"` for messages, with control characters escaped.
func quotedText(_ text: some StringProtocol) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        if scalar.value < 0x20 || scalar.value == 0x7f { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
    }
    return out + "\""
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
