import Foundation
import Testing
@testable import FlowStoreCore
@testable import FlowStoreDirectory

@Suite("VersionStore: commits, history, dedup")
struct VersionStoreTests {
    let medqa = "Personal Projects/MedQA Flow"

    @Test func openRefusesADirectoryThatIsNotAStore() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: StoreError.notAStore(dir)) { try VersionStore.open(at: dir) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func initializeIsIdempotent() throws {
        let t = try TestStore()
        let before = try t.snapshot()
        _ = try VersionStore.initialize(at: t.root)
        #expect(try t.snapshot() == before)
    }

    @Test func firstCommitCreatesFileVersionAndHead() throws {
        let t = try TestStore()
        let path = try FlowPath(medqa)
        let result = try t.store.commit(
            NewVersion(path: path, kind: .flow, definition: Samples.flow(), name: "medqa-flow-v1", message: "Initial version"),
            author: "raza")
        #expect(result.created && result.fileCreated)
        #expect(result.version.number == 1)
        #expect(result.version.parents.isEmpty)
        #expect(result.version.name == "medqa-flow-v1")
        #expect(try t.store.head(of: path) == result.versionID)
        #expect(try t.store.fileID(at: path) == result.file)
        // Stored content is exactly the definition, and re-reading verifies the hash.
        #expect(try t.store.content(result.version.content).definition == Samples.flow())
        #expect(try t.objectCount() == 5)  // file, content, version, and the two events below
        let events = try t.store.audit(path: path)
        #expect(events.map(\.event.action) == [.create, .create])
    }

    @Test func identicalContentIsStoredOnceAndHeadIsReused() throws {
        let t = try TestStore()
        let path = try FlowPath(medqa)
        let first = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow()), author: "a")
        let count = try t.objectCount()
        let again = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow()), author: "a")
        #expect(!again.created)
        #expect(again.versionID == first.versionID)
        #expect(try t.objectCount() == count)

        // The same definition in another file shares the content object.
        let other = try t.store.commit(
            NewVersion(path: try FlowPath("Other/Copy"), kind: .flow, definition: Samples.flow()), author: "a")
        #expect(other.version.content == first.version.content)
    }

    @Test func reusePolicies() throws {
        let t = try TestStore()
        let path = try FlowPath(medqa)
        let v1 = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.1)), author: "a")
        _ = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.2)), author: "a")
        // Humanloop semantics: attributes identify a version, old ones are found again.
        let any = try t.store.commit(
            NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.1), reuse: .anyVersion), author: "a")
        #expect(!any.created && any.versionID == v1.versionID)
        // CLI semantics: only the head counts, so going back is a new version 3.
        let head = try t.store.commit(
            NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.1), reuse: .head), author: "a")
        #expect(head.created && head.version.number == 3 && head.version.content == v1.version.content)
        // PromptLayer semantics: always a new version.
        let never = try t.store.commit(
            NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.1), reuse: .never), author: "a")
        #expect(never.created && never.version.number == 4)
    }

    @Test func historyWalksParentsNewestFirst() throws {
        let t = try TestStore()
        let path = try FlowPath(medqa)
        var ids: [ObjectID] = []
        for i in 1...5 {
            let r = try t.store.commit(
                NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: Double(i) / 10)), author: "a")
            #expect(r.version.number == i)
            #expect(r.version.parents == (ids.last.map { [$0] } ?? []))
            ids.append(r.versionID)
        }
        let log = try t.store.history(from: try t.store.head(of: path))
        #expect(log.map(\.0) == ids.reversed())
        #expect(try t.store.history(from: ids[4], limit: 2).map(\.0) == [ids[4], ids[3]])
        #expect(try t.store.ancestor(of: ids[4], steps: 2) == ids[2])
        #expect(try t.store.version(numbered: 2, of: path) == ids[1])
    }

    @Test func duplicateVersionNameIsRefusedAndWritesNothing() throws {
        let t = try TestStore()
        let path = try FlowPath(medqa)
        _ = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(), name: "v1"), author: "a")
        let before = try t.snapshot()
        #expect(throws: StoreError.versionNameTaken(path: medqa, name: "v1")) {
            try t.store.commit(
                NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.5), name: "v1"), author: "a")
        }
        #expect(try t.snapshot() == before)
    }

    @Test func kindMismatchIsRefused() throws {
        let t = try TestStore()
        let path = try FlowPath("shared")
        _ = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow()), author: "a")
        let body = try SeedBody.parse(try JSONParser.parse(Samples.routingAgentBody))
        #expect(throws: StoreError.kindMismatch(path: "shared", existing: .flow, requested: .agent)) {
            try t.store.commit(NewVersion(path: path, kind: .agent, definition: body.definition), author: "a")
        }
    }

    @Test func derivedVersionRecordsItsBaseAsSecondParent() throws {
        let t = try TestStore()
        let path = try FlowPath("agent")
        let body = try SeedBody.parse(try JSONParser.parse(Samples.routingAgentBody))
        let v1 = try t.store.commit(NewVersion(path: path, kind: .agent, definition: body.definition), author: "a")
        var changed = body.definition
        changed["required_input_variables"] = ["query": "string", "locale": "string"]
        let v2 = try t.store.commit(NewVersion(path: path, kind: .agent, definition: changed), author: "a")
        var third = body.definition
        third["required_input_variables"] = ["query": "string", "tone": "string"]
        let v3 = try t.store.commit(
            NewVersion(path: path, kind: .agent, definition: third, base: v1.versionID), author: "a")
        #expect(v3.version.number == 3)
        #expect(v3.version.parents == [v2.versionID, v1.versionID])
    }

    @Test func renameAndDeleteAreEventsThatKeepHistory() throws {
        let t = try TestStore()
        let from = try FlowPath("a/flow")
        let to = try FlowPath("b/flow")
        let r = try t.store.commit(NewVersion(path: from, kind: .flow, definition: Samples.flow()), author: "a")
        try t.store.moveFile(from: from, to: to, author: "a")
        #expect(try t.store.fileID(at: from) == nil)
        #expect(try t.store.fileID(at: to) == r.file)
        #expect(try t.store.head(of: to) == r.versionID)
        try t.store.deleteFile(at: to, author: "a")
        #expect(try t.store.files().isEmpty)
        #expect(throws: StoreError.fileNotFound("b/flow")) { try t.store.head(of: to) }
        // The version is still there and still verifies.
        #expect(try t.store.version(r.versionID).number == 1)
        #expect(try t.store.verify().isClean)
    }

    @Test func concurrentCommitsKeepNumbersUniqueAndDense() throws {
        let t = try TestStore()
        let path = try FlowPath("busy")
        let writers = 8
        let each = 6
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            for i in 0..<each {
                _ = try? t.store.commit(
                    NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: Double(w * 100 + i))),
                    author: "writer-\(w)")
            }
        }
        let log = try t.store.history(from: try t.store.head(of: path))
        #expect(log.count == writers * each)
        #expect(log.map(\.1.number) == Array((1...(writers * each)).reversed()))
        #expect(try t.store.verify().isClean)
    }
}

