import Testing

@testable import FlowStoreCore

/// The error `JSONParser.parse(bytes)` throws, or `nil` if it parses.
private func parseError(_ bytes: [UInt8], maxDepth: Int = JSONParser.defaultMaxDepth) -> JSONError? {
    do {
        _ = try JSONParser.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

private func parseError(_ text: String) -> JSONError? {
    parseError(Array(text.utf8))
}

/// One rejected input with the error kind and byte offset it must produce.
struct ParserErrorCase: Sendable, CustomTestStringConvertible {
    var input: [UInt8]
    var kind: JSONError.Kind
    var offset: Int

    init(_ text: String, _ kind: JSONError.Kind, at offset: Int) {
        self.input = Array(text.utf8)
        self.kind = kind
        self.offset = offset
    }

    init(bytes: [UInt8], _ kind: JSONError.Kind, at offset: Int) {
        self.input = bytes
        self.kind = kind
        self.offset = offset
    }

    var testDescription: String {
        input.map { (0x20..<0x7f).contains($0) ? String(UnicodeScalar($0)) : "<\(String($0, radix: 16))>" }.joined()
    }
}

private let errorCases: [ParserErrorCase] = [
    // Structure and end of input.
    ParserErrorCase("", .unexpectedEnd, at: 0),
    ParserErrorCase("   ", .unexpectedEnd, at: 3),
    ParserErrorCase("[", .unexpectedEnd, at: 1),
    ParserErrorCase("[1", .unexpectedEnd, at: 2),
    ParserErrorCase("[1,", .unexpectedEnd, at: 3),
    ParserErrorCase("{", .unexpectedEnd, at: 1),
    ParserErrorCase("{\"a\"", .unexpectedEnd, at: 4),
    ParserErrorCase("{\"a\":", .unexpectedEnd, at: 5),
    ParserErrorCase("{\"a\":1", .unexpectedEnd, at: 6),
    ParserErrorCase("[1,]", .unexpectedByte(UInt8(ascii: "]")), at: 3),
    ParserErrorCase("[,1]", .unexpectedByte(UInt8(ascii: ",")), at: 1),
    ParserErrorCase("[1 2]", .unexpectedByte(UInt8(ascii: "2")), at: 3),
    ParserErrorCase("{\"a\"}", .unexpectedByte(UInt8(ascii: "}")), at: 4),
    ParserErrorCase("{\"a\":}", .unexpectedByte(UInt8(ascii: "}")), at: 5),
    ParserErrorCase("{,}", .unexpectedByte(UInt8(ascii: ",")), at: 1),
    ParserErrorCase("{\"a\":1,}", .unexpectedByte(UInt8(ascii: "}")), at: 7),
    ParserErrorCase("{1:2}", .unexpectedByte(UInt8(ascii: "1")), at: 1),
    ParserErrorCase("{'a':2}", .unexpectedByte(UInt8(ascii: "'")), at: 1),
    ParserErrorCase("{\"a\" 1}", .unexpectedByte(UInt8(ascii: "1")), at: 5),
    ParserErrorCase("]", .unexpectedByte(UInt8(ascii: "]")), at: 0),
    // Literals.
    ParserErrorCase("tru", .unexpectedEnd, at: 3),
    ParserErrorCase("trux", .unexpectedByte(UInt8(ascii: "x")), at: 3),
    ParserErrorCase("True", .unexpectedByte(UInt8(ascii: "T")), at: 0),
    ParserErrorCase("nul", .unexpectedEnd, at: 3),
    ParserErrorCase("fals e", .unexpectedByte(UInt8(ascii: " ")), at: 4),
    ParserErrorCase("NaN", .unexpectedByte(UInt8(ascii: "N")), at: 0),
    ParserErrorCase("Infinity", .unexpectedByte(UInt8(ascii: "I")), at: 0),
    ParserErrorCase("[-Infinity]", .invalidNumber, at: 2),
    // Whitespace is only space, tab, LF and CR; a BOM is not skipped.
    ParserErrorCase("\u{0C}{}", .unexpectedByte(0x0C), at: 0),
    ParserErrorCase("\u{A0}1", .unexpectedByte(0xC2), at: 0),
    ParserErrorCase("\u{FEFF}{}", .unexpectedByte(0xEF), at: 0),
    ParserErrorCase(bytes: [0], .unexpectedByte(0), at: 0),
    // Trailing data.
    ParserErrorCase("{} x", .trailingData, at: 3),
    ParserErrorCase("1 2", .trailingData, at: 2),
    ParserErrorCase("[1]]", .trailingData, at: 3),
    ParserErrorCase("\"a\"\"b\"", .trailingData, at: 3),
    ParserErrorCase("nulll", .trailingData, at: 4),
    ParserErrorCase("1x", .trailingData, at: 1),
    ParserErrorCase("{}\u{0}", .trailingData, at: 2),
    // Numbers.
    ParserErrorCase("01", .invalidNumber, at: 1),
    ParserErrorCase("-01", .invalidNumber, at: 2),
    ParserErrorCase("-", .invalidNumber, at: 1),
    ParserErrorCase("-a", .invalidNumber, at: 1),
    ParserErrorCase("1.", .invalidNumber, at: 2),
    ParserErrorCase("1.e5", .invalidNumber, at: 2),
    ParserErrorCase("1e", .invalidNumber, at: 2),
    ParserErrorCase("1e+", .invalidNumber, at: 3),
    ParserErrorCase("1E-x", .invalidNumber, at: 3),
    ParserErrorCase("[1.]", .invalidNumber, at: 3),
    ParserErrorCase(".5", .unexpectedByte(UInt8(ascii: ".")), at: 0),
    ParserErrorCase("+1", .unexpectedByte(UInt8(ascii: "+")), at: 0),
    ParserErrorCase("0x10", .trailingData, at: 1),
    ParserErrorCase("1e400", .numberOutOfRange, at: 0),
    ParserErrorCase("[-1e400]", .numberOutOfRange, at: 1),
    ParserErrorCase("1.8e308", .numberOutOfRange, at: 0),
    ParserErrorCase("{\"n\": 17976931348623159e292}", .numberOutOfRange, at: 6),
    // Strings.
    ParserErrorCase("\"abc", .unexpectedEnd, at: 4),
    ParserErrorCase("\"ab\\\"", .unexpectedEnd, at: 5),
    ParserErrorCase("\"\\", .unexpectedEnd, at: 2),
    ParserErrorCase("\"\\u12", .unexpectedEnd, at: 5),
    ParserErrorCase("\"\\u12\"", .invalidEscape, at: 1),
    ParserErrorCase("\"a\u{1}b\"", .controlCharacterInString, at: 2),
    ParserErrorCase("\"\t\"", .controlCharacterInString, at: 1),
    ParserErrorCase("\"\n\"", .controlCharacterInString, at: 1),
    ParserErrorCase("\"x\\n\u{1F}\"", .controlCharacterInString, at: 4),
    ParserErrorCase("\"\\x\"", .invalidEscape, at: 1),
    ParserErrorCase("\"ab\\'\"", .invalidEscape, at: 3),
    ParserErrorCase("\"\\U0041\"", .invalidEscape, at: 1),
    ParserErrorCase("\"\\u12G4\"", .invalidEscape, at: 1),
    ParserErrorCase("\"\\u+123\"", .invalidEscape, at: 1),
    ParserErrorCase("\"\\ud800\"", .loneSurrogate, at: 1),
    ParserErrorCase("\"\\uDBFF\"", .loneSurrogate, at: 1),
    ParserErrorCase("\"\\udc00\"", .loneSurrogate, at: 1),
    ParserErrorCase("\"\\uDFFF\\uD800\"", .loneSurrogate, at: 1),
    ParserErrorCase("\"a\\ud83dx\"", .loneSurrogate, at: 2),
    ParserErrorCase("\"\\ud83d\\u0041\"", .loneSurrogate, at: 1),
    ParserErrorCase("\"\\ud83d\\ud83d\"", .loneSurrogate, at: 1),
    ParserErrorCase("\"\\ud83d\\n\"", .loneSurrogate, at: 1),
    ParserErrorCase("\"\\ud83d\\uZZZZ\"", .invalidEscape, at: 7),
    // Duplicate keys: the offset is the second occurrence's opening quote.
    ParserErrorCase("{\"a\":1,\"a\":2}", .duplicateKey("a"), at: 7),
    ParserErrorCase("{\"b\":1,\"a\":2,\"b\":3}", .duplicateKey("b"), at: 13),
    ParserErrorCase("{\"x\":{\"a\":1,\"a\":1}}", .duplicateKey("a"), at: 12),
    ParserErrorCase("{\"\\u00e9\":1,\"é\":2}", .duplicateKey("é"), at: 12),
    ParserErrorCase("{\"\":1,\"\":2}", .duplicateKey(""), at: 6),
    // Depth.
    ParserErrorCase(String(repeating: "[", count: 513), .tooDeep(limit: 512), at: 512),
    ParserErrorCase(String(repeating: "{\"a\":", count: 513), .tooDeep(limit: 512), at: 512 * 5),
]

@Suite("JSONParser")
struct JSONParserTests {
    @Test("every error kind with its byte offset", arguments: errorCases)
    func errorKindsAndOffsets(_ c: ParserErrorCase) {
        #expect(parseError(c.input) == JSONError(c.kind, offset: c.offset))
    }

    @Test func literalsAndContainers() throws {
        #expect(try JSONParser.parse("null") == .null)
        #expect(try JSONParser.parse("true") == .bool(true))
        #expect(try JSONParser.parse(" \t\r\nfalse \n") == .bool(false))
        #expect(try JSONParser.parse("[]") == .array([]))
        #expect(try JSONParser.parse("{}") == .object(JSONObject()))
        #expect(try JSONParser.parse("[ 1 , [ ] , { } , \"x\" ]") == [1, [], .object(JSONObject()), "x"])
        let object = try JSONParser.parse("{\"b\": [true, null], \"a\": {\"c\": \"d\"}}")
        #expect(object == ["a": ["c": "d"], "b": [true, .null]])
        #expect(object.objectValue?.keys == ["a", "b"])
    }

    @Test func numbers() throws {
        let cases: [(String, Double)] = [
            ("0", 0), ("1", 1), ("-1", -1), ("123456789", 123_456_789), ("1.5", 1.5), ("-0.25", -0.25),
            ("1e3", 1000), ("1E3", 1000), ("1e+3", 1000), ("1e-3", 0.001), ("2.5E-3", 0.0025),
            ("0.1", 0.1), ("0.3", 0.3), ("1e22", 1e22), ("1e23", 1e23), ("123e-20", 123e-20),
            ("9007199254740993", 9_007_199_254_740_992), ("1.7976931348623157e308", .greatestFiniteMagnitude),
            ("5e-324", .leastNonzeroMagnitude), ("4.9406564584124654e-324", .leastNonzeroMagnitude),
            ("2.2250738585072014e-308", .leastNormalMagnitude), ("1e-400", 0), ("-1e-400", -0.0),
            ("0.000000000000000000000000000001", 1e-30), ("100000000000000000000000000000", 1e29),
            ("1e0000000000000000000000001", 10), ("1e-0000000000000000000000001", 0.1),
            ("0e99999999999999999999", 0), ("17976931348623158e292", .greatestFiniteMagnitude),
            ("333333333.33333329", 333_333_333.33333329), ("1424953923781206.25", 1_424_953_923_781_206.2),
        ]
        for (text, expected) in cases {
            #expect(try JSONParser.parse(text) == .number(expected), "\(text)")
        }
    }

    @Test func negativeZeroKeepsItsSign() throws {
        for text in ["-0", "-0.0", "-0e5", "-0.000E-3"] {
            let d = try #require(try JSONParser.parse(text).doubleValue)
            #expect(d == 0 && d.sign == .minus, "\(text)")
        }
        #expect(try CanonicalJSON.canonicalize(Array("-0".utf8)) == Array("0".utf8))
    }

    /// The Clinger fast path and the standard-library slow path must agree with a correctly
    /// rounded conversion for every shape of decimal.
    @Test func numberConversionMatchesStandardLibrary() throws {
        var random = JCSTestRandom(seed: 0x5EED_0001)
        for _ in 0..<20_000 {
            let digitCount = random.int(in: 1...25)
            var digits = String(random.int(in: 1...9))
            for _ in 1..<digitCount { digits += String(random.int(in: 0...9)) }
            let point = random.int(in: 0...digitCount)
            var text = random.bool() ? "-" : ""
            if point == 0 {
                text += "0." + digits
            } else if point == digitCount {
                text += digits
            } else {
                text += digits.prefix(point) + "." + digits.dropFirst(point)
            }
            if random.bool() { text += "e" + String(random.int(in: -330...300)) }
            let expected = try #require(Double(text))
            guard expected.isFinite else {
                #expect(parseError(text)?.kind == .numberOutOfRange, "\(text)")
                continue
            }
            #expect(try JSONParser.parse(text) == .number(expected), "\(text)")
        }
    }

    @Test func escapes() throws {
        #expect(try JSONParser.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(try JSONParser.parse(#""\u0000\u001f\u0041\u00e9\u00E9\u20AC\uffff""#)
            == .string("\u{0}\u{1F}Aéé€\u{FFFF}"))
        #expect(try JSONParser.parse(#""\ud83d\ude00\uD83D\uDE00""#) == .string("😀😀"))
        #expect(try JSONParser.parse(#""\udbff\udfff""#) == .string("\u{10FFFF}"))
        #expect(try JSONParser.parse(#""\ud800\udc00""#) == .string("\u{10000}"))
        #expect(try JSONParser.parse(#""a\nb€c\u0041d😀""#) == .string("a\nb€cAd😀"))
        #expect(try JSONParser.parse("\"\u{7F}\u{2028}\u{2029}\"") == .string("\u{7F}\u{2028}\u{2029}"))
        // Escapes within a long string exercise the slow path's run copying.
        let long = String(repeating: "abcé😀", count: 100)
        #expect(try JSONParser.parse("\"\(long)\\t\(long)\"") == .string(long + "\t" + long))
    }

    @Test func keysCompareByExactScalars() throws {
        // "é" precomposed and decomposed are canonically equivalent but different JSON keys.
        let value = try JSONParser.parse("{\"\u{E9}\":1,\"e\u{301}\":2}")
        let object = try #require(value.objectValue)
        #expect(object.count == 2)
        #expect(object.keys.map { Array($0.unicodeScalars) } == [["e", "\u{301}"], ["\u{E9}"]])
    }

    @Test func largeObjectInAnyOrder() throws {
        let count = 5000
        var random = JCSTestRandom(seed: 42)
        var indices = Array(0..<count)
        random.shuffle(&indices)
        let text = "{" + indices.map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}"
        let object = try #require(try JSONParser.parse(text).objectValue)
        #expect(object.count == count)
        #expect(object.keys == (0..<count).map { "k\($0)" }.sorted { JSONObject.compareKeys($0, $1) == .orderedAscending })
        #expect(object["k1234"] == 1234)
        let duplicate = "{" + indices.map { "\"k\($0)\":0" }.joined(separator: ",") + ",\"k77\":1}"
        #expect(parseError(duplicate) == JSONError(.duplicateKey("k77"), offset: duplicate.utf8.count - 8))
    }

    @Test func firstRepeatInTheDocumentIsReported() {
        // "b" repeats at offset 19, "a" only later at 31, although "a" sorts first.
        let text = #"{"b":1,"a":2,"c":3,"b":4,"x":5,"a":6,"b":7}"#
        #expect(parseError(text) == JSONError(.duplicateKey("b"), offset: 19))
        #expect(parseError(#"{"z":0,"a":1,"a":2,"a":3}"#) == JSONError(.duplicateKey("a"), offset: 13))
    }

    /// The parser sorts keys on UTF-8 bytes; that must agree exactly with the UTF-16 order
    /// `JSONObject.compareKeys` defines, including the surrogate/private-use inversion.
    @Test func utf8KeyOrderMatchesUTF16Order() {
        let pool: [Unicode.Scalar] = [
            "a", "b", "\u{0}", "\u{7F}", "\u{80}", "\u{7FF}", "\u{800}", "\u{D7FF}", "\u{E000}", "\u{EFFF}",
            "\u{F000}", "\u{FB33}", "\u{FFFF}", "\u{10000}", "\u{1F600}", "\u{10FFFF}", "é", "\u{301}",
        ]
        var random = JCSTestRandom(seed: 99)
        for _ in 0..<20_000 {
            var a = String.UnicodeScalarView()
            var b = String.UnicodeScalarView()
            for _ in 0..<random.int(in: 0...3) { a.append(random.pick(pool)) }
            b = random.bool() ? a : String.UnicodeScalarView()
            for _ in 0..<random.int(in: 0...3) { b.append(random.pick(pool)) }
            let (x, y) = (String(a), String(b))
            #expect(KeyOrder.compare(x, y) == JSONObject.compareKeys(x, y), "\(Array(a)) \(Array(b))")
        }
    }

    @Test func validUTF8IsAccepted() throws {
        let samples: [[UInt8]] = [
            [0xC2, 0x80], [0xDF, 0xBF],  // U+0080, U+07FF
            [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],  // U+0800, U+D7FF, U+E000, U+FFFF
            [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],  // U+10000, U+10FFFF
        ]
        for sample in samples {
            let value = try JSONParser.parse([0x22] + sample + [0x22])
            #expect(value.stringValue.map { Array($0.utf8) } == sample)
        }
    }

    @Test("invalid UTF-8 is rejected at the lead byte", arguments: [
        [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC2], [0xC2, 0x41], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],
        [0xE2, 0x82], [0xE2, 0x82, 0x41], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF0, 0x80, 0x80, 0x80],
        [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xF0, 0x9F, 0x98],
        [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFE], [0xFF],
    ] as [[UInt8]])
    func invalidUTF8(_ sequence: [UInt8]) {
        // Inside a string after two good characters, and followed by a closing quote.
        #expect(parseError(Array("[\"aé".utf8) + sequence + [0x22, 0x5D]) == JSONError(.invalidUTF8, offset: 5))
        // Truncated at the end of the input.
        #expect(parseError([0x22] + sequence) == JSONError(.invalidUTF8, offset: 1))
    }

    @Test func invalidUTF8InKeyAndOutsideStrings() {
        #expect(parseError([0x7B, 0x22, 0xC0, 0xAF, 0x22, 0x3A, 0x31, 0x7D]) == JSONError(.invalidUTF8, offset: 2))
        #expect(parseError([0x5B, 0xC3, 0xA9, 0x5D]) == JSONError(.unexpectedByte(0xC3), offset: 1))
    }

    @Test func deepNesting() throws {
        // 100,000 open brackets are refused at the limit, without exhausting the stack.
        let hostile = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        #expect(parseError(hostile) == JSONError(.tooDeep(limit: 512), offset: 512))
        let hostileObjects = Array(String(repeating: "{\"a\":[", count: 50_000).utf8)
        #expect(parseError(hostileObjects)?.kind == .tooDeep(limit: 512))

        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(try CanonicalJSON.canonicalize(Array(ok.utf8)) == Array(ok.utf8))
        let limit = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(parseError(limit) == nil)

        #expect(parseError(Array("[[[]]]".utf8), maxDepth: 3) == nil)
        #expect(parseError(Array("[[[]]]".utf8), maxDepth: 2) == JSONError(.tooDeep(limit: 2), offset: 2))
        #expect(parseError(Array("1".utf8), maxDepth: 0) == nil)
        #expect(parseError(Array("[]".utf8), maxDepth: 0) == JSONError(.tooDeep(limit: 0), offset: 0))
    }

    @Test func overloadsAgree() throws {
        let text = "{\"a\":[1,2.5,\"€\\n\"],\"b\":null}"
        let fromString = try JSONParser.parse(text)
        let fromBytes = try JSONParser.parse(Array(text.utf8))
        let fromRaw = try Array(text.utf8).withUnsafeBytes { (raw) throws(JSONError) in try JSONParser.parse(raw) }
        #expect(fromString == fromBytes)
        #expect(fromRaw == fromBytes)
        #expect(throws: JSONError(.trailingData, offset: 2)) { try JSONParser.parse("[]]") }
    }

    @Test func errorDescriptionsMentionTheOffset() {
        #expect(parseError("[1,]")?.description == "invalid JSON at byte 3: unexpected character ']'")
        #expect(parseError("{\"a\":1,\"a\":2}")?.description == "invalid JSON at byte 7: duplicate object key \"a\"")
    }
}
