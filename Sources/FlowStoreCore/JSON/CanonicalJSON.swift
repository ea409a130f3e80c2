import CFlowStoreSys

/// RFC 8785 JSON Canonicalization Scheme (JCS): the one byte sequence FlowStore hashes for a
/// JSON value.
///
/// - Objects: members in UTF-16 code-unit order of their keys (`JSONObject` already keeps
///   them so), no whitespace anywhere.
/// - Strings: only `"`, `\` and the controls below U+0020 are escaped, with the short forms
///   `\b \t \n \f \r` where they exist and lowercase `\u00xx` otherwise; every other
///   character, U+2028/U+2029 and non-ASCII included, is written as raw UTF-8.
/// - Numbers: the ECMAScript `Number.prototype.toString` form of the IEEE double (shortest
///   round-trip digits), `-0` as `0`; NaN and infinities cannot be encoded.
public enum CanonicalJSON {
    /// The canonical UTF-8 bytes of `value`.
    ///
    /// Throws `.notFinite` for NaN or infinite numbers and `.tooDeep` for values nested deeper
    /// than `JSONParser.defaultMaxDepth`, so everything that encodes can be parsed back.
    public static func encode(_ value: JSONValue) throws(JSONError) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        try encode(value, into: &buffer)
        return buffer
    }

    /// Appends the canonical bytes of `value` to `buffer`. On error `buffer` may hold a
    /// partial encoding.
    public static func encode(_ value: JSONValue, into buffer: inout [UInt8]) throws(JSONError) {
        try append(value, depth: 0, into: &buffer)
    }

    /// Parses a JSON text strictly and returns its canonical form.
    ///
    /// Runs the single-pass fast path (`FastCanonicalizer`: no `JSONValue`, no `String`s for the
    /// common case) and falls back to the tree path (`canonicalizeViaTree`) for anything it
    /// declines, which is where every error comes from. Both give the same bytes (tested).
    public static func canonicalize(_ bytes: [UInt8]) throws(JSONError) -> [UInt8] {
        if let fast = bytes.withUnsafeBufferPointer({ FastCanonicalizer.canonicalize($0, maxDepth: JSONParser.defaultMaxDepth) }) {
            return fast
        }
        return try canonicalizeViaTree(bytes)
    }

    /// `canonicalize` over raw memory (a mapped or read file), without copying it first.
    public static func canonicalize(_ buffer: UnsafeRawBufferPointer) throws(JSONError) -> [UInt8] {
        let bytes = buffer.assumingMemoryBound(to: UInt8.self)
        if let fast = FastCanonicalizer.canonicalize(bytes, maxDepth: JSONParser.defaultMaxDepth) { return fast }
        return try canonicalizeViaTree(Array(bytes))
    }

    /// The reference path: parse to a `JSONValue` tree (`JSONParser`), then `encode` it. Slower,
    /// but it is what the store's objects go through, and what the fast path is tested against.
    public static func canonicalizeViaTree(_ bytes: [UInt8]) throws(JSONError) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(bytes.count)
        try encode(try JSONParser.parse(bytes), into: &buffer)
        return buffer
    }

    /// The canonical (ECMAScript) text of a number, e.g. `1e+21`, `0.000001`, `1.23e-18`.
    public static func formatNumber(_ d: Double) throws(JSONError) -> String {
        var buffer: [UInt8] = []
        try appendNumber(d, into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    // MARK: - Values

    private static func append(_ value: JSONValue, depth: Int, into out: inout [UInt8]) throws(JSONError) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: b ? "true".utf8 : "false".utf8)
        case .number(let d): try appendNumber(d, into: &out)
        case .string(let s): appendString(s, into: &out)
        case .array(let elements):
            guard depth < JSONParser.defaultMaxDepth else {
                throw JSONError(.tooDeep(limit: JSONParser.defaultMaxDepth), offset: nil)
            }
            out.append(0x5B)  // [
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(0x2C) }  // ,
                try append(element, depth: depth + 1, into: &out)
            }
            out.append(0x5D)  // ]
        case .object(let object):
            guard depth < JSONParser.defaultMaxDepth else {
                throw JSONError(.tooDeep(limit: JSONParser.defaultMaxDepth), offset: nil)
            }
            out.append(0x7B)  // {
            for (index, member) in object.members.enumerated() {
                if index > 0 { out.append(0x2C) }  // ,
                appendString(member.key, into: &out)
                out.append(0x3A)  // :
                try append(member.value, depth: depth + 1, into: &out)
            }
            out.append(0x7D)  // }
        }
    }

    // MARK: - Strings

    /// Appends `string` quoted and minimally escaped (RFC 8785 §3.2.2.2).
    static func appendString(_ string: String, into out: inout [UInt8]) {
        out.append(0x22)
        var string = string
        string.withUTF8 { utf8 in
            // Copy runs of bytes that need no escaping in one go; the runs are found sixteen
            // bytes at a time by `flowstore_json_unescaped_prefix` (C, SSE2).
            guard let base = utf8.baseAddress else { return }
            var at = 0
            while at < utf8.count {
                let run = flowstore_json_unescaped_prefix(base + at, utf8.count - at)
                out.append(contentsOf: UnsafeBufferPointer(start: base + at, count: run))
                at += run
                if at < utf8.count {
                    appendEscape(base[at], into: &out)
                    at += 1
                }
            }
        }
        out.append(0x22)
    }

    private static func appendEscape(_ byte: UInt8, into out: inout [UInt8]) {
        out.append(0x5C)  // \
        switch byte {
        case 0x22: out.append(0x22)
        case 0x5C: out.append(0x5C)
        case 0x08: out.append(0x62)  // b
        case 0x09: out.append(0x74)  // t
        case 0x0A: out.append(0x6E)  // n
        case 0x0C: out.append(0x66)  // f
        case 0x0D: out.append(0x72)  // r
        default:
            out.append(contentsOf: [0x75, 0x30, 0x30, lowercaseHex(byte >> 4), lowercaseHex(byte & 0xF)])  // u00xx
        }
    }

    // MARK: - Numbers

    /// Appends the ECMAScript `Number::toString` text of `d` (ES2019 §7.1.12.1, used by
    /// RFC 8785 §3.2.2.3).
    static func appendNumber(_ d: Double, into out: inout [UInt8]) throws(JSONError) {
        guard d.isFinite else { throw JSONError(.notFinite, offset: nil) }
        if d == 0 {
            out.append(0x30)  // both zeros print as "0"
            return
        }
        // Integers up to 2^53 are their own shortest digits: print them directly.
        if d.magnitude <= 9_007_199_254_740_992, let integer = Int64(exactly: d) {
            appendInteger(integer, into: &out)
            return
        }
        if d < 0 { out.append(0x2D) }

        // Shortest round-trip digits from the standard library, then laid out per ECMAScript.
        // Swift's description may use either plain or exponent notation; `ShortestDigits`
        // reads both into digits `s` (k of them) and `n` with value = 0.s × 10^n.
        let shortest = ShortestDigits(d.magnitude.description)
        let digits = shortest.digits
        let k = digits.count
        let n = shortest.pointPosition

        if k <= n, n <= 21 {
            // Integer: the digits, then n - k zeros.
            out.append(contentsOf: digits)
            out.append(contentsOf: repeatElement(0x30, count: n - k))
        } else if 0 < n, n <= 21 {
            // Point inside the digits.
            out.append(contentsOf: digits[0..<n])
            out.append(0x2E)
            out.append(contentsOf: digits[n...])
        } else if -6 < n, n <= 0 {
            // Small: "0." then -n zeros then the digits.
            out.append(contentsOf: [0x30, 0x2E])
            out.append(contentsOf: repeatElement(0x30, count: -n))
            out.append(contentsOf: digits)
        } else {
            // Exponent form: d[.ddd]e±x with x = n - 1.
            out.append(digits[0])
            if k > 1 {
                out.append(0x2E)
                out.append(contentsOf: digits[1...])
            }
            out.append(0x65)  // e
            let exponent = n - 1
            out.append(exponent < 0 ? 0x2D : 0x2B)
            appendInteger(Int64(exponent.magnitude), into: &out)
        }
    }

    private static func lowercaseHex(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10
    }

    /// Appends decimal digits most significant first, without a temporary buffer.
    private static func appendInteger(_ value: Int64, into out: inout [UInt8]) {
        if value < 0 { out.append(0x2D) }
        var magnitude = value.magnitude
        var divisor: UInt64 = 1
        while divisor <= magnitude / 10 { divisor *= 10 }
        repeat {
            out.append(0x30 + UInt8(magnitude / divisor))
            magnitude %= divisor
            divisor /= 10
        } while divisor > 0
    }
}

