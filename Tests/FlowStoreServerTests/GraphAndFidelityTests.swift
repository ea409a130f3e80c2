import Foundation
import Testing
import FlowStoreCore
@testable import FlowStoreServer

/// Issue 15: item 1 over HTTP (hostile graphs answered fast, naming the limit) and item 10
/// (Patch Workflow's documented `nodes` object and 201, Get Workflow's flat fields).
@Suite("Agent graph limits and PromptLayer fidelity over HTTP")
struct GraphAndFidelityTests {
    @Test("A 10 MiB agent body of one repeated dependency is refused with a 400 naming the limit, fast")
    func hostileGraphBody() async throws {
        try await TestServer.with { s in
            let snapshot = try s.snapshot()
            // Just under the 10 MiB body limit: ~2.6 million repeats of "a".
            let prefix = #"{"name": "hostile", "nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": false}, {"name": "b", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true, "dependencies": ["a""#
            let suffix = "]}]}"
            let room = ServerConfiguration.defaultMaxBodyBytes - prefix.utf8.count - suffix.utf8.count
            let whole = prefix + String(repeating: #","a""#, count: room / 4) + suffix
            #expect(whole.utf8.count <= ServerConfiguration.defaultMaxBodyBytes)
            // The whole 10 MiB holds more JSON values than a body may: refused while parsing.
            let early = ContinuousClock.now
            let tooMany = try await s.request("POST", "/rest/workflows", json: whole)
            #expect(ContinuousClock.now - early < .seconds(10))
            #expect(tooMany.status == 413, "\(tooMany.status)")
            // Within the value limit, the graph's own limit refuses it.
            let body = prefix + String(repeating: #","a""#, count: 900_000) + suffix
            let started = ContinuousClock.now
            let r = try await s.request("POST", "/rest/workflows", json: body)
            // Generous for a debug build on a shared machine (under a second in release).
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(r.status == 400, "\(r.status)")
            #expect(r["message"]?.stringValue?.contains("Definition.maxDependencies") == true, "\(r)")
            // 10,000 repeats are within the limits and accepted.
            let ok = prefix + String(repeating: #","a""#, count: 9_999) + suffix
            #expect(try await s.request("POST", "/rest/workflows", json: ok.replacingOccurrences(of: "hostile", with: "fine")).status == 201)
            #expect(try s.snapshot().count > snapshot.count)
        }
    }

    @Test("Patch Workflow takes nodes keyed by name (deep-merged configuration, null removes) and answers 201")
    func patchNodesObject() async throws {
        try await TestServer.with { s in
            #expect(try await s.request("POST", "/rest/workflows", json: Bodies.routingAgent()).status == 201)
            let patched = try await s.request("PATCH", "/rest/workflows/routing-agent", json: #"""
                {"commit_message": "v2", "nodes": {
                  "router": {"configuration": {"template": {"label": "production"}}},
                  "support_handler": null,
                  "extra": {"node_type": "VARIABLE", "is_output_node": false, "configuration": {"value": 1}, "dependencies": []}}}
                """#)
            #expect(patched.status == 201, "\(patched)")
            #expect(patched["version_number"] == 2)
            let names = patched["nodes"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            #expect(names == ["router", "sales_handler", "extra"])

            let got = try await s.request("GET", "/rest/workflows/routing-agent")
            let nodes = try #require(got["version"]?["nodes"]?.arrayValue)
            let router = try #require(nodes.first { $0["name"] == "router" })
            // Deep-merged: the base's prompt_name is kept beside the new label.
            #expect(router["configuration"]?["template"] == ["prompt_name": "router", "label": "production"])
            #expect(router["dependencies"] == ["query"])
            // Edges to the removed node are dropped; the other one is kept.
            let edges = try #require(got["version"]?["edges"]?.arrayValue)
            #expect(edges.map { $0["target_node_name"] } == ["sales_handler"])

            // The array form still works; a node update that is not an object is a 400.
            #expect(try await s.request("PATCH", "/rest/workflows/routing-agent", json: "{\(Bodies.greetingNodes), \"edges\": []}").status == 201)
            #expect(try await s.request("PATCH", "/rest/workflows/routing-agent", json: #"{"nodes": {"greeting": 3}}"#).status == 400)
            // Removing the only output node leaves an invalid graph: 400, as documented.
            #expect(try await s.request("PATCH", "/rest/workflows/routing-agent", json: #"{"nodes": {"greeting": null}}"#).status == 400)
        }
    }

    @Test("Get Workflow carries the reference's flat fields beside the nested ones")
    func getWorkflowFlatFields() async throws {
        try await TestServer.with { s in
            let created = try await s.request("POST", "/rest/workflows", json: Bodies.routingAgent(extra: #", "release_labels": ["production"], "commit_message": "first""#))
            for path in ["/workflows/routing-agent", "/rest/workflows/routing-agent"] {
                let r = try await s.request("GET", path)
                #expect(r.status == 200)
                #expect(r["workflow_id"] == created["workflow_id"])
                #expect(r["workflow_id"] == r["workflow"]?["id"])
                #expect(r["workflow_name"] == "routing-agent")
                #expect(r["workflow_version_id"] == created["workflow_version_id"])
                #expect(r["version_number"] == 1)
                #expect(r["nodes"]?.arrayValue?.count == 3)
                #expect(r["nodes"]?.arrayValue?.first?["configuration"] != nil)
                #expect(r["edges"]?.arrayValue?.count == 2)
                #expect(r["commit_message"] == "first")
                #expect(r["release_labels"] == ["production"])
                #expect(r["version"]?["version_number"] == 1)
            }
        }
    }
}
