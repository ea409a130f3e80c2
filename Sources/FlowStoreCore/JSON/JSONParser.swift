import CFlowStoreSys

/// A strict RFC 8259 JSON parser that produces `JSONValue` trees ready for RFC 8785
/// canonicalisation.
///
/// Strictness is the point: two stores must agree on what a document *is* before they can
/// agree on its hash, so everything that JSON parsers commonly disagree on is refused rather
/// than guessed at: duplicate keys, lone surrogates, invalid UTF-8, a leading byte-order mark,
/// numbers beyond the double range, trailing data. Every error carries the byte offset where
/// parsing stopped.
///
/// The scanner works on raw bytes (no Foundation, no Codable) and builds strings straight from
/// validated UTF-8 slices when a string has no escapes, which is the common case.
public enum JSONParser {
    /// The nesting limit FlowStore uses everywhere (parser default and canonical encoder).
    public static let defaultMaxDepth = 512

    /// Parses one JSON text.
    ///
    /// - Parameter maxDepth: the deepest allowed nesting of arrays and objects; `[[]]` has
    ///   depth 2. The parser recurses once per level, so keep this modest.
    /// - Parameter maxValues: the most values (of any type, containers included; object keys
    ///   are not values) the text may hold. The tree costs at least a 16-byte slot per value
    ///   however short its text (`0,` is two bytes), so this, not the text's length, bounds
    ///   the memory a hostile document takes. Checked as values are met: parsing stops there.
    public static func parse(
        _ bytes: [UInt8], maxDepth: Int = defaultMaxDepth, maxValues: Int = .max
    ) throws(JSONError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) -> JSONValue in
            var scanner = Scanner(buffer, maxDepth: maxDepth, maxValues: maxValues)
            return try scanner.parseDocument()
        }
    }

    /// Parses one JSON text from raw memory, without copying it first.
    public static func parse(
        _ buffer: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth, maxValues: Int = .max
    ) throws(JSONError) -> JSONValue {
        var scanner = Scanner(buffer.assumingMemoryBound(to: UInt8.self), maxDepth: maxDepth, maxValues: maxValues)
        return try scanner.parseDocument()
    }

    /// Parses the UTF-8 encoding of `string`.
    public static func parse(_ string: String, maxDepth: Int = defaultMaxDepth) throws(JSONError) -> JSONValue {
        // `withUTF8` only rethrows untyped errors, so the typed result is carried out in a `Result`.
        var copy = string
        let result = copy.withUTF8 { buffer in
            Result { () throws(JSONError) -> JSONValue in
                var scanner = Scanner(buffer, maxDepth: maxDepth)
                return try scanner.parseDocument()
            }
        }
        return try result.get()
    }
}

// MARK: - Scanner

private enum Byte {
    static let quote: UInt8 = 0x22       // "
    static let backslash: UInt8 = 0x5C   // \
    static let slash: UInt8 = 0x2F       // /
    static let comma: UInt8 = 0x2C
    static let colon: UInt8 = 0x3A
    static let openBracket: UInt8 = 0x5B
    static let closeBracket: UInt8 = 0x5D
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
    static let minus: UInt8 = 0x2D
    static let plus: UInt8 = 0x2B
    static let dot: UInt8 = 0x2E
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let lowerE: UInt8 = 0x65
    static let upperE: UInt8 = 0x45
}

