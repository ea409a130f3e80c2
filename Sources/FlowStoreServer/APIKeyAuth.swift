import FlowStoreCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Who a request acts as: the user its API key belongs to. The user's `author` string goes
/// into every version, event, annotation and log the request writes.
public struct APIUser: Sendable, Equatable {
    public var id: String
    public var email: String?
    public var fullName: String?
    /// Read-only keys may only use GET routes.
    public var readOnly: Bool

    public init(id: String? = nil, email: String? = nil, fullName: String? = nil, readOnly: Bool = false) {
        self.email = email
        self.fullName = fullName
        self.readOnly = readOnly
        self.id = id ?? ""
        if id == nil { self.id = PublicIDs.user(author) }
    }

    /// `Full Name <email>` (git's form), or whichever of the two is known, or the id.
    public var author: String {
        switch (fullName, email) {
        case (let name?, let email?): "\(name) <\(email)>"
        case (let name?, nil): name
        case (nil, let email?): email
        case (nil, nil): id
        }
    }

    /// Humanloop's `created_by` object.
    var json: JSONValue {
        var o = JSONObject()
        o["id"] = .string(id)
        o["email_address"] = email.map(JSONValue.string) ?? .null
        o["full_name"] = fullName.map(JSONValue.string) ?? .null
        return .object(o)
    }

    /// The user an author string names: a configured user when one matches, else one read
    /// from the string itself (`Name <email>`, an email, or a name), so versions written by
    /// the CLI still show a sensible `created_by`.
    static func from(author: String, keyring: APIKeyring) -> APIUser {
        if let known = keyring.user(forAuthor: author) { return known }
        if author == anonymous.author { return anonymous }
        return parse(author: author)
    }

    /// `Name <email>`, an email (contains `@`), or a name; the id derives from the string.
    static func parse(author: String) -> APIUser {
        if author.hasSuffix(">"), let open = author.lastIndex(of: "<") {
            let name = author[..<open].trimmingCharacters(in: .whitespaces)
            let email = String(author[author.index(after: open)..<author.index(before: author.endIndex)])
            return APIUser(email: email.isEmpty ? nil : email, fullName: name.isEmpty ? nil : name)
                .withID(PublicIDs.user(author))
        }
        if author.contains("@") { return APIUser(email: author).withID(PublicIDs.user(author)) }
        return APIUser(fullName: author).withID(PublicIDs.user(author))
    }

    private func withID(_ id: String) -> APIUser {
        var copy = self
        copy.id = id
        return copy
    }

    /// Used with `--insecure-no-auth`: every request acts as this user.
    public static let anonymous = APIUser(id: "usr_anonymous", fullName: "anonymous")
}

/// A problem with the server's configuration (keys file, environments), reported at start-up.
public struct ServerConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The API keys the server accepts.
///
/// Only SHA-256 digests of the keys are kept, and a presented key is hashed and compared with
/// every digest over all 32 bytes without an early exit, so response time reveals neither how
/// much of a key matched nor which entry did.
public struct APIKeyring: Sendable {
    struct Entry: Sendable {
        var digest: [UInt8]
        var user: APIUser
    }

    let entries: [Entry]

