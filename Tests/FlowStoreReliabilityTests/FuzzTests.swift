import FlowStoreCore
import Foundation
import Testing

/// Seeded property tests of the JSON front door: whatever the bytes, `JSONParser` and
/// `CanonicalJSON` return or throw (no crash, no hang), and what they accept canonicalises
/// idempotently, to the same value, the same way on the fast path and the tree path.
extension ReliabilitySuite {
    @Suite("Hostile JSON: seeded fuzzing of the parser and canonicaliser")
    struct FuzzTests {
        /// Valid documents the mutators start from.
        static let corpus: [String] = [
            #"{"attributes": {"prompt": {"template": "Answer {{question}}", "model": "gpt-4o", "temperature": 0.8}}, "path": "a/b"}"#,
            #"{"nodes": [{"name": "n", "node_type": "VARIABLE", "is_output_node": true, "configuration": {}, "dependencies": []}], "edges": []}"#,
            #"[1, -0, 0.1, 1e21, 1e-7, 123456789012345678901234567890, 5e-324, 1.7976931348623157e308, -2.5E+3]"#,
            #"{"é": 1, "e\u0301": 2, "\ud83d\ude00": [true, false, null], "\u0000\u001f": "\"\\\/\b\f\n\r\t"}"#,
            #"{"a": {"b": {"c": {"d": [[[[{}]]]]}}}, "": "", "z": []}"#,
            #""just a string with \u00e9scapes and raw é and 😀""#,
            "  \n\t 42 \r\n",
            #"{"\uE000": 1, "\uD800\uDC00": 2, "\u007f": 3, "a": 4, "A": 5, "1": 6}"#,
        ]

        /// Bytes a JSON mutation likes to insert.
        static let tokens: [[UInt8]] = [
            "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "\\udc00", "1e999", "-", "0", ".", "e+",
            "true", "null", "\u{0}", "\u{1f}", " ", "\n", "{\"a\":1,\"a\":2}", "\"\\u0061\"",
        ].map { Array($0.utf8) } + [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0xE2, 0x82], [0xEF, 0xBB, 0xBF]]

        struct Figures {
            var inputs = 0
            var accepted = 0
            var rejected = 0
            var slowest = 0.0
        }

        /// Checks every property for one input; returns whether it was accepted.
        @discardableResult
        static func check(_ input: [UInt8], _ figures: inout Figures, _ what: String) -> Bool {
            figures.inputs += 1
            let start = now()
            defer { figures.slowest = max(figures.slowest, now() - start) }
            let tree: JSONValue
            do {
                tree = try JSONParser.parse(input)
            } catch {
                figures.rejected += 1
                #expect(error.offset.map { (0...input.count).contains($0) } ?? false, "\(what): error offset \(String(describing: error.offset)) outside the input")
                // The fast canonicaliser must refuse it too, with the parser's error.
                do {
                    let out = try CanonicalJSON.canonicalize(input)
                    Issue.record("\(what): the parser refuses \(describe(input)) (\(error)) but canonicalize accepts it as \(describe(out))")
                } catch let fastError {
                    #expect(fastError == error, "\(what): canonicalize and the parser disagree on why \(describe(input)) is invalid")
                }
                return false
            }
            figures.accepted += 1
            do {
                let viaTree = try CanonicalJSON.encode(tree)
                let fast = try CanonicalJSON.canonicalize(input)
                #expect(fast == viaTree, "\(what): fast and tree canonical forms differ for \(describe(input)): \(describe(fast)) vs \(describe(viaTree))")
                // Idempotent, and the same value.
                let again = try CanonicalJSON.canonicalize(viaTree)
                #expect(again == viaTree, "\(what): canonicalize is not idempotent on \(describe(viaTree))")
                let reparsed = try JSONParser.parse(viaTree)
                #expect(reparsed == tree, "\(what): the canonical form of \(describe(input)) parses to a different value")
                #expect(String(validating: viaTree, as: UTF8.self) != nil, "\(what): canonical output is not UTF-8")
            } catch {
                Issue.record("\(what): accepted \(describe(input)) but canonicalising failed: \(error)")
            }
            return true
        }

        static func describe(_ bytes: [UInt8]) -> String {
            let shown = bytes.prefix(200).map { b in
                (0x20..<0x7f).contains(b) && b != 0x5c ? String(UnicodeScalar(b)) : String(format: "\\x%02x", b)
            }.joined()
            return "\"\(shown)\"\(bytes.count > 200 ? "… (\(bytes.count) bytes)" : "")"
        }

