import Testing

@testable import FlowStoreCore

private func canonical(_ text: String) throws -> String {
    String(decoding: try CanonicalJSON.canonicalize(Array(text.utf8)), as: UTF8.self)
}

private func canonical(_ value: JSONValue) throws -> String {
    String(decoding: try CanonicalJSON.encode(value), as: UTF8.self)
}

/// RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
private let appendixB: [(bits: UInt64, text: String)] = [
    (0x0000_0000_0000_0000, "0"),
    (0x8000_0000_0000_0000, "0"),
    (0x0000_0000_0000_0001, "5e-324"),
    (0x8000_0000_0000_0001, "-5e-324"),
    (0x7FEF_FFFF_FFFF_FFFF, "1.7976931348623157e+308"),
    (0xFFEF_FFFF_FFFF_FFFF, "-1.7976931348623157e+308"),
    (0x4340_0000_0000_0000, "9007199254740992"),
    (0xC340_0000_0000_0000, "-9007199254740992"),
    (0x4430_0000_0000_0000, "295147905179352830000"),
    (0x44B5_2D02_C7E1_4AF5, "9.999999999999997e+22"),
    (0x44B5_2D02_C7E1_4AF6, "1e+23"),
    (0x44B5_2D02_C7E1_4AF7, "1.0000000000000001e+23"),
    (0x444B_1AE4_D6E2_EF4E, "999999999999999700000"),
    (0x444B_1AE4_D6E2_EF4F, "999999999999999900000"),
    (0x444B_1AE4_D6E2_EF50, "1e+21"),
    (0x3EB0_C6F7_A0B5_ED8C, "9.999999999999997e-7"),
    (0x3EB0_C6F7_A0B5_ED8D, "0.000001"),
    (0x41B3_DE43_5555_5553, "333333333.3333332"),
    (0x41B3_DE43_5555_5554, "333333333.33333325"),
    (0x41B3_DE43_5555_5555, "333333333.3333333"),
    (0x41B3_DE43_5555_5556, "333333333.3333334"),
    (0x41B3_DE43_5555_5557, "333333333.33333343"),
    (0xBECB_F647_612F_3696, "-0.0000033333333333333333"),
    (0x4314_3FF3_C1CB_0959, "1424953923781206.2"),  // round to even
]

@Suite("CanonicalJSON")
struct CanonicalJSONTests {
    // MARK: Numbers

    @Test func rfc8785AppendixBNumbers() throws {
        for (bits, text) in appendixB {
            let d = Double(bitPattern: bits)
            #expect(try CanonicalJSON.formatNumber(d) == text, "0x\(String(bits, radix: 16))")
            // The text parses back to the same double (or zero for -0).
            #expect(try JSONParser.parse(text) == .number(d), "0x\(String(bits, radix: 16))")
        }
    }

    @Test("NaN and infinities cannot be encoded", arguments: [
        0x7FFF_FFFF_FFFF_FFFF, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000, 0x7FF8_0000_0000_0000,
    ] as [UInt64])
    func nonFinite(_ bits: UInt64) {
        let d = Double(bitPattern: bits)
        #expect(throws: JSONError(.notFinite, offset: nil)) { try CanonicalJSON.formatNumber(d) }
        #expect(throws: JSONError(.notFinite, offset: nil)) { try CanonicalJSON.encode(["x": [.number(d)]]) }
    }

