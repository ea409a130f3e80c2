import Foundation
import Synchronization
import Testing
@testable import FlowStoreCore
@testable import FlowStoreDirectory

/// Writers beside `gc`, and writes that fail after they have begun to be acknowledged.
@Suite struct WriteRaceTests {
    /// `gc --prune-now` in a loop beside writers that re-use stored content (a retry finding its
    /// content already there), commit one by one and in batches: every version a writer was told
    /// is committed is still there, whole, and `verify` passes.
    @Test func gcPruneNowBesideWritersLosesNothing() throws {
        let t = try TestStore()
        let store = t.store
        let acknowledged = Mutex<[ObjectID]>([])
        let writersDone = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let writers = 3
        let finished = DispatchSemaphore(value: 0)

        @Sendable func definition(_ writer: Int, _ n: Int) -> JSONObject { Samples.flow(temperature: Double(writer * 1000 + n)) }
        @Sendable func storeContentFirst(_ definition: JSONObject) throws(StoreError) {
            try store.write(.content(ContentObject(kind: .flow, definition: definition)))
        }

        let threads = (0..<writers).map { writer in
            Thread {
                defer {
                    writersDone.add(1, ordering: .sequentiallyConsistent)
                    finished.signal()
                }
                do throws(StoreError) {
                    for n in 0..<40 {
                        let def = definition(writer, n)
                        // The content is there, unreachable, before the commit that re-uses it.
                        try storeContentFirst(def)
                        let new = NewVersion(path: try FlowPath("race/w\(writer)"), kind: .flow, definition: def)
                        if writer == 0, n % 4 == 3 {
                            let more = NewVersion(path: try FlowPath("race/batch-\(n)"), kind: .flow, definition: def)
                            let results = try store.commitBatch([new, more], author: "w")
                            acknowledged.withLock { $0 += results.map(\.versionID) }
                        } else {
                            let result = try store.commit(new, author: "w")
                            acknowledged.withLock { $0.append(result.versionID) }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("writer \(writer): \(error)") }
                }
            }
        }
        let collector = Thread {
            defer { finished.signal() }
            while writersDone.load(ordering: .sequentiallyConsistent) < writers {
                do throws(StoreError) { _ = try store.gc(graceSeconds: 0) } catch {
                    failures.withLock { $0.append("gc: \(error)") }
                    return
                }
            }
        }
        for thread in threads { thread.start() }
        collector.start()
        for _ in 0...writers { finished.wait() }

        #expect(failures.withLock { $0 } == [])
        let ids = acknowledged.withLock { $0 }
        #expect(ids.count == writers * 40 + 10)
        for id in ids {
            let version = try store.version(id)
            _ = try store.content(version.content)
        }
        _ = try store.gc(graceSeconds: 0)
        #expect(try store.verify().problems.isEmpty)
    }

    /// A gc waiting for its sweep holds new writers back only until it is done, and a writer's
    /// open window holds the sweep back: the window's objects survive even with no grace.
    @Test func aSweepWaitsForOpenWindows() throws {
        let t = try TestStore()
        let fence = try #require(t.store.sweepFence)
        let window = try fence.openWindow()
        let stray = try window.adopt { () throws(StoreError) -> ObjectID in
            try t.store.write(.content(ContentObject(kind: .flow, definition: Samples.flow(temperature: 0.5))))
        }
        let impatient = VersionStore(
            objects: t.store.objects, refs: t.store.refs, root: t.root,
            sweepFence: DirectorySweepFence(root: t.root, timeout: .milliseconds(100)))
        #expect(throws: StoreError.self) { try impatient.gc(graceSeconds: 0) }
        #expect(try t.store.objects.has(stray))
        window.close()
        #expect(try impatient.gc(graceSeconds: 0).removed == [stray])
    }

    /// A ref that fails to move part-way through a flush fails the versions that needed it, and
    /// only those: the others are committed and told so.
    @Test func aRefThatFailsToMoveFailsOnlyItsOwnVersions() throws {
        let t = try TestStore()
        let store = Self.storeFailing(t, refsEndingWith: "/labels/production")
        let batch = try store.batch(author: "t")
        let plain = try batch.add(NewVersion(path: try FlowPath("A"), kind: .flow, definition: Samples.flow()))
        let labelled = try batch.add(
            NewVersion(
                path: try FlowPath("B"), kind: .flow, definition: Samples.flow(temperature: 0.1),
                labels: [try RefLabel("production")]))
        let prepared = try #require(try batch.prepareFlush())
        let failures = try batch.completeFlush(prepared)
        #expect(Array(failures.keys) == [labelled])
        #expect(failures[plain] == nil)
        #expect(try store.version(store.head(of: try FlowPath("A"))).number == 1)
        #expect(try t.store.verify().problems.isEmpty)
    }

    /// The same through the server's group commit, whatever versions share a round: each caller
    /// gets its own outcome.
    @Test func groupCommitGivesEachRequestItsOwnOutcome() async throws {
        let t = try TestStore()
        let group = GroupCommit(store: Self.storeFailing(t, refsEndingWith: "/labels/production"))
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { tasks in
            for i in 0..<24 {
                tasks.addTask {
                    let labels = i % 3 == 0 ? [try! RefLabel("production")] : []
                    let new = NewVersion(
                        path: try! FlowPath("group/f-\(i % 6)"), kind: .flow, definition: Samples.flow(temperature: Double(i)),
                        labels: labels, reuse: .never)
                    do throws(StoreError) {
                        _ = try await group.commit(new, author: "u")
                        return (i, true)
                    } catch {
                        return (i, false)
                    }
                }
            }
            var out: [Int: Bool] = [:]
            for await (i, ok) in tasks { out[i] = ok }
            return out
        }
        for (i, ok) in outcomes { #expect(ok == (i % 3 != 0), "request \(i)") }
        #expect(try t.store.verify().problems.isEmpty)
    }

    /// The test store, with every batch move of a ref whose name ends with `suffix` failing.
    static func storeFailing(_ t: TestStore, refsEndingWith suffix: String) -> VersionStore {
        var refs = FileRefStore(directory: "\(t.root)/refs", tempDirectory: "\(t.root)/tmp")
        refs.batchMoveFault = { name in
            name.rawValue.hasByteSuffix(suffix) ? .io(path: name.rawValue, message: "injected failure") : nil
        }
        return t.store(refs: refs)
    }
}
