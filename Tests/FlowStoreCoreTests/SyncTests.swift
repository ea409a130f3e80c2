import Foundation
import Synchronization
import Testing
@testable import FlowStoreCore
@testable import FlowStoreDirectory

/// Two stores exchanging work offline: fast-forward, divergence and its resolution, and
/// untrusted incoming data (corrupt objects, gaps, hostile ref names, half-finished copies).
@Suite("Sync: pull, push, objects directories, rescan, resolve")
struct SyncTests {
    static let path = "flows/support"

    /// A store with one flow: versions 1 and 2, `production` on 1, deployed to `staging` at 2.
    static func seeded() throws -> TestStore {
        let t = try TestStore()
        let path = try FlowPath(Self.path)
        let v1 = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.1)), author: "a")
        _ = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.2)), author: "a")
        try t.store.setRef(.labels, RefLabel("production"), of: path, to: v1.versionID, author: "a")
        try t.store.setRef(.environments, RefLabel("staging"), of: path, to: try t.store.head(of: path), author: "a")
        return t
    }

    static func commit(_ t: TestStore, temperature: Double) throws -> ObjectID {
        try t.store.commit(
            NewVersion(path: FlowPath(path), kind: .flow, definition: Samples.flow(temperature: temperature)), author: "x"
        ).versionID
    }

    static func production(_ t: TestStore) throws -> RefName {
        RefNames.named(try t.store.requireFile(at: FlowPath(path)), .labels, try RefLabel("production"))
    }

    static func allRefs(_ t: TestStore) throws -> [String: ObjectID] {
        Dictionary(uniqueKeysWithValues: try t.store.refs.list(prefix: "").map { ($0.name.rawValue, $0.event) })
    }

    static func expectClean(_ t: TestStore, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let report = try t.store.verify()
        #expect(report.problems == [], sourceLocation: sourceLocation)
    }

    // MARK: Pull, push, no-op

    @Test func pullIntoAnEmptyStoreCreatesEveryRef() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        let report = try b.store.pull(from: a.store)
        #expect(report.objectsCopied == (try a.objectCount()))
        #expect(report.refs.allSatisfy { $0.outcome == .created })
        #expect(try Self.allRefs(b) == (try Self.allRefs(a)))
        #expect(try b.store.resolveVersion("\(Self.path)@production") == (try a.store.resolveVersion("\(Self.path)@production")))
        try Self.expectClean(b)
    }

    @Test func pullFastForwardsWithoutWritingEvents() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        try b.store.pull(from: a.store)
        let v3 = try Self.commit(a, temperature: 0.3)
        try a.store.setRef(.labels, RefLabel("production"), of: FlowPath(Self.path), to: v3, author: "a")
        let report = try b.store.pull(from: a.store)
        #expect(report.count(.fastForward) == 2)  // head and production
        #expect(report.eventsWritten == 0)
        #expect(try Self.allRefs(b) == (try Self.allRefs(a)))
        #expect(try b.objectCount() == (try a.objectCount()))
        #expect(try b.store.resolveVersion("\(Self.path)@production") == v3)
        try Self.expectClean(b)
    }

    @Test func repeatedSyncCopiesNothingAndWritesNothing() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        try b.store.pull(from: a.store)
        let before = try b.snapshot()
        let again = try b.store.pull(from: a.store)
        #expect(again.objectsCopied == 0 && again.refs.isEmpty && again.eventsWritten == 0)
        #expect(try b.snapshot() == before)
    }

    @Test func aNoOpSyncNeverListsOrReadsObjects() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        try b.store.pull(from: a.store)
        let source = CountingObjectStore(a.store.objects)
        let destination = CountingObjectStore(b.store.objects)
        let remote = VersionStore(objects: source, refs: a.store.refs)
        let local = VersionStore(objects: destination, refs: b.store.refs)
        let report = try local.pull(from: remote)
        #expect(report.objectsCopied == 0)
        #expect(source.calls == 0 && destination.calls == 0)
    }

    @Test func pullOfAnOlderStoreIsBehindAndChangesNothing() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        try b.store.pull(from: a.store)
        _ = try Self.commit(b, temperature: 0.9)
        let before = try b.snapshot()
        let report = try b.store.pull(from: a.store)
        #expect(report.refs.map(\.outcome) == [.behind])
        #expect(report.objectsCopied == 0)
        #expect(try b.snapshot() == before)
    }

    @Test func pushAndPullBetweenTwoStores() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        let pushed = try a.store.push(to: b.store)
        #expect(pushed.kind == .push && pushed.count(.created) == pushed.refs.count)
        // Each side adds work on a different file, then they exchange both ways.
        _ = try Self.commit(b, temperature: 0.5)
        let agent = try SeedBody.parse(try JSONParser.parse(Samples.routingAgentBody))
        _ = try a.store.commit(NewVersion(path: FlowPath("agents/router"), kind: .agent, definition: agent.definition), author: "a")
        let pulled = try a.store.pull(from: b.store)
        #expect(pulled.count(.fastForward) == 1)
        let pushedBack = try a.store.push(to: b.store)
        #expect(pushedBack.count(.created) >= 2)  // the agent's path and head refs
        #expect(try Self.allRefs(a) == (try Self.allRefs(b)))
        try Self.expectClean(a)
        try Self.expectClean(b)
    }

    // MARK: Divergence and resolve

    /// Two synced stores that both moved `production`: returns (local, incoming) with `local`
    /// having pulled and found the divergence.
    static func diverged() throws -> (local: TestStore, incoming: TestStore, ObjectID, ObjectID) {
        let incoming = try Self.seeded()
        let local = try TestStore()
        try local.store.pull(from: incoming.store)
        let path = try FlowPath(Self.path)
        let v1 = try local.store.version(numbered: 1, of: path)
        let v2 = try local.store.version(numbered: 2, of: path)
        try incoming.store.setRef(.labels, RefLabel("production"), of: path, to: v2, author: "bob")
        try local.store.setRef(.labels, RefLabel("production"), of: path, to: v1, author: "alice", message: "pin")
        try local.store.removeRef(.labels, RefLabel("production"), of: path, author: "alice")
        try local.store.setRef(.labels, RefLabel("production"), of: path, to: v1, author: "alice")
        return (local, incoming, v1, v2)
    }

    @Test func divergedRefIsReportedKeptAndNotOverwritten() throws {
        let (local, incoming, v1, _) = try Self.diverged()
        let name = try Self.production(local)
        let localHead = try local.store.refs.read(name)
        let report = try local.store.pull(from: incoming.store)
        #expect(report.refs.map(\.outcome) == [.diverged])
        #expect(try local.store.refs.read(name) == localHead)
        #expect(try local.store.resolveVersion("\(Self.path)@production") == v1)
        let incomingHead = try #require(try incoming.store.refs.read(name))
        #expect(try local.store.divergedRefs() == [DivergedRef(name: name, local: localHead, incoming: [incomingHead])])
        #expect(FileManager.default.fileExists(atPath: "\(local.root)/sync/diverged.json"))
        // The incoming chain survives gc, and the store verifies.
        _ = try local.store.gc(graceSeconds: 0)
        #expect(try local.store.objects.has(incomingHead))
        try Self.expectClean(local)
        // Syncing again changes nothing.
        let before = try local.snapshot()
        #expect(try local.store.pull(from: incoming.store).refs.map(\.outcome) == [.diverged])
        #expect(try local.snapshot() == before)
    }

    @Test(arguments: ["local", "incoming", "rev"])
    func resolveJoinsBothChainsWithAMergeEvent(_ side: String) throws {
        let (local, incoming, v1, v2) = try Self.diverged()
        try local.store.pull(from: incoming.store)
        let name = try Self.production(local)
        let localHead = try #require(try local.store.refs.read(name))
        let incomingHead = try #require(try incoming.store.refs.read(name))
        let choice: ResolveChoice = side == "local" ? .local : side == "incoming" ? .incoming : .target(v2)
        let expected = side == "local" ? v1 : v2
        let result = try local.store.resolveDivergence(name, take: choice, author: "carol", message: "agreed")
        let merge = try local.store.event(result.event)
        #expect(merge.action == .merge && merge.prev == localHead && merge.merged == [incomingHead])
        #expect(merge.from == v1 && merge.to == expected && merge.author == "carol")
        #expect(try local.store.resolveVersion("\(Self.path)@production") == expected)
        #expect(try local.store.divergedRefs().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(local.root)/sync/diverged.json"))
        try Self.expectClean(local)
        // The audit shows both sides' moves.
        let authors = Set(try local.store.audit().filter { $0.event.ref == name }.map(\.event.author))
        #expect(authors == ["a", "alice", "bob", "carol"])
        // The other store fast-forwards onto the merge.
        let back = try incoming.store.pull(from: local.store)
        #expect(back.refs.first { $0.name == name }?.outcome == .fastForward)
        #expect(try incoming.store.resolveVersion("\(Self.path)@production") == expected)
        try Self.expectClean(incoming)
        // And a pull the other way is now behind.
        #expect(try local.store.pull(from: incoming.store).refs.allSatisfy { $0.outcome == .upToDate || $0.outcome == .behind })
    }

    @Test func divergedHeadResolvesToAMergeVersion() throws {
        let incoming = try Self.seeded()
        let local = try TestStore()
        try local.store.pull(from: incoming.store)
        let theirs = try Self.commit(incoming, temperature: 0.7)
        _ = try Self.commit(incoming, temperature: 0.8)  // incoming is at version 4
        let ours = try Self.commit(local, temperature: 0.3)  // local at version 3
        let report = try local.store.pull(from: incoming.store)
        let file = try local.store.requireFile(at: FlowPath(Self.path))
        #expect(report.refs.first { $0.name == RefNames.head(file) }?.outcome == .diverged)
        let theirHead = try incoming.store.head(of: FlowPath(Self.path))
        #expect(theirs != theirHead)

        let result = try local.store.resolveDivergence(RefNames.head(file), take: .incoming, author: "carol")
        let merged = try #require(result.mergeVersion)
        let version = try local.store.version(merged)
        #expect(version.parents == [ours, theirHead])
        #expect(version.number == 5)  // one past the highest parent
        #expect(version.content == (try local.store.version(theirHead)).content)
        #expect(try local.store.head(of: FlowPath(Self.path)) == merged)
        let numbers = try local.store.history(from: merged).map(\.1.number)
        #expect(numbers.sorted() == [1, 2, 3, 3, 4, 5])
        try Self.expectClean(local)
        // Work continues on top of the merge.
        let next = try Self.commit(local, temperature: 0.11)
        #expect(try local.store.version(next).number == 6)
        #expect(try incoming.store.pull(from: local.store).count(.fastForward) >= 1)
        try Self.expectClean(incoming)
    }

    @Test func aPathCreatedOnBothSidesDivergesAndEitherFileCanWin() throws {
        let a = try TestStore()
        let b = try TestStore()
        let path = try FlowPath("shared/flow")
        _ = try a.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.1)), author: "a")
        _ = try b.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.2)), author: "b")
        let theirs = try a.store.requireFile(at: path)
        let ours = try b.store.requireFile(at: path)
        let report = try b.store.pull(from: a.store)
        #expect(report.refs.first { $0.name == RefNames.path(path) }?.outcome == .diverged)
        #expect(report.refs.first { $0.name == RefNames.head(theirs) }?.outcome == .created)
        #expect(try b.store.requireFile(at: path) == ours)
        try b.store.resolveDivergence(RefNames.path(path), take: .incoming, author: "b")
        #expect(try b.store.requireFile(at: path) == theirs)
        #expect(try b.store.target(of: RefNames.head(ours)) != nil)  // the other file keeps its history
        try Self.expectClean(b)
    }

    @Test func resolvingARefThatIsNotDivergedIsRefused() throws {
        let t = try Self.seeded()
        #expect(throws: StoreError.self) {
            try t.store.resolveDivergence(try Self.production(t), take: .local, author: "a")
        }
    }

    @Test func verifyChecksMergeEvents() throws {
        let (local, incoming, _, _) = try Self.diverged()
        try local.store.pull(from: incoming.store)
        let name = try Self.production(local)
        let head = try #require(try local.store.refs.read(name))
        let file = try local.store.requireFile(at: FlowPath(Self.path))
        let otherRef = try #require(try local.store.refs.read(RefNames.head(file)))
        // A merge that joins an event of another ref, and a "move" that names merged chains.
        for (action, merged) in [(EventAction.merge, [otherRef]), (.move, [head])] {
            let bad = EventObject(ref: name, action: action, from: try local.store.event(head).to,
                                  to: try local.store.event(head).to, prev: head, merged: merged, author: "m",
                                  time: "2026-01-01T00:00:00.000Z", message: nil)
            let id = try local.store.write(.event(bad))
            let current = try local.store.refs.read(name)
            try local.store.refs.compareAndSwap(name, expected: current, new: id)
            #expect(try !local.store.verify().isClean)
            try local.store.refs.compareAndSwap(name, expected: id, new: head)
        }
        try Self.expectClean(local)
    }

    // MARK: Untrusted input

    @Test func aCorruptObjectRejectsThePullAndWritesNothing() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        let head = try a.store.head(of: FlowPath(Self.path))
        try corrupt(a.objectPath(head))
        let before = try b.snapshot()
        let error = try #require(throws: StoreError.self) { try b.store.pull(from: a.store) }
        #expect(error.description.contains(head.hex) && error.description.contains("nothing was written"))
        #expect(try b.snapshot() == before)
    }

    @Test func anEventChainWithAGapIsRejected() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        // Leave out the event before production's head.
        let name = try Self.production(a)
        try a.store.setRef(.labels, RefLabel("production"), of: FlowPath(Self.path), to: try a.store.head(of: FlowPath(Self.path)), author: "a")
        let dir2 = try copyObjects(of: a)
        let head = try #require(try a.store.refs.read(name))
        let prev = try #require(try a.store.event(head).prev)
        try FileManager.default.removeItem(atPath: objectPath(prev, in: dir2))
        let before = try b.snapshot()
        let error = try #require(throws: StoreError.self) { try b.store.importObjects(from: dir2) }
        #expect(error.description.contains("gap") && error.description.contains(prev.hex))
        #expect(error.description.contains(name.rawValue))
        #expect(try b.snapshot() == before)
        try? FileManager.default.removeItem(atPath: dir2)
    }

    @Test func anEventWithAHostileRefNameIsRejected() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        let dir = try copyObjects(of: a)
        let head = try a.store.head(of: FlowPath(Self.path))
        let hostile = StoredObject.event(EventObject(
            ref: RefName(validated: "../../etc"), action: .create, from: nil, to: head, prev: nil,
            author: "mallory", time: "2026-01-01T00:00:00.000Z", message: nil))
        let id = try writeObject(hostile.canonicalBytes(), in: dir)
        let before = try b.snapshot()
        let error = try #require(throws: StoreError.self) { try b.store.importObjects(from: dir) }
        #expect(error.description.contains(id.hex) && error.description.contains("../../etc"))
        #expect(try b.snapshot() == before)
        #expect(!FileManager.default.fileExists(atPath: "\(b.root)/etc.ref"))
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func anIncomingEventPointingAtTheWrongTypeIsRejected() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        try b.store.pull(from: a.store)
        // A hand-made production move onto the file object instead of a version.
        let name = try Self.production(a)
        let file = try a.store.requireFile(at: FlowPath(Self.path))
        let head = try #require(try a.store.refs.read(name))
        let forged = EventObject(ref: name, action: .move, from: try a.store.event(head).to, to: file, prev: head,
                                 author: "mallory", time: "2026-01-01T00:00:00.000Z", message: nil)
        let id = try a.store.write(.event(forged))
        try a.store.refs.compareAndSwap(name, expected: head, new: id)
        let before = try b.snapshot()
        let error = try #require(throws: StoreError.self) { try b.store.pull(from: a.store) }
        #expect(error.description.contains(name.rawValue) && error.description.contains("not a version"))
        #expect(try b.snapshot() == before)
    }

    @Test func aHalfCopiedObjectsDirectoryIsRejectedThenImportsOnceComplete() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        let dir = try copyObjects(of: a)
        var ids: [ObjectID] = []
        try a.store.objects.list { ids.append($0) }
        // An interrupted copy: two files cut short, one missing entirely.
        try truncate(objectPath(ids[1], in: dir))
        try truncate(objectPath(ids[3], in: dir))
        try FileManager.default.removeItem(atPath: objectPath(ids[5], in: dir))
        let before = try b.snapshot()
        let error = try #require(throws: StoreError.self) { try b.store.importObjects(from: dir) }
        #expect(error.description.contains(ids[1].hex) && error.description.contains(ids[3].hex))
        #expect(try b.snapshot() == before)
        try Self.expectClean(b)
        // Finishing the copy makes the import go through.
        try? FileManager.default.removeItem(atPath: dir)
        let complete = try copyObjects(of: a)
        let report = try b.store.importObjects(from: complete)
        #expect(report.objectsCopied == (try a.objectCount()))
        #expect(try Self.allRefs(b) == (try Self.allRefs(a)))
        try Self.expectClean(b)
        try? FileManager.default.removeItem(atPath: complete)
    }

    @Test func importingAnObjectsDirectoryMovesRefsAndIsIdempotent() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        let dir = try copyObjects(of: a)
        try "not an object".write(toFile: "\(dir)/README", atomically: false, encoding: .utf8)
        let report = try b.store.importObjects(from: dir)
        #expect(report.ignored == ["objects/README"])
        #expect(try Self.allRefs(b) == (try Self.allRefs(a)))
        let before = try b.snapshot()
        let again = try b.store.importObjects(from: dir)
        #expect(again.objectsCopied == 0 && again.refs.allSatisfy { $0.outcome == .upToDate })
        #expect(try b.snapshot() == before)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func aPullInterruptedMidCopyLeavesAStoreThatVerifies() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        let total = try a.objectCount()
        // Count the reads of a whole pull; the copy is its last `total` reads: fail half-way through it.
        let counter = FailingObjectStore(a.store.objects, failAfter: .max)
        let scratch = try TestStore()
        try scratch.store.pull(from: VersionStore(objects: counter, refs: a.store.refs))
        let flaky = VersionStore(objects: FailingObjectStore(a.store.objects, failAfter: counter.reads - total / 2), refs: a.store.refs)
        #expect(throws: StoreError.self) { try b.store.pull(from: flaky) }
        // Objects are published a durable chunk at a time: the interrupted chunk leaves neither
        // objects nor temp files behind.
        let copied = try b.objectCount()
        #expect(copied < total)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(b.root)/tmp").isEmpty)
        #expect(try b.store.refs.list(prefix: "").isEmpty)
        try Self.expectClean(b)  // every object written so far has everything it refers to
        let report = try b.store.pull(from: a.store)
        #expect(report.objectsCopied == total - copied)
        #expect(try Self.allRefs(b) == (try Self.allRefs(a)))
        try Self.expectClean(b)
    }

    // MARK: Rescan

    @Test func rescanAfterCopyingObjectsIntoTheStore() throws {
        let (local, incoming, _, _) = try Self.diverged()
        let v3 = try Self.commit(incoming, temperature: 0.3)
        try mergeObjects(from: incoming, into: local)
        let report = try local.store.rescan()
        #expect(report.warnings == [])
        let file = try local.store.requireFile(at: FlowPath(Self.path))
        #expect(report.refs.first { $0.name == RefNames.head(file) }?.outcome == .fastForward)
        #expect(report.refs.first { $0.name == (try? Self.production(local)) }?.outcome == .diverged)
        #expect(try local.store.head(of: FlowPath(Self.path)) == v3)
        #expect(try local.store.divergedRefs().count == 1)
        try Self.expectClean(local)
        // A second rescan finds nothing new to do.
        let before = try local.snapshot()
        let again = try local.store.rescan()
        #expect(again.refs.allSatisfy { $0.outcome == .diverged })
        #expect(try local.snapshot() == before)
    }

    @Test func rescanSkipsHalfCopiedObjectsAndTheRefsThatNeedThem() throws {
        let a = try Self.seeded()
        let b = try TestStore()
        try b.store.pull(from: a.store)
        let v3 = try Self.commit(a, temperature: 0.3)
        try mergeObjects(from: a, into: b)
        try truncate(b.objectPath(v3))
        let file = try b.store.requireFile(at: FlowPath(Self.path))
        let headBefore = try b.store.refs.read(RefNames.head(file))
        let report = try b.store.rescan()
        #expect(report.warnings.contains { $0.contains(v3.hex) && $0.contains("half-finished copy") })
        #expect(report.warnings.contains { $0.contains("ref \(RefNames.head(file))") })
        #expect(try b.store.refs.read(RefNames.head(file)) == headBefore)
        // Copying the object again (any way: here by importing it) completes the rescan.
        try b.store.objects.put(try a.store.objects.get(v3))
        let fixed = try b.store.rescan()
        #expect(fixed.warnings == [] && fixed.count(.fastForward) == 1)
        try Self.expectClean(b)
    }
}