@Suite("Definitions and seed bodies")
struct DefinitionTests {
    @Test func humanloopUpsertBody() throws {
        let body = try SeedBody.parse(
            try JSONParser.parse(
                #"{"path": "Personal Projects/MedQA Flow", "attributes": {"prompt": {"model": "gpt-4o"}}, "version_name": "v1", "version_description": "Initial"}"#
            ))
        #expect(body.kind == .flow)
        #expect(body.path == "Personal Projects/MedQA Flow")
        #expect(body.versionName == "v1")
        #expect(body.message == "Initial")
        #expect(body.definition.keys == ["attributes"])
    }

    @Test func promptLayerBodyNormalisesOptionalFields() throws {
        let body = try SeedBody.parse(
            try JSONParser.parse(
                #"{"name": "greeting-agent", "commit_message": "Initial version", "nodes": [{"name": "greeting", "node_type": "VARIABLE", "is_output_node": true, "configuration": {"value": {"type": "string", "value": "Hello, World!"}}, "dependencies": []}], "release_labels": ["production"]}"#
            ))
        #expect(body.kind == .agent)
        #expect(body.path == "greeting-agent")
        #expect(body.labels == ["production"])
        #expect(body.definition["edges"] == .array([]))
        #expect(body.definition["required_input_variables"] == .object(JSONObject()))
    }

