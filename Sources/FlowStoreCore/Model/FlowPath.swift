/// A name whose identity is its UTF-8 bytes: equal, hashed and ordered byte by byte, so that
/// two spellings `String` would call equal (NFC and NFD) are never one dictionary key, and
/// every listing comes out in the same byte order on every backend.
public protocol BytewiseName: Hashable, Comparable, Sendable, CustomStringConvertible {
    var rawValue: String { get }
}

extension BytewiseName {
    public static func == (a: Self, b: Self) -> Bool { a.rawValue.bytesEqual(b.rawValue) }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue.bytesPrecede(b.rawValue) }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawValue.utf8.count)
        for byte in rawValue.utf8 { hasher.combine(byte) }
    }
    public var description: String { rawValue }
}

/// Where a flow or agent lives, e.g. `Personal Projects/MedQA Flow`: folders, then a name.
///
/// Validated once at the edge, so every later use (ref file names, messages) can trust it:
/// no empty segments, no `.`/`..`, no control or invisible characters, NFC, bounded length
/// (`NameRules`). Split on the `/` byte, never on `Character`s.
public struct FlowPath: BytewiseName {
    /// As long as one segment may be: a 255-character name is one segment of up to 1020 bytes.
    public static let maxBytes = NameRules.maxSegmentBytes
    public static let maxSegments = 32

    public let rawValue: String

    public init(_ rawValue: String) throws(StoreError) {
        if rawValue.isEmpty { throw .invalidPath(rawValue, reason: "empty path") }
        if rawValue.utf8.count > Self.maxBytes {
            throw .invalidPath(String(rawValue.unicodeScalars.prefix(40)) + "…", reason: "longer than \(Self.maxBytes) bytes")
        }
        if rawValue.hasBytePrefix("/") { throw .invalidPath(rawValue, reason: "absolute paths are not allowed") }
        let segments = rawValue.splitBytes(on: UInt8(ascii: "/"))
        if segments.count > Self.maxSegments {
            throw .invalidPath(rawValue, reason: "more than \(Self.maxSegments) segments")
        }
        for segment in segments {
            if let reason = NameRules.problem(with: segment) { throw .invalidPath(rawValue, reason: reason) }
        }
        self.rawValue = rawValue
    }

    /// The last segment: the file's name.
    public var name: String {
        guard let slash = rawValue.utf8.lastIndex(of: UInt8(ascii: "/")) else { return rawValue }
        return String(Substring(rawValue.utf8[rawValue.utf8.index(after: slash)...]))
    }

    /// The folders before the name, `""` at the top level.
    public var directory: String {
        guard let slash = rawValue.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return String(Substring(rawValue.utf8[..<slash]))
    }
}

/// A release label (`production`, `staging`) or an environment name (`development`): one
/// segment under the same rules as path segments.
public struct RefLabel: BytewiseName {
    public let rawValue: String

    public init(_ rawValue: String, kind: String = "label") throws(StoreError) {
        if let reason = NameRules.problem(with: rawValue) {
            throw .invalidName(kind: kind, name: rawValue, reason: reason)
        }
        self.rawValue = rawValue
    }
}
