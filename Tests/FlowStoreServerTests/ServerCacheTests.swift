import Foundation
import Testing
import FlowStoreCore
@testable import FlowStoreServer

/// The server caches what never changes (objects) and what it can re-check cheaply (where a
/// flow lives, rendered responses keyed by everything they are computed from). These tests
/// change the store behind the server's back — as `flowstore` on the same directory does —
/// and check every answer is the fresh one; and they drive concurrent upserts through the
/// group commit.
@Suite("Server caches and group commit")
struct ServerCacheTests {
    static func upsert(_ s: TestServer, path: String, temperature: Double, name: String? = nil) async throws -> HTTPResult {
        let nameField = name.map { #", "version_name": "\#($0)""# } ?? ""
        return try await s.request(
            "POST", "/v5/flows",
            json: #"{"path": "\#(path)", "attributes": {"prompt": {"model": "gpt-4o", "temperature": \#(temperature)}}\#(nameField)}"#)
    }

    @Test("Get Flow sees every change made outside the server")
    func getFlowSeesOutsideChanges() async throws {
        try await TestServer.with { s in
            let created = try await Self.upsert(s, path: "team/cached", temperature: 0.1, name: "one")
            let id = try #require(created["id"]?.stringValue)
            let first = try await s.request("GET", "/v5/flows/\(id)")
            #expect(first["version_name"] == "one")
            #expect(try await s.request("GET", "/v5/flows/\(id)").body == first.body, "a repeat is byte-identical")

            // A new version committed directly (the CLI's `put`): the default is the new head.
            let outside = s.store
            let path = try FlowPath("team/cached")
            var definition = JSONObject()
            definition["attributes"] = ["prompt": ["temperature": 0.2]]
            let v2 = try outside.commit(NewVersion(path: path, kind: .flow, definition: definition, name: "two"), author: "cli")
            let second = try await s.request("GET", "/v5/flows/\(id)")
            #expect(second["version_name"] == "two")
            #expect(second["attributes"]?["prompt"]?["temperature"] == 0.2)

            // Renamed by an annotation: the name and updated_at change.
            try outside.annotate(v2.versionID, author: "cli", message: nil) { $0.name = "two-renamed" }
            let renamed = try await s.request("GET", "/v5/flows/\(id)")
            #expect(renamed["version_name"] == "two-renamed")

            // Deployed to development (the default environment) pointing at version one.
            let v1 = try #require(try outside.version(numbered: 1, of: path) as ObjectID?)
            try outside.setRef(.environments, try RefLabel("development"), of: path, to: v1, author: "cli")
            let deployed = try await s.request("GET", "/v5/flows/\(id)")
            #expect(deployed["version_name"] == "one")
            #expect(deployed["environments"]?.arrayValue?.first?["name"] == "development")

            // A log against it changes version_logs_count.
            try outside.recordLog(file: v2.file, version: v1, logID: "log-1", data: JSONObject(), author: "cli")
            #expect(try await s.request("GET", "/v5/flows/\(id)")["version_logs_count"] == 1)

            // Moved: same id, new path. Deleted: 404.
            try outside.moveFile(from: path, to: try FlowPath("team/moved"), author: "cli")
            let moved = try await s.request("GET", "/v5/flows/\(id)")
            #expect(moved.status == 200)
            #expect(moved["path"] == "team/moved")
            try outside.deleteFile(at: try FlowPath("team/moved"), author: "cli")
            #expect(try await s.request("GET", "/v5/flows/\(id)").status == 404)
        }
    }

    @Test("Concurrent upserts: each gets its own durable version, numbers dense, names checked")
    func concurrentUpserts() async throws {
        try await TestServer.with { s in
            let results = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
                for i in 0..<40 {
                    group.addTask { try await Self.upsert(s, path: "team/busy-\(i % 2)", temperature: Double(i) / 100) }
                }
                var all: [HTTPResult] = []
                for try await r in group { all.append(r) }
                return all
            }
            #expect(results.allSatisfy { $0.status == 200 })
            #expect(Set(results.compactMap { $0["version_id"]?.stringValue }).count == 40)
            for n in 0..<2 {
                let head = try s.store.head(of: try FlowPath("team/busy-\(n)"))
                #expect(try s.store.history(from: head).map(\.1.number) == Array((1...20).reversed()))
            }
            // Two concurrent upserts claiming one name: exactly one wins, the other is a 409.
            let clash = try await withThrowingTaskGroup(of: Int.self) { group in
                for t in [0.91, 0.92] { group.addTask { try await Self.upsert(s, path: "team/busy-0", temperature: t, name: "release").status } }
                var all: [Int] = []
                for try await status in group { all.append(status) }
                return all.sorted()
            }
            #expect(clash == [200, 409])
            #expect(try s.store.verify().problems.isEmpty)
        }
    }
}