    @Test(arguments: [
        (#"{"nodes": []}"#, "at least one node"),
        (#"{"nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": false}]}"#, "is_output_node: true"),
        (#"{"nodes": [{"name": "a", "node_type": "NOPE", "configuration": {}, "is_output_node": true}]}"#, #"node "a": unknown node_type"#),
        (#"{"nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true}, {"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true}]}"#, #"node "a": duplicate node name"#),
        (#"{"nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true, "dependencies": ["ghost"]}]}"#, #"dependency "ghost""#),
        (#"{"nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": 3, "is_output_node": true}]}"#, #"node "a": configuration"#),
        (#"{"nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true, "dependencies": ["b"]}, {"name": "b", "node_type": "VARIABLE", "configuration": {}, "is_output_node": false, "dependencies": ["a"]}]}"#, "dependency cycle"),
        (#"{"nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": false}, {"name": "b", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true}], "edges": [{"source_node_name": "a", "target_node_name": "b", "is_and": true, "conditionals": [{"position": 0, "operator": "=", "left_config": {}, "right_config": {}}]}]}"#, #"edge "a" -> "b": target node must list "a""#),
        (#"{"nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": false}, {"name": "b", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true, "dependencies": ["a"]}], "edges": [{"source_node_name": "a", "target_node_name": "b", "is_and": true, "conditionals": [{"position": 0, "operator": "~", "left_config": {}, "right_config": {}}]}]}"#, "operator must be one of"),
        (#"{"nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": false}, {"name": "b", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true, "dependencies": ["a"]}], "edges": [{"source_node_name": "a", "target_node_name": "b", "is_and": true, "conditionals": []}]}"#, "conditionals must be a non-empty array"),
    ])
    func invalidAgentsAreRefusedWithAMessageNamingTheCulprit(body: String, message: String) throws {
        let value = try JSONParser.parse(body)
        do throws(StoreError) {
            _ = try SeedBody.parse(value, kind: .agent)
            Issue.record("accepted an invalid agent: \(body)")
        } catch {
            guard case .invalidInput(let text) = error else { Issue.record("wrong error \(error)"); return }
            #expect(text.contains(message), "\(text)")
        }
    }

    @Test func flowNeedsAttributesObject() {
        #expect(throws: StoreError.invalidInput("attributes: field required")) {
            try SeedBody.parse(try JSONParser.parse(#"{"path": "x"}"#), kind: .flow)
        }
        #expect(throws: StoreError.invalidInput("attributes: must be an object, not array")) {
            try SeedBody.parse(try JSONParser.parse(#"{"attributes": []}"#))
        }
    }
}

@Suite("Paths and names")
struct PathTests {
    @Test(arguments: [
        "", "/etc/passwd", "../x", "a/../b", "a/./b", "a//b", "a/", ".hidden", "a/.git", "x\u{0}y", "tab\there",
        "esc\u{1b}[31m", "back\\slash", String(repeating: "n", count: NameRules.maxSegmentBytes + 1), "ends.lock", "ends.ref", " padded",
    ])
    func hostilePathsAreRejected(_ raw: String) {
        #expect(throws: StoreError.self) { try FlowPath(raw) }
    }

    @Test(arguments: ["MedQA Flow", "Personal Projects/MedQA Flow", "ünïcødé/流れ/🚀", "a@b#c~d", "v1.2"])
    func ordinaryPathsAreAccepted(_ raw: String) throws {
        #expect(try FlowPath(raw).rawValue == raw)
    }

    @Test func pathTooLongOrTooDeep() {
        let deep = Array(repeating: "d", count: 40).joined(separator: "/")
        #expect(throws: StoreError.self) { try FlowPath(deep) }
        let long = Array(repeating: String(repeating: "x", count: 150), count: 8).joined(separator: "/")
        #expect(throws: StoreError.self) { try FlowPath(long) }
    }

    @Test func hostilePathWritesNothing() throws {
        let t = try TestStore()
        let before = try t.snapshot()
        for raw in ["../../escape", "/abs", "a/../../b"] {
            #expect(throws: StoreError.self) {
                try t.store.commit(NewVersion(path: try FlowPath(raw), kind: .flow, definition: Samples.flow()), author: "a")
            }
        }
        #expect(try t.snapshot() == before)
        #expect(!FileManager.default.fileExists(atPath: t.root + "/../escape.ref"))
    }
}

@Suite("Object store")
struct ObjectStoreTests {
    @Test func putRepairsATruncatedCopyInsteadOfTrustingIt() throws {
        let t = try TestStore()
        let bytes = Array(#"{"type":"content","kind":"flow","attributes":{"a":1}}"#.utf8)
        let id = ObjectID(hashing: bytes)
        // A half-copied file sits where the object belongs (an interrupted `cp -r objects/`).
        let path = t.objectPath(id)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes.prefix(10)).write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { try t.store.objects.get(id) }
        #expect(try t.store.objects.put(bytes) == id)
        #expect(try t.store.objects.get(id) == bytes)
    }

    @Test func prefixesAndListing() throws {
        let t = try TestStore()
        let ids = try (0..<20).map { try t.store.objects.put(Array("[\($0)]".utf8)) }
        var listed: [ObjectID] = []
        try t.store.objects.list { listed.append($0) }
        #expect(Set(listed) == Set(ids))
        let one = ids[0]
        #expect(try t.store.expand(prefix: String(one.hex.prefix(8))) == one)
        #expect(throws: StoreError.self) { try t.store.expand(prefix: "zz") }
        #expect(throws: StoreError.unknownObjectPrefix("0000000000")) { try t.store.expand(prefix: "0000000000") }
    }

    @Test func invalidJSONIsRefusedBeforeAnythingIsWritten() throws {
        let t = try TestStore()
        let before = try t.snapshot()
        for text in [#"{"attributes": {"a": 1,}}"#, #"{"attributes": {"a": 1, "a": 2}}"#, "\u{FEFF}{}", #"{"attributes": "\ud800"}"#] {
            #expect(throws: JSONError.self) { try JSONParser.parse(text) }
        }
        #expect(try t.snapshot() == before)
    }
}