@Suite("Sync: bundles")
struct BundleTests {
    @Test func roundTripCarriesEveryRefAndObject() throws {
        let a = try SyncTests.seeded()
        let b = try TestStore()
        let bundle = try a.store.createBundle()
        let bytes = bundle.encoded()
        #expect(bytes.starts(with: Array("flowstore-bundle 1\nref ".utf8)))
        let report = try b.store.importBundle(bytes, name: "x.bundle")
        #expect(report.objectsCopied == (try a.objectCount()))
        #expect(try SyncTests.allRefs(b) == (try SyncTests.allRefs(a)))
        try SyncTests.expectClean(b)
        let before = try b.snapshot()
        let again = try b.store.importBundle(bytes, name: "x.bundle")
        #expect(again.objectsCopied == 0 && again.refs.isEmpty)
        #expect(try b.snapshot() == before)
    }

    @Test func aBundleOfOneFileCarriesOnlyItsRefs() throws {
        let a = try SyncTests.seeded()
        _ = try a.store.commit(NewVersion(path: FlowPath("flows/other"), kind: .flow, definition: Samples.flow(temperature: 0.9)), author: "a")
        let bundle = try a.store.createBundle(paths: [FlowPath(SyncTests.path)])
        let file = try a.store.requireFile(at: FlowPath(SyncTests.path))
        #expect(bundle.refs.allSatisfy { $0.name.rawValue == "paths/\(SyncTests.path)" || $0.name.rawValue.hasPrefix("files/\(file.hex)/") })
        let b = try TestStore()
        try b.store.importBundle(bundle.encoded(), name: "one")
        #expect(try b.store.files().map(\.path.rawValue) == [SyncTests.path])
        try SyncTests.expectClean(b)
    }

