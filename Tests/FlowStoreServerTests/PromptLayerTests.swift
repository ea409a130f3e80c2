import Foundation
import Testing
import FlowStoreCore
import FlowStoreDirectory
@testable import FlowStoreServer

@Suite("PromptLayer /rest/workflows over real HTTP")
struct PromptLayerTests {
    @Test("Create Workflow: a new agent, then new versions by id and by name")
    func create() async throws {
        try await TestServer.with { s in
            let created = try await s.request("POST", "/rest/workflows",
                                              json: Bodies.routingAgent(extra: #", "commit_message": "Initial version", "release_labels": ["production"], "folder_id": 7"#))
            #expect(created.status == 201)
            let body = try #require(created.json)
            #expect(body["success"] == true)
            #expect(body["message"] == "Workflow created successfully")
            #expect(body["workflow_name"] == "routing-agent")
            #expect(body["version_number"] == 1)
            #expect(body["base_version"] == .null)
            #expect(body["release_labels"] == ["production"])
            #expect(body["required_input_variables"] == ["query": "string"])
            let workflowID = try #require(body["workflow_id"]?.intValue)
            #expect(workflowID > 0 && workflowID < 1 << 53)
            #expect(body["workflow_version_id"]?.intValue != nil)
            let nodes = try #require(body["nodes"]?.arrayValue)
            #expect(nodes.map { $0["name"]?.stringValue ?? "" } == ["router", "sales_handler", "support_handler"])
            #expect(nodes.allSatisfy { ($0["id"]?.stringValue?.count ?? 0) == 36 && $0["node_type"] == "PROMPT_TEMPLATE" })
            #expect(nodes.map { $0["is_output_node"]?.boolValue ?? false } == [false, true, true])

            let byID = try await s.request("POST", "/rest/workflows",
                                           json: #"{"workflow_id": \#(workflowID), "commit_message": "v2", \#(Bodies.greetingNodes), "release_labels": ["staging"]}"#)
            #expect(byID.status == 201)
            #expect(byID["version_number"] == 2)
            #expect(byID["workflow_id"]?.intValue == workflowID)
            #expect(byID["message"] == "Workflow version created successfully")
            // Identical definitions still make a new version: every create is a version.
            let byName = try await s.request("POST", "/rest/workflows",
                                             json: #"{"workflow_name": "routing-agent", \#(Bodies.greetingNodes)}"#)
            #expect(byName["version_number"] == 3)

            let auto = try await s.request("POST", "/rest/workflows", json: "{\(Bodies.greetingNodes)}")
            #expect(auto.status == 201)
            #expect(auto["workflow_name"]?.stringValue?.hasPrefix("agent-") == true)

            // What the CLI sees: an agent file with three versions, labels, folder_id kept.
            let store = try VersionStore.open(at: s.root)
            let path = try FlowPath("routing-agent")
            let history = try store.history(from: try store.head(of: path))
            #expect(history.map { $0.1.number } == [3, 2, 1])
            #expect(history.last?.1.message == "Initial version")
            #expect(history.last?.1.metadata?["folder_id"] == 7)
            #expect(history.allSatisfy { $0.1.kind == .agent && $0.1.author == "Ada Lovelace <ada@example.com>" })
            #expect(try store.resolveVersion("routing-agent@production") == history[2].0)
            #expect(try store.resolveVersion("routing-agent@staging") == history[1].0)
            #expect(try store.verify().isClean)
        }
    }

    @Test("Create Workflow errors: 400 with a message, 404 for unknown workflows; nothing written")
    func createErrors() async throws {
        try await TestServer.with { s in
            #expect(try await s.request("POST", "/rest/workflows", json: Bodies.routingAgent()).status == 201)
            let flow = try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "a-flow"))
            #expect(flow.status == 200)
            let snapshot = try s.snapshot()

            func expect400(_ json: String, mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                let r = try await s.request("POST", "/rest/workflows", json: json)
                #expect(r.status == 400, "\(r)", sourceLocation: sourceLocation)
                #expect(r["success"] == false, sourceLocation: sourceLocation)
                #expect(r["message"]?.stringValue?.contains(text) == true, "\(r)", sourceLocation: sourceLocation)
            }
            try await expect400(Bodies.routingAgent(), mentioning: "already exists")
            try await expect400(#"{"name": "x", "workflow_id": 1, \#(Bodies.greetingNodes)}"#, mentioning: "cannot be combined")
            try await expect400(#"{"name": "x", "workflow_name": "routing-agent", \#(Bodies.greetingNodes)}"#, mentioning: "cannot be combined")
            try await expect400(#"{"name": "x"}"#, mentioning: "nodes")
            try await expect400(#"{"name": "x", "nodes": [{"name": "a", "node_type": "NOPE", "configuration": {}, "is_output_node": true}]}"#,
                                mentioning: "\"a\"")
            try await expect400(#"{"name": "x", "nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true, "dependencies": ["ghost"]}]}"#,
                                mentioning: "ghost")
            try await expect400(#"{"name": "x", \#(Bodies.greetingNodes), "edges": [{"source_node_name": "greeting", "target_node_name": "nobody", "is_and": true, "conditionals": []}]}"#,
                                mentioning: "nobody")
            try await expect400(#"{"name": "x", \#(Bodies.greetingNodes), "release_labels": ["bad/label"]}"#, mentioning: "label")
            try await expect400(#"{"workflow_name": "a-flow", \#(Bodies.greetingNodes)}"#, mentioning: "flow")
            try await expect400(#"{"name": "a-flow", \#(Bodies.greetingNodes)}"#, mentioning: "flow")
            try await expect400(#"{"name": "", \#(Bodies.greetingNodes)}"#, mentioning: "name")
            try await expect400(#"{"name": "x", "workflow_id": "7", \#(Bodies.greetingNodes)}"#, mentioning: "workflow_id")
            try await expect400("[1, 2]", mentioning: "object")
            try await expect400(#"{"name": "x""#, mentioning: "JSON")

            let unknownID = try await s.request("POST", "/rest/workflows", json: #"{"workflow_id": 1, \#(Bodies.greetingNodes)}"#)
            #expect(unknownID.status == 404)
            #expect(unknownID["success"] == false)
            #expect(try await s.request("POST", "/rest/workflows", json: #"{"workflow_name": "ghost", \#(Bodies.greetingNodes)}"#).status == 404)
            #expect(try await s.request("POST", "/rest/workflows", json: Bodies.routingAgent(name: "y"), contentType: "text/plain").status == 415)
            #expect(try s.snapshot() == snapshot)
        }
    }

    @Test("Patch from a base version, read by label and number, list versions, move labels")
    func patchGetLabels() async throws {
        try await TestServer.with { s in
            let created = try await s.request("POST", "/rest/workflows", json: Bodies.routingAgent(extra: #", "release_labels": ["production"]"#))
            let workflowID = try #require(created["workflow_id"]?.intValue)
            #expect(try await s.request("POST", "/rest/workflows", json: #"{"workflow_name": "routing-agent", \#(Bodies.greetingNodes)}"#).status == 201)

            // Patch from version 1: only required_input_variables changes; nodes and edges are v1's.
            let patched = try await s.request("PATCH", "/rest/workflows/routing-agent",
                                              json: #"{"base_version": 1, "required_input_variables": {"query": "string", "locale": "string"}, "commit_message": "add locale", "release_labels": ["staging"]}"#)
            #expect(patched.status == 201)
            #expect(patched["version_number"] == 3)
            #expect(patched["base_version"] == 1)
            #expect(patched["nodes"]?.arrayValue?.count == 3)
            #expect(patched["release_labels"] == ["staging"])
            #expect(try await s.request("PATCH", "/rest/workflows/routing-agent", json: #"{"base_version": 9}"#).status == 404)
            #expect(try await s.request("PATCH", "/rest/workflows/ghost", json: "{}").status == 404)
            #expect(try await s.request("PATCH", "/rest/workflows/routing-agent", json: #"{"nodes": []}"#).status == 400)

            let latest = try await s.request("GET", "/rest/workflows/routing-agent")
            #expect(latest.status == 200)
            #expect(latest["workflow"]?["id"]?.intValue == workflowID)
            #expect(latest["workflow"]?["latest_version_number"] == 3)
            #expect(latest["version"]?["version_number"] == 3)
            #expect(latest["version"]?["base_version"] == 1)
            #expect(latest["version"]?["commit_message"] == "add locale")
            #expect(latest["version"]?["required_input_variables"]?["locale"] == "string")
            #expect(latest["version"]?["edges"]?.arrayValue?.count == 2)
            let byLabel = try await s.request("GET", "/rest/workflows/\(workflowID)?label=production")
            #expect(byLabel["version"]?["version_number"] == 1)
            #expect(try await s.request("GET", "/rest/workflows/routing-agent?version=2")["version"]?["version_number"] == 2)
            #expect(try await s.request("GET", "/rest/workflows/routing-agent?version=7").status == 404)
            #expect(try await s.request("GET", "/rest/workflows/routing-agent?label=nope").status == 404)
            #expect(try await s.request("GET", "/rest/workflows/routing-agent?label=production&version=1").status == 400)
            #expect(try await s.request("GET", "/rest/workflows/999").status == 404)

            let versions = try await s.request("GET", "/rest/workflows/routing-agent/versions")
            #expect(versions["versions"]?.arrayValue?.map { $0["version_number"]?.intValue ?? 0 } == [3, 2, 1])
            #expect(versions["versions"]?.arrayValue?.last?["release_labels"] == ["production"])
            #expect(try await s.request("GET", "/rest/workflows/ghost/versions").status == 404)

            let moved = try await s.request("PATCH", "/rest/workflows/routing-agent/labels/production", json: #"{"version_number": 3}"#)
            #expect(moved.status == 200)
            #expect(moved["version_number"] == 3)
            #expect(try await s.request("GET", "/rest/workflows/routing-agent?label=production")["version"]?["version_number"] == 3)
            #expect(try await s.request("PATCH", "/rest/workflows/routing-agent/labels/production", json: #"{"version_number": 8}"#).status == 404)
            #expect(try await s.request("PATCH", "/rest/workflows/routing-agent/labels/production", json: "{}").status == 400)
            #expect(try await s.request("DELETE", "/rest/workflows/routing-agent/labels/staging").status == 200)
            #expect(try await s.request("DELETE", "/rest/workflows/routing-agent/labels/staging").status == 404)

            // The SDK's name → id lookup.
            let sdk = try await s.request("GET", "/workflows/routing-agent")
            #expect(sdk.status == 200)
            #expect(sdk["workflow"]?["id"]?.intValue == workflowID)
            #expect(try await s.request("GET", "/workflows/ghost").status == 404)

            // The store: version 3's parents are the head at the time (2) and its base (1).
            let store = try VersionStore.open(at: s.root)
            let path = try FlowPath("routing-agent")
            let v3 = try store.version(try store.version(numbered: 3, of: path))
            #expect(v3.parents == [try store.version(numbered: 2, of: path), try store.version(numbered: 1, of: path)])
            let labelEvents = try store.audit(path: path).filter { $0.event.ref.rawValue.hasSuffix("/labels/production") }
            #expect(labelEvents.map(\.event.action) == [.move, .create])
            #expect(try store.verify().isClean)
        }
    }

    @Test("Names of 255 characters are created and read back, ASCII or up to four bytes each",
          arguments: [String(repeating: "a", count: 255), String(repeating: "Ж", count: 255), String(repeating: "𝄞", count: 255),
                      "Team/" + String(repeating: "n", count: 250)])
    func longNames(_ name: String) async throws {
        try await TestServer.with { s in
            let created = try await s.request("POST", "/rest/workflows", json: Bodies.routingAgent(name: name))
            #expect(created.status == 201, "\(created)")
            #expect(created["workflow_name"]?.stringValue == name)
            let byName = try await s.request("GET", "/rest/workflows/\(segment(name))")
            #expect(byName.status == 200, "\(byName)")
            #expect(byName["workflow"]?["name"]?.stringValue == name)
            #expect(byName["version_number"] == 1)
            let id = try #require(created["workflow_id"]?.intValue)
            #expect(try await s.request("GET", "/workflows/\(id)")["workflow_name"]?.stringValue == name)
            let next = try await s.request("POST", "/rest/workflows", json: #"{"workflow_name": \#(Bodies.quote(name)), \#(Bodies.greetingNodes)}"#)
            #expect(next["version_number"] == 2)
            #expect(try VersionStore.open(at: s.root).verify().isClean)
        }
    }

    @Test("Longer names are refused with the limit: 255 characters, and 1020 bytes of UTF-8")
    func tooLongNames() async throws {
        try await TestServer.with { s in
            let tooMany = try await s.request("POST", "/rest/workflows", json: Bodies.routingAgent(name: String(repeating: "a", count: 256)))
            #expect(tooMany.status == 400)
            #expect(tooMany["message"]?.stringValue?.contains("255 characters") == true, "\(tooMany)")
            // 255 characters of eight bytes each (a thumb and a skin tone).
            let tooWide = try await s.request("POST", "/rest/workflows", json: Bodies.routingAgent(name: String(repeating: "👍🏽", count: 255)))
            #expect(tooWide.status == 400)
            #expect(tooWide["message"]?.stringValue?.contains("1020 bytes") == true, "\(tooWide)")
        }
    }

    @Test("Names with spaces and folders work through percent-encoding")
    func encodedNames() async throws {
        try await TestServer.with { s in
            #expect(try await s.request("POST", "/rest/workflows", json: #"{"name": "Team A/my agent", \#(Bodies.greetingNodes)}"#).status == 201)
            let r = try await s.request("GET", "/workflows/\(segment("Team A/my agent"))")
            #expect(r.status == 200)
            #expect(r["workflow"]?["name"] == "Team A/my agent")
        }
    }
}
