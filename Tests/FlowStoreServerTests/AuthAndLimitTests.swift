import Foundation
import Testing
import FlowStoreCore
import FlowStoreDirectory
@testable import FlowStoreServer

@Suite("Authentication, body limits and content types")
struct AuthAndLimitTests {
    /// A concrete request path for a route template.
    static func concrete(_ route: Route) -> String {
        route.path.replacingOccurrences(of: "{id}", with: "fl_x").replacingOccurrences(of: "{version_id}", with: "flv_x")
            .replacingOccurrences(of: "{environment_id}", with: "env_x").replacingOccurrences(of: "{log_id}", with: "log_x")
            .replacingOccurrences(of: "{workflow_id_or_name}", with: "x").replacingOccurrences(of: "{label}", with: "x")
    }

    @Test("Every route answers 401 in its dialect without a key or with a wrong one, and writes nothing")
    func unauthorized() async throws {
        try await TestServer.with { s in
            let snapshot = try s.snapshot()
            for route in RouteTable.routes {
                let body = route.readsBody ? "{}" : nil
                for key in [nil, "wrong-key"] {
                    let r = try await s.request(route.method, Self.concrete(route), json: body, key: key)
                    #expect(r.status == 401, "\(route.method) \(route.path) key \(key ?? "none"): \(r)")
                    #expect(r.headers["content-type"] == "application/json")
                    switch route.dialect {
                    case .humanloop: #expect(r["detail"]?.stringValue != nil)
                    case .promptlayer:
                        #expect(r["success"] == false)
                        #expect(r["message"]?.stringValue != nil)
                    }
                }
            }
            // The header name is case-insensitive; the key is not.
            #expect(try await s.request("GET", "/v5/flows", key: nil, headers: [("x-api-key", TestServer.writerKey)]).status == 200)
            #expect(try await s.request("GET", "/v5/flows", key: TestServer.writerKey.uppercased()).status == 401)
            #expect(try s.snapshot() == snapshot)
        }
    }

    @Test("Read-only keys may read but not write; each key's user is the author")
    func readOnlyAndAuthors() async throws {
        try await TestServer.with { s in
            #expect(try await s.request("GET", "/v5/flows", key: TestServer.readerKey).status == 200)
            let refused = try await s.request("POST", "/v5/flows", json: Bodies.flow(), key: TestServer.readerKey)
            #expect(refused.status == 403)
            #expect(try await s.request("POST", "/rest/workflows", json: Bodies.routingAgent(), key: TestServer.readerKey).status == 403)
            let created = try await s.request("POST", "/v5/flows", json: Bodies.flow(), key: TestServer.otherKey)
            #expect(created["created_by"] == ["id": "usr_grace", "email_address": "grace@example.com", "full_name": "Grace Hopper"])
            let store = try VersionStore.open(at: s.root)
            #expect(try store.audit().allSatisfy { $0.event.author == "Grace Hopper <grace@example.com>" })
        }
    }

    @Test("Bodies over the limit get 413, by Content-Length and while streaming; nothing is written")
    func tooLarge() async throws {
        try await TestServer.with(maxBodyBytes: 64 * 1024) { s in
            let snapshot = try s.snapshot()
            let big = Array(repeating: UInt8(ascii: " "), count: 100 * 1024)
            for (method, path, dialectKey) in [("POST", "/v5/flows", "detail"), ("POST", "/rest/workflows", "message")] {
                // Declared too large: refused before reading.
                let declared = RawHTTPClient.requestBytes(
                    method: method, path: path,
                    headers: [("X-API-KEY", TestServer.writerKey), ("Content-Type", "application/json")], body: big)
                let r1 = try await RawHTTPClient.send(port: s.port, request: declared)
                #expect(r1.status == 413)
                #expect(r1[dialectKey] != nil)
                // Chunked, no length: refused once the limit is crossed.
                let head = RawHTTPClient.requestBytes(
                    method: method, path: path,
                    headers: [("X-API-KEY", TestServer.writerKey), ("Content-Type", "application/json"),
                              ("Transfer-Encoding", "chunked")], body: nil)
                var chunks: [[UInt8]] = []
                for _ in 0..<10 { chunks.append(Array("4000\r\n".utf8) + Array(repeating: UInt8(ascii: " "), count: 0x4000) + Array("\r\n".utf8)) }
                chunks.append(Array("0\r\n\r\n".utf8))
                let r2 = try await RawHTTPClient.send(port: s.port, request: head, bodyChunks: chunks)
                #expect(r2.status == 413)
            }
            #expect(try s.snapshot() == snapshot)
        }
        // The default limit is 10 MiB.
        try await TestServer.with { s throws in
            let declared = Array("POST /v5/flows HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-API-KEY: \(TestServer.writerKey)\r\nContent-Type: application/json\r\nContent-Length: \(10 * 1024 * 1024 + 1)\r\n\r\n{".utf8)
            #expect(try await RawHTTPClient.send(port: s.port, request: declared).status == 413)
            // Well above Hummingbird's own 2 MiB default for collected bodies, below ours: accepted.
            let text = String(repeating: "x", count: 3 * 1024 * 1024)
            let large = try await s.request("POST", "/v5/flows", json: #"{"path": "Large", "attributes": {"text": "\#(text)"}}"#)
            #expect(large.status == 200)
            #expect(large["attributes"]?["text"]?.stringValue?.count == text.count)
        }
    }

    @Test("Unknown routes get a JSON 404; JSON media types with parameters are accepted")
    func notFoundAndMediaTypes() async throws {
        try await TestServer.with { s in
            let hl = try await s.request("GET", "/v5/prompts")
            #expect(hl.status == 404)
            #expect(hl["detail"] == "Not Found")
            let pl = try await s.request("GET", "/rest/nothing")
            #expect(pl.status == 404)
            #expect(pl["success"] == false)
            #expect(try await s.request("PUT", "/v5/flows").status == 404)
            #expect(try await s.request("POST", "/v5/flows", json: Bodies.flow(), contentType: "application/json; charset=utf-8").status == 200)
            #expect(try await s.request("POST", "/v5/flows", json: Bodies.flow(), contentType: "application/x-www-form-urlencoded").status == 415)
            #expect(try await s.request("POST", "/v5/flows", json: Bodies.flow(), contentType: nil).status == 200)
        }
    }

    @Test("Keys files, the environment variable, and configuration checks")
    func configuration() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("keys.json").path
        try Data("""
            {"keys": [{"key": "alpha-key", "user": {"id": "usr_1", "email_address": "a@example.com", "full_name": "A"}},
                      {"key": "beta-key", "user": {"full_name": "B"}, "read_only": true}]}
            """.utf8).write(to: URL(fileURLWithPath: file))
        // Like ssh with a private key: a keys file others may read is refused, naming the fix.
        for mode in [0o644, 0o640, 0o604, 0o620] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
            #expect {
                try APIKeyring.load(file: file)
            } throws: { error in
                "\(error)".contains("chmod 600 \(file)") && "\(error)".contains(String(mode, radix: 8))
            }
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        let ring = try APIKeyring.load(file: file)
        #expect(ring.count == 2)
        #expect(ring.user(forKey: "alpha-key")?.id == "usr_1")
        #expect(ring.user(forKey: "alpha-key")?.author == "A <a@example.com>")
        #expect(ring.user(forKey: "beta-key")?.readOnly == true)
        #expect(ring.user(forKey: "beta-key")?.id.hasPrefix("usr_") == true)
        #expect(ring.user(forKey: "alpha-ke") == nil)
        #expect(ring.user(forKey: "") == nil)

