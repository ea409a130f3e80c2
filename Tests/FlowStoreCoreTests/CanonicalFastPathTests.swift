import Foundation
import Testing

@testable import FlowStoreCore

/// The single-pass canonicaliser (`FastCanonicalizer`, behind `CanonicalJSON.canonicalize`)
/// must give exactly the tree path's bytes (`JSONParser` + `CanonicalJSON.encode`) for every
/// valid input, and decline every invalid one so the tree path reports the error.
@Suite("CanonicalFastPath")
struct CanonicalFastPathTests {
    /// The fast path alone: nil when it declines.
    static func fast(_ bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBufferPointer { FastCanonicalizer.canonicalize($0, maxDepth: JSONParser.defaultMaxDepth) }
    }

    /// The fast path with every reorder done by permuting segments (none by moving bytes).
    static func fastBySegments(_ bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBufferPointer { FastCanonicalizer.canonicalize($0, maxDepth: JSONParser.defaultMaxDepth, inPlaceLimit: 0) }
    }

    static func tree(_ bytes: [UInt8]) -> [UInt8]? {
        try? CanonicalJSON.canonicalizeViaTree(bytes)
    }

    /// Both paths agree: same bytes, or both refuse.
    static func expectSame(_ bytes: [UInt8], _ comment: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        let f = fast(bytes)
        let t = tree(bytes)
        #expect(f == t, "\(comment()) input: \(String(decoding: bytes.prefix(300), as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(fastBySegments(bytes) == f, "\(comment())", sourceLocation: sourceLocation)
    }

