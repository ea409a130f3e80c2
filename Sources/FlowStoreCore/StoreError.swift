/// Everything that can go wrong in the store, each case carrying what a person needs to act.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAStore(String)
    case io(path: String, message: String)
    case invalidJSON(JSONError)
    case invalidInput(String)
    case invalidPath(String, reason: String)
    case invalidName(kind: String, name: String, reason: String)
    case objectNotFound(ObjectID)
    case unknownObjectPrefix(String)
    case ambiguousPrefix(String, candidates: [ObjectID])
    case corruptObject(ObjectID, reason: String)
    case wrongObjectType(ObjectID, expected: String, actual: String)
    case fileNotFound(String)
    case fileExists(String)
    case refNotFound(String)
    case versionNotFound(String)
    case refConflict(ref: String, expected: ObjectID?, actual: ObjectID?)
    case versionNameTaken(path: String, name: String)
    case kindMismatch(path: String, existing: FileKind, requested: FileKind)
    case lockTimeout(String)
    /// A new name that differs only in letter case from an existing one (`CaseFoldIndex`).
    case caseClash(name: String, existing: String)
    /// The backend cannot be reached (a database down, restarting, or refusing connections):
    /// nothing was written, or nothing acknowledged; retrying later is the remedy.
    case unavailable(String)

    public var description: String {
        switch self {
        case .notAStore(let location) where location.contains("://"):
            // A database store (`postgres://…`, without its password): init takes the same URL.
            "not a FlowStore store: \(location) (run `flowstore init --store \(location)`)"
        case .notAStore(let dir):
            "not a FlowStore store: \(dir) (run `flowstore init` or pass --store DIR)"
        case .io(let path, let message): "\(path): \(message)"
        case .invalidJSON(let error): error.description
        case .invalidInput(let message): message
        case .invalidPath(let path, let reason): "invalid path \(quoted(path)): \(reason)"
        case .invalidName(let kind, let name, let reason): "invalid \(kind) \(quoted(name)): \(reason)"
        case .objectNotFound(let id): "object \(id.hex) not found"
        case .unknownObjectPrefix(let prefix): "no object id starts with \(prefix)"
        case .ambiguousPrefix(let prefix, let candidates):
            "object id prefix \(prefix) is ambiguous: \(candidates.map(\.short).joined(separator: ", "))"
        case .corruptObject(let id, let reason): "object \(id.hex) is corrupt: \(reason)"
        case .wrongObjectType(let id, let expected, let actual):
            "object \(id.short) is a \(actual), not a \(expected)"
        case .fileNotFound(let path): "no flow or agent at \(quoted(path))"
        case .fileExists(let path): "a flow or agent already exists at \(quoted(path))"
        case .refNotFound(let ref): "ref not found: \(ref)"
        case .versionNotFound(let spec): "no version matches \(quoted(spec))"
        case .refConflict(let ref, let expected, let actual):
            "ref \(ref) changed concurrently (expected \(expected?.short ?? "none"), found \(actual?.short ?? "none"))"
        case .versionNameTaken(let path, let name):
            "version name \(quoted(name)) is already used in \(quoted(path))"
        case .kindMismatch(let path, let existing, let requested):
            "\(quoted(path)) is \(existing.withArticle), not \(requested.withArticle)"
        case .lockTimeout(let what): "timed out waiting for the lock on \(what)"
        case .unavailable(let why): "store unavailable: \(why)"
        case .caseClash(let name, let existing):
            "\(quoted(name)) differs only in letter case from the existing \(quoted(existing)); the two would be one file on a case-insensitive file system"
        }
    }
}

/// Quotes a user-supplied string for messages, escaping control characters so a hostile
/// name cannot forge terminal output.
func quoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20 || scalar.value == 0x7f:
            out += "\\u{\(String(scalar.value, radix: 16))}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

extension FileKind {
    /// "a flow", "an agent": for messages.
    var withArticle: String { self == .agent ? "an agent" : "a flow" }
}
