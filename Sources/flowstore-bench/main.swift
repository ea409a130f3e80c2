import FlowStoreCore
import Foundation

/// `swift run -c release flowstore-bench [--versions N] [--large N]`: FlowStore's hot paths,
/// each beside its physical limit in the same run, so ratios hold on a noisy machine.
struct Options {
    var versions = 2_000
    var largeStore = 20_000
    var seed: UInt64 = 0x5eed

    init(_ args: [String]) {
        var it = args.makeIterator()
        while let arg = it.next() {
            switch arg {
            case "--versions": versions = it.next().flatMap(Int.init) ?? versions
            case "--large": largeStore = it.next().flatMap(Int.init) ?? largeStore
            case "--seed": seed = it.next().flatMap { UInt64($0) } ?? seed
            case "-h", "--help":
                print("usage: flowstore-bench [--versions N] [--large N] [--seed S]")
                exit(0)
            default:
                FileHandle.standardError.write(Data("unknown option \(arg)\n".utf8))
                exit(2)
            }
        }
    }
}

/// SplitMix64: a tiny seeded generator, so the corpus is the same on every run.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Corpus {
    static let words = ["patient", "symptom", "anamnesis", "retrieval", "tool", "réponse", "données", "患者",
                        "症状", "💊", "Ω", "question", "answer", "context", "\"quoted\"", "tab\there", "line\nbreak"]

    static func text(_ n: Int, _ rng: inout SeededRandom) -> String {
        (0..<n).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
    }

    /// A Humanloop-style flow body of roughly `size` bytes.
    static func flow(size: Int, _ rng: inout SeededRandom) -> JSONValue {
        let template = text(max(8, size / 9), &rng)
        return [
            "path": .string("bench/flow-\(rng.next() % 1000)"),
            "attributes": [
                "prompt": [
                    "template": .string(template), "model": "gpt-4o",
                    "temperature": .number(Double(rng.next() % 100) / 100), "max_tokens": .number(Double(rng.next() % 4096)),
                ],
                "tool": [
                    "name": "retrieval_tool", "description": .string(text(12, &rng)),
                    "source_code": .string("def tool(q: str) -> str:\n    return \(rng.next() % 1_000_000)\n"),
                ],
            ],
        ]
    }

    /// A PromptLayer-style agent with `nodes` nodes in a chain.
    static func agent(nodes: Int, _ rng: inout SeededRandom) -> JSONValue {
        var list: [JSONValue] = []
        for i in 0..<nodes {
            list.append([
                "name": .string("node_\(i)"), "node_type": "PROMPT_TEMPLATE", "is_output_node": .bool(i == nodes - 1),
                "configuration": ["template": ["prompt_name": .string(text(3, &rng))]],
                "dependencies": i == 0 ? ["query"] : [.string("node_\(i - 1)")],
            ])
        }
        return ["nodes": .array(list), "required_input_variables": ["query": "string"]]
    }
}