/// The parser state: a cursor over borrowed bytes. Only lives inside a `parse` call.
private struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    let maxValues: Int
    /// Values met so far (see `JSONParser.parse(_:maxDepth:maxValues:)`).
    var values = 0
    var pos = 0
    /// Reused for strings that contain escapes, so each such string costs one copy, not one
    /// allocation per string.
    var scratch: [UInt8] = []

    init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, maxValues: Int = .max) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.maxValues = maxValues
    }

    // MARK: Helpers

    func fail(_ kind: JSONError.Kind, at offset: Int) -> JSONError {
        JSONError(kind, offset: offset)
    }

    /// The error for the byte at `pos`, or for running out of input.
    func unexpected() -> JSONError {
        pos < bytes.count ? fail(.unexpectedByte(bytes[pos]), at: pos) : fail(.unexpectedEnd, at: pos)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    // MARK: Values

    mutating func parseDocument() throws(JSONError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if pos < bytes.count { throw fail(.trailingData, at: pos) }
        return value
    }

    /// `depth` is the number of containers already open around this value.
    mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
        guard pos < bytes.count else { throw fail(.unexpectedEnd, at: pos) }
        values += 1
        if values > maxValues { throw fail(.tooManyValues(limit: maxValues), at: pos) }
        switch bytes[pos] {
        case Byte.quote: return .string(try parseString())
        case Byte.openBracket:
            // Checked before recursing, so hostile input cannot exhaust the stack.
            guard depth < maxDepth else { throw fail(.tooDeep(limit: maxDepth), at: pos) }
            return try parseArray(depth: depth + 1)
        case Byte.openBrace:
            guard depth < maxDepth else { throw fail(.tooDeep(limit: maxDepth), at: pos) }
            return try parseObject(depth: depth + 1)
        case 0x74: try expectLiteral("true"); return .bool(true)
        case 0x66: try expectLiteral("false"); return .bool(false)
        case 0x6E: try expectLiteral("null"); return .null
        case Byte.minus, Byte.zero...Byte.nine: return .number(try parseNumber())
        default: throw unexpected()
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in expected {
            guard pos < bytes.count, bytes[pos] == byte else { throw unexpected() }
            pos += 1
        }
    }

    mutating func parseArray(depth: Int) throws(JSONError) -> JSONValue {
        pos += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == Byte.closeBracket {
            pos += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard pos < bytes.count else { throw fail(.unexpectedEnd, at: pos) }
            switch bytes[pos] {
            case Byte.comma:
                pos += 1
                skipWhitespace()
            case Byte.closeBracket:
                pos += 1
                return .array(elements)
            default:
                throw unexpected()
            }
        }
    }

    mutating func parseObject(depth: Int) throws(JSONError) -> JSONValue {
        pos += 1  // {
        var members: [JSONObject.Member] = []
        var keyOffsets: [Int] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == Byte.closeBrace {
            pos += 1
            return .object(JSONObject())
        }
        while true {
            guard pos < bytes.count, bytes[pos] == Byte.quote else { throw unexpected() }
            keyOffsets.append(pos)
            let key = try parseString()
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == Byte.colon else { throw unexpected() }
            pos += 1
            skipWhitespace()
            members.append(JSONObject.Member(key: key, value: try parseValue(depth: depth)))
            skipWhitespace()
            guard pos < bytes.count else { throw fail(.unexpectedEnd, at: pos) }
            switch bytes[pos] {
            case Byte.comma:
                pos += 1
                skipWhitespace()
            case Byte.closeBrace:
                pos += 1
                return .object(try makeObject(members, keyOffsets: keyOffsets))
            default:
                throw unexpected()
            }
        }
    }

    /// Puts the members in canonical order and rejects a repeated key, in O(n log n).
    /// Canonical input is already in order and costs one comparison per member.
    func makeObject(_ members: [JSONObject.Member], keyOffsets: [Int]) throws(JSONError) -> JSONObject {
        var inOrder = true
        for i in members.indices.dropFirst()
        where KeyOrder.compare(members[i - 1].key, members[i].key) != .orderedAscending {
            inOrder = false
            break
        }
        if inOrder { return JSONObject(sortedUniqueMembers: members) }

        // Sort member indices by key, ties in document order, so each run of equal keys
        // starts with its first occurrence and the second one is next to it.
        let order = members.indices.sorted { a, b in
            switch KeyOrder.compare(members[a].key, members[b].key) {
            case .orderedAscending: true
            case .orderedDescending: false
            case .orderedSame: a < b
            }
        }
        // Among all repeated keys, report the repeat that comes first in the document.
        var firstRepeat: Int?
        for (previous, current) in zip(order, order.dropFirst())
        where KeyOrder.compare(members[previous].key, members[current].key) == .orderedSame {
            firstRepeat = min(firstRepeat ?? current, current)
        }
        if let index = firstRepeat {
            throw fail(.duplicateKey(members[index].key), at: keyOffsets[index])
        }
        return JSONObject(sortedUniqueMembers: order.map { members[$0] })
    }

    // MARK: Strings

    /// Parses a string starting at its opening quote.
    ///
    /// Runs of plain characters are found (and their UTF-8 checked) by `flowstore_json_raw_prefix`
    /// in C, sixteen ASCII bytes at a time; a string without escapes is then exactly those bytes.
    mutating func parseString() throws(JSONError) -> String {
        pos += 1  // "
        let start = pos
        try scanPlainRun()
        if bytes[pos] == Byte.quote {
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
            pos += 1
            return text
        }
        // Escapes: copy runs of plain bytes and decoded escapes into the scratch buffer.
        scratch.removeAll(keepingCapacity: true)
        var runStart = start
        while true {
            scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
            if bytes[pos] == Byte.quote {
                pos += 1
                return String(decoding: scratch, as: UTF8.self)
            }
            try parseEscape()
            runStart = pos
            try scanPlainRun()
        }
    }

    /// Advances over plain string characters to the next quote or backslash, which is then at
    /// `pos`; a control character, invalid UTF-8 or the end of input is an error there.
    @inline(__always)
    mutating func scanPlainRun() throws(JSONError) {
        guard pos < bytes.count, let base = bytes.baseAddress else { throw fail(.unexpectedEnd, at: pos) }
        var flags: Int32 = 0
        pos += flowstore_json_raw_prefix(base + pos, bytes.count - pos, &flags)
        if flags & Int32(FLOWSTORE_STRING_INVALID_UTF8) != 0 { throw fail(.invalidUTF8, at: pos) }
        guard pos < bytes.count else { throw fail(.unexpectedEnd, at: pos) }
        let byte = bytes[pos]
        if byte != Byte.quote, byte != Byte.backslash { throw fail(.controlCharacterInString, at: pos) }
    }

    /// Moves past one unescaped character inside a string, validating it.
    @inline(__always)
    mutating func advanceOverCharacter(_ byte: UInt8) throws(JSONError) {
        if byte >= 0x80 {
            pos += try utf8SequenceLength(at: pos)
        } else if byte < 0x20 {
            throw fail(.controlCharacterInString, at: pos)
        } else {
            pos += 1
        }
    }

    /// The length of the well-formed UTF-8 sequence at `offset` (Unicode Table 3-7), which
    /// excludes overlong forms, UTF-8-encoded surrogates and scalars above U+10FFFF.
    func utf8SequenceLength(at offset: Int) throws(JSONError) -> Int {
        let lead = bytes[offset]
        let length: Int
        var low: UInt8 = 0x80  // allowed range of the second byte
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw fail(.invalidUTF8, at: offset)
        }
        guard offset + length <= bytes.count else { throw fail(.invalidUTF8, at: offset) }
        let second = bytes[offset + 1]
        guard second >= low, second <= high else { throw fail(.invalidUTF8, at: offset) }
        for i in 2..<length where bytes[offset + i] & 0xC0 != 0x80 {
            throw fail(.invalidUTF8, at: offset)
        }
        return length
    }

    /// Decodes one escape at `pos` (a backslash) into `scratch`.
    mutating func parseEscape() throws(JSONError) {
        let escapeStart = pos
        guard pos + 1 < bytes.count else { throw fail(.unexpectedEnd, at: bytes.count) }
        let letter = bytes[pos + 1]
        pos += 2
        switch letter {
        case Byte.quote: scratch.append(Byte.quote)
        case Byte.backslash: scratch.append(Byte.backslash)
        case Byte.slash: scratch.append(Byte.slash)
        case 0x62: scratch.append(0x08)  // b
        case 0x66: scratch.append(0x0C)  // f
        case 0x6E: scratch.append(0x0A)  // n
        case 0x72: scratch.append(0x0D)  // r
        case 0x74: scratch.append(0x09)  // t
        case 0x75:  // u
            let unit = try parseHex4(escapeStart: escapeStart)
            var scalar = UInt32(unit)
            switch unit {
            case 0xD800...0xDBFF:
                // A high surrogate must be followed at once by an escaped low surrogate.
                guard pos + 1 < bytes.count, bytes[pos] == Byte.backslash, bytes[pos + 1] == 0x75 else {
                    throw fail(.loneSurrogate, at: escapeStart)
                }
                let lowStart = pos
                pos += 2
                let low = try parseHex4(escapeStart: lowStart)
                guard (0xDC00...0xDFFF).contains(low) else { throw fail(.loneSurrogate, at: escapeStart) }
                scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            case 0xDC00...0xDFFF:
                throw fail(.loneSurrogate, at: escapeStart)
            default:
                break
            }
            appendUTF8(scalar)
        default:
            throw fail(.invalidEscape, at: escapeStart)
        }
    }

    /// Reads the four hex digits after `\u` (already consumed).
    mutating func parseHex4(escapeStart: Int) throws(JSONError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard pos < bytes.count else { throw fail(.unexpectedEnd, at: pos) }
            let byte = bytes[pos]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw fail(.invalidEscape, at: escapeStart)
            }
            value = value << 4 | UInt16(digit)
            pos += 1
        }
        return value
    }

    /// Appends a scalar (never a surrogate) as UTF-8.
    mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // MARK: Numbers

    /// Parses `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` into a correctly
    /// rounded double. Grammar errors (including running out of input mid-number) are
    /// `.invalidNumber` at the offending offset; overflow is `.numberOutOfRange` at the start.
    mutating func parseNumber() throws(JSONError) -> Double {
        let start = pos
        let negative = bytes[pos] == Byte.minus
        if negative { pos += 1 }

        // Integer part; `mantissa` collects up to 19 significant digits for the fast path.
        var mantissa: UInt64 = 0
        var digitCount = 0
        guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail(.invalidNumber, at: pos) }
        if bytes[pos] == Byte.zero {
            pos += 1
            if pos < bytes.count, isDigit(bytes[pos]) { throw fail(.invalidNumber, at: pos) }
        } else {
            while pos < bytes.count, isDigit(bytes[pos]) {
                if digitCount < 19 { mantissa = mantissa &* 10 &+ UInt64(bytes[pos] - Byte.zero) }
                digitCount += 1
                pos += 1
            }
        }

        // Fraction.
        var fractionDigits = 0
        if pos < bytes.count, bytes[pos] == Byte.dot {
            pos += 1
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail(.invalidNumber, at: pos) }
            while pos < bytes.count, isDigit(bytes[pos]) {
                if digitCount < 19 { mantissa = mantissa &* 10 &+ UInt64(bytes[pos] - Byte.zero) }
                digitCount += 1
                fractionDigits += 1
                pos += 1
            }
        }

        // Exponent, saturated so absurd exponents cannot overflow the counter.
        var exponent = 0
        if pos < bytes.count, bytes[pos] == Byte.lowerE || bytes[pos] == Byte.upperE {
            pos += 1
            var exponentNegative = false
            if pos < bytes.count, bytes[pos] == Byte.plus || bytes[pos] == Byte.minus {
                exponentNegative = bytes[pos] == Byte.minus
                pos += 1
            }
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail(.invalidNumber, at: pos) }
            while pos < bytes.count, isDigit(bytes[pos]) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[pos] - Byte.zero) }
                pos += 1
            }
            if exponentNegative { exponent = -exponent }
        }

        // Fast path (Clinger): an exact integer mantissa below 2^53 scaled by an exact power
        // of ten is a single correctly rounded IEEE operation.
        if digitCount <= 15 {
            let decimalExponent = exponent - fractionDigits
            var value = Double(mantissa)
            if decimalExponent == 0 || mantissa == 0 {
                // nothing to scale
            } else if decimalExponent > 0, decimalExponent <= 22 {
                value *= exactPowersOfTen[decimalExponent]
            } else if decimalExponent < 0, decimalExponent >= -22 {
                value /= exactPowersOfTen[-decimalExponent]
            } else {
                return try slowNumber(from: start)
            }
            return negative ? -value : value
        }
        return try slowNumber(from: start)
    }

    /// Converts the already-validated number text at `start..<pos` with the standard library,
    /// which rounds correctly and is locale-independent (unlike Glibc `strtod`).
    func slowNumber(from start: Int) throws(JSONError) -> Double {
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw fail(.numberOutOfRange, at: start) }
        return value
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- Byte.zero < 10 }
}

