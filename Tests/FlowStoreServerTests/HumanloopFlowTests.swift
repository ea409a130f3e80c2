import Foundation
import Testing
import FlowStoreCore
import FlowStoreDirectory
@testable import FlowStoreServer

@Suite("Humanloop /v5/flows over real HTTP")
struct HumanloopFlowTests {
    @Test("Upsert creates, reuses identical attributes, and refuses duplicate names and bad bodies")
    func upsert() async throws {
        try await TestServer.with { s in
            let created = try await s.request("POST", "/v5/flows", json: Bodies.flow(versionName: "medqa-flow-v1", description: "Initial version"))
            #expect(created.status == 200)
            let flow = try #require(created.json)
            #expect(flow["path"] == "Personal Projects/MedQA Flow")
            #expect(flow["name"] == "MedQA Flow")
            #expect(flow["type"] == "flow")
            #expect(flow["version_name"] == "medqa-flow-v1")
            #expect(flow["version_description"] == "Initial version")
            #expect(flow["version_logs_count"] == 0)
            #expect(flow["attributes"]?["prompt"]?["temperature"] == 0.8)
            #expect(flow["created_by"]?["email_address"] == "ada@example.com")
            #expect(flow["created_by"]?["full_name"] == "Ada Lovelace")
            #expect(flow["environments"] == .array([]))
            for key in ["created_at", "updated_at", "last_used_at"] {
                let text = try #require(flow[key]?.stringValue)
                #expect(Timestamp.isValid(text), "\(key) is ISO-8601: \(text)")
            }
            let id = try #require(flow["id"]?.stringValue)
            let versionID = try #require(flow["version_id"]?.stringValue)
            #expect(id.hasPrefix("fl_") && id.count == 27)
            #expect(versionID.hasPrefix("flv_"))

            // Same attributes: the same version comes back, nothing new is written.
            let before = try s.snapshot()
            let again = try await s.request("POST", "/v5/flows", json: Bodies.flow())
            #expect(again.status == 200)
            #expect(again["version_id"]?.stringValue == versionID)
            #expect(try s.snapshot() == before)

            // By id, with new attributes: a second version.
            let second = try await s.request(
                "POST", "/v5/flows",
                json: #"{"id": "\#(id)", "attributes": {"prompt": {"model": "gpt-4o", "temperature": 0.5}}, "version_name": "v2"}"#)
            #expect(second.status == 200)
            #expect(second["id"]?.stringValue == id)
            #expect(second["version_id"]?.stringValue != versionID)

            // Errors, none of which writes anything.
            let snapshot = try s.snapshot()
            let duplicate = try await s.request("POST", "/v5/flows", json: Bodies.flow(temperature: 0.1, versionName: "medqa-flow-v1"))
            #expect(duplicate.status == 409)
            #expect(duplicate["detail"]?.stringValue?.contains("medqa-flow-v1") == true)

            let noAttributes = try await s.request("POST", "/v5/flows", json: #"{"path": "x"}"#)
            #expect(noAttributes.status == 422)
            #expect(noAttributes["detail"]?.arrayValue?.first?["loc"] == ["body", "attributes"])
            #expect(noAttributes["detail"]?.arrayValue?.first?["msg"]?.stringValue != nil)
            #expect(noAttributes["detail"]?.arrayValue?.first?["type"]?.stringValue != nil)

            let badAttributes = try await s.request("POST", "/v5/flows", json: #"{"path": "x", "attributes": [1]}"#)
            #expect(badAttributes.status == 422)
            let noPath = try await s.request("POST", "/v5/flows", json: #"{"attributes": {}}"#)
            #expect(noPath.status == 422)
            let badPath = try await s.request("POST", "/v5/flows", json: #"{"path": "../escape", "attributes": {}}"#)
            #expect(badPath.status == 422)
            #expect(badPath["detail"]?.arrayValue?.first?["loc"] == ["body", "path"])
            let malformed = try await s.request("POST", "/v5/flows", json: #"{"path": "x", "attributes": {}"#)
            #expect(malformed.status == 422)
            #expect(malformed["detail"]?.arrayValue?.first?["type"] == "json_invalid")
            let duplicateKey = try await s.request("POST", "/v5/flows", json: #"{"path": "x", "path": "y", "attributes": {}}"#)
            #expect(duplicateKey.status == 422)
            let notObject = try await s.request("POST", "/v5/flows", json: "[]")
            #expect(notObject.status == 422)
            let unknownID = try await s.request("POST", "/v5/flows", json: #"{"id": "fl_000000000000000000000000", "attributes": {}}"#)
            #expect(unknownID.status == 404)
            let wrongType = try await s.request("POST", "/v5/flows", json: Bodies.flow(), contentType: "text/plain")
            #expect(wrongType.status == 415)
            #expect(wrongType["detail"]?.stringValue != nil)
            let empty = try await s.request("POST", "/v5/flows", json: "")
            #expect(empty.status == 422)
            #expect(try s.snapshot() == snapshot)
        }
    }

    @Test("Get, list (paged), list versions, move and delete")
    func getListMoveDelete() async throws {
        try await TestServer.with { s in
            var ids: [String] = []
            for (i, name) in ["Alpha", "beta", "Gamma"].enumerated() {
                let r = try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "Folder/\(name)", temperature: Double(i) / 10))
                ids.append(try #require(r["id"]?.stringValue))
            }
            let v2 = try await s.request("POST", "/v5/flows", json: #"{"id": "\#(ids[0])", "attributes": {"x": 1}, "version_name": "two"}"#)
            let v2ID = try #require(v2["version_id"]?.stringValue)

            let head = try await s.request("GET", "/v5/flows/\(ids[0])")
            #expect(head.status == 200)
            #expect(head["version_id"]?.stringValue == v2ID)
            let missing = try await s.request("GET", "/v5/flows/fl_nope")
            #expect(missing.status == 404)
            #expect(missing["detail"]?.stringValue != nil)
            #expect(try await s.request("GET", "/v5/flows/\(ids[0])?version_id=flv_nope").status == 404)
            #expect(try await s.request("GET", "/v5/flows/\(ids[0])?environment=production").status == 404)
            #expect(try await s.request("GET", "/v5/flows/\(ids[0])?environment=nowhere").status == 404)

            let page1 = try await s.request("GET", "/v5/flows?page=1&size=2&sort_by=name&order=asc")
            #expect(page1.status == 200)
            #expect(page1["total"] == 3)
            #expect(page1["page"] == 1)
            #expect(page1["size"] == 2)
            #expect(page1["records"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == ["Alpha", "Gamma"])
            let page2 = try await s.request("GET", "/v5/flows?page=2&size=2&sort_by=name&order=asc")
            #expect(page2["records"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == ["beta"])
            let page3 = try await s.request("GET", "/v5/flows?page=3&size=2")
            #expect(page3["records"] == .array([]))
            let filtered = try await s.request("GET", "/v5/flows?name=AMM")
            #expect(filtered["records"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == ["Gamma"])
            let spaced = try await s.request("GET", "/v5/flows?name=Folder+nothing")
            #expect(spaced["total"] == 0)
            let byUser = try await s.request("GET", "/v5/flows?user_filter=grace")
            #expect(byUser["total"] == 0)
            let desc = try await s.request("GET", "/v5/flows?sort_by=created_at&order=desc")
            #expect(desc["records"]?.arrayValue?.first?["name"] == "Alpha")  // its newest version is the newest
            #expect(try await s.request("GET", "/v5/flows?page=0").status == 422)
            #expect(try await s.request("GET", "/v5/flows?size=abc").status == 422)
            #expect(try await s.request("GET", "/v5/flows?sort_by=size").status == 422)
            #expect(try await s.request("GET", "/v5/flows?order=up").status == 422)

            let versions = try await s.request("GET", "/v5/flows/\(ids[0])/versions")
            #expect(versions.status == 200)
            #expect(versions["records"]?.arrayValue?.count == 2)
            #expect(versions["records"]?.arrayValue?.first?["version_name"] == "two")
            #expect(try await s.request("GET", "/v5/flows/fl_nope/versions").status == 404)

            let moved = try await s.request("PATCH", "/v5/flows/\(ids[0])", json: #"{"path": "Archive/Alpha Old"}"#)
            #expect(moved.status == 200)
            #expect(moved["path"] == "Archive/Alpha Old")
            #expect(moved["id"]?.stringValue == ids[0])
            let renamed = try await s.request("PATCH", "/v5/flows/\(ids[0])", json: #"{"name": "Alpha New"}"#)
            #expect(renamed["path"] == "Archive/Alpha New")
            let archiveDir = try #require(renamed["directory_id"]?.stringValue)
            let intoDir = try await s.request("PATCH", "/v5/flows/\(ids[1])", json: #"{"directory_id": "\#(archiveDir)"}"#)
            #expect(intoDir["path"] == "Archive/beta")
            #expect(try await s.request("PATCH", "/v5/flows/\(ids[1])", json: #"{"directory_id": "dir_nope"}"#).status == 404)
            let taken = try await s.request("PATCH", "/v5/flows/\(ids[2])", json: #"{"path": "Archive/beta"}"#)
            #expect(taken.status == 409)
            #expect(try await s.request("PATCH", "/v5/flows/\(ids[2])", json: "{}").status == 422)
            #expect(try await s.request("PATCH", "/v5/flows/fl_nope", json: #"{"name": "x"}"#).status == 404)

            let deleted = try await s.request("DELETE", "/v5/flows/\(ids[2])")
            #expect(deleted.status == 200)
            #expect(deleted.body.isEmpty)
            #expect(try await s.request("GET", "/v5/flows/\(ids[2])").status == 404)
            #expect(try await s.request("DELETE", "/v5/flows/\(ids[2])").status == 404)

            // What the CLI sees: moves and deletes are path events; the objects all remain.
            let store = try VersionStore.open(at: s.root)
            #expect(try store.files().map(\.path.rawValue) == ["Archive/Alpha New", "Archive/beta"])
            let audit = try store.audit()
            #expect(audit.contains { $0.event.ref.rawValue == "paths/Folder/Gamma" && $0.event.action == .delete })
            #expect(audit.allSatisfy { $0.event.author == "Ada Lovelace <ada@example.com>" })
            #expect(try store.verify().isClean)
        }
    }

    @Test("Version names and descriptions change by annotation; deleting hides a version")
    func updateAndDeleteVersions() async throws {
        try await TestServer.with { s in
            let v1 = try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "F", temperature: 0.1, versionName: "one"))
            let flowID = try #require(v1["id"]?.stringValue)
            let v1ID = try #require(v1["version_id"]?.stringValue)
            let v2 = try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "F", temperature: 0.2, versionName: "two"))
            let v2ID = try #require(v2["version_id"]?.stringValue)

            let renamed = try await s.request("PATCH", "/v5/flows/\(flowID)/versions/\(v1ID)",
                                              json: #"{"name": "first", "description": "the first"}"#)
            #expect(renamed.status == 200)
            #expect(renamed["version_name"] == "first")
            #expect(renamed["version_description"] == "the first")
            #expect(renamed["version_id"]?.stringValue == v1ID)
            // Effective names count: "two" is taken, "one" is free again.
            let clash = try await s.request("PATCH", "/v5/flows/\(flowID)/versions/\(v1ID)", json: #"{"name": "two"}"#)
            #expect(clash.status == 409)
            #expect(try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "F", temperature: 0.3, versionName: "first")).status == 409)
            let reused = try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "F", temperature: 0.3, versionName: "one"))
            #expect(reused.status == 200)
            #expect(reused["version_name"] == "one")
            let v3ID = try #require(reused["version_id"]?.stringValue)
            #expect(try await s.request("PATCH", "/v5/flows/\(flowID)/versions/flv_nope", json: #"{"name": "x"}"#).status == 404)
            #expect(try await s.request("PATCH", "/v5/flows/\(flowID)/versions/\(v1ID)", json: #"{"name": 5}"#).status == 422)

            // Deploy v2, then deleting it is refused until the deployment is removed.
            let envs = try await s.request("GET", "/v5/flows/\(flowID)/environments")
            let production = try #require(envs.json?.arrayValue?.first { $0["name"] == "production" }?["id"]?.stringValue)
            #expect(try await s.request("POST", "/v5/flows/\(flowID)/environments/\(production)?version_id=\(v2ID)").status == 200)
            #expect(try await s.request("DELETE", "/v5/flows/\(flowID)/versions/\(v2ID)").status == 409)
            #expect(try await s.request("DELETE", "/v5/flows/\(flowID)/environments/\(production)").status == 200)
            let deleted = try await s.request("DELETE", "/v5/flows/\(flowID)/versions/\(v2ID)")
            #expect(deleted.status == 200)
            #expect(try await s.request("DELETE", "/v5/flows/\(flowID)/versions/\(v2ID)").status == 404)
            #expect(try await s.request("GET", "/v5/flows/\(flowID)?version_id=\(v2ID)").status == 404)
            let listed = try await s.request("GET", "/v5/flows/\(flowID)/versions")
            #expect(listed["records"]?.arrayValue?.compactMap { $0["version_id"]?.stringValue } == [v3ID, v1ID])
            // Its name is free again; upserting its attributes restores it.
            let restored = try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "F", temperature: 0.2))
            #expect(restored["version_id"]?.stringValue == v2ID)
            #expect(try await s.request("GET", "/v5/flows/\(flowID)/versions")["records"]?.arrayValue?.count == 3)

            // The store: versions never changed; the annotation chain explains every change.
            let store = try VersionStore.open(at: s.root)
            let head = try store.head(of: try FlowPath("F"))
            let history = try store.history(from: head)
            #expect(history.count == 3)
            #expect(history.map { $0.1.name } == [nil, "two", "one"])  // v3's name came from an annotation
            let v1Object = try #require(history.last)
            let meta = try store.metadata(of: v1Object.0, v1Object.1)
            #expect(meta.name == "first" && meta.description == "the first" && !meta.hidden)
            let v2Object = history[1]
            let annotationRef = RefNames.annotation(v2Object.1.file, v2Object.0)
            let chain = try store.audit(path: try FlowPath("F")).filter { $0.event.ref == annotationRef }
            #expect(chain.map(\.event.message) == ["restore version (upsert)", "delete version"])
            #expect(try store.verify().isClean)
        }
    }

    @Test("Deployments: set, get by environment and default, list environments, remove")
    func deployments() async throws {
        try await TestServer.with { s in
            let v1 = try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "D", temperature: 0.1))
            let flowID = try #require(v1["id"]?.stringValue)
            let v1ID = try #require(v1["version_id"]?.stringValue)
            let v2ID = try #require(try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "D", temperature: 0.2))["version_id"]?.stringValue)

            let envs = try await s.request("GET", "/v5/flows/\(flowID)/environments")
            #expect(envs.status == 200)
            let list = try #require(envs.json?.arrayValue)
            #expect(list.map { $0["name"]?.stringValue ?? "" } == ["development", "staging", "production"])
            #expect(list.map { $0["tag"]?.stringValue ?? "" } == ["default", "other", "other"])
            #expect(list.allSatisfy { $0["file"] == .null && ($0["id"]?.stringValue?.hasPrefix("env_") ?? false) })
            let development = try #require(list[0]["id"]?.stringValue)
            let production = try #require(list[2]["id"]?.stringValue)

            // Default with nothing deployed: the head.
            #expect(try await s.request("GET", "/v5/flows/\(flowID)")["version_id"]?.stringValue == v2ID)
            let deployed = try await s.request("POST", "/v5/flows/\(flowID)/environments/\(development)?version_id=\(v1ID)")
            #expect(deployed.status == 200)
            #expect(deployed["version_id"]?.stringValue == v1ID)
            let entry = try #require(deployed["environments"]?.arrayValue?.first)
            #expect(entry["name"] == "development" && entry["tag"] == "default" && entry["id"]?.stringValue == development)
            #expect(entry["created_at"]?.stringValue.map(Timestamp.isValid) == true)
            // Default is now the development deployment, not the head.
            #expect(try await s.request("GET", "/v5/flows/\(flowID)")["version_id"]?.stringValue == v1ID)
            #expect(try await s.request("POST", "/v5/flows/\(flowID)/environments/\(production)?version_id=\(v2ID)").status == 200)
            #expect(try await s.request("GET", "/v5/flows/\(flowID)?environment=production")["version_id"]?.stringValue == v2ID)
            let listed = try await s.request("GET", "/v5/flows/\(flowID)/environments")
            #expect(listed.json?.arrayValue?[2]["file"]?["version_id"]?.stringValue == v2ID)
            #expect(listed.json?.arrayValue?[1]["file"] == .null)

            #expect(try await s.request("POST", "/v5/flows/\(flowID)/environments/env_nope?version_id=\(v1ID)").status == 404)
            #expect(try await s.request("POST", "/v5/flows/\(flowID)/environments/\(production)").status == 422)
            #expect(try await s.request("POST", "/v5/flows/\(flowID)/environments/\(production)?version_id=flv_nope").status == 404)
            #expect(try await s.request("POST", "/v5/flows/fl_nope/environments/\(production)?version_id=\(v1ID)").status == 404)

            #expect(try await s.request("DELETE", "/v5/flows/\(flowID)/environments/\(development)").status == 200)
            #expect(try await s.request("DELETE", "/v5/flows/\(flowID)/environments/\(development)").status == 404)
            #expect(try await s.request("GET", "/v5/flows/\(flowID)")["version_id"]?.stringValue == v2ID)

            // The CLI's view: environment refs with their audit chain.
            let store = try VersionStore.open(at: s.root)
            let file = try #require(try store.fileID(at: try FlowPath("D")))
            #expect(try store.namedRefs(.environments, of: file).map(\.label.rawValue) == ["production"])
            #expect(try store.resolveVersion("D@environments/production").hex.hasPrefix(String(v2ID.dropFirst(4))))
            let events = try store.audit(path: try FlowPath("D")).filter { $0.event.ref.rawValue.hasSuffix("/environments/development") }
            #expect(events.map(\.event.action) == [.delete, .create])
        }
    }

    @Test("Monitoring requests are recorded on the default version")
    func monitoring() async throws {
        try await TestServer.with { s in
            let v1 = try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "M"))
            let flowID = try #require(v1["id"]?.stringValue)
            let r = try await s.request("POST", "/v5/flows/\(flowID)/evaluators",
                                        json: #"{"activate": [{"evaluator_version_id": "evv_1"}, {"evaluator_id": "ev_2", "environment_id": "env_x"}]}"#)
            #expect(r.status == 200)
            #expect(r["id"]?.stringValue == flowID)
            let off = try await s.request("POST", "/v5/flows/\(flowID)/evaluators", json: #"{"deactivate": [{"evaluator_version_id": "evv_1"}]}"#)
            #expect(off.status == 200)
            #expect(try await s.request("POST", "/v5/flows/\(flowID)/evaluators", json: #"{"activate": [1]}"#).status == 422)
            #expect(try await s.request("POST", "/v5/flows/fl_nope/evaluators", json: "{}").status == 404)
            let store = try VersionStore.open(at: s.root)
            let head = try store.head(of: try FlowPath("M"))
            let meta = try store.metadata(of: head, try store.version(head))
            #expect(meta.evaluators == [["environment_id": "env_x", "evaluator_id": "ev_2"]])
        }
    }

    @Test("Concurrent upserts to one flow all land, numbered densely, in one audited chain")
    func concurrentUpserts() async throws {
        try await TestServer.with { s in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<12 {
                    group.addTask { try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "Busy", temperature: Double(i))).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 12))
            let store = try VersionStore.open(at: s.root)
            let history = try store.history(from: try store.head(of: try FlowPath("Busy")))
            #expect(history.map(\.1.number) == Array((1...12).reversed()))
            #expect(try store.files().count == 1)
            #expect(try store.verify().isClean)
        }
    }
}
