import Foundation
import Testing
@testable import FlowStoreCore
@testable import FlowStoreDirectory

@Suite("Refs: labels, environments, promotion, compare-and-swap")
struct RefTests {
    func twoVersions(_ t: TestStore) throws -> (FlowPath, ObjectID, ObjectID) {
        let path = try FlowPath("flows/support")
        let v1 = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.1)), author: "a")
        let v2 = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.2)), author: "a")
        return (path, v1.versionID, v2.versionID)
    }

    @Test func promoteCopiesStagingToProduction() throws {
        let t = try TestStore()
        let (path, v1, v2) = try twoVersions(t)
        let staging = try RefLabel("staging")
        let production = try RefLabel("production")
        try t.store.setRef(.labels, production, of: path, to: v1, author: "ops")
        try t.store.setRef(.labels, staging, of: path, to: v2, author: "dev")
        let promoted = try t.store.promote(path, from: staging, to: production, author: "lead")
        #expect(promoted.version == v2)
        #expect(try t.store.resolveVersion("flows/support@production") == v2)
        let chain = try t.store.audit(path: path).filter { $0.event.ref.rawValue.hasSuffix("labels/production") }
        #expect(chain.map(\.event.action) == [.move, .create])
        #expect(chain[0].event.from == v1 && chain[0].event.to == v2 && chain[0].event.author == "lead")
        #expect(chain[0].event.prev == chain[1].id)
    }

    @Test func settingALabelToWhereItIsRecordsNothing() throws {
        let t = try TestStore()
        let (path, v1, _) = try twoVersions(t)
        let label = try RefLabel("production")
        #expect(try t.store.setRef(.labels, label, of: path, to: v1, author: "a") != nil)
        let before = try t.snapshot()
        #expect(try t.store.setRef(.labels, label, of: path, to: v1, author: "a") == nil)
        #expect(try t.snapshot() == before)
    }

    @Test func compareAndSwapRefusesAStaleExpectationAndWritesNothing() throws {
        let t = try TestStore()
        let (path, v1, v2) = try twoVersions(t)
        let label = try RefLabel("production")
        try t.store.setRef(.labels, label, of: path, to: v2, author: "a")
        let before = try t.snapshot()
        #expect(throws: StoreError.refConflict(ref: RefNames.named(try t.store.requireFile(at: path), .labels, label).rawValue,
                                               expected: v1, actual: v2)) {
            try t.store.setRef(.labels, label, of: path, to: v1, author: "b", expecting: .target(v1))
        }
        #expect(try t.snapshot() == before)
    }

    @Test func rawRefStoreCompareAndSwap() throws {
        let t = try TestStore()
        let name = try RefName("files/x/labels/y")
        let a = try t.store.objects.put(Array("{}".utf8))
        let b = try t.store.objects.put(Array("[]".utf8))
        try t.store.refs.compareAndSwap(name, expected: nil, new: a)
        #expect(throws: StoreError.refConflict(ref: name.rawValue, expected: nil, actual: a)) {
            try t.store.refs.compareAndSwap(name, expected: nil, new: b)
        }
        try t.store.refs.compareAndSwap(name, expected: a, new: b)
        #expect(try t.store.refs.read(name) == b)
        #expect(try t.store.refs.list(prefix: "files/x/").map(\.name) == [name])
        // No lock or temp files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(t.root)/refs/files/x/labels") == ["y.ref"])
    }

    @Test func concurrentLabelMovesAreAllChainedLinearly() throws {
        let t = try TestStore()
        let path = try FlowPath("race")
        var versions: [ObjectID] = []
        for i in 0..<4 {
            versions.append(
                try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: Double(i))), author: "a").versionID)
        }
        let label = try RefLabel("production")
        let targets = versions
        DispatchQueue.concurrentPerform(iterations: 40) { i in
            _ = try? t.store.setRef(.labels, label, of: path, to: targets[i % targets.count], author: "w\(i)")
        }
        let file = try t.store.requireFile(at: path)
        let chain = try t.store.audit(path: path).filter { $0.event.ref == RefNames.named(file, .labels, label) }
        // Every move that changed the target is one event; the chain is one line with no fork.
        var next = try t.store.refs.read(RefNames.named(file, .labels, label))
        var walked = 0
        while let id = next {
            let event = try t.store.event(id)
            walked += 1
            if let prev = event.prev { #expect(try t.store.event(prev).to == event.from) }
            next = event.prev
        }
        #expect(walked == chain.count)
        #expect(walked >= versions.count - 1)
        #expect(try t.store.verify().isClean)
    }

    @Test func environmentsAndLabelsAreSeparateNamespaces() throws {
        let t = try TestStore()
        let (path, v1, v2) = try twoVersions(t)
        let production = try RefLabel("production")
        try t.store.setRef(.environments, production, of: path, to: v1, author: "a")
        try t.store.setRef(.labels, production, of: path, to: v2, author: "a")
        #expect(try t.store.resolveVersion("flows/support@production") == v2)  // labels first
        #expect(try t.store.resolveVersion("flows/support@environments/production") == v1)
        try t.store.removeRef(.environments, production, of: path, author: "a")
        #expect(throws: StoreError.refNotFound("flows/support@environments/production")) {
            try t.store.resolveVersion("flows/support@environments/production")
        }
        let file = try t.store.requireFile(at: path)
        #expect(try t.store.namedRefs(.environments, of: file).isEmpty)
        #expect(try t.store.namedRefs(.labels, of: file).map(\.label) == [production])
    }

    @Test func aLabelCannotPointAtAnotherFilesVersion() throws {
        let t = try TestStore()
        let (path, _, _) = try twoVersions(t)
        let other = try t.store.commit(NewVersion(path: try FlowPath("other"), kind: .flow, definition: Samples.flow(temperature: 9)), author: "a")
        #expect(throws: StoreError.self) {
            try t.store.setRef(.labels, try RefLabel("x"), of: path, to: other.versionID, author: "a")
        }
    }
}

