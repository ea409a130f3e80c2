import Foundation
import Testing

@testable import FlowStoreCore
@testable import FlowStoreDirectory

/// `VersionStore.commitBatch` / `VersionBatch` must record what the same `commit` calls would,
/// one after another, with fewer barriers; and stay correct against concurrent writers.
@Suite("Batch commits")
struct BatchCommitTests {
    static func flow(_ n: Int) -> JSONObject {
        var d = JSONObject()
        d["attributes"] = ["prompt": ["template": .string("Answer {{q}} — variant \(n) ✅"), "model": "gpt-4o"]]
        return d
    }

    static func workload() throws -> [NewVersion] {
        var out: [NewVersion] = []
        let paths = try (0..<4).map { try FlowPath("team/flow-\($0)") }
        let staging = try RefLabel("staging"), production = try RefLabel("production")
        for i in 0..<40 {
            let path = paths[i % 4]
            // Every fifth version repeats the previous content of its file: `.head` reuses it.
            let content = i % 5 == 4 ? i - 4 : i
            out.append(NewVersion(
                path: path, kind: .flow, definition: flow(content), name: i % 5 == 4 ? nil : "v\(i)",
                message: i % 3 == 0 ? nil : "change \(i)",
                labels: i % 7 == 0 ? [staging] : i % 11 == 0 ? [production, staging] : [], reuse: .head))
        }
        return out
    }

    /// What a store holds, without the random parts (file nonces, and so every id but content ids).
    static func describe(_ store: VersionStore) throws -> [String] {
        var out: [String] = []
        for (path, file) in try store.files() {
            guard let head = try store.target(of: RefNames.head(file)) else { continue }
            for (_, v) in try store.history(from: head) {
                out.append("\(path.rawValue) #\(v.number) \(v.name ?? "-") \(v.message ?? "-") \(v.content.short) \(v.createdAt) parents:\(v.parents.count)")
            }
            for (label, version) in try store.namedRefs(.labels, of: file) {
                out.append("\(path.rawValue) @\(label.rawValue) → #\(try store.version(version).number)")
            }
        }
        for entry in try store.audit() {
            let e = entry.event
            func number(_ id: ObjectID?) throws -> String {
                guard let id else { return "-" }
                if case .version(let v) = try store.object(id) { return "#\(v.number)" }
                return "file"
            }
            let ref = e.ref.rawValue.hasPrefix("files/") ? String(e.ref.rawValue.split(separator: "/").dropFirst(2).joined(separator: "/")) : e.ref.rawValue
            out.append("event \(ref) \(e.action.rawValue) \(try number(e.from)) → \(try number(e.to)) \(e.message ?? "-") \(e.time)")
        }
        return out.sorted()
    }

    @Test func sameStoreAsSequentialCommits() throws {
        let sequential = try TestStore(), batched = try TestStore()
        let versions = try Self.workload()
        var expected: [CommitResult] = []
        for v in versions { expected.append(try sequential.store.commit(v, author: "ada")) }
        let results = try batched.store.commitBatch(versions, author: "ada")
        #expect(results.map(\.version.number) == expected.map(\.version.number))
        #expect(results.map(\.created) == expected.map(\.created))
        #expect(results.map(\.fileCreated) == expected.map(\.fileCreated))
        #expect(results.map(\.version.content) == expected.map(\.version.content))
        #expect(try Self.describe(batched.store) == Self.describe(sequential.store))
        #expect(try batched.objectCount() == sequential.objectCount())
        let report = try batched.store.verify()
        #expect(report.isClean, "\(report.problems)")
        // Nothing left behind in tmp/.
        #expect(try FileManager.default.contentsOfDirectory(atPath: batched.root + "/tmp").isEmpty)
    }

    /// Many small flushes (and so many barriers and ref swaps) give the same store.
    @Test func smallFlushesOnTopOfExistingHistory() throws {
        let sequential = try TestStore(), batched = try TestStore()
        let versions = try Self.workload()
        for v in versions.prefix(10) {
            _ = try sequential.store.commit(v, author: "ada")
            _ = try batched.store.commit(v, author: "ada")
        }
        for v in versions.dropFirst(10) { _ = try sequential.store.commit(v, author: "ada") }
        _ = try batched.store.commitBatch(Array(versions.dropFirst(10)), author: "ada", limits: BatchLimits(maxVersions: 3))
        #expect(try Self.describe(batched.store) == Self.describe(sequential.store))
        #expect(try batched.store.verify().isClean)
        // And single commits continue the numbering afterwards.
        let flow0 = try FlowPath("team/flow-0")
        let next = try batched.store.commit(NewVersion(path: flow0, kind: .flow, definition: Self.flow(999)), author: "ada")
        #expect(next.version.number == (try sequential.store.version(try sequential.store.head(of: flow0)).number) + 1)
    }

