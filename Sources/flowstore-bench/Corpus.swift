import Foundation
import FlowStoreCore

/// SplitMix64: a tiny seeded generator, so the corpus is byte-for-byte the same on every run
/// and every machine for a given seed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
    mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
    /// Log-uniform in [low, high]: as many documents of 1–2 KB as of 512 KB–1 MB.
    mutating func logUniform(_ low: Int, _ high: Int) -> Int {
        let u = Double(next() >> 11) / Double(1 << 53)
        return Int((Double(low) * pow2(log2(Double(high) / Double(low)) * u)).rounded())
    }
    private func pow2(_ x: Double) -> Double { exp2(x) }
}

/// A JSON value that keeps members in the order they were added: bodies are written the way a
/// client writes them (`path` first, keys in no particular order), not pre-sorted, so the
/// canonicaliser has real sorting to do.
indirect enum OrderedJSON {
    case string(String)
    /// Number text exactly as written (`0.7`, `4096`, `1e-05`).
    case number(String)
    case bool(Bool)
    case null
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    /// Two-space indentation, `": "` and raw UTF-8, like `json.dumps(v, indent=2, ensure_ascii=False)`.
    func pretty() -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out, level: 0)
        out.append(0x0A)
        return out
    }

    private func write(into out: inout [UInt8], level: Int) {
        switch self {
        case .string(let s): Self.writeString(s, into: &out)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        case .array(let items):
            if items.isEmpty { return out.append(contentsOf: "[]".utf8) }
            out.append(0x5B)
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(0x2C) }
                Self.newline(&out, level + 1)
                item.write(into: &out, level: level + 1)
            }
            Self.newline(&out, level)
            out.append(0x5D)
        case .object(let members):
            if members.isEmpty { return out.append(contentsOf: "{}".utf8) }
            out.append(0x7B)
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out.append(0x2C) }
                Self.newline(&out, level + 1)
                Self.writeString(key, into: &out)
                out.append(contentsOf: ": ".utf8)
                value.write(into: &out, level: level + 1)
            }
            Self.newline(&out, level)
            out.append(0x7D)
        }
    }

    private static func newline(_ out: inout [UInt8], _ level: Int) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: 2 * level))
    }

    /// Escapes as most JSON writers do: `\"`, `\\`, `\n`, `\t`, `\r`, other controls as `\u00XX`.
    private static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        for byte in s.utf8 {
            switch byte {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }
}

/// The benchmark corpus: Humanloop *Upsert Flow* bodies (prompt templates with long text, tools
/// with source code) and PromptLayer *Create Workflow* bodies (agents of 2–200 nodes and their
/// edges), 1 KB–1 MB, with Unicode everywhere. Every document is a valid body for
/// `flowstore put` and the server, so the same bytes feed every measurement.
enum Corpus {
    static let words: [String] = [
        // English, French, German, Spanish, Russian, Greek, Chinese, Japanese, Korean, Arabic,
        // Hindi, emoji, maths: prompts are written in all of them.
        "the", "patient", "question", "answer", "context", "retrieve", "summarise", "carefully", "step", "reason",
        "tool", "output", "JSON", "format", "user", "assistant", "system", "policy", "refund", "invoice",
        "réponse", "données", "à", "l'utilisateur", "échéance", "Größe", "Prüfung", "über", "straße", "año",
        "información", "ответ", "вопрос", "данные", "λόγος", "ερώτηση", "患者", "症状", "回答", "数据", "质量",
        "ユーザー", "質問", "答え", "확인", "질문", "مرحبا", "سؤال", "प्रश्न", "उत्तर", "💊", "🩺", "🤖", "✅", "🚀",
        "∑", "∞", "≤", "→", "½", "€", "£", "—", "“quoted”", "‘single’", "{{question}}", "{{context}}",
        "{{user_name}}", "<b>", "</b>", "\"escaped quotes\"", "C:\\path\\to\\file", "tab\tseparated", "a/b/c",
    ]

    static let models = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-20241022", "gemini-1.5-pro", "llama-3.1-70b"]
    static let nodeTypes = ["PROMPT_TEMPLATE", "CODE_EXECUTION", "VARIABLE", "ENDPOINT", "LLM_ASSERTION",
                            "AI_DATA_EXTRACTION", "COMPARE", "CONTAINS", "CODING_AGENT"]
    static let operators = ["=", "!=", "<", ">", "<=", ">=", "in", "not_in", "is_null", "is_not_null"]