@Suite("Revisions")
struct ResolveTests {
    @Test func revisionSyntax() throws {
        let t = try TestStore()
        let path = try FlowPath("team/a@b")
        var ids: [ObjectID] = []
        for i in 1...3 {
            ids.append(try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: Double(i))), author: "a").versionID)
        }
        try t.store.setRef(.labels, try RefLabel("prod"), of: path, to: ids[1], author: "a")
        #expect(try t.store.resolveVersion("team/a@b") == ids[2])
        #expect(try t.store.resolveVersion("team/a@b~") == ids[1])
        #expect(try t.store.resolveVersion("team/a@b~2") == ids[0])
        #expect(try t.store.resolveVersion("team/a@b#1") == ids[0])
        #expect(try t.store.resolveVersion("team/a@b@prod") == ids[1])
        #expect(try t.store.resolveVersion("team/a@b@prod~1") == ids[0])
        #expect(try t.store.resolveVersion(String(ids[1].hex.prefix(10))) == ids[1])
        #expect(try t.store.resolveVersion(ids[1].hex) == ids[1])
        #expect(throws: StoreError.self) { try t.store.resolveVersion("team/a@b~3") }
        #expect(throws: StoreError.self) { try t.store.resolveVersion("team/a@b#9") }
        #expect(throws: StoreError.self) { try t.store.resolveVersion("team/a@b@nolabel") }
        #expect(throws: StoreError.fileNotFound("nowhere")) { try t.store.resolveVersion("nowhere") }
        #expect(throws: StoreError.self) { try t.store.resolveVersion("../../etc") }
    }
}