    @Test func aCorruptBundleIsRejectedWithNothingWritten() throws {
        let a = try SyncTests.seeded()
        let b = try TestStore()
        let bundle = try a.store.createBundle()
        let before = try b.snapshot()

        // A flipped byte inside one object.
        var flipped = bundle
        let (victim, body) = flipped.objects[2]
        var bad = body
        bad[bad.count / 2] ^= 0x01
        flipped.objects[2] = (victim, bad)
        let error = try #require(throws: StoreError.self) { try b.store.importBundle(flipped.encoded(), name: "x") }
        #expect(error.description.contains(victim.hex) && error.description.contains("nothing was written"))

        // Cut short, a different format version, a hostile ref name.
        let bytes = bundle.encoded()
        #expect(throws: StoreError.self) { try b.store.importBundle(Array(bytes.dropLast(20)), name: "x") }
        #expect(throws: StoreError.self) { try b.store.importBundle(Array("flowstore-bundle 2\n\nend 0\n".utf8), name: "x") }
        let hostile = "flowstore-bundle 1\nref \(victim.hex) ../../etc\n\nend 0\n"
        let hostileError = try #require(throws: StoreError.self) { try b.store.importBundle(Array(hostile.utf8), name: "x") }
        #expect(hostileError.description.contains("../../etc"))
        // A well-formed chain for a ref outside paths/ and files/.
        let stray = StoredObject.event(EventObject(
            ref: try RefName("evil/x"), action: .create, from: nil, to: victim, prev: nil, author: "m",
            time: "2026-01-01T00:00:00.000Z", message: nil)).canonicalBytes()
        let strayID = ObjectID(hashing: stray)
        let strayBundle = FlowStoreBundle(refs: [(try RefName("evil/x"), strayID)], objects: bundle.objects + [(strayID, stray)])
        let strayError = try #require(throws: StoreError.self) { try b.store.importBundle(strayBundle.encoded(), name: "x") }
        #expect(strayError.description.contains("evil/x"))
        // A ref head the bundle does not contain.
        let dangling = "flowstore-bundle 1\nref \(String(repeating: "ab", count: 32)) paths/x\n\nend 0\n"
        #expect(throws: StoreError.self) { try b.store.importBundle(Array(dangling.utf8), name: "x") }
        #expect(try b.snapshot() == before)
    }
}

