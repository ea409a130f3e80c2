/// The name of an object: the lowercase hex SHA-256 of its canonical bytes.
///
/// Because the name is the hash, an object can be copied anywhere and checked on arrival,
/// and two stores that hold the same id hold the same bytes.
public struct ObjectID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// 64 lowercase hex characters.
    public let hex: String

    /// Accepts exactly 64 lowercase hex characters.
    public init?(hex: some StringProtocol) {
        self.init(hexBytes: hex.utf8)
    }

    /// Accepts exactly 64 lowercase hex bytes (a ref file's contents, without a string first).
    public init?(hexBytes: some Collection<UInt8>) {
        guard hexBytes.count == 64, hexBytes.allSatisfy(ObjectID.isLowerHex) else { return nil }
        self.hex = String(decoding: hexBytes, as: UTF8.self)
    }

    /// The id of an object with these canonical bytes.
    public init(hashing canonicalBytes: [UInt8]) {
        self.hex = SHA256.hex(of: canonicalBytes)
    }

    /// The id's first 12 characters: how people read ids, like git's abbreviated hashes.
    public var short: String { String(hex.prefix(12)) }

    public var description: String { hex }

    public static func < (a: ObjectID, b: ObjectID) -> Bool { a.hex < b.hex }

    package static func isLowerHex(_ c: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c)
    }

    /// Whether `text` could be the beginning of an id (used for prefix lookups).
    public static func isPrefix(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text.utf8.allSatisfy(isLowerHex)
    }
}

extension ObjectID {
    /// `bytes`, if they hash to this id; else `corruptObject`. Every backend's `get` returns
    /// through this, so corrupt data is never served and every backend reports it alike.
    public func verified(_ bytes: [UInt8]) throws(StoreError) -> [UInt8] {
        let actual = ObjectID(hashing: bytes)
        guard actual == self else { throw .corruptObject(self, reason: "content hashes to \(actual.short)") }
        return bytes
    }
}
