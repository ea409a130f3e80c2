import Foundation
import Synchronization
@testable import FlowStoreCore
@testable import FlowStoreDirectory

/// A fresh store in its own temp directory, with a clock that ticks one millisecond per call
/// so tests are deterministic.
final class TestStore: Sendable {
    let root: String
    let store: VersionStore

    init() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-test-\(UUID().uuidString)")
        root = dir.path
        let ticks = Mutex(0)
        store = try VersionStore.initialize(at: root) {
            let n = ticks.withLock { value -> Int in
                value += 1
                return value
            }
            return Timestamp.format(seconds: 1_790_000_000 + n / 1000, milliseconds: n % 1000)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// This store over a ref store of its own (another lock wait, an injected fault); its
    /// objects, clock and sweep fence are the store's.
    func store(refs: FileRefStore) -> VersionStore {
        let objects = FileObjectStore(directory: "\(root)/objects", tempDirectory: "\(root)/tmp")
        return VersionStore(
            objects: objects, refs: refs, root: root, clock: store.clock, sweepFence: store.sweepFence,
            transactions: DirectoryTransactions(objects: objects, refs: refs))
    }

    /// Every file under the store, with its bytes: a snapshot to prove "nothing was written".
    func snapshot() throws -> [String: Data] {
        var out: [String: Data] = [:]
        let base = URL(fileURLWithPath: root)
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) else {
            return out
        }
        for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            out[String(url.path.dropFirst(base.path.count))] = try Data(contentsOf: url)
        }
        return out
    }

    func objectCount() throws -> Int {
        var n = 0
        try store.objects.list { _ in n += 1 }
        return n
    }

    func objectPath(_ id: ObjectID) -> String {
        "\(root)/objects/\(id.hex.prefix(2))/\(id.hex.dropFirst(2))"
    }
}

enum Samples {
    static let medqaAttributes: JSONValue = [
        "prompt": [
            "template": "You are a helpful medical assistant helping with medical anamnesis. Answer {{question}}",
            "model": "gpt-4o",
            "temperature": 0.8,
        ],
        "tool": [
            "name": "retrieval_tool_v3",
            "description": "Retrieval tool for MedQA.",
            "source_code": "def retrieval_tool(question: str) -> str:\n pass\n",
        ],
    ]

    static func flow(temperature: Double = 0.8) -> JSONObject {
        var attributes = medqaAttributes.objectValue ?? JSONObject()
        var prompt = attributes["prompt"]?.objectValue ?? JSONObject()
        prompt["temperature"] = .number(temperature)
        attributes["prompt"] = .object(prompt)
        var d = JSONObject()
        d["attributes"] = .object(attributes)
        return d
    }

    static let routingAgentBody = """
        {"name": "routing-agent",
         "nodes": [
           {"name": "router", "node_type": "PROMPT_TEMPLATE", "is_output_node": false,
            "configuration": {"template": {"prompt_name": "router"}}, "dependencies": ["query"]},
           {"name": "sales_handler", "node_type": "PROMPT_TEMPLATE", "is_output_node": true,
            "configuration": {"template": {"prompt_name": "sales-response"}}, "dependencies": ["router", "query"]},
           {"name": "support_handler", "node_type": "PROMPT_TEMPLATE", "is_output_node": true,
            "configuration": {"template": {"prompt_name": "support-response"}}, "dependencies": ["router", "query"]}
         ],
         "required_input_variables": {"query": "string"},
         "edges": [
           {"source_node_name": "router", "target_node_name": "sales_handler", "is_and": true,
            "conditionals": [{"position": 0, "operator": "=",
              "left_config": {"type": "source", "source": {"name": "router"}},
              "right_config": {"type": "static_value", "static_value": "sales"}}]},
           {"source_node_name": "router", "target_node_name": "support_handler", "is_and": true,
            "conditionals": [{"position": 0, "operator": "=",
              "left_config": {"type": "source", "source": {"name": "router"}},
              "right_config": {"type": "static_value", "static_value": "support"}}]}
         ]}
        """

    static func path(_ s: String) throws -> FlowPath { try FlowPath(s) }
}