    @Test func ecmaScriptLayout() throws {
        let cases: [(Double, String)] = [
            (1, "1"), (-1, "-1"), (10, "10"), (100, "100"), (1.5, "1.5"), (-1.5, "-1.5"), (0.1, "0.1"),
            (0.5, "0.5"), (123.456, "123.456"), (1e20, "100000000000000000000"),
            (1e21, "1e+21"), (1.5e21, "1.5e+21"), (1.2345678901234568e20, "123456789012345680000"),
            (1e-6, "0.000001"), (1.5e-6, "0.0000015"), (1e-7, "1e-7"), (1.5e-7, "1.5e-7"),
            (123e-20, "1.23e-18"), (4.5, "4.5"), (2e-3, "0.002"), (1e30, "1e+30"), (1e-27, "1e-27"),
            (0.000001234, "0.000001234"), (1.7976931348623157e308, "1.7976931348623157e+308"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"), (Double(9_007_199_254_740_993 as Int64), "9007199254740992"),
            (18014398509481984, "18014398509481984"), (1e16, "10000000000000000"),
            (12345678.9, "12345678.9"), (0.30000000000000004, "0.30000000000000004"),
            (-0.0, "0"), (Double(Int64.max), "9223372036854776000"), (4294967296.5, "4294967296.5"),
            (5e-7, "5e-7"), (0.00001, "0.00001"), (1e100, "1e+100"), (1.25e-100, "1.25e-100"),
        ]
        for (d, text) in cases {
            #expect(try CanonicalJSON.formatNumber(d) == text, "\(d)")
        }
    }

    // MARK: RFC examples

    /// RFC 8785 §3.2.2.
    @Test func rfc8785SerializationExample() throws {
        let input = #"""
            {
              "numbers": [333333333.33333329, 1E30, 4.50,
                          2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """#
        let expected = #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        #expect(try canonical(input) == expected)
    }

    /// RFC 8785 §3.2.3: keys sort by UTF-16 code units, so U+1F600 (a surrogate pair,
    /// 0xD83D...) sorts before U+FB33 although its scalar value is larger.
    @Test func rfc8785SortingExample() throws {
        let input = #"""
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """#
        let expected =
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\","
            + "\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\","
            + "\"😀\":\"Emoji: Grinning Face\",\"\u{FB33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        #expect(try canonical(input) == expected)
    }

    // MARK: Strings

    @Test func stringEscaping() throws {
        let shortForms: [UInt8: String] = [0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"]
        for byte in UInt8(0)..<0x20 {
            let expected = shortForms[byte] ?? "\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
            #expect(try canonical(.string(String(UnicodeScalar(byte)))) == "\"\(expected)\"")
        }
        #expect(try canonical(#""\"\\\/""#) == #""\"\\/""#)
        // Nothing else is escaped: DEL, U+2028/U+2029, non-ASCII, astral and noncharacters stay raw.
        let raw = "\u{7F}\u{80}\u{2028}\u{2029}é€😀\u{FFFF}\u{10FFFF}<>&'"
        #expect(try canonical(.string(raw)) == "\"\(raw)\"")
        #expect(try canonical(#""\u001F\u007f\u2028""#) == "\"\\u001f\u{7F}\u{2028}\"")
        #expect(try canonical(.string("")) == #""""#)
        #expect(try canonical(.string("\u{0}")) == #""\u0000""#)
    }

    @Test func keysAreEscapedToo() throws {
        #expect(try canonical(["a\"b\n": 1, "\u{1}": 2]) == #"{"\u0001":2,"a\"b\n":1}"#)
    }

    @Test func decomposedAndPrecomposedKeysStayDistinct() throws {
        #expect(try canonical("{\"e\u{301}\":1,\"\u{E9}\":2}") == "{\"e\u{301}\":1,\"\u{E9}\":2}")
    }

    // MARK: Structure

    @Test func whitespaceAndOrderAreRemoved() throws {
        #expect(try canonical(" { \"b\" : [ 1 , 2 ] ,\n\t\"a\" : { } , \"c\" : [ ] } ") == #"{"a":{},"b":[1,2],"c":[]}"#)
        #expect(try canonical("[{\"z\":null,\"y\":[true,false]},\"x\",-0,1.0,1e2]") == #"[{"y":[true,false],"z":null},"x",0,1,100]"#)
    }

    @Test func encodeIntoAppends() throws {
        var buffer = Array("prefix:".utf8)
        try CanonicalJSON.encode(["k": [1, "v"]], into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == #"prefix:{"k":[1,"v"]}"#)
    }

    @Test func encoderRefusesWhatTheParserWouldRefuse() throws {
        func nested(_ depth: Int) -> JSONValue {
            var value: JSONValue = .array([])
            for i in 1..<depth { value = i.isMultiple(of: 2) ? .array([value]) : ["k": value] }
            return value
        }
        let atLimit = try CanonicalJSON.encode(nested(512))
        #expect(try JSONParser.parse(atLimit) == nested(512))
        #expect(throws: JSONError(.tooDeep(limit: 512), offset: nil)) { try CanonicalJSON.encode(nested(513)) }
    }

    // MARK: Pretty printing

    @Test func prettyPrinting() throws {
        let value = try JSONParser.parse(#"{"b":[1,-0,1e21,{"x":"\u0001é"}],"a":{},"c":[],"d":null}"#)
        let expected = """
            {
              "a": {},
              "b": [
                1,
                0,
                1e+21,
                {
                  "x": "\\u0001é"
                }
              ],
              "c": [],
              "d": null
            }
            """
        #expect(value.prettyPrinted() == expected)
        #expect(try JSONParser.parse(value.prettyPrinted(indent: 4)) == value)
        #expect(try CanonicalJSON.canonicalize(Array(value.prettyPrinted().utf8)) == CanonicalJSON.encode(value))
        #expect(JSONValue.string("s").prettyPrinted() == #""s""#)
        #expect(JSONValue.array([1, 2]).prettyPrinted(indent: 0) == "[\n1,\n2\n]")
        #expect(JSONValue.array([.number(.nan), .number(-.infinity)]).prettyPrinted() == "[\n  NaN,\n  -Infinity\n]")
    }

    @Test func canonicalString() throws {
        let value: JSONValue = ["b": "€", "a": [1.5, true]]
        #expect(try value.canonicalString == #"{"a":[1.5,true],"b":"€"}"#)
        #expect(throws: JSONError(.notFinite, offset: nil)) { try JSONValue.number(.infinity).canonicalString }
    }

    // MARK: Property tests

    /// Random values survive encode → parse exactly, and a messy (reordered, re-spaced,
    /// over-escaped, differently written) rendering canonicalises to the same bytes.
    @Test func seededRoundTrips() throws {
        var random = JCSTestRandom(seed: 0x8785_2020)
        for _ in 0..<3000 {
            let value = random.jsonValue(depth: 4)
            let bytes = try CanonicalJSON.encode(value)
            let parsed = try JSONParser.parse(bytes)
            #expect(parsed == value)
            #expect(try CanonicalJSON.encode(parsed) == bytes)
            #expect(try CanonicalJSON.canonicalize(bytes) == bytes)

            let messy = random.messyText(value)
            let fromMessy = try CanonicalJSON.canonicalize(Array(messy.utf8))
            #expect(fromMessy == bytes, "\(messy)")
            #expect(try CanonicalJSON.canonicalize(fromMessy) == fromMessy)
            #expect(try JSONParser.parse(value.prettyPrinted()) == value)
        }
    }

    /// Shortest round-trip: every random finite double formats to text that parses back to
    /// the same bits, and no shorter digit string would.
    @Test func numbersRoundTripBitExactly() throws {
        var random = JCSTestRandom(seed: 7)
        for _ in 0..<20_000 {
            let d = random.finiteDouble()
            let text = try CanonicalJSON.formatNumber(d)
            let back = try #require(try JSONParser.parse(text).doubleValue)
            #expect(back.bitPattern == d.bitPattern || (d == 0 && back == 0), "\(text)")
            #expect(text == (d == 0 ? "0" : referenceFormat(d)), "\(d)")
        }
    }
}

/// An independent, slow ECMAScript layout from Swift's `description`, used to cross-check
/// the production layout code on random doubles.
private func referenceFormat(_ d: Double) -> String {
    let sign = d < 0 ? "-" : ""
    let text = d.magnitude.description
    var mantissa = text
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        mantissa = String(text[..<e])
        exponent = Int(text[text.index(after: e)...].replacing("+", with: "")) ?? 0
    }
    let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
    let whole = String(parts[0])
    let fraction = parts.count > 1 ? String(parts[1]) : ""
    var digits = whole + fraction
    var n = whole.count + exponent
    while digits.first == "0" {
        digits.removeFirst()
        n -= 1
    }
    while digits.last == "0" { digits.removeLast() }
    let k = digits.count
    if k <= n && n <= 21 { return sign + digits + String(repeating: "0", count: n - k) }
    if 0 < n && n <= 21 { return sign + digits.prefix(n) + "." + digits.dropFirst(n) }
    if -6 < n && n <= 0 { return sign + "0." + String(repeating: "0", count: -n) + digits }
    let e = n - 1
    let head = k == 1 ? digits : digits.prefix(1) + "." + digits.dropFirst()
    return sign + head + "e" + (e < 0 ? "-" : "+") + String(e.magnitude)
}

// MARK: - Deterministic random JSON

/// SplitMix64: tiny, seedable, and the same on every platform, so property tests are
/// reproducible.
struct JCSTestRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    mutating func bool() -> Bool { next() & 1 == 1 }

    mutating func pick<T>(_ items: [T]) -> T { items[int(in: 0...items.count - 1)] }

    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, int(in: 0...i)) }
    }