    @Test func everyVector() throws {
        let vectors = try CanonicalVectorTests.loadVectors()
        let valid = try #require(vectors["valid"]?.arrayValue)
        for vector in valid {
            let name = try #require(vector["name"]?.stringValue)
            let input = Array(try #require(vector["input"]?.stringValue).utf8)
            let canonical = Array(try #require(vector["canonical"]?.stringValue).utf8)
            // The fast path must accept every valid vector itself, not lean on the fallback.
            #expect(Self.fast(input) == canonical, "\(name)")
            #expect(Self.fast(canonical) == canonical, "\(name)")
            #expect(Self.tree(input) == canonical, "\(name)")
        }
        let invalid = try #require(vectors["invalid"]?.arrayValue)
        for vector in invalid {
            let name = try #require(vector["name"]?.stringValue)
            let input: [UInt8] =
                if let hex = vector["input_hex"]?.stringValue { try #require(Hex.decode(hex)) } else {
                    Array(try #require(vector["input"]?.stringValue).utf8)
                }
            #expect(Self.fast(input) == nil, "\(name) must be left to the tree path")
        }
    }

    /// Seeded random documents, written canonically, messily (shuffled keys, odd spacing,
    /// needless escapes, other number spellings) and pretty-printed.
    @Test func seededRandomDocuments() throws {
        var random = JCSTestRandom(seed: 0xFA57_0001)
        for _ in 0..<4000 {
            let value = random.jsonValue(depth: 5)
            let canonical = try CanonicalJSON.encode(value)
            #expect(Self.fast(canonical) == canonical)
            let messy = Array(random.messyText(value).utf8)
            #expect(Self.fast(messy) == canonical, "\(String(decoding: messy, as: UTF8.self))")
            #expect(Self.fastBySegments(messy) == canonical, "\(String(decoding: messy, as: UTF8.self))")
            #expect(Self.fast(Array(value.prettyPrinted().utf8)) == canonical)
        }
    }

    /// Number spellings around every boundary of the copy-as-is rules (15 digits, trailing
    /// zeros, five leading zeros, exponents), against the tree path.
    @Test func numberSpellings() {
        var random = JCSTestRandom(seed: 0x5EED_0002)
        let fixed = [
            "0", "-0", "0.0", "-0.0", "1", "-1", "10", "100.0", "0.5", "-0.5", "0.10", "1.5e0", "123456789012345",
            "1234567890123456", "-123456789012345", "9007199254740993", "123456789012345.5", "12345678901234.5",
            "0.000001", "0.0000001", "0.0000012345", "0.00001234567890123", "0.123456789012345",
            "0.1234567890123456", "1e21", "1E20", "1e-7", "2e-3", "4.50", "333333333.33333329", "1e400", "-1e-400",
            "0.30000000000000004", "9.999999999999999e20", "5e-324", "1.7976931348623157e308", "100000000000000000000",
            "1000000000000000000000", "0.1e1", "10e-1",
        ]
        for text in fixed { Self.expectSame(Array(text.utf8), text) }
        for _ in 0..<20_000 {
            let intDigits = random.int(in: 0...18)
            let fracDigits = random.int(in: 0...18)
            var text = random.bool() ? "-" : ""
            if intDigits == 0 {
                text += "0"
            } else {
                text += String(random.int(in: 1...9))
                for _ in 1..<intDigits { text += String(random.int(in: 0...9)) }
            }
            if fracDigits > 0 || intDigits == 0 && random.bool() {
                text += "."
                let zeros = random.int(in: 0...8)
                text += String(repeating: "0", count: min(zeros, max(fracDigits, 1)))
                for _ in 0..<max(1, fracDigits - zeros) { text += String(random.int(in: 0...9)) }
            }
            if random.int(in: 0...4) == 0 { text += random.pick(["e", "E"]) + random.pick(["", "+", "-"]) + String(random.int(in: 0...30)) }
            Self.expectSame(Array(text.utf8), text)
            Self.expectSame(Array("[\(text),{\"n\":\(text)}]".utf8), text)
        }
    }

    /// Keys that need escapes, sort differently in UTF-16 than in scalar order, or repeat
    /// after unescaping; nested unsorted objects; strings of every length around the
    /// eight-byte steps.
    @Test func keysStringsAndStructure() {
        let cases = [
            #"{"b":1,"a":2}"#, #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"\n":1,"\u000a":2}"#,
            #"{"\ud83d\ude00":1,"\ufb33":2,"\u20ac":3,"\r":4,"1":5,"\u0080":6,"\u00f6":7}"#,
            #"{"😀":1,"דּ":2,"€":3}"#, #"{"z":{"y":{"x":[{"b":1,"a":[{"d":4,"c":3}]}]}},"a":"\"q\""}"#,
            #"{"\"":1,"\\":2,"\/":3,"/":4}"#, #"{"k\u0000":1,"k":2,"k\u001f":3}"#, #"{"é":1,"e\u0301":2,"e":3}"#,
            #"["\u2028\u2029\u007f\ufeff", "\uD834\uDD1E", "\uDD1E", "\uD834x"]"#, " [ ] ", "{ }", "\u{FEFF}{}",
            #"{"a":1,}"#, #"[1,]"#, #"{"a" 1}"#, "[truex]", "[nul]", "[fals]", "[false]", "\"\u{7F}\"",
            "\"tab\there\"", "[1 2]", "{\"a\":1}}", "01", "-", "1.", "1e", "1e+", ".5", "+1", "[\"\\x\"]", "\"\\u12g4\"",
        ]
        for text in cases { Self.expectSame(Array(text.utf8), text) }
        for length in 0..<40 {
            for filler in ["a", "é", "中", "😀", "\\n", "\\u00e9", "\\\"", "\u{7F}"] {
                let body = String(repeating: filler, count: length)
                Self.expectSame(Array("{\"\(body)\":\"\(body)\",\"k\":\"\(body)x\"}".utf8), body)
            }
        }
        // Invalid UTF-8 at every position of a long ASCII run.
        for position in 0..<20 {
            var bytes = Array("\"abcdefghijklmnopqrstuvwxyz\"".utf8)
            bytes[1 + position] = 0xFF
            #expect(Self.fast(bytes) == nil)
            bytes[1 + position] = 0x01
            #expect(Self.fast(bytes) == nil)
        }
    }

    /// Numbers whose canonical form is longer than their text make the output outgrow its
    /// first buffer.
    @Test func outputLongerThanInput() throws {
        let text = "[" + Array(repeating: "1e20", count: 5000).joined(separator: ",") + "]"
        let expected = "[" + Array(repeating: "100000000000000000000", count: 5000).joined(separator: ",") + "]"
        #expect(Self.fast(Array(text.utf8)) == Array(expected.utf8))
        #expect(try CanonicalJSON.canonicalize(Array("1E5".utf8)) == Array("100000".utf8))
    }

    /// Reordering permutes runs of the output: objects unsorted at several levels at once, with
    /// long values and escaped keys, objects past the insertion-sort size, and repeated keys
    /// found only after sorting.
    @Test func nestedReorders() {
        var random = JCSTestRandom(seed: 0x5E6_0003)
        func object(_ depth: Int, members: Int) -> String {
            var keys = (0..<members).map { "k\($0)" + (random.bool() ? "\\u00e9" : "é") }
            random.shuffle(&keys)
            let body = keys.map { key in
                let value = depth == 0 || random.int(in: 0...2) == 0
                    ? "\"" + String(repeating: random.pick(["ab", "中", "\\n", "x\\\"y"]), count: random.int(in: 0...40)) + "\""
                    : object(depth - 1, members: random.int(in: 1...5))
                return "\"\(key)\" : \(value)"
            }
            return "{\n  " + body.joined(separator: ",\n  ") + "\n}"
        }
        for round in 0..<300 {
            let text = object(4, members: round % 3 == 0 ? random.int(in: 20...40) : random.int(in: 2...6))
            Self.expectSame(Array(text.utf8), "round \(round)")
            #expect(Self.fast(Array(text.utf8)) != nil)
        }
        let many = (0..<30).map { "\"m\($0)\":\($0)" }
        Self.expectSame(Array(("{" + many.reversed().joined(separator: ",") + "}").utf8))
        #expect(Self.fast(Array(("{" + (many + ["\"m7\":0"]).reversed().joined(separator: ",") + "}").utf8)) == nil)
        #expect(Self.fast(Array(#"{"b":{"y":1,"x":2},"a":[{"d":1,"c":{"f":1,"e":2}}],"b":0}"#.utf8)) == nil)
    }

    /// The working buffer is per thread: documents canonicalised on many threads at once, each
    /// larger than the last so the buffer grows while others are in use, come out right.
    @Test func concurrentThreadsEachUseTheirOwnBuffer() throws {
        var random = JCSTestRandom(seed: 0x7EAD_0004)
        let documents = (0..<16).map { n in
            Array(random.messyText(.array((0...n * 40).map { _ in random.jsonValue(depth: 3) })).utf8)
        }
        let expected = documents.map { Self.tree($0) }
        DispatchQueue.concurrentPerform(iterations: 64) { round in
            let index = round % documents.count
            #expect(Self.fast(documents[index]) == expected[index])
        }
    }

    /// Short strings are scanned a word at a time before the C scan: every byte kind at every
    /// position of the first two words, with room after the string and right at the end.
    @Test func shortStringsAtEveryPosition() {
        let kinds: [[UInt8]] = [[0x5C, 0x6E], [0x5C, 0x22], [0x5C, 0x75, 0x30, 0x30, 0x65, 0x39], [0x5C, 0x2F], [0x01], [0x1F],
                                [0x7F], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xFF], [0xC3], [0x80], [0x20]]
        for length in 0...20 {
            for position in 0...length {
                for kind in kinds {
                    var body = [UInt8](repeating: 0x61, count: length)
                    body.insert(contentsOf: kind, at: position)
                    let string = [0x22] + body + [0x22]
                    Self.expectSame([0x5B] + string + Array(#", "padding to be well past sixteen bytes"]"#.utf8))
                    Self.expectSame(string)
                    Self.expectSame(Array(#"{"k":"#.utf8) + string + [0x7D])
                }
            }
        }
    }

    /// Indentation of every width, next to the buffer's end too.
    @Test func whitespaceRuns() {
        for before in 0..<20 {
            for after in 0..<20 {
                let pad = String(repeating: " ", count: before)
                let tail = String(repeating: " ", count: after)
                Self.expectSame(Array("\(pad)[1,\n\(pad)\"a\" ,\t\(tail){ \"b\"\(tail): 2\(pad)}\(tail)]\(tail)".utf8))
                Self.expectSame(Array("\(pad)[1,\n\(pad)2\(tail)x]".utf8))
                Self.expectSame(Array("\(pad)7\r\n\(tail)".utf8))
            }
        }
    }

    @Test func nestingLimit() {
        let atLimit = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        let tooDeep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(Self.fast(Array(atLimit.utf8)) == Array(atLimit.utf8))
        #expect(Self.fast(Array(tooDeep.utf8)) == nil)
        #expect(throws: JSONError.self) { try CanonicalJSON.canonicalize(Array(tooDeep.utf8)) }
    }

    @Test func rawBufferEntryPoint() throws {
        let bytes = Array(#"{"b": [1.50, "\u00e9"], "a": null}"#.utf8)
        let canonical = try bytes.withUnsafeBytes { (raw) throws(JSONError) -> [UInt8] in try CanonicalJSON.canonicalize(raw) }
        #expect(String(decoding: canonical, as: UTF8.self) == #"{"a":null,"b":[1.5,"é"]}"#)
    }

    /// Feeding the incremental hasher in random pieces gives the one-shot digest.
    @Test func incrementalHasher() {
        var random = JCSTestRandom(seed: 42)
        for size in [0, 1, 55, 56, 63, 64, 65, 1000, 100_003] {
            let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            var hasher = SHA256.Hasher()
            var at = 0
            while at < size {
                let n = min(size - at, random.int(in: 0...200))
                bytes[at..<(at + n)].withUnsafeBytes { hasher.update($0) }
                at += n
            }
            #expect(hasher.finalize() == SHA256.digest(of: bytes), "\(size)")
        }
        var empty = SHA256.Hasher()
        empty.update([])
        #expect(Hex.encode(empty.finalize()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