    public init(_ keys: [(key: String, user: APIUser)]) throws(ServerConfigurationError) {
        var entries: [Entry] = []
        var seen = Set<[UInt8]>()
        for (index, item) in keys.enumerated() {
            guard !item.key.isEmpty, !item.key.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f })
            else {
                throw ServerConfigurationError("key #\(index + 1): keys must be non-empty, without spaces or control characters")
            }
            let digest = SHA256.digest(of: Array(item.key.utf8))
            guard seen.insert(digest).inserted else { throw ServerConfigurationError("key #\(index + 1) is listed twice") }
            entries.append(Entry(digest: digest, user: item.user))
        }
        self.entries = entries
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    /// The user whose key this is, or `nil`. Constant time in the key's content.
    public func user(forKey key: String) -> APIUser? {
        let digest = SHA256.digest(of: Array(key.utf8))
        var match: Int?
        for (index, entry) in entries.enumerated() {
            var difference: UInt8 = 0
            for i in 0..<SHA256.byteCount { difference |= digest[i] ^ entry.digest[i] }
            if difference == 0 { match = index }
        }
        return match.map { entries[$0].user }
    }

    func user(forAuthor author: String) -> APIUser? {
        entries.first { $0.user.author == author }?.user
    }

    /// Reads a keys file:
    /// `{"keys": [{"key": "…", "user": {"id": "usr_…", "email_address": "…", "full_name": "…"}, "read_only": false}]}`.
    /// `user.id` is optional (derived from the author string when absent); so is `read_only`.
    ///
    /// A file that group or others may read or write is refused, as ssh refuses such a private
    /// key: the keys are passwords, and a file anyone on the machine can read has already leaked
    /// them. The mode is checked on the descriptor that is then read, so the check and the read
    /// are of the same file.
    public static func load(file path: String) throws(ServerConfigurationError) -> APIKeyring {
        let data = try readPrivateFile(path)
        let value: JSONValue
        do { value = try JSONParser.parse(data) } catch {
            throw ServerConfigurationError("keys file \(path): \(error.description)")
        }
        guard let list = value["keys"]?.arrayValue else {
            throw ServerConfigurationError("keys file \(path): expected {\"keys\": [...]}")
        }
        var keys: [(key: String, user: APIUser)] = []
        for (index, item) in list.enumerated() {
            let at = "keys file \(path), keys[\(index)]"
            guard let key = item["key"]?.stringValue else { throw ServerConfigurationError("\(at): key must be a string") }
            let user = item["user"] ?? .object(JSONObject())
            guard user.objectValue != nil else { throw ServerConfigurationError("\(at): user must be an object") }
            func text(_ field: String) throws(ServerConfigurationError) -> String? {
                guard let v = user[field], !v.isNull else { return nil }
                guard let s = v.stringValue, !s.isEmpty else {
                    throw ServerConfigurationError("\(at): user.\(field) must be a non-empty string")
                }
                return s
            }
            let readOnly = item["read_only"]
            guard readOnly == nil || readOnly?.boolValue != nil else {
                throw ServerConfigurationError("\(at): read_only must be a boolean")
            }
            let email = try text("email_address")
            let name = try text("full_name")
            guard email != nil || name != nil else {
                throw ServerConfigurationError("\(at): user needs email_address or full_name")
            }
            keys.append(
                (key, APIUser(id: try text("id"), email: email, fullName: name, readOnly: readOnly?.boolValue ?? false)))
        }
        return try APIKeyring(keys)
    }

    /// The bytes of a keys file, refused unless only its owner may read or write it.
    static func readPrivateFile(_ path: String) throws(ServerConfigurationError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ServerConfigurationError("cannot read keys file \(path)") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw ServerConfigurationError("cannot read keys file \(path): not a regular file")
        }
        let mode = st.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw ServerConfigurationError(
                "keys file \(path) is accessible by group or others (mode \(String(mode, radix: 8))): run chmod 600 \(path)")
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw ServerConfigurationError("cannot read keys file \(path)") }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// Reads `FLOWSTORE_API_KEYS`: `key=user,key2=user2`, where a user is `Name <email>`, an
    /// email address (contains `@`), or a full name.
    public static func parse(environment text: String) throws(ServerConfigurationError) -> APIKeyring {
        var keys: [(key: String, user: APIUser)] = []
        for (index, item) in text.split(separator: ",", omittingEmptySubsequences: true).enumerated() {
            guard let eq = item.firstIndex(of: "=") else {
                throw ServerConfigurationError("FLOWSTORE_API_KEYS entry #\(index + 1): expected key=user")
            }
            let key = String(item[..<eq]).trimmingCharacters(in: .whitespaces)
            let user = String(item[item.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            guard !user.isEmpty else {
                throw ServerConfigurationError("FLOWSTORE_API_KEYS entry #\(index + 1): empty user")
            }
            let parsed = APIUser.parse(author: user)
            keys.append((key, APIUser(email: parsed.email, fullName: parsed.fullName)))
        }
        return try APIKeyring(keys)
    }
}
