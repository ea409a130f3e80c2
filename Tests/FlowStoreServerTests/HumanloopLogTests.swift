import Foundation
import Testing
import FlowStoreCore
import FlowStoreDirectory
@testable import FlowStoreServer

@Suite("Humanloop flow logs over real HTTP")
struct HumanloopLogTests {
    @Test("Log to a flow, update the log, and count logs per version")
    func logAndUpdate() async throws {
        try await TestServer.with { s in
            let v1 = try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "L", temperature: 0.1))
            let flowID = try #require(v1["id"]?.stringValue)
            let v1ID = try #require(v1["version_id"]?.stringValue)
            let v2ID = try #require(try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "L", temperature: 0.2))["version_id"]?.stringValue)

            let log = try await s.request("POST", "/v5/flows/log", json: """
                {"id": "\(flowID)", "inputs": {"question": "fever?"}, "messages": [{"role": "user", "content": "fever?"}],
                 "log_status": "incomplete", "metadata": {"run": 1}, "start_time": "2026-11-23T10:00:00Z"}
                """)
            #expect(log.status == 200)
            let logID = try #require(log["id"]?.stringValue)
            #expect(logID.hasPrefix("log_"))
            #expect(log["flow_id"]?.stringValue == flowID)
            #expect(log["version_id"]?.stringValue == v2ID)  // default: the head (nothing deployed)
            #expect(log["log_status"] == "incomplete")

            let byVersion = try await s.request("POST", "/v5/flows/log?version_id=\(v1ID)", json: #"{"path": "L", "output": "ok"}"#)
            #expect(byVersion["version_id"]?.stringValue == v1ID)
            #expect(byVersion["log_status"] == .null)
            let chosen = try await s.request("POST", "/v5/flows/log", json: #"{"path": "L", "log_id": "my-log-1", "output": "mine"}"#)
            #expect(chosen["id"] == "my-log-1")

            #expect(try await s.request("GET", "/v5/flows/\(flowID)")["version_logs_count"] == 2)
            #expect(try await s.request("GET", "/v5/flows/\(flowID)?version_id=\(v1ID)")["version_logs_count"] == 1)

            let updated = try await s.request("PATCH", "/v5/flows/logs/\(logID)",
                                              json: #"{"output": "See a doctor.", "log_status": "complete", "inputs": {"question": "fever? (edited)"}}"#)
            #expect(updated.status == 200)
            #expect(updated["id"]?.stringValue == logID)
            #expect(updated["output"] == "See a doctor.")
            #expect(updated["log_status"] == "complete")
            #expect(updated["inputs"]?["question"] == "fever? (edited)")
            #expect(updated["metadata"]?["run"] == 1)  // kept from the original
            #expect(updated["evaluator_logs"] == .array([]))
            #expect(updated["flow"]?["id"]?.stringValue == flowID)
            #expect(updated["flow"]?["version_id"]?.stringValue == v2ID)
            #expect(updated["flow"]?["version_logs_count"] == 2)
            #expect(updated["created_at"]?.stringValue.map(Timestamp.isValid) == true)
            // Client-chosen ids are found too.
            #expect(try await s.request("PATCH", "/v5/flows/logs/my-log-1", json: #"{"output": "mine, edited"}"#)["output"] == "mine, edited")

            // Errors.
            let snapshot = try s.snapshot()
            #expect(try await s.request("PATCH", "/v5/flows/logs/log_nope", json: "{}").status == 404)
            #expect(try await s.request("PATCH", "/v5/flows/logs/\(logID)", json: #"{"log_status": "done"}"#).status == 422)
            #expect(try await s.request("POST", "/v5/flows/log", json: #"{"path": "L", "log_id": "my-log-1"}"#).status == 409)
            #expect(try await s.request("POST", "/v5/flows/log", json: #"{"path": "L", "log_id": "../x"}"#).status == 422)
            #expect(try await s.request("POST", "/v5/flows/log", json: #"{"path": "Nowhere"}"#).status == 404)
            #expect(try await s.request("POST", "/v5/flows/log", json: #"{"id": "fl_nope"}"#).status == 404)
            #expect(try await s.request("POST", "/v5/flows/log", json: #"{"inputs": {}}"#).status == 422)
            let badInputs = try await s.request("POST", "/v5/flows/log", json: #"{"path": "L", "inputs": "not an object"}"#)
            #expect(badInputs.status == 422)
            #expect(badInputs["detail"]?.arrayValue?.first?["loc"] == ["body", "inputs"])
            #expect(try await s.request("POST", "/v5/flows/log?version_id=flv_nope", json: #"{"path": "L"}"#).status == 404)
            #expect(try await s.request("POST", "/v5/flows/log?environment=production", json: #"{"path": "L"}"#).status == 404)
            #expect(try s.snapshot() == snapshot)

            // The store: immutable log objects chained by `previous`, one ref per log.
            let store = try VersionStore.open(at: s.root)
            let file = try #require(try store.fileID(at: try FlowPath("L")))
            let head = try store.head(of: try FlowPath("L"))
            #expect(try store.logCount(file: file, version: head) == 2)
            let state = try #require(try store.findLog(logID, in: file))
            #expect(state.log.previous != nil)
            #expect(try store.originalLog(state).data["output"] == nil)
            #expect(state.log.author == "Ada Lovelace <ada@example.com>")
            let events = try store.audit(path: try FlowPath("L")).filter { $0.event.ref == state.ref }
            #expect(events.map(\.event.action) == [.move, .create])
            #expect(try store.verify().isClean)
        }
    }

    @Test("Logging with inline attributes creates the flow and its version")
    func inlineFlow() async throws {
        try await TestServer.with { s in
            let log = try await s.request("POST", "/v5/flows/log", json: """
                {"path": "Inline/Flow", "flow": {"attributes": {"prompt": {"model": "gpt-4o"}}}, "output": "hi"}
                """)
            #expect(log.status == 200)
            let flowID = try #require(log["flow_id"]?.stringValue)
            let flow = try await s.request("GET", "/v5/flows/\(flowID)")
            #expect(flow["path"] == "Inline/Flow")
            #expect(flow["version_logs_count"] == 1)
            #expect(flow["version_id"] == log["version_id"])
            // Same attributes again: same version, second log.
            let again = try await s.request("POST", "/v5/flows/log", json: """
                {"path": "Inline/Flow", "flow": {"attributes": {"prompt": {"model": "gpt-4o"}}}}
                """)
            #expect(again["version_id"] == log["version_id"])
            #expect(try await s.request("GET", "/v5/flows/\(flowID)")["version_logs_count"] == 2)
            #expect(try await s.request("POST", "/v5/flows/log", json: #"{"path": "Inline/Other", "flow": {"attributes": 3}}"#).status == 422)
        }
    }
}
