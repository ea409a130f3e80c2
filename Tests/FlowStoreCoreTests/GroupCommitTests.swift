import Foundation
import Synchronization
import Testing

@testable import FlowStoreCore
@testable import FlowStoreDirectory

/// `BoundedCache`, `HistoryIndex` and `GroupCommit`: the pieces that let a server answer reads
/// without re-reading and take concurrent writes without an fsync each. Each must give exactly
/// what the uncached, one-at-a-time code gives.
@Suite("Caches, history index and group commit")
struct GroupCommitTests {
    static func flow(_ n: Int) -> JSONObject {
        var d = JSONObject()
        d["attributes"] = ["prompt": ["template": .string("Réponds à {{q}} — variante \(n) ✅"), "model": "gpt-4o"]]
        return d
    }

    /// A valid one-node agent, to hit the kind check rather than validation.
    static var agent: JSONObject {
        var node = JSONObject()
        node["name"] = "answer"
        node["node_type"] = "VARIABLE"
        node["configuration"] = .object(JSONObject())
        node["is_output_node"] = true
        var d = JSONObject()
        d["nodes"] = .array([.object(node)])
        d["edges"] = .array([])
        d["required_input_variables"] = .object(JSONObject())
        return d
    }

    // MARK: BoundedCache

    @Test func boundedCacheKeepsRecentEntriesAndBoundsMemory() {
        let cache = BoundedCache<Int, String>(capacity: 10)
        for i in 0..<10 { cache.set("v\(i)", forKey: i) }
        // The eleventh entry retires the first generation; its entries are still found…
        cache.set("v10", forKey: 10)
        #expect(cache.value(forKey: 0) == "v0")  // …and a hit promotes it to the current one.
        for i in 11..<25 { cache.set("v\(i)", forKey: i) }
        #expect(cache.value(forKey: 1) == nil, "an entry unused for two generations is dropped")
        #expect(cache.value(forKey: 24) == "v24")
        #expect(cache.count <= 2 * 10 + 1)
        cache.removeValue(forKey: 24)
        #expect(cache.value(forKey: 24) == nil)
    }

    @Test func boundedCacheCountsCost() {
        let cache = BoundedCache<String, [UInt8]>(capacity: 100)
        cache.set([UInt8](repeating: 1, count: 60), forKey: "a", cost: 60)
        cache.set([UInt8](repeating: 2, count: 60), forKey: "b", cost: 60)  // over: a generation turns
        cache.set([UInt8](repeating: 3, count: 60), forKey: "c", cost: 60)
        cache.set([UInt8](repeating: 4, count: 60), forKey: "d", cost: 60)  // over again: "a" and "b" go
        #expect(cache.value(forKey: "a") == nil)
        #expect(cache.value(forKey: "d")?.first == 4)
    }

    // MARK: Object cache

