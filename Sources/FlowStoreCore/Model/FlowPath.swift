/// Where a flow or agent lives, e.g. `Personal Projects/MedQA Flow`: folders, then a name.
///
/// Validated once at the edge, so every later use (ref file names, messages) can trust it:
/// no empty segments, no `.`/`..`, no control characters, bounded length.
public struct FlowPath: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maxBytes = 1000
    public static let maxSegments = 32

    public let rawValue: String

    public init(_ rawValue: String) throws(StoreError) {
        if rawValue.isEmpty { throw .invalidPath(rawValue, reason: "empty path") }
        if rawValue.utf8.count > Self.maxBytes {
            throw .invalidPath(String(rawValue.prefix(40)) + "…", reason: "longer than \(Self.maxBytes) bytes")
        }
        if rawValue.hasPrefix("/") { throw .invalidPath(rawValue, reason: "absolute paths are not allowed") }
        let segments = rawValue.split(separator: "/", omittingEmptySubsequences: false)
        if segments.count > Self.maxSegments {
            throw .invalidPath(rawValue, reason: "more than \(Self.maxSegments) segments")
        }
        for segment in segments {
            if let reason = NameRules.problem(with: segment) { throw .invalidPath(rawValue, reason: reason) }
        }
        self.rawValue = rawValue
    }

    /// The last segment: the file's name.
    public var name: String { String(rawValue.split(separator: "/").last ?? "") }

    /// The folders before the name, `""` at the top level.
    public var directory: String {
        guard let slash = rawValue.lastIndex(of: "/") else { return "" }
        return String(rawValue[..<slash])
    }

    public var description: String { rawValue }
    public static func < (a: FlowPath, b: FlowPath) -> Bool { a.rawValue < b.rawValue }
}

/// A release label (`production`, `staging`) or an environment name (`development`): one
/// segment under the same rules as path segments.
public struct RefLabel: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String, kind: String = "label") throws(StoreError) {
        if let reason = NameRules.problem(with: rawValue) {
            throw .invalidName(kind: kind, name: rawValue, reason: reason)
        }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
    public static func < (a: RefLabel, b: RefLabel) -> Bool { a.rawValue < b.rawValue }
}
