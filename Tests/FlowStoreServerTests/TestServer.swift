import Foundation
import Synchronization
import Testing
import FlowStoreCore
import FlowStoreDirectory
@testable import FlowStoreServer

/// A fresh store in a temp directory, served in-process on 127.0.0.1 at a free port, with a
/// clock that ticks one millisecond per call so timestamps are deterministic.
final class TestServer: Sendable {
    static let writerKey = "test-key-writer"
    static let readerKey = "test-key-reader"
    static let otherKey = "test-key-other"
    static let writer = APIUser(email: "ada@example.com", fullName: "Ada Lovelace")
    static let other = APIUser(id: "usr_grace", email: "grace@example.com", fullName: "Grace Hopper")

    let root: String
    let store: VersionStore
    let server: RunningServer

    var port: Int { server.port }

    private init(root: String, store: VersionStore, server: RunningServer) {
        self.root = root
        self.store = store
        self.server = server
    }

    static func start(maxBodyBytes: Int = ServerConfiguration.defaultMaxBodyBytes) async throws -> TestServer {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-server-\(UUID().uuidString)").path
        let ticks = Mutex(0)
        let store = try VersionStore.initialize(at: root) {
            let n = ticks.withLock { value -> Int in
                value += 1
                return value
            }
            return Timestamp.format(seconds: 1_790_000_000 + n / 1000, milliseconds: n % 1000)
        }
        let keyring = try APIKeyring([
            (writerKey, writer), (readerKey, APIUser(email: "reader@example.com", readOnly: true)), (otherKey, other),
        ])
        let configuration = ServerConfiguration(
            host: "127.0.0.1", port: 0, authentication: .keys(keyring), maxBodyBytes: maxBodyBytes, logLevel: .warning)
        let server = try await startServer(configuration: configuration, store: store)
        return TestServer(root: root, store: store, server: server)
    }

    func stop() async {
        await server.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Sends one request. `json` is sent as the body with `Content-Type: application/json`
    /// unless `contentType` says otherwise.
    @discardableResult
    func request(
        _ method: String, _ path: String, json: String? = nil, key: String? = writerKey,
        contentType: String? = "application/json", headers: [(String, String)] = []
    ) async throws -> HTTPResult {
        var all = headers
        if let key { all.append(("X-API-KEY", key)) }
        if json != nil, let contentType { all.append(("Content-Type", contentType)) }
        let bytes = RawHTTPClient.requestBytes(method: method, path: path, headers: all, body: json.map { Array($0.utf8) })
        return try await RawHTTPClient.send(port: port, request: bytes)
    }

    /// Every file under the store with its size and bytes: proof that a refused request wrote nothing.
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

    /// Runs `body` against a fresh server and always stops it.
    static func with(maxBodyBytes: Int = ServerConfiguration.defaultMaxBodyBytes, _ body: (TestServer) async throws -> Void)
        async throws
    {
        let server = try await start(maxBodyBytes: maxBodyBytes)
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}

/// Sample bodies from the seed pages.
enum Bodies {
    static func flow(path: String = "Personal Projects/MedQA Flow", temperature: Double = 0.8, versionName: String? = nil,
                     description: String? = nil) -> String {
        var fields = [
            "\"path\": \(quote(path))",
            """
            "attributes": {"prompt": {"template": "You are a helpful medical assistant helping with medical anamnesis. Answer {{question}}", "model": "gpt-4o", "temperature": \(temperature)}, "tool": {"name": "retrieval_tool_v3", "description": "Retrieval tool for MedQA.", "source_code": "def retrieval_tool(question: str) -> str:\\n pass\\n"}}
            """,
        ]
        if let versionName { fields.append("\"version_name\": \(quote(versionName))") }
        if let description { fields.append("\"version_description\": \(quote(description))") }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    static let routingAgentNodes = """
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
        ]
        """

    static func routingAgent(name: String = "routing-agent", extra: String = "") -> String {
        "{\"name\": \(quote(name)), \(routingAgentNodes)\(extra)}"
    }

    static let greetingNodes = """
        "nodes": [{"name": "greeting", "node_type": "VARIABLE", "is_output_node": true,
                   "configuration": {"value": {"type": "string", "value": "Hello, World!"}}, "dependencies": []}]
        """

    static func quote(_ s: String) -> String {
        (try? JSONValue.string(s).canonicalString) ?? "\"\""
    }
}

/// Percent-encodes a path segment (names with spaces or slashes).
func segment(_ s: String) -> String {
    s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
}