    static let wordBytes: [[UInt8]] = words.map { Array($0.utf8) }

    /// About `bytes` bytes of prose: sentences, line breaks, the odd paragraph.
    static func text(_ bytes: Int, _ rng: inout SeededRandom) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes + 32)
        var sentence = 0
        var sentenceLength = rng.int(6...18)
        while out.count < bytes {
            out.append(contentsOf: wordBytes[Int(rng.next() % UInt64(wordBytes.count))])
            sentence += 1
            if sentence > sentenceLength {
                out.append(contentsOf: rng.chance(20) ? [0x2E, 0x0A, 0x0A] : [0x2E, 0x20])
                sentence = 0
                sentenceLength = rng.int(6...18)
            } else {
                out.append(0x20)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// About `bytes` bytes of Python, with quotes, backslashes and Unicode comments.
    static func sourceCode(_ bytes: Int, _ rng: inout SeededRandom) -> String {
        var out = "import json\nimport re\n\n"
        var n = 0
        while out.utf8.count < bytes {
            n += 1
            out += """
                def step_\(n)(question: str, context: dict) -> str:
                    \"\"\"\(text(60, &rng))\"\"\"
                    pattern = re.compile(r"\\d+(\\.\\d+)?\\s*(mg|ml)")  # dosage — 用量
                    if not question:
                        raise ValueError("empty question: \\"\(rng.pick(words))\\"")
                    hits = [m.group(0) for m in pattern.finditer(question)]
                    return json.dumps({"hits": hits, "n": \(rng.int(0...999_999)), "note": "\(rng.pick(words))"})


                """
        }
        return out
    }

    static func number(_ rng: inout SeededRandom) -> OrderedJSON {
        switch rng.int(0...5) {
        case 0: .number(String(rng.int(0...4096)))
        case 1: .number("0.\(rng.int(1...9))")
        case 2: .number("\(rng.int(0...2)).\(rng.int(0...99))\(rng.int(1...9))")
        case 3: .number("1e-\(rng.int(3...9))")
        case 4: .number(String(rng.int(-1_000_000_000...1_000_000_000)))
        default: .number("\(rng.int(0...999)).\(rng.int(100_000...999_999))e\(rng.int(-3...25))")
        }
    }

    /// A tool definition: name, description, JSON-schema parameters and source code.
    static func tool(_ i: Int, sourceBytes: Int, _ rng: inout SeededRandom) -> OrderedJSON {
        .object([
            ("name", .string("tool_\(i)_\(rng.pick(["search", "lookup", "dosage", "translate", "sql"]))")),
            ("description", .string(text(rng.int(40...200), &rng))),
            ("parameters", .object([
                ("type", .string("object")),
                ("properties", .object([
                    ("question", .object([("type", .string("string")), ("description", .string(text(30, &rng)))])),
                    ("limit", .object([("type", .string("integer")), ("minimum", .number("1")), ("maximum", number(&rng))])),
                ])),
                ("required", .array([.string("question")])),
            ])),
            ("source_code", .string(sourceCode(sourceBytes, &rng))),
            ("setup_values", .object([("API_BASE", .string("https://api.example.com/v\(rng.int(1...3))/")),
                                      ("timeout", number(&rng))])),
        ])
    }

    /// A Humanloop *Upsert Flow* body of about `size` bytes: a prompt with a long template and
    /// a few tools carrying source code.
    static func flow(path: String, size: Int, version: Int, _ rng: inout SeededRandom) -> OrderedJSON {
        let toolCount = rng.int(1...4)
        let templateBytes = max(200, size * 6 / 10)
        let sourceBytes = max(120, (size - templateBytes) / (toolCount + 1))
        var prompt: [(String, OrderedJSON)] = [
            ("model", .string(rng.pick(models))),
            ("temperature", .number("0.\(rng.int(0...9))")),
            ("max_tokens", .number(String(rng.int(64...8192)))),
            ("template", .array([
                .object([("role", .string("system")), ("content", .string(text(templateBytes * 7 / 10, &rng)))]),
                .object([("role", .string("user")), ("content", .string(text(templateBytes * 3 / 10, &rng)))]),
            ])),
            ("stop", .array([.string("\n\n###"), .string("</answer>")])),
            ("top_p", number(&rng)),
            ("presence_penalty", .number("0")),
        ]
        if rng.chance(50) { prompt.append(("seed", .number(String(rng.int(0...99_999))))) }
        return .object([
            ("path", .string(path)),
            ("attributes", .object([
                ("prompt", .object(prompt)),
                ("tools", .array((0..<toolCount).map { tool($0, sourceBytes: sourceBytes, &rng) })),
                ("retrieval", .object([("top_k", .number(String(rng.int(1...50)))), ("index", .string("kb-\(rng.int(1...9))")),
                                       ("filters", .object([("lang", .string(rng.pick(["en", "fr", "日本語", "中文"])))]))])),
                ("version", .number(String(version))),
            ])),
            ("version_name", .string("v\(version)-\(rng.next() % 1_000_000)")),
            ("version_description", .string(text(rng.int(20...120), &rng))),
        ])
    }

    /// A PromptLayer *Create Workflow* body: a DAG of `nodes` nodes (each depends on one or two
    /// earlier nodes or the input), edges with conditionals along some dependencies, sized to
    /// about `size` bytes through the node prompts.
    static func agent(name: String, size: Int, nodes count: Int, version: Int, _ rng: inout SeededRandom) -> OrderedJSON {
        let perNode = max(40, (size - 300) / count - 260)
        var nodes: [OrderedJSON] = []
        var edges: [OrderedJSON] = []
        for i in 0..<count {
            var deps: [String] = []
            if i == 0 {
                deps = ["query"]
            } else {
                deps.append("node_\(rng.int(max(0, i - 4)...(i - 1)))")
                if i > 1, rng.chance(30) {
                    let other = "node_\(rng.int(0...(i - 1)))"
                    if !deps.contains(other) { deps.append(other) }
                }
                if rng.chance(20) { deps.append("query") }
            }
            let type = rng.pick(nodeTypes)
            let configuration: OrderedJSON =
                type == "CODE_EXECUTION"
                ? .object([("language", .string("PYTHON")), ("code", .string(sourceCode(perNode, &rng)))])
                : .object([
                    ("template", .object([("prompt_name", .string("prompt-\(rng.int(1...500))")),
                                          ("label", .string(rng.pick(["prod", "staging", "latest"])))])),
                    ("prompt", .string(text(perNode, &rng))),
                    ("temperature", number(&rng)),
                ])
            nodes.append(.object([
                ("name", .string("node_\(i)")),
                ("node_type", .string(type)),
                ("is_output_node", .bool(i == count - 1)),
                ("configuration", configuration),
                ("dependencies", .array(deps.map(OrderedJSON.string))),
            ]))
            if i > 0, rng.chance(40), let source = deps.first(where: { $0 != "query" }) {
                let op = rng.pick(operators)
                var conditional: [(String, OrderedJSON)] = [
                    ("position", .number("0")),
                    ("operator", .string(op)),
                    ("left_config", .object([("type", .string("source")), ("source", .object([("name", .string(source)),
                                                                                             ("output_key", .string("text"))]))])),
                ]
                if op != "is_null", op != "is_not_null" {
                    conditional.append(("right_config", .object([("type", .string("static_value")),
                                                                 ("static_value", .string(rng.pick(words)))])))
                }
                edges.append(.object([
                    ("source_node_name", .string(source)), ("target_node_name", .string("node_\(i)")),
                    ("is_and", .bool(rng.chance(50))), ("conditionals", .array([.object(conditional)])),
                ]))
            }
        }
        return .object([
            ("name", .string(name)),
            ("commit_message", .string("v\(version): " + text(rng.int(20...80), &rng))),
            ("nodes", .array(nodes)),
            ("edges", .array(edges)),
            ("required_input_variables", .object([("query", .string("string")), ("user_id", .string("string"))])),
            ("release_labels", .array(version % 10 == 0 ? [.string("staging")] : [])),
        ])
    }

    /// Document `index` of a corpus: three flows for every two agents, sizes log-uniform in
    /// [minSize, maxSize], agents of 2–200 nodes. `paths` files share the documents, so a
    /// path's kind never changes.
    static func document(_ index: Int, paths: Int, minSize: Int, maxSize: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed &+ UInt64(index) &* 0x9E37_79B9)
        let size = rng.logUniform(minSize, maxSize)
        let file = index % paths
        let version = index / paths + 1
        if file % 5 < 3 {
            return flow(path: "bench/flows/flow-\(file)", size: size, version: version, &rng).pretty()
        }
        let nodeCount = min(200, max(2, size / 900 + rng.int(0...8)))
        return agent(name: "bench-agent-\(file)", size: size, nodes: nodeCount, version: version, &rng).pretty()
    }
}