// MARK: Helpers

/// Counts every call into an object store, to prove a no-op sync never touches objects.
final class CountingObjectStore: ObjectStore {
    let base: any ObjectStore
    private let count = Mutex(0)
    init(_ base: any ObjectStore) { self.base = base }
    var calls: Int { count.withLock { $0 } }
    private func tick() { count.withLock { $0 += 1 } }

    func get(_ id: ObjectID) throws(StoreError) -> [UInt8] { tick(); return try base.get(id) }
    func put(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID { tick(); return try base.put(canonicalBytes) }
    func has(_ id: ObjectID) throws(StoreError) -> Bool { tick(); return try base.has(id) }
    func list(_ body: (ObjectID) throws(StoreError) -> Void) throws(StoreError) { tick(); try base.list(body) }
    func ids(withPrefix prefix: String) throws(StoreError) -> [ObjectID] { tick(); return try base.ids(withPrefix: prefix) }
    func strayEntries() throws(StoreError) -> [String] { tick(); return try base.strayEntries() }
    func storedAt(_ id: ObjectID) throws(StoreError) -> Int? { tick(); return try base.storedAt(id) }
    func remove(_ id: ObjectID) throws(StoreError) { tick(); try base.remove(id) }
}

/// Fails every `get` after the first `failAfter`, like a source that goes away mid-copy.
final class FailingObjectStore: ObjectStore {
    let base: any ObjectStore
    let failAfter: Int
    private let gets = Mutex(0)
    var reads: Int { gets.withLock { $0 } }
    init(_ base: any ObjectStore, failAfter: Int) {
        self.base = base
        self.failAfter = failAfter
    }

