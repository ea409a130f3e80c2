/// A ref name: `/`-separated segments, each under `NameRules`, so each is safe to use as a
/// file name. Equal, hashed and ordered by its bytes (`BytewiseName`).
public struct RefName: BytewiseName {
    public let rawValue: String

    public init(_ rawValue: String) throws(StoreError) {
        for segment in rawValue.splitBytes(on: UInt8(ascii: "/")) {
            if let reason = NameRules.problem(with: segment) {
                throw .invalidName(kind: "ref name", name: rawValue, reason: reason)
            }
        }
        self.rawValue = rawValue
    }

    /// For names assembled from already-validated parts (paths, labels, hex ids).
    init(validated rawValue: String) {
        self.rawValue = rawValue
    }

    /// The name without `prefix` (which it must start with, as listing by that prefix ensures).
    public func dropping(prefix: String) -> String {
        rawValue.droppingBytes(prefix.utf8.count)
    }
}

extension RefName {
    /// The `/`-separated segments, split on bytes.
    public var segments: [Substring] { rawValue.splitBytes(on: UInt8(ascii: "/")) }
}
