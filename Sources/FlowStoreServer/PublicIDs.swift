import FlowStoreCore

/// The ids clients see, all derived from the store's hashes so they are stable across
/// restarts and identical on every copy of a store: nothing maps ids to objects but the
/// objects themselves.
///
/// | id | derived from |
/// |---|---|
/// | `fl_` + 24 hex | the file object id (a flow keeps it when moved) |
/// | `flv_` + 24 hex | the version object id |
/// | `env_` + 24 hex | SHA-256 of `environment:` + the environment name |
/// | `usr_` + 24 hex | SHA-256 of `user:` + the author string (unless the keys file gives an id) |
/// | `dir_` + 24 hex | SHA-256 of `directory:` + the directory path |
/// | `log_` + file 24 hex + version 24 hex + 16 random hex | where the log's ref lives |
/// | PromptLayer integers | the first 12 hex digits (48 bits, below 2^53) of the file or version id |
///
/// 24 hex digits are 96 bits: collisions among one store's objects are not a practical concern,
/// and lookups still compare the whole derived id.
enum PublicIDs {
    static let hexLength = 24

    static func flow(_ file: ObjectID) -> String { "fl_" + file.hex.prefix(hexLength) }
    static func flowVersion(_ version: ObjectID) -> String { "flv_" + version.hex.prefix(hexLength) }
    static func environment(_ name: String) -> String { "env_" + hashed("environment:" + name) }
    static func user(_ author: String) -> String { "usr_" + hashed("user:" + author) }
    static func directory(_ path: String) -> String { "dir_" + hashed("directory:" + path) }

    /// A new log id that names the file and version it belongs to, so finding it is one ref read.
    static func newLog(file: ObjectID, version: ObjectID) -> String {
        "log_" + file.hex.prefix(hexLength) + version.hex.prefix(hexLength) + randomHex(bytes: 8)
    }

    /// Random lowercase hex from the system's CSPRNG.
    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The file and version hex prefixes inside a log id made by `newLog`, if it is one.
    static func logParts(_ logID: String) -> (file: Substring, version: Substring)? {
        guard logID.hasPrefix("log_") else { return nil }
        let body = logID.utf8.dropFirst(4)
        guard body.count == 2 * hexLength + 16, body.allSatisfy(isLowerHex) else { return nil }
        let s = Substring(body)
        let fileEnd = s.index(s.startIndex, offsetBy: hexLength)
        let versionEnd = s.index(fileEnd, offsetBy: hexLength)
        return (s[..<fileEnd], s[fileEnd..<versionEnd])
    }

    /// PromptLayer's integer ids: 48 bits of the object id, exact in a JSON double.
    static func integer(_ id: ObjectID) -> Int { Int(id.hex.prefix(12), radix: 16) ?? 0 }

    /// A node id shaped like a UUID, derived from the version and the node's name.
    static func node(version: ObjectID, name: String) -> String {
        let h = SHA256.hex(of: Array("node:\(version.hex)/\(name)".utf8))
        let b = Array(h.utf8)
        func part(_ r: Range<Int>) -> String { String(decoding: b[r], as: UTF8.self) }
        return "\(part(0..<8))-\(part(8..<12))-\(part(12..<16))-\(part(16..<20))-\(part(20..<32))"
    }

    private static func isLowerHex(_ c: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c)
    }

    private static func hashed(_ text: String) -> String {
        String(SHA256.hex(of: Array(text.utf8)).prefix(hexLength))
    }
}