    func get(_ id: ObjectID) throws(StoreError) -> [UInt8] {
        let n = gets.withLock { value -> Int in
            value += 1
            return value
        }
        if n > failAfter { throw .io(path: id.hex, message: "device removed") }
        return try base.get(id)
    }
    func put(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID { try base.put(canonicalBytes) }
    func has(_ id: ObjectID) throws(StoreError) -> Bool { try base.has(id) }
    func list(_ body: (ObjectID) throws(StoreError) -> Void) throws(StoreError) { try base.list(body) }
    func ids(withPrefix prefix: String) throws(StoreError) -> [ObjectID] { try base.ids(withPrefix: prefix) }
    func strayEntries() throws(StoreError) -> [String] { try base.strayEntries() }
    func storedAt(_ id: ObjectID) throws(StoreError) -> Int? { try base.storedAt(id) }
    func remove(_ id: ObjectID) throws(StoreError) { try base.remove(id) }
}

/// A copy of a store's `objects/` in a new temp directory (like `cp -r`).
func copyObjects(of t: TestStore) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-objects-\(UUID().uuidString)").path
    try FileManager.default.copyItem(atPath: "\(t.root)/objects", toPath: dir)
    return dir
}

/// Copies every object of `source` into `destination`'s `objects/` directly, as `cp -r` would.
func mergeObjects(from source: TestStore, into destination: TestStore) throws {
    try source.store.objects.list { id in
        let target = destination.objectPath(id)
        if FileManager.default.fileExists(atPath: target) { return }
        try? FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? FileManager.default.copyItem(atPath: source.objectPath(id), toPath: target)
    }
}

func objectPath(_ id: ObjectID, in dir: String) -> String {
    "\(dir)/\(id.hex.prefix(2))/\(id.hex.dropFirst(2))"
}

@discardableResult
func writeObject(_ bytes: [UInt8], in dir: String) throws -> ObjectID {
    let id = ObjectID(hashing: bytes)
    try FileManager.default.createDirectory(atPath: "\(dir)/\(id.hex.prefix(2))", withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: objectPath(id, in: dir)))
    return id
}

/// Makes a read-only object file writable and flips a byte in it.
func corrupt(_ path: String) throws {
    try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    data[data.count / 2] ^= 0x20
    try data.write(to: URL(fileURLWithPath: path))
}

/// Cuts an object file to half its length, as an interrupted copy leaves it.
func truncate(_ path: String) throws {
    try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
}
