/// A parsed JSON document.
///
/// FlowStore keeps its own JSON model rather than Foundation's `Any` trees so that
/// canonicalisation (RFC 8785) is exact: numbers are IEEE doubles as JCS defines them,
/// strings keep their Unicode scalars unnormalised, and objects keep every key as written.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

extension JSONValue {
    public var isNull: Bool { if case .null = self { true } else { false } }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }

    public var doubleValue: Double? { if case .number(let d) = self { d } else { nil } }

    /// The number as an integer, when it is one exactly (no fraction, within ±2^53).
    public var intValue: Int? {
        guard case .number(let d) = self, d.rounded(.towardZero) == d, abs(d) <= 9_007_199_254_740_992
        else { return nil }
        return Int(d)
    }

    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }

    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }

    /// Member lookup on an object; `nil` for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// A short name of the JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// A JSON object whose members are kept in RFC 8785 order (keys compared as UTF-16 code units).
///
/// Keys are compared by their exact Unicode scalars, not by Swift's canonical-equivalence
/// `==`, so `"é"` and `"e\u{301}"` are two different keys, as they are in JSON.
public struct JSONObject: Sendable, Equatable, Sequence {
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
        public static func == (a: Member, b: Member) -> Bool {
            JSONObject.sameKey(a.key, b.key) && a.value == b.value
        }
    }

    /// Members in canonical order, no two with the same key.
    public private(set) var members: [Member] = []

    public init() {}

    /// Builds an object from pairs; throws `JSONError.duplicateKey` if a key repeats.
    public init(pairs: some Sequence<(String, JSONValue)>) throws(JSONError) {
        for (key, value) in pairs {
            let (found, index) = position(of: key)
            if found { throw JSONError(.duplicateKey(key), offset: nil) }
            members.insert(Member(key: key, value: value), at: index)
        }
    }

    /// For `JSONParser`, which sorts and checks for repeats itself in O(n log n): `members`
    /// must already be in canonical order with no repeated key.
    init(sortedUniqueMembers members: [Member]) {
        self.members = members
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    public func makeIterator() -> IndexingIterator<[Member]> { members.makeIterator() }

    /// Reads or writes a member; assigning `nil` removes it.
    public subscript(key: String) -> JSONValue? {
        get {
            let (found, index) = position(of: key)
            return found ? members[index].value : nil
        }
        set {
            let (found, index) = position(of: key)
            switch (found, newValue) {
            case (true, let value?): members[index].value = value
            case (true, nil): members.remove(at: index)
            case (false, let value?): members.insert(Member(key: key, value: value), at: index)
            case (false, nil): break
            }
        }
    }

    /// Binary search in canonical order.
    private func position(of key: String) -> (found: Bool, index: Int) {
        var low = 0
        var high = members.count
        while low < high {
            let mid = (low + high) / 2
            switch JSONObject.compareKeys(members[mid].key, key) {
            case .orderedAscending: low = mid + 1
            case .orderedDescending: high = mid
            case .orderedSame: return (true, mid)
            }
        }
        return (false, low)
    }

    /// RFC 8785 §3.2.3: keys sort by their UTF-16 code units, unsigned.
    public static func compareKeys(_ a: String, _ b: String) -> ComparisonOrder {
        var ia = a.utf16.makeIterator()
        var ib = b.utf16.makeIterator()
        while true {
            switch (ia.next(), ib.next()) {
            case (nil, nil): return .orderedSame
            case (nil, _): return .orderedAscending
            case (_, nil): return .orderedDescending
            case (let x?, let y?):
                if x < y { return .orderedAscending }
                if x > y { return .orderedDescending }
            }
        }
    }

    static func sameKey(_ a: String, _ b: String) -> Bool {
        compareKeys(a, b) == .orderedSame
    }
}

/// The result of comparing two keys; Foundation-free so the core builds without it.
public enum ComparisonOrder: Sendable {
    case orderedAscending, orderedSame, orderedDescending
}

// No ExpressibleByNilLiteral: with it, `object[key] == nil` would silently compare against
// JSON null instead of "absent".
extension JSONValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Literal objects are written by programmers, so a repeated key is a bug: the last one wins.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var object = JSONObject()
        for (key, value) in elements { object[key] = value }
        self = .object(object)
    }
}

/// Why a JSON text was refused, with the byte offset where the parser stopped.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case unexpectedEnd
        case unexpectedByte(UInt8)
        case invalidUTF8
        case invalidEscape
        case loneSurrogate
        case controlCharacterInString
        case invalidNumber
        case numberOutOfRange
        case duplicateKey(String)
        case trailingData
        case tooDeep(limit: Int)
        case tooManyValues(limit: Int)
        case notFinite
    }

    public var kind: Kind
    /// Byte offset into the input, when the error came from parsing.
    public var offset: Int?

    public init(_ kind: Kind, offset: Int?) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch kind {
        case .unexpectedEnd: what = "unexpected end of input"
        case .unexpectedByte(let b):
            what = (0x20..<0x7f).contains(b)
                ? "unexpected character '\(Character(Unicode.Scalar(b)))'"
                : "unexpected byte 0x\(String(b, radix: 16))"
        case .invalidUTF8: what = "invalid UTF-8"
        case .invalidEscape: what = "invalid escape sequence in string"
        case .loneSurrogate: what = "lone UTF-16 surrogate in string escape"
        case .controlCharacterInString: what = "unescaped control character in string"
        case .invalidNumber: what = "invalid number"
        case .numberOutOfRange: what = "number out of range for an IEEE 754 double"
        case .duplicateKey(let k): what = "duplicate object key \"\(k)\""
        case .trailingData: what = "unexpected data after the JSON value"
        case .tooDeep(let limit): what = "nesting deeper than \(limit) levels"
        case .tooManyValues(let limit): what = "more than \(limit) values"
        case .notFinite: what = "NaN or infinite number cannot be represented in JSON"
        }
        if let offset { return "invalid JSON at byte \(offset): \(what)" }
        return "invalid JSON: \(what)"
    }
}
