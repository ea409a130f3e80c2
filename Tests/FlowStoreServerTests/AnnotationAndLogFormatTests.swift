import Foundation
import Testing
import FlowStoreCore
import FlowStoreDirectory

/// The core additions the server relies on: the `annotation` object type, annotation and log
/// refs, and `verify`'s rules for them (spec/FORMAT.md §10).
@Suite("Annotation objects, log refs and verify")
struct AnnotationAndLogFormatTests {
    static func object(_ value: JSONValue) -> JSONObject { value.objectValue ?? JSONObject() }

    func makeStore() throws -> (VersionStore, String) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-format-\(UUID().uuidString)").path
        return (try VersionStore.initialize(at: root), root)
    }

    @Test("An annotation round-trips through its canonical bytes; optional fields are omitted")
    func roundTrip() throws {
        let id = ObjectID(hashing: Array("x".utf8))
        let full = AnnotationObject(
            file: id, version: id, name: "n", description: "d", hidden: true, evaluators: [["evaluator_version_id": "evv_1"]],
            author: "A <a@example.com>", createdAt: "2026-11-23T10:51:11.123Z")
        let bare = AnnotationObject(file: id, version: id, name: nil, description: nil, hidden: false, evaluators: nil,
                                    author: "A", createdAt: "2026-11-23T10:51:11.123Z")
        for annotation in [full, bare] {
            let bytes = StoredObject.annotation(annotation).canonicalBytes()
            #expect(try StoredObject.decode(id: ObjectID(hashing: bytes), bytes: bytes) == .annotation(annotation))
        }
        let text = String(decoding: StoredObject.annotation(bare).canonicalBytes(), as: UTF8.self)
        #expect(text == #"{"author":"A","created_at":"2026-11-23T10:51:11.123Z","file":"\#(id.hex)","hidden":false,"type":"annotation","version":"\#(id.hex)"}"#)
        let extra = Array(#"{"author":"A","created_at":"2026-11-23T10:51:11.123Z","file":"\#(id.hex)","hidden":false,"type":"annotation","version":"\#(id.hex)","x":1}"#.utf8)
        #expect(throws: StoreError.self) { try StoredObject.decode(id: ObjectID(hashing: extra), bytes: extra) }
    }

    @Test("annotate records only changes, and metadata falls back to the version's own")
    func annotate() throws {
        let (store, root) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try store.commit(
            NewVersion(path: try FlowPath("F"), kind: .flow, definition: Self.object(["attributes": ["a": 1]]), name: "v1", message: "m"),
            author: "t")
        #expect(try store.metadata(of: result.versionID, result.version) == VersionMetadata(name: "v1", description: "m"))
        let renamed = try store.annotate(result.versionID, author: "t", message: "rename") { $0.name = "v1b" }
        #expect(renamed.name == "v1b" && renamed.description == "m" && renamed.updatedAt != nil)
        let before = try store.audit().count
        try store.annotate(result.versionID, author: "t", message: "again") { $0.name = "v1b" }
        #expect(try store.audit().count == before)
        #expect(throws: StoreError.self) {
            try store.annotate(result.versionID, author: "t", message: nil, check: { _ throws(StoreError) in
                throw .versionNameTaken(path: "F", name: "x")
            }) { $0.name = "x" }
        }
        #expect(try store.metadata(of: result.versionID, result.version).name == "v1b")
        #expect(try store.verify().isClean)
    }

    @Test("verify insists that annotation and log refs hold their own type, of their own file")
    func verifyRules() throws {
        let (store, root) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = try store.commit(NewVersion(path: try FlowPath("A"), kind: .flow, definition: Self.object(["attributes": .object(JSONObject())])), author: "t")
        let b = try store.commit(NewVersion(path: try FlowPath("B"), kind: .flow, definition: Self.object(["attributes": ["b": 1]])), author: "t")
        let log = try store.recordLog(file: a.file, version: a.versionID, logID: "log-1", data: Self.object(["output": "x"]), author: "t")
        try store.annotate(a.versionID, author: "t", message: nil) { $0.hidden = true }
        #expect(try store.logCount(file: a.file, version: a.versionID) == 1)
        #expect(try store.verify().isClean)

        // A version where an annotation belongs, and A's log filed under B.
        try store.moveRef(RefName("files/\(a.file.hex)/annotations/\(b.versionID.hex)"), to: b.versionID, author: "t", message: nil)
        try store.moveRef(RefName("files/\(b.file.hex)/logs/\(b.versionID.hex)/stray"), to: log.id, author: "t", message: nil)
        let problems = try store.verify().problems.map(\.message)
        #expect(problems.contains { $0.contains("points at a version, not an annotation") })
        #expect(problems.contains { $0.contains("points at a log of another file") })
    }
}