    @Test func objectCacheServesVerifiedObjectsOnly() throws {
        let t = try TestStore()
        let store = t.store.cachingObjects(upTo: 1 << 20)
        let path = try FlowPath("cache/flow")
        let result = try store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(1)), author: "ada")
        // Corrupt the content object on disk before anything cached it: the read must fail.
        let contentPath = t.objectPath(result.version.content)
        chmod(contentPath, 0o644)
        try Data("{\"broken\":true}".utf8).write(to: URL(fileURLWithPath: contentPath))
        #expect(throws: StoreError.self) { try store.content(result.version.content) }
        // A version read once is served from memory afterwards, identical to a fresh read.
        let first = try store.version(result.versionID)
        #expect(store.objectCache?.value(forKey: result.versionID) != nil)
        #expect(try store.version(result.versionID) == first)
        #expect(try t.store.version(result.versionID) == first)
    }

    // MARK: History index

    /// The summary must say what a full `history` walk says, however the head moved.
    @Test func historySummaryMatchesAFullWalk() throws {
        let t = try TestStore()
        let store = t.store
        let path = try FlowPath("index/flow")
        var file: ObjectID?
        func check() throws {
            guard let file, let head = try store.target(of: RefNames.head(file)) else { return }
            let summary = try store.historySummary(of: file, head: head)
            let history = try store.history(from: head)
            #expect(summary.count == history.count)
            var newest: [ObjectID: ObjectID] = [:]
            var names: [String: Set<ObjectID>] = [:]
            for (id, v) in history {
                #expect(summary.contains(id))
                if newest[v.content] == nil { newest[v.content] = id }
                if let name = v.name { names[name, default: []].insert(id) }
            }
            for (content, id) in newest { #expect(summary.newestVersion(withContent: content) == id) }
            for (name, ids) in names { #expect(Set(summary.versions(named: name)) == ids) }
            #expect(summary.versions(named: "never-used").isEmpty)
        }
        for i in 0..<30 {
            // Contents repeat (reuse .never keeps making versions), names on every third.
            let r = try store.commit(
                NewVersion(path: path, kind: .flow, definition: Self.flow(i % 7), name: i % 3 == 0 ? "v\(i)" : nil,
                           reuse: .never), author: "ada")
            file = r.file
            if i % 4 == 0 { try check() }  // extended a few versions at a time
        }
        try check()
        // A base-version (second parent) commit, then a fresh index rebuilding from scratch.
        guard let file else { return }
        let old = try store.version(numbered: 3, of: path)
        try store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(100), base: old, reuse: .never), author: "ada")
        try check()
        let fresh = VersionStore(
            objects: store.objects, refs: store.refs, root: store.root, clock: store.clock, transactions: store.transactions)
        let head = try #require(try store.target(of: RefNames.head(file)))
        #expect(try fresh.historySummary(of: file, head: head).count == 31)
        // Asked for an older head, the index answers for that head, not the newest.
        let older = try store.version(numbered: 10, of: path)
        #expect(try store.historySummary(of: file, head: older).count == 10)
        #expect(try store.historySummary(of: file, head: head).count == 31)
    }

    @Test func commitReuseAndNamesUseTheIndexExactly() throws {
        let t = try TestStore()
        let path = try FlowPath("index/reuse")
        let first = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(1), name: "one", reuse: .anyVersion), author: "a")
        for i in 2..<12 {
            try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(i), reuse: .anyVersion), author: "a")
        }
        let again = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(1), reuse: .anyVersion), author: "a")
        #expect(!again.created && again.versionID == first.versionID)
        #expect(throws: StoreError.versionNameTaken(path: "index/reuse", name: "one")) {
            try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(99), name: "one"), author: "a")
        }
    }

    // MARK: Per-version authors in a batch

    @Test func batchRecordsEachVersionsAuthor() throws {
        let t = try TestStore()
        let batch = try t.store.batch(author: "importer")
        let path = try FlowPath("authors/flow")
        try batch.add(NewVersion(path: path, kind: .flow, definition: Self.flow(1)), author: "ada")
        try batch.add(NewVersion(path: path, kind: .flow, definition: Self.flow(2)), author: "grace")
        try batch.add(NewVersion(path: path, kind: .flow, definition: Self.flow(3)))
        let results = try batch.finish()
        #expect(results.map(\.version.author) == ["ada", "grace", "importer"])
        let file = try #require(results.first?.file)
        #expect(try t.store.fileObject(file).author == "ada")
        let events = try t.store.audit().filter { $0.event.ref == RefNames.head(file) }.map(\.event.author)
        #expect(events.sorted() == ["ada", "grace", "importer"].sorted())
    }

    // MARK: Batch ref moves through lock files

    /// Batch writers write a ref's new content into its lock file and swap it with the ref,
    /// or rename it over the ref where swapping is not supported (FORMAT §4). A lock file a
    /// crash left behind, content and all, is neither read as the ref nor in the way of the
    /// next move; the moved ref is read-only like every ref file, and the old ref stays behind
    /// as the next move's lock file, writable, so the next writer — batch or single — reuses it.
    @Test func batchRefMovesReuseALeftoverLockFile() throws {
        let t = try TestStore()
        let path = try FlowPath("locks/flow")
        let first = try #require(try t.store.commitBatch([NewVersion(path: path, kind: .flow, definition: Self.flow(1))], author: "a").first)
        let head = RefNames.head(first.file)
        let refPath = "\(t.root)/refs/\(head.rawValue).ref"
        let lockPath = "\(t.root)/refs/\(head.rawValue).lock"
        let firstEvent = try #require(try t.store.refs.read(head))
        try Data("\(String(repeating: "0", count: 64))\nleft by a crash".utf8).write(to: URL(fileURLWithPath: lockPath))
        #expect(try t.store.head(of: path) == first.versionID)
        #expect(try t.store.verify().problems.isEmpty)
        let second = try #require(try t.store.commitBatch([NewVersion(path: path, kind: .flow, definition: Self.flow(2))], author: "a").first)
        #expect(try t.store.head(of: path) == second.versionID)
        #expect(try String(contentsOfFile: refPath, encoding: .utf8) == (try t.store.refs.read(head)).map { "\($0.hex)\n" })
        func mode(_ path: String) throws -> Int? { try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int }
        #expect(try mode(refPath) == 0o444)
        if BatchWriter.swapsRefFiles {
            // The old ref is the lock file now: its content, made writable for the next writer.
            #expect(try String(contentsOfFile: lockPath, encoding: .utf8) == "\(firstEvent.hex)\n")
            #expect(try mode(lockPath) == 0o644)
        } else {
            #expect(!FileManager.default.fileExists(atPath: lockPath), "the lock file became the ref")
        }
        // A single (non-batch) move after it, on the same ref, still works; so does a batch one.
        try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(3)), author: "a")
        try t.store.commitBatch([NewVersion(path: path, kind: .flow, definition: Self.flow(4))], author: "a")
        #expect(try t.store.history(from: try t.store.head(of: path)).map(\.1.number) == [4, 3, 2, 1])
        #expect(try mode(refPath) == 0o444)
        #expect(try t.store.verify().problems.isEmpty)
        // Nobody holds it: gc removes it like any lock file a writer left.
        #expect(try t.store.refs.read(head) != nil)
        #expect(try (t.store.refs as? FileRefStore)?.removeStaleLocks() == (BatchWriter.swapsRefFiles ? 1 : 0))
        #expect(!FileManager.default.fileExists(atPath: lockPath))
    }

    /// A batch writer makes its lock file read-only just before it becomes the ref; one killed
    /// in between leaves a read-only lock file. The next writers wait on it read-only, take it
    /// over, and make it writable again (for an unprivileged user the open for writing fails).
    @Test func aReadOnlyLockFileLeftByACrashIsTakenOver() throws {
        let t = try TestStore()
        let path = try FlowPath("locks/read-only")
        let first = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(1)), author: "a")
        let lockPath = "\(t.root)/refs/\(RefNames.head(first.file).rawValue).lock"
        try Data("\(first.versionID.hex)\n".utf8).write(to: URL(fileURLWithPath: lockPath))
        #expect(chmod(lockPath, 0o444) == 0)
        try t.store.commitBatch([NewVersion(path: path, kind: .flow, definition: Self.flow(2))], author: "a")
        #expect(chmod(lockPath, 0o444) == 0 || !FileManager.default.fileExists(atPath: lockPath))
        try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(3)), author: "a")
        #expect(try t.store.history(from: try t.store.head(of: path)).map(\.1.number) == [3, 2, 1])
        #expect(try t.store.verify().problems.isEmpty)
    }

    /// Batch and single writers moving the same refs at once, as fast as they can: every
    /// lock handed over by a swap or an unlink is taken by exactly one writer, so each file's
    /// version numbers come out dense and unique and the store verifies.
    @Test func batchAndSingleWritersRaceOnTheSameRefs() throws {
        let t = try TestStore()
        let paths = try (0..<2).map { try FlowPath("race/flow-\($0)") }
        for path in paths { try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(0)), author: "seed") }
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { writer in
            for i in 0..<20 {
                let new = NewVersion(path: paths[i % 2], kind: .flow, definition: Self.flow(1000 * (writer + 1) + i))
                do {
                    if writer % 2 == 0 {
                        try t.store.commitBatch([new], author: "batch")
                    } else {
                        try t.store.commit(new, author: "single")
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        for path in paths {
            let numbers = try t.store.history(from: try t.store.head(of: path)).map(\.1.number)
            #expect(numbers == Array((1...61).reversed()))
        }
        #expect(try t.store.verify().problems.isEmpty)
    }

    /// Objects staged as new are written without looking for them first; should one exist
    /// after all, an intact copy is kept as it is (same inode: stored objects never change) and
    /// a damaged one is replaced.
    @Test func stagedNewObjectsKeepAnIntactCopyAndReplaceADamagedOne() throws {
        let t = try TestStore()
        guard let objects = t.store.objects as? FileObjectStore, let refs = t.store.refs as? FileRefStore else {
            Issue.record("not the file backend")
            return
        }
        let intact = Array(#"{"type":"note","text":"already here"}"#.utf8)
        let damaged = Array(#"{"type":"note","text":"bit flipped"}"#.utf8)
        let intactID = try objects.put(intact)
        let damagedID = try objects.put(damaged)
        let damagedPath = objects.path(of: damagedID)
        #expect(chmod(damagedPath, 0o644) == 0)
        try Data("{\"type\":\"note\",\"text\":\"bit flopped\"}".utf8).write(to: URL(fileURLWithPath: damagedPath))
        func inode(_ path: String) -> UInt64? {
            var info = stat()
            return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
        }
        let intactInode = inode(objects.path(of: intactID))

        let writer = try BatchWriter(objects: objects, refs: refs)
        #expect(try writer.stage(intact, isNew: true) == intactID)
        #expect(try writer.stage(damaged, isNew: true) == damagedID)
        try writer.writeStaged()
        try writer.publishObjects()

        #expect(inode(objects.path(of: intactID)) == intactInode)
        #expect(try objects.get(intactID) == intact)
        #expect(try objects.get(damagedID) == damaged)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(t.root)/tmp").isEmpty, "no temp file left")
    }

    // MARK: Group commit

    /// Many concurrent commits, several per file, one refused: each caller gets what `commit`
    /// would give it, version numbers stay dense and unique, and the commits that queued while
    /// a flush was running share the next one.
    @Test func concurrentCommitsShareFlushesAndMatchCommitSemantics() async throws {
        let t = try TestStore()
        // Queueing 199 commits can take longer than the default lock wait when the rest of the
        // suite runs beside this test, and the first flush waits on the held lock all that time.
        let refs = FileRefStore(directory: "\(t.root)/refs", tempDirectory: "\(t.root)/tmp", lockTimeout: .seconds(120))
        let group = GroupCommit(store: t.store(refs: refs))
        let paths = try (0..<8).map { try FlowPath("group/flow-\($0)") }
        // One version named "taken" exists already on flow-0: a second one must be refused.
        let seed = try t.store.commit(
            NewVersion(path: paths[0], kind: .flow, definition: Self.flow(-1), name: "taken"), author: "seed")
        for path in paths.dropFirst() {
            try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(-1)), author: "seed")
        }
        func commit(_ i: Int) async -> (Int, Result<CommitResult, StoreError>) {
            let name: String? = i == 16 ? "taken" : nil
            let new = NewVersion(path: paths[i % 8], kind: .flow, definition: Self.flow(i), name: name, reuse: .anyVersion)
            do throws(StoreError) {
                return (i, .success(try await group.commit(new, author: "user-\(i % 3)")))
            } catch {
                return (i, .failure(error))
            }
        }
        // Hold flow-0's head lock, so the first flush (commit 0, on flow-0) stops at its ref move
        // while the other 199 queue up behind it: the test decides the grouping, not the scheduler.
        let lockPath = "\(t.root)/refs/\(RefNames.head(seed.file).rawValue).lock"
        let lock = try FileRefStore.lock(lockPath, ref: RefNames.head(seed.file), timeout: .seconds(60))
        let first = Task { await commit(0) }
        let deadline = ContinuousClock.now + .seconds(60)
        while group.statistics.flushing < 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        #expect(group.statistics == .init(flushes: 0, committed: 0, waiting: 0, flushing: 1))
        let rest = Task {
            await withTaskGroup(of: (Int, Result<CommitResult, StoreError>).self) { tasks in
                for i in 1..<200 { tasks.addTask { await commit(i) } }
                var all: [(Int, Result<CommitResult, StoreError>)] = []
                for await outcome in tasks { all.append(outcome) }
                return all
            }
        }
        while group.statistics.waiting < 199, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(group.statistics.waiting == 199)
        close(lock)  // the flusher takes the lock (the file is still the one on disk) and goes on
        let outcomes = [await first.value] + (await rest.value)

        var committed = 0
        var refused: [Int: StoreError] = [:]
        for (i, outcome) in outcomes {
            switch outcome {
            case .success(let r):
                committed += 1
                #expect(r.created && r.version.author == "user-\(i % 3)")
                #expect(try t.store.content(r.version.content).definition == Self.flow(i))
            case .failure(let error):
                refused[i] = error
            }
        }
        // Only the clashing name (i == 16 goes to flow-0, where "taken" exists) is refused.
        #expect(refused == [16: .versionNameTaken(path: "group/flow-0", name: "taken")])
        #expect(committed == 199)
        for (n, path) in paths.enumerated() {
            let head = try t.store.head(of: path)
            let numbers = try t.store.history(from: head).map(\.1.number)
            // The seed version, then 25 commits each (one of flow-0's refused).
            let expected = n == 0 ? 25 : 26
            #expect(numbers == Array((1...expected).reversed()), "dense, unique numbers on \(path.rawValue)")
        }
        // One flush for commit 0; the 199 that queued behind it share one more — or two, when
        // the next round is taken before commit 0's completes: flow-0's 24 then wait for it.
        let statistics = group.statistics
        #expect(statistics.flushes == 2 || statistics.flushes == 3)
        #expect(statistics.committed == 200 && statistics.waiting == 0 && statistics.flushing == 0)
        #expect(try t.store.verify().problems.isEmpty)
    }

    @Test func refusedVersionFailsAloneAndLeavesNoTrace() async throws {
        let t = try TestStore()
        let group = GroupCommit(store: t.store)
        let path = try FlowPath("group/names")
        try t.store.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(0), name: "v1"), author: "a")
        let before = try t.objectCount()
        await #expect(throws: StoreError.versionNameTaken(path: "group/names", name: "v1")) {
            try await group.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(1), name: "v1"), author: "a")
        }
        #expect(try t.objectCount() == before)
        // An agent at a flow's path: the kind check of `commit`, through the queue.
        await #expect(throws: StoreError.self) {
            try await group.commit(
                NewVersion(path: path, kind: .agent, definition: Self.agent), author: "a")
        }
        let ok = try await group.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(1), name: "v2"), author: "a")
        #expect(ok.version.number == 2 && ok.version.name == "v2")
        // The same definition again returns the existing version (`reuse: .head`).
        let same = try await group.commit(NewVersion(path: path, kind: .flow, definition: Self.flow(1)), author: "a")
        #expect(!same.created && same.versionID == ok.versionID)
    }
}