    mutating func finiteDouble() -> Double {
        switch int(in: 0...5) {
        case 0: return Double(int(in: -1_000_000...1_000_000))
        case 1: return Double(int(in: -100_000...100_000)) / Double(pick([10, 100, 1000, 1e6, 3, 7]))
        case 2: return pick([0.0, -0.0, 1e21, 1e-7, 1e-6, 9.999999999999999e20, .leastNonzeroMagnitude, 2.2250738585072014e-308,
                             .greatestFiniteMagnitude, -9_007_199_254_740_992, Double(9_007_199_254_740_993 as Int64), 0.1, 1e300])
        case 3: return Double(sign: bool() ? .minus : .plus, exponent: int(in: -1074...1023), significand: 1)
        default:
            while true {
                let d = Double(bitPattern: next())
                if d.isFinite { return d }
            }
        }
    }

    private static let scalarPool: [Unicode.Scalar] = [
        "a", "b", "Z", "0", " ", "\"", "\\", "/", "\u{0}", "\u{1}", "\u{8}", "\t", "\n", "\u{C}", "\r", "\u{1F}",
        "\u{7F}", "\u{80}", "é", "e", "\u{301}", "ö", "\u{2028}", "\u{2029}", "€", "\u{D7FF}", "\u{E000}", "\u{FB33}",
        "\u{FEFF}", "\u{FFFD}", "\u{FFFF}", "😀", "\u{10000}", "\u{10FFFF}", "中",
    ]