        @Test("Random bytes, mutated documents, generated documents")
        func seededFuzz() throws {
            var random = Reliability.generator("json-fuzz")
            var figures = Figures()
            let n = Reliability.scale(ci: 60_000, soak: 5_000_000)
            let started = now()
            for i in 0..<n {
                switch i % 3 {
                case 0:
                    // Random bytes, half the time drawn from JSON's own alphabet.
                    let length = Int.random(in: 0...48, using: &random)
                    let alphabet = Array(#"{}[],:"\ 0123456789.eE+-tfnrulase"#.utf8)
                    let bytes = random.chance(0.5)
                        ? random.bytes(length) : (0..<length).map { _ in alphabet.randomElement(using: &random)! }
                    Self.check(bytes, &figures, "random #\(i)")
                case 1:
                    var bytes = Array(Self.corpus.randomElement(using: &random)!.utf8)
                    for _ in 0..<Int.random(in: 1...4, using: &random) { Self.mutate(&bytes, &random) }
                    Self.check(bytes, &figures, "mutation #\(i)")
                default:
                    let value = Self.generate(depth: 0, &random)
                    let text = Self.render(value, &random)
                    let accepted = Self.check(text, &figures, "generated #\(i)")
                    #expect(accepted, "generated #\(i): a valid document was refused: \(Self.describe(text))")
                }
            }
            let elapsed = now() - started
            report("JSON fuzz: \(figures.inputs) inputs (\(figures.accepted) accepted, \(figures.rejected) refused) in \(String(format: "%.1f", elapsed)) s, slowest \(String(format: "%.1f", figures.slowest * 1000)) ms; fast and tree canonical forms agree, canonicalize idempotent")
        }

        static func mutate(_ bytes: inout [UInt8], _ random: inout SeededGenerator) {
            guard !bytes.isEmpty else { bytes = tokens.randomElement(using: &random)!; return }
            let i = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: bytes[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
            case 1: bytes.insert(contentsOf: tokens.randomElement(using: &random)!, at: i)
            case 2: bytes.removeSubrange(i..<min(bytes.count, i + Int.random(in: 1...8, using: &random)))
            case 3: bytes = Array(bytes[..<i])
            case 4:
                let j = min(bytes.count, i + Int.random(in: 1...16, using: &random))
                bytes.insert(contentsOf: bytes[i..<j], at: j)
            default: bytes[i] = UInt8.random(in: 0...255, using: &random)
            }
        }

        /// A random valid JSON value.
        static func generate(depth: Int, _ random: inout SeededGenerator) -> JSONValue {
            let pick = Int.random(in: 0..<(depth > 5 ? 5 : 8), using: &random)
            switch pick {
            case 0: return .null
            case 1: return .bool(random.chance(0.5))
            case 2:
                let candidates: [Double] = [
                    0, -0.0, 1, -1, 0.1, 1e21, 1e-7, 5e-324, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                    9_007_199_254_740_993, 123.456, 1e300, 2.5e-308,
                ]
                return .number(random.chance(0.5) ? candidates.randomElement(using: &random)!
                    : Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF) * (random.chance(0.5) ? 1 : -1))
            case 3, 4: return .string(randomString(&random))
            case 5:
                return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in generate(depth: depth + 1, &random) })
            default:
                var pairs: [(String, JSONValue)] = []
                var keys = Set<[UInt32]>()
                for _ in 0..<Int.random(in: 0...4, using: &random) {
                    let key = randomString(&random)
                    if keys.insert(key.unicodeScalars.map(\.value)).inserted { pairs.append((key, generate(depth: depth + 1, &random))) }
                }
                return .object((try? JSONObject(pairs: pairs)) ?? JSONObject())
            }
        }

        static func randomString(_ random: inout SeededGenerator) -> String {
            let pool: [UInt32] = [0x61, 0x41, 0x22, 0x5C, 0x2F, 0x00, 0x1F, 0x7F, 0xE9, 0x301, 0x2028, 0xFFFF, 0xE000, 0x1F600, 0x10FFFF]
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...6, using: &random) {
                let v = random.chance(0.7) ? pool.randomElement(using: &random)! : UInt32.random(in: 0...0x10FFFF, using: &random)
                if let scalar = Unicode.Scalar(v) { s.append(scalar) }
            }
            return String(s)
        }

        /// Any valid spelling of `value`: random whitespace, escapes and number forms.
        static func render(_ value: JSONValue, _ random: inout SeededGenerator) -> [UInt8] {
            var out: [UInt8] = []
            func ws() { for _ in 0..<Int.random(in: 0...2, using: &random) { out.append([0x20, 0x09, 0x0A, 0x0D].randomElement(using: &random)!) } }
            func string(_ s: String) {
                out.append(0x22)
                for scalar in s.unicodeScalars {
                    let v = scalar.value
                    if v == 0x22 || v == 0x5C || v < 0x20 || random.chance(0.2) {
                        if v > 0xFFFF {
                            let u = v - 0x10000
                            out += Array(String(format: "\\u%04X\\u%04x", 0xD800 + (u >> 10), 0xDC00 + (u & 0x3FF)).utf8)
                        } else {
                            out += Array(String(format: random.chance(0.5) ? "\\u%04x" : "\\u%04X", v).utf8)
                        }
                    } else if v == 0x2F, random.chance(0.5) {
                        out += Array("\\/".utf8)
                    } else {
                        out += Array(String(scalar).utf8)
                    }
                }
                out.append(0x22)
            }
            func emit(_ v: JSONValue) {
                ws()
                switch v {
                case .null: out += Array("null".utf8)
                case .bool(let b): out += Array((b ? "true" : "false").utf8)
                case .number(let d):
                    // Round-trip text, sometimes in exponent or padded forms.
                    var text = "\(d)"
                    if text.hasSuffix(".0"), random.chance(0.5) { text.removeLast(2) }
                    if random.chance(0.3), !text.contains("e") { text += random.chance(0.5) ? "e0" : "E+00" }
                    out += Array(text.utf8)
                case .string(let s): string(s)
                case .array(let items):
                    out.append(0x5B)
                    for (i, item) in items.enumerated() {
                        if i > 0 { out.append(0x2C) }
                        emit(item)
                    }
                    ws()
                    out.append(0x5D)
                case .object(let o):
                    out.append(0x7B)
                    // Any member order: the canonical form sorts.
                    var members = o.members
                    members.shuffle(using: &random)
                    for (i, m) in members.enumerated() {
                        if i > 0 { out.append(0x2C) }
                        ws()
                        string(m.key)
                        ws()
                        out.append(0x3A)
                        emit(m.value)
                    }
                    ws()
                    out.append(0x7D)
                }
                ws()
            }
            emit(value)
            return out
        }

        @Test("Nesting at, around and far beyond the limit: refused at the limit, never a stack overflow")
        func deepNesting() throws {
            var figures = Figures()
            let limit = JSONParser.defaultMaxDepth
            for depth in [limit - 1, limit, limit + 1, 10_000, 1_000_000] {
                for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                    let text = Array((String(repeating: open, count: depth) + "0" + String(repeating: close, count: depth)).utf8)
                    let accepted = Self.check(text, &figures, "depth \(depth) \(open)")
                    #expect(accepted == (depth <= limit), "depth \(depth)")
                    // Unclosed: the same, from the other side.
                    Self.check(Array(String(repeating: open, count: depth).utf8), &figures, "unclosed depth \(depth)")
                }
            }
            // A value nested too deep to encode is refused by the encoder (no crash either).
            var deep = JSONValue.null
            for _ in 0..<(limit + 10) { deep = .array([deep]) }
            #expect(throws: JSONError.self) { try CanonicalJSON.encode(deep) }
            report("JSON nesting: depths up to 1,000,000 refused cleanly (limit \(limit)), \(String(format: "%.0f", figures.slowest * 1000)) ms worst")
        }

        @Test("Huge and tiny numbers, long strings, invalid UTF-8, duplicate keys")
        func edgeCases() throws {
            var figures = Figures()
            func accepts(_ text: String, _ expected: Bool, _ note: String = "") {
                let ok = Self.check(Array(text.utf8), &figures, note.isEmpty ? text : note)
                #expect(ok == expected, "\(note.isEmpty ? String(text.prefix(80)) : note): expected \(expected ? "accepted" : "refused")")
            }
            accepts("1e308", true)
            accepts("1e309", false)
            accepts("-1e400", false)
            accepts("1e-400", true)  // underflows to 0, a finite double
            accepts(String(repeating: "9", count: 400), false)
            accepts(String(repeating: "9", count: 300), true)
            accepts("0." + String(repeating: "0", count: 100_000) + "1", true, "100k-digit fraction")
            accepts("1" + String(repeating: "0", count: 100_000), false, "100k-digit integer")
            accepts("1e99999999999999999999", false)
            accepts("1e-99999999999999999999", true)
            accepts("01", false)
            accepts("1.", false)
            accepts("-", false)
            accepts("NaN", false)
            accepts("Infinity", false)
            accepts(#"{"a":1,"a":2}"#, false)
            accepts(#"{"a":1,"\u0061":2}"#, false, "duplicate key via escape")
            accepts(#"{"é":1,"e\u0301":2}"#, true, "canonically equivalent but distinct keys")
            accepts(#"{"b":1,"a":2,"b":3}"#, false, "duplicate key out of order")
            accepts(#""\ud800""#, false)
            accepts(#""\udc00\ud800""#, false)
            accepts(#""\ud83d\ude00""#, true)
            accepts("\u{FEFF}{}", false, "byte-order mark")
            accepts("{} {}", false)
            let long = String(repeating: "x", count: 4 << 20)
            accepts("\"\(long)\"", true, "4 MiB string")
            accepts("\"\(long)", false, "4 MiB unterminated string")
            accepts("[" + Array(repeating: "1", count: 200_000).joined(separator: ",") + "]", true, "200k-element array")
            let manyKeys = (0..<50_000).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
            accepts("{" + manyKeys + "}", true, "50k keys")
            accepts("{" + manyKeys + ",\"k7\":0}", false, "50k keys and one repeat")
            for bad: [UInt8] in [[0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xE2, 0x82], [0xFE], [0xFF]] {
                let ok = Self.check([0x22] + bad + [0x22], &figures, "invalid UTF-8 \(bad)")
                #expect(!ok, "invalid UTF-8 \(bad) accepted")
            }
            report("JSON edge cases: \(figures.inputs) inputs (huge numbers, 100k-digit numbers, 4 MiB strings, 200k elements, 50k keys, invalid UTF-8, duplicate keys); slowest \(String(format: "%.0f", figures.slowest * 1000)) ms")
        }
    }
}