/// The significant decimal digits of a positive finite number's shortest round-trip text,
/// without leading or trailing zeros, and the position of the decimal point relative to them.
private struct ShortestDigits {
    /// ASCII digits, first and last non-zero.
    let digits: [UInt8]
    /// `n` in ECMAScript's terms: the value is 0.digits × 10^n.
    let pointPosition: Int

    /// Reads text like `123.45`, `0.00123`, `1e-07` or `1.2345e+20`.
    init(_ text: String) {
        // Locals only, assigned once at the end: Swift 6.3's debug exclusivity checks trip
        // over in-place mutation of `self`'s stored properties inside this loop.
        var found: [UInt8] = []
        var digitsBeforePoint: Int?
        var zerosAfterPointBeforeDigits = 0
        var exponent = 0
        var exponentNegative = false
        var inExponent = false
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39 where inExponent:
                exponent = exponent * 10 + Int(byte - 0x30)
            case 0x30 where found.isEmpty:
                // Leading zero: only shifts the point when it comes after it.
                if digitsBeforePoint != nil { zerosAfterPointBeforeDigits += 1 }
            case 0x30...0x39:
                found.append(byte)
            case 0x2E:
                digitsBeforePoint = found.count
            case 0x65, 0x45:
                inExponent = true
            case 0x2D where inExponent:
                exponentNegative = true
            default:
                break  // "+" of the exponent
            }
        }
        let before = digitsBeforePoint ?? found.count
        while found.last == 0x30 { found.removeLast() }
        digits = found
        pointPosition = before - zerosAfterPointBeforeDigits + (exponentNegative ? -exponent : exponent)
    }
}