/// 10^0 ... 10^22, every one exactly representable as a double.
private let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

/// RFC 8785 key order (UTF-16 code units, unsigned), computed on UTF-8 bytes: the same
/// result as `JSONObject.compareKeys` without decoding to UTF-16.
///
/// Where two valid UTF-8 strings first differ, both are at the same position of a scalar,
/// and UTF-8 byte order is scalar order. UTF-16 order differs from scalar order in one
/// case only: a scalar in U+E000...U+FFFF (lead byte 0xEE or 0xEF) sorts *after* a
/// supplementary scalar (lead byte 0xF0...0xF4), whose high surrogate is 0xD800...0xDBFF.
enum KeyOrder {
    static func compare(_ a: String, _ b: String) -> ComparisonOrder {
        let result = a.utf8.withContiguousStorageIfAvailable { a in
            b.utf8.withContiguousStorageIfAvailable { b in compare(a, b) }
        }
        return (result ?? nil) ?? JSONObject.compareKeys(a, b)
    }

    static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> ComparisonOrder {
        let common = min(a.count, b.count)
        var i = 0
        while i < common {
            let x = a[i]
            let y = b[i]
            if x != y {
                if x >= 0xF0, y == 0xEE || y == 0xEF { return .orderedAscending }
                if y >= 0xF0, x == 0xEE || x == 0xEF { return .orderedDescending }
                return x < y ? .orderedAscending : .orderedDescending
            }
            i += 1
        }
        if a.count == b.count { return .orderedSame }
        return a.count < b.count ? .orderedAscending : .orderedDescending
    }
}