    mutating func string() -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<int(in: 0...8) { scalars.append(pick(Self.scalarPool)) }
        return String(scalars)
    }

    mutating func jsonValue(depth: Int) -> JSONValue {
        switch int(in: 0...(depth > 0 ? 7 : 4)) {
        case 0: return .null
        case 1: return .bool(bool())
        case 2, 3: return .number(finiteDouble())
        case 4: return .string(string())
        case 5: return .array((0..<int(in: 0...4)).map { _ in jsonValue(depth: depth - 1) })
        default:
            var object = JSONObject()
            for _ in 0..<int(in: 0...5) { object[string()] = jsonValue(depth: depth - 1) }
            return .object(object)
        }
    }

    /// A valid but non-canonical JSON text for `value`.
    mutating func messyText(_ value: JSONValue) -> String {
        var out = ""
        writeMessy(value, into: &out)
        return space() + out + space()
    }

    private mutating func space() -> String {
        (0..<int(in: 0...2)).map { _ in pick([" ", "\t", "\n", "\r"]) }.joined()
    }

    private mutating func writeMessy(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let d): out += messyNumber(d)
        case .string(let s): writeMessyString(s, into: &out)
        case .array(let elements):
            out += "[" + space()
            for (i, element) in elements.enumerated() {
                if i > 0 { out += space() + "," + space() }
                writeMessy(element, into: &out)
            }
            out += space() + "]"
        case .object(let object):
            var members = object.members
            shuffle(&members)
            out += "{" + space()
            for (i, member) in members.enumerated() {
                if i > 0 { out += space() + "," + space() }
                writeMessyString(member.key, into: &out)
                out += space() + ":" + space()
                writeMessy(member.value, into: &out)
            }
            out += space() + "}"
        }
    }

    private mutating func messyNumber(_ d: Double) -> String {
        var text = d.description  // shortest digits, Swift's layout: "1e-07", "100.0", "-0.0"
        if bool() { text = text.replacing("e", with: "E") }
        if !text.contains("e"), !text.contains("E"), bool() { text += pick(["e0", "E+00", "e-0"]) }
        return text
    }

    private mutating func writeMessyString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            let mustEscape = scalar.value < 0x20 || scalar == "\"" || scalar == "\\"
            if mustEscape || int(in: 0...3) == 0 {
                out += escaped(scalar)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    private mutating func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\"" where bool(): return "\\\""
        case "\\" where bool(): return "\\\\"
        case "/" where bool(): return "\\/"
        case "\n" where bool(): return "\\n"
        case "\t" where bool(): return "\\t"
        default:
            func hex(_ unit: UInt16, upper: Bool) -> String {
                let digits = String(unit, radix: 16, uppercase: upper)
                return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
            }
            let upper = bool()
            return String(scalar).utf16.map { hex($0, upper: upper) }.joined()
        }
    }
}