@Suite("Audit chain and verify")
struct VerifyTests {
    func populated() throws -> (TestStore, FlowPath, [ObjectID]) {
        let t = try TestStore()
        let path = try FlowPath("audited")
        var ids: [ObjectID] = []
        for i in 1...3 {
            ids.append(try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: Double(i))), author: "a").versionID)
        }
        let production = try RefLabel("production")
        try t.store.setRef(.labels, production, of: path, to: ids[0], author: "a", message: "first release")
        try t.store.setRef(.labels, production, of: path, to: ids[2], author: "b", message: "second release")
        return (t, path, ids)
    }

    @Test func cleanStoreVerifies() throws {
        let (t, _, _) = try populated()
        let report = try t.store.verify()
        #expect(report.isClean, "\(report.problems)")
        #expect(report.objectsChecked == (try t.objectCount()))
        #expect(report.refsChecked == 3)  // path, head, label
        #expect(report.eventsChecked == 6)  // path create, 3 head moves, 2 label moves
    }

    @Test func auditIsNewestFirstWithWhoWhenWhy() throws {
        let (t, path, ids) = try populated()
        let entries = try t.store.audit(path: path)
        #expect(entries.count == 6)
        #expect(entries[0].event.message == "second release" && entries[0].event.author == "b")
        #expect(entries[0].event.from == ids[0] && entries[0].event.to == ids[2])
        #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.event.time >= $1.event.time })
        #expect(try t.store.audit(path: path, limit: 2).count == 2)
    }

    @Test func flippedByteIsNamedAndNeverServed() throws {
        let (t, _, ids) = try populated()
        let file = t.objectPath(ids[1])
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count / 2] ^= 0x01
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        try bytes.write(to: URL(fileURLWithPath: file))
        let report = try t.store.verify()
        #expect(report.problems.contains { $0.subject == ids[1].hex && $0.message.contains("hashes to") })
        #expect(throws: StoreError.self) { try t.store.version(ids[1]) }
    }

    @Test func refPointingAtAMissingObjectIsNamed() throws {
        let (t, path, _) = try populated()
        let file = try t.store.requireFile(at: path)
        let missing = ObjectID(hashing: Array("nothing here".utf8))
        let refFile = "\(t.root)/refs/files/\(file.hex)/labels/production.ref"
        try "\(missing.hex)\n".write(toFile: refFile, atomically: true, encoding: .utf8)
        let report = try t.store.verify()
        #expect(report.problems.contains {
            $0.subject == "ref files/\(file.hex)/labels/production" && $0.message.contains(missing.hex)
        }, "\(report.problems)")
    }

    @Test func removedChainLinkIsNamed() throws {
        let (t, path, _) = try populated()
        let file = try t.store.requireFile(at: path)
        let head = try #require(try t.store.refs.read(RefNames.named(file, .labels, try RefLabel("production"))))
        let middle = try #require(try t.store.event(head).prev)
        try FileManager.default.removeItem(atPath: t.objectPath(middle))
        let report = try t.store.verify()
        #expect(report.problems.contains { $0.message.contains("missing object \(middle.hex)") })
        #expect(report.problems.contains { $0.subject.hasSuffix("labels/production") && $0.message.contains("chain broken") })
    }

    @Test func forgedEventIsDetected() throws {
        // Rewriting history means writing a new event with other content: its hash differs, so
        // the ref (or the next event's prev link) no longer matches unless everything after it is rewritten too.
        let (t, path, ids) = try populated()
        let file = try t.store.requireFile(at: path)
        let labelRef = RefNames.named(file, .labels, try RefLabel("production"))
        let head = try #require(try t.store.refs.read(labelRef))
        var forged = try t.store.event(head)
        forged.to = ids[1]  // claim production went to v2, not v3, keeping the ref file pointing at the old id
        let forgedBytes = StoredObject.event(forged).canonicalBytes()
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: t.objectPath(head))
        try Data(forgedBytes).write(to: URL(fileURLWithPath: t.objectPath(head)))
        let report = try t.store.verify()
        #expect(report.problems.contains { $0.subject == head.hex })
    }

    @Test func strayFileInObjectsIsReported() throws {
        let (t, _, _) = try populated()
        try FileManager.default.createDirectory(atPath: "\(t.root)/objects/ab", withIntermediateDirectories: true)
        try "partial".write(toFile: "\(t.root)/objects/ab/tmp-123", atomically: false, encoding: .utf8)
        #expect(try t.store.verify().problems.map(\.subject) == ["objects/ab/tmp-123"])
    }

    @Test func gcRemovesOnlyUnreachableObjects() throws {
        let (t, path, _) = try populated()
        let orphan = try t.store.objects.put(Array(#"{"type":"orphan"}"#.utf8))
        let before = try t.objectCount()
        let dry = try t.store.gc(graceSeconds: 0, dryRun: true)
        #expect(dry.removed == [orphan])
        #expect(try t.objectCount() == before)
        let report = try t.store.gc(graceSeconds: 0)
        #expect(report.removed == [orphan])
        #expect(try t.objectCount() == before - 1)
        #expect(try t.store.history(from: try t.store.head(of: path)).count == 3)
        #expect(try t.store.verify().isClean)
        // Fresh orphans survive the default grace period (a writer may be about to reference them).
        let fresh = try t.store.objects.put(Array(#"{"type":"fresh"}"#.utf8))
        #expect(try t.store.gc().removed.isEmpty)
        #expect(try t.store.objects.has(fresh))
    }

    @Test func diffNamesChangedAttributesAndNodes() throws {
        let t = try TestStore()
        let flow = try FlowPath("f")
        let a = try t.store.commit(NewVersion(path: flow, kind: .flow, definition: Samples.flow(temperature: 0.8)), author: "a")
        let b = try t.store.commit(NewVersion(path: flow, kind: .flow, definition: Samples.flow(temperature: 0.9), name: "hot"), author: "a")
        let d = try t.store.diff(a.versionID, b.versionID)
        #expect(d.entries == [
            .init(location: "name", change: .added("hot")),
            .init(location: "attributes.prompt.temperature", change: .changed(from: 0.8, to: 0.9)),
        ])

        let agent = try FlowPath("g")
        let body = try SeedBody.parse(try JSONParser.parse(Samples.routingAgentBody))
        let x = try t.store.commit(NewVersion(path: agent, kind: .agent, definition: body.definition), author: "a")
        var def = body.definition
        var nodes = def["nodes"]?.arrayValue ?? []
        nodes.removeLast()  // support_handler
        def["nodes"] = .array(nodes)
        def["edges"] = .array(Array(def["edges"]?.arrayValue?.prefix(1) ?? []))
        let y = try t.store.commit(NewVersion(path: agent, kind: .agent, definition: def), author: "a")
        let locations = try t.store.diff(x.versionID, y.versionID).entries.map(\.location)
        #expect(locations == [#"edges["router" -> "support_handler"]"#, #"nodes["support_handler"]"#])
    }
}