        try Data(#"{"keys": [{"key": "k", "user": {}}]}"#.utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        #expect(throws: ServerConfigurationError.self) { try APIKeyring.load(file: file) }
        try Data(#"{"keys": [{"key": "k", "user": {"full_name": "x"}}, {"key": "k", "user": {"full_name": "y"}}]}"#.utf8)
            .write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        #expect(throws: ServerConfigurationError.self) { try APIKeyring.load(file: file) }
        #expect(throws: ServerConfigurationError.self) { try APIKeyring.load(file: dir.appendingPathComponent("missing").path) }

        let env = try APIKeyring.parse(environment: "k1=ada@example.com, k2=Grace Hopper,k3=Alan Turing <alan@example.com>")
        #expect(env.user(forKey: "k1")?.email == "ada@example.com")
        #expect(env.user(forKey: "k2")?.fullName == "Grace Hopper")
        #expect(env.user(forKey: "k3")?.author == "Alan Turing <alan@example.com>")
        #expect(throws: ServerConfigurationError.self) { try APIKeyring.parse(environment: "novalue") }
        #expect(throws: ServerConfigurationError.self) { try APIKeyring.parse(environment: "k=") }

        #expect(throws: ServerConfigurationError.self) {
            try ServerConfiguration(host: "0.0.0.0", authentication: .disabled).validate()
        }
        try ServerConfiguration(host: "127.0.0.1", authentication: .disabled).validate()
        // Loopback means the address, not the spelling: `127.evil.invalid` is a DNS name
        // (`.invalid` never resolves, RFC 6761) that merely starts with `127.`.
        for host in ["127.evil.invalid", "127.0.0.1.invalid", "0.0.0.0", "::", "10.0.0.1", "::ffff:10.0.0.1", "", "[::]"] {
            #expect(!ServerConfiguration.isLoopback(host), "\(host)")
            #expect(throws: ServerConfigurationError.self, "\(host)") {
                try ServerConfiguration(host: host, authentication: .disabled).validate()
            }
        }
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1", "localhost"] {
            #expect(ServerConfiguration.isLoopback(host), "\(host)")
        }
        #expect(throws: ServerConfigurationError.self) {
            try ServerConfiguration(authentication: .keys(try APIKeyring([]))).validate()
        }
        #expect(throws: ServerConfigurationError.self) {
            try ServerConfiguration(authentication: .disabled, environments: [EnvironmentSpec(name: "a", tag: .other)]).validate()
        }
    }

    @Test("Without authentication every request acts as the anonymous user; stop closes the listener")
    func insecureAndStop() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-anon-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try VersionStore.initialize(at: root)
        let server = try await startServer(
            configuration: ServerConfiguration(port: 0, authentication: .disabled, logLevel: .warning), store: store)
        let request = RawHTTPClient.requestBytes(method: "POST", path: "/v5/flows", headers: [("Content-Type", "application/json")],
                                                 body: Array(Bodies.flow().utf8))
        let r = try await RawHTTPClient.send(port: server.port, request: request)
        #expect(r.status == 200)
        #expect(r["created_by"]?["id"] == "usr_anonymous")
        await server.stop()
        await #expect(throws: HTTPClientError.self) {
            try await RawHTTPClient.send(port: server.port, request: Array("GET /v5/flows HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        }
    }
}