    @Test func errorsAreThoseOfCommitAndLeaveTheBatchUsable() throws {
        let t = try TestStore()
        let path = try FlowPath("a/flow")
        let batch = try t.store.batch(author: "ada")
        try batch.add(NewVersion(path: path, kind: .flow, definition: Self.flow(1), name: "one"))
        #expect(throws: StoreError.versionNameTaken(path: "a/flow", name: "one")) {
            try batch.add(NewVersion(path: path, kind: .flow, definition: Self.flow(2), name: "one"))
        }
        #expect(throws: StoreError.kindMismatch(path: "a/flow", existing: .flow, requested: .agent)) {
            var agent = JSONObject()
            agent["nodes"] = [["name": "n", "node_type": "VARIABLE", "configuration": [:], "is_output_node": true]]
            try batch.add(NewVersion(path: path, kind: .agent, definition: agent))
        }
        #expect(throws: StoreError.fileNotFound("missing")) {
            try batch.add(NewVersion(path: try FlowPath("missing"), kind: .flow, definition: Self.flow(3), createFile: false))
        }
        #expect(throws: StoreError.self) {
            try batch.add(NewVersion(path: try FlowPath("b/new"), kind: .flow, definition: Self.flow(4), base: ObjectID(hashing: [1])))
        }
        try batch.add(NewVersion(path: path, kind: .flow, definition: Self.flow(5), name: "two"))
        let results = try batch.finish()
        #expect(results.map(\.version.number) == [1, 2])
        // The refused version at a new path created nothing.
        #expect(try t.store.fileID(at: try FlowPath("b/new")) == nil)
        #expect(try t.store.verify().isClean)
    }

    /// Another writer moves the head between `add` and the flush: the batch's versions of that
    /// file are redone on top of theirs, nothing is lost, numbers stay dense.
    @Test func concurrentHeadMoveIsRedoneOnTop() throws {
        let t = try TestStore()
        let path = try FlowPath("shared/flow")
        _ = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(0)), author: "ada")
        let batch = try t.store.batch(author: "batch")
        try batch.add(NewVersion(path: path, kind: .flow, definition: Self.flow(1), message: "from batch"))
        try batch.add(NewVersion(path: path, kind: .flow, definition: Self.flow(2), message: "from batch too"))
        _ = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(9), message: "concurrent"), author: "bob")
        let results = try batch.finish()
        #expect(results.map(\.version.number) == [3, 4])
        let history = try t.store.history(from: try t.store.head(of: path))
        #expect(history.map(\.1.number) == [4, 3, 2, 1])
        #expect(history.map { $0.1.message ?? "-" } == ["from batch too", "from batch", "concurrent", "-"])
        #expect(try t.store.verify().isClean)
    }

    /// Another writer creates the same path during the batch: the batch's versions join theirs.
    @Test func concurrentFileCreationJoinsTheirFile() throws {
        let t = try TestStore()
        let path = try FlowPath("race/flow")
        let batch = try t.store.batch(author: "batch")
        try batch.add(NewVersion(path: path, kind: .flow, definition: Self.flow(1)))
        let theirs = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(2)), author: "bob")
        let results = try batch.finish()
        #expect(results.first?.file == theirs.file)
        #expect(results.first?.version.number == 2)
        #expect(try t.store.files().count == 1)
        #expect(try t.store.verify().isClean)
    }

    /// A label someone else moved during the batch is moved again after theirs, chained.
    @Test func concurrentLabelMoveIsChainedAfter() throws {
        let t = try TestStore()
        let path = try FlowPath("labels/flow")
        let production = try RefLabel("production")
        let first = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(0)), author: "ada")
        let batch = try t.store.batch(author: "batch")
        try batch.add(NewVersion(path: path, kind: .flow, definition: Self.flow(1), labels: [production]))
        try t.store.setRef(.labels, production, of: path, to: first.versionID, author: "bob")
        let results = try batch.finish()
        let file = try t.store.requireFile(at: path)
        #expect(try t.store.target(of: RefNames.named(file, .labels, production)) == results[0].versionID)
        let moves = try t.store.audit(path: path).filter { $0.event.ref == RefNames.named(file, .labels, production) }
        #expect(moves.map(\.event.author) == ["batch", "bob"])
        #expect(try t.store.verify().isClean)
    }

    @Test func agentsAndDerivedVersions() throws {
        let t = try TestStore()
        let body = try SeedBody.parse(try JSONParser.parse(Samples.routingAgentBody))
        let path = try FlowPath("agents/router")
        let first = try t.store.commit(NewVersion(path: path, kind: .agent, definition: body.definition, reuse: .never), author: "ada")
        let results = try t.store.commitBatch([
            NewVersion(path: path, kind: .agent, definition: body.definition, reuse: .never),
            NewVersion(path: path, kind: .agent, definition: body.definition, base: first.versionID, reuse: .never),
        ], author: "ada")
        #expect(results.map(\.version.number) == [2, 3])
        #expect(results[1].version.parents == [results[0].versionID, first.versionID])
        #expect(try t.store.verify().isClean)
    }
}