func measure(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func row(_ name: String, _ value: String, _ note: String = "") {
    print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + value.padding(toLength: 22, withPad: " ", startingAt: 0) + note)
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
var rng = SeededRandom(state: options.seed)
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-bench-\(UUID().uuidString)").path
defer { try? FileManager.default.removeItem(atPath: scratch) }

print("FlowStore benchmark — \(ProcessInfo.processInfo.activeProcessorCount) cores, seed \(options.seed)")
print(String(repeating: "-", count: 90))

// 1. Canonicalise + hash against raw SHA-256 of the same bytes.
var texts: [[UInt8]] = []
for i in 0..<400 {
    let value = i % 4 == 3 ? Corpus.agent(nodes: 2 + i % 200, &rng) : Corpus.flow(size: 1_000 << (i % 8), &rng)
    texts.append(Array(value.prettyPrinted().utf8))
}
let totalBytes = texts.reduce(0) { $0 + $1.count }
let rounds = 5
var sink = 0
let canonicalSeconds = try measure {
    for _ in 0..<rounds {
        for t in texts { sink &+= Int(SHA256.digest(of: try CanonicalJSON.canonicalize(t))[0]) }
    }
}
let rawSeconds = measure {
    for _ in 0..<rounds { for t in texts { sink &+= Int(SHA256.digest(of: t)[0]) } }
}
let mb = Double(totalBytes * rounds) / 1e6
row("canonicalise + SHA-256", String(format: "%.1f MB/s", mb / canonicalSeconds),
    String(format: "%.0f objects/s", Double(texts.count * rounds) / canonicalSeconds))
row("raw SHA-256 (libcrypto), same bytes", String(format: "%.1f MB/s", mb / rawSeconds),
    String(format: "ratio %.1f%% of raw", 100 * rawSeconds / canonicalSeconds))

// 2. Ingest: versions committed to an empty store, durably (fsync per write).
let store = try VersionStore.initialize(at: scratch + "/ingest")
var bodies: [JSONObject] = []
for _ in 0..<options.versions { bodies.append(try SeedBody.parse(Corpus.flow(size: 2_000, &rng)).definition) }
let paths = try (0..<20).map { try FlowPath("bench/flow-\($0)") }
let ingestSeconds = try measure {
    for (i, body) in bodies.enumerated() {
        _ = try store.commit(NewVersion(path: paths[i % paths.count], kind: .flow, definition: body), author: "bench")
    }
}
row("commit (durable), \(options.versions) versions", String(format: "%.0f versions/s", Double(options.versions) / ingestSeconds),
    String(format: "%.2f ms each", 1000 * ingestSeconds / Double(options.versions)))

// 3. Lookups at two store sizes: they must not grow with the store.
@MainActor func lookups(_ store: VersionStore, path: FlowPath) throws -> (resolve: Double, show: Double, log: Double) {
    let n = 2_000
    try store.setRef(.labels, try RefLabel("production"), of: path, to: try store.head(of: path), author: "bench")
    let resolve = try measure { for _ in 0..<n { sink &+= try store.resolveVersion("\(path.rawValue)@production").hex.count } }
    let id = try store.head(of: path)
    let show = try measure {
        for _ in 0..<n { let v = try store.version(id); sink &+= try store.content(v.content).definition.count }
    }
    let log = try measure { for _ in 0..<(n / 20) { sink &+= try store.history(from: id, limit: 50).count } }
    return (resolve / Double(n) * 1e6, show / Double(n) * 1e6, log / Double(n / 20) * 1e6)
}
let small = try lookups(store, path: paths[0])
let large = try VersionStore.initialize(at: scratch + "/large")
let bulkPath = try FlowPath("bench/large")
let bulkSeconds = try measure {
    for i in 0..<options.largeStore {
        var d = JSONObject()
        d["attributes"] = ["i": .number(Double(i))]
        _ = try large.commit(NewVersion(path: i % 2 == 0 ? bulkPath : paths[i % paths.count], kind: .flow, definition: d), author: "bench")
    }
}
let big = try lookups(large, path: bulkPath)
row("resolve path@label (µs)", String(format: "%.1f / %.1f", small.resolve, big.resolve), "\(options.versions) vs \(options.largeStore) versions")
row("show version + content (µs)", String(format: "%.1f / %.1f", small.show, big.show))
row("log -n 50 (µs)", String(format: "%.1f / %.1f", small.log, big.log))
row("bulk commit, tiny definitions", String(format: "%.0f versions/s", Double(options.largeStore) / bulkSeconds))

// 4. verify: streams every object and walks every chain.
let verifyStart = DispatchTime.now().uptimeNanoseconds
let report = try large.verify()
let verifySeconds = Double(DispatchTime.now().uptimeNanoseconds - verifyStart) / 1e9
row("verify \(report.objectsChecked) objects", String(format: "%.0f objects/s", Double(report.objectsChecked) / verifySeconds),
    report.isClean ? "clean" : "\(report.problems.count) problems")
print(String(repeating: "-", count: 90))
if sink == 42 { print("") }  // keep the optimiser honest
