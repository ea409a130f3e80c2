import FlowStoreCore
import FlowStoreTestSupport
import FlowStoreDirectory
import FlowStoreInMemory
import FlowStorePostgres
import Foundation
import Synchronization
import Testing

/// The backends every test here runs against, unchanged.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case directory, memory, postgres

    var testDescription: String { rawValue }

    /// The backends this run tests: postgres needs a server (`PostgresTestServer`).
    static let tested: [Backend] = allCases.filter { $0 != .postgres || PostgresTestServer.isTested }
}

/// A fresh, empty store of one backend, with a clock that ticks one millisecond per call.
final class BackendStore: Sendable {
    let store: VersionStore
    let directory: String?
    /// For postgres: the backend (closed first) and its database (dropped after).
    let postgres: PostgresBackend?
    let database: PostgresTestDatabase?

    init(_ backend: Backend) throws {
        let ticks = Mutex(0)
        let clock: @Sendable () -> String = {
            let n = ticks.withLock { value -> Int in
                value += 1
                return value
            }
            return Timestamp.format(seconds: 1_790_000_000 + n / 1000, milliseconds: n % 1000)
        }
        switch backend {
        case .directory:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-backend-\(UUID().uuidString)").path
            directory = path
            store = try VersionStore.initialize(at: path, clock: clock)
            postgres = nil
            database = nil
        case .memory:
            directory = nil
            store = InMemoryBackend().versionStore(clock: clock)
            postgres = nil
            database = nil
        case .postgres:
            directory = nil
            let database = try PostgresTestDatabase()
            let backend = try PostgresBackend.initialize(configuration: database.configuration)
            store = backend.versionStore(clock: clock)
            postgres = backend
            self.database = database
        }
    }

    deinit {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        postgres?.close()
    }
}

private func flow(_ n: Int) -> JSONObject {
    let prompt: JSONValue = ["template": "Answer {{question}}", "model": "gpt-4o", "temperature": .number(Double(n))]
    var attributes = JSONObject()
    attributes["prompt"] = prompt
    var definition = JSONObject()
    definition["attributes"] = .object(attributes)
    return definition
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("Backend conformance") struct BackendConformanceTests {
    // MARK: Objects

    @Test(arguments: Backend.tested) func objectsRoundTrip(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let objects = backendStore.store.objects
        let body = bytes(#"{"type":"note","text":"hello"}"#)
        let id = try objects.put(body)
        #expect(id == ObjectID(hashing: body))
        #expect(try objects.get(id) == body)
        #expect(try objects.has(id))
        #expect(try objects.put(body) == id, "idempotent")
        #expect(try objects.storedAt(id) != nil)
        #expect(try objects.ids(withPrefix: String(id.hex.prefix(4))).contains(id))
        #expect(try objects.ids(withPrefix: "zz").isEmpty)
        var listed: [ObjectID] = []
        try objects.list { listed.append($0) }
        #expect(listed == [id])
        try objects.remove(id)
        #expect(try !objects.has(id))
        #expect(throws: StoreError.objectNotFound(id)) { try objects.get(id) }
    }

    @Test(arguments: Backend.tested) func abbreviatedIdsExpand(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let s = backendStore.store
        let result = try s.commit(NewVersion(path: try FlowPath("P"), kind: .flow, definition: flow(1)), author: "t")
        #expect(try s.expand(prefix: String(result.versionID.hex.prefix(8))) == result.versionID)
        #expect(throws: StoreError.self) { try s.expand(prefix: "0000") }
    }

    // MARK: Refs

    @Test(arguments: Backend.tested) func compareAndSwap(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let refs = backendStore.store.refs
        let name = try RefName("paths/a")
        let one = ObjectID(hashing: bytes("1"))
        let two = ObjectID(hashing: bytes("2"))
        try refs.compareAndSwap(name, expected: nil, new: one)
        #expect(try refs.read(name) == one)
        #expect(throws: StoreError.refConflict(ref: "paths/a", expected: nil, actual: one)) {
            try refs.compareAndSwap(name, expected: nil, new: two)
        }
        #expect(throws: StoreError.self) { try refs.compareAndSwap(name, expected: two, new: two) }
        try refs.compareAndSwap(name, expected: one, new: two)
        #expect(try refs.read(name) == two)
        #expect(try refs.read(try RefName("paths/b")) == nil)
    }

    /// Threads racing compare-and-swap on one ref: every success is one step of one chain,
    /// none is lost, none is counted twice.
    @Test(arguments: Backend.tested) func compareAndSwapRacesBetweenThreads(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let refs = backendStore.store.refs
        let name = try RefName("files/counter/head")
        let wins = Mutex<[ObjectID: ObjectID?]>([:])  // new → expected
        let group = DispatchGroup()
        for thread in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                var n = 0
                while n < 25 {
                    let current = try? refs.read(name)
                    let new = ObjectID(hashing: bytes("\(thread)-\(n)"))
                    do throws(StoreError) {
                        try refs.compareAndSwap(name, expected: current ?? nil, new: new)
                        wins.withLock { $0[new] = current ?? nil }
                        n += 1
                    } catch .refConflict {
                        continue  // lost the race: read again
                    } catch {
                        return  // anything else is a failure, which the count below shows
                    }
                }
            }.start()
        }
        group.wait()
        let chain = wins.withLock { $0 }
        #expect(chain.count == 100)
        // Walk back from the head: each win's expected value is another win (or none, once).
        var seen = 0
        var at = try refs.read(name)
        while let current = at, let previous = chain[current] {
            seen += 1
            at = previous
        }
        #expect(seen == 100)
    }

    /// Listings are in byte order of the UTF-8 names on every backend.
    @Test(arguments: Backend.tested) func listingsAreInByteOrder(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let refs = backendStore.store.refs
        let names = ["paths/z", "paths/ä", "paths/Z", "paths/Ω/x", "paths/a", "paths/a/b", "paths/e"]
        for (n, name) in names.enumerated() {
            try refs.compareAndSwap(try RefName(name), expected: nil, new: ObjectID(hashing: bytes("\(n)")))
        }
        try refs.compareAndSwap(try RefName("other/x"), expected: nil, new: ObjectID(hashing: bytes("x")))
        let listed = try refs.list(prefix: "paths/").map(\.name.rawValue)
        #expect(listed == names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(try refs.count(prefix: "paths/") == names.count)
        #expect(try refs.list(prefix: "").count == names.count + 1)
        let children = try refs.children(of: "paths/").map { "\($0.name)\($0.isFolder ? "/" : "")" }.sorted()
        #expect(children == ["Z", "a", "a/", "e", "z", "ä", "Ω/"].sorted())
    }

    @Test(arguments: Backend.tested) func theListingStampOfPathsChangesWithEveryPathMove(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let s = backendStore.store
        /// A backend may decline to vouch for a moment after a change (a directory's racy window).
        func settledStamp() throws -> RefListingStamp {
            for _ in 0..<50 {
                if let stamp = s.pathSetStamp() { return stamp }
                Thread.sleep(forTimeInterval: 0.02)
            }
            return try #require(s.pathSetStamp())
        }
        let empty = try settledStamp()
        let one = ObjectID(hashing: bytes("1"))
        let two = ObjectID(hashing: bytes("2"))
        try s.refs.compareAndSwap(try RefName("paths/team/deep/a"), expected: nil, new: one)
        let created = try settledStamp()
        #expect(created != empty)
        try s.refs.compareAndSwap(try RefName("files/\(one.hex)/head"), expected: nil, new: one)
        #expect(try settledStamp() == created, "moves outside paths/ leave it")
        let transaction = try #require(s.transactions).begin()
        #expect(try transaction.prepare([RefMove(name: try RefName("paths/team/deep/a"), expected: one, new: two)]) == [])
        #expect(try transaction.commit(skipping: []).isEmpty)
        let moved = try settledStamp()
        #expect(moved != created, "a transaction's move of a path changes it")
        #expect(try settledStamp() == moved)
    }

    // MARK: Transactions

    @Test(arguments: Backend.tested) func transactionsMoveCheckedRefsAndReportConflicts(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let s = backendStore.store
        let transactions = try #require(s.transactions)
        let a = try RefName("paths/a")
        let b = try RefName("paths/b")
        let one = ObjectID(hashing: bytes("1"))
        try s.refs.compareAndSwap(a, expected: nil, new: one)

        let transaction = try transactions.begin()
        let object = try transaction.stage(bytes(#"{"type":"note","text":"staged"}"#))
        #expect(transaction.stagedCount == 1)
        let conflicts = try transaction.prepare([
            RefMove(name: a, expected: nil, new: object),  // wrong: a exists
            RefMove(name: b, expected: nil, new: object),
        ])
        #expect(conflicts == [a])
        #expect(try s.refs.read(b) == nil, "nothing visible before commit")
        #expect(try transaction.commit(skipping: []).isEmpty)
        #expect(try s.refs.read(a) == one)
        #expect(try s.refs.read(b) == object)
        #expect(try s.objects.get(object) == bytes(#"{"type":"note","text":"staged"}"#))
    }

    @Test(arguments: Backend.tested) func skippedAndAbortedRefsStayAndAreReleased(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let s = backendStore.store
        let transactions = try #require(s.transactions)
        let c = try RefName("paths/c")
        let d = try RefName("paths/d")
        let x = ObjectID(hashing: bytes("x"))

        let skipping = try transactions.begin()
        #expect(try skipping.prepare([RefMove(name: c, expected: nil, new: x), RefMove(name: d, expected: nil, new: x)]) == [])
        #expect(try skipping.commit(skipping: [c]).isEmpty)
        #expect(try s.refs.read(c) == nil)
        #expect(try s.refs.read(d) == x)

        let aborted = try transactions.begin()
        #expect(try aborted.prepare([RefMove(name: c, expected: nil, new: x)]) == [])
        aborted.abort()
        #expect(try s.refs.read(c) == nil)
        try s.refs.compareAndSwap(c, expected: nil, new: x)  // released: not waiting for a timeout
        #expect(try s.refs.read(c) == x)
    }

    // MARK: The store over each backend

    @Test(arguments: Backend.tested) func commitsAndBatchesNumberVersionsDensely(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let s = backendStore.store
        let paths = try (0..<4).map { try FlowPath("team/flow-\($0)") }
        let versions = (0..<20).map { n in
            NewVersion(path: paths[n % 4], kind: .flow, definition: flow(n), labels: n % 4 == 0 ? [try! RefLabel("staging")] : [])
        }
        let results = try s.commitBatch(versions, author: "t")
        #expect(results.map(\.version.number) == (0..<20).map { $0 / 4 + 1 })
        let single = try s.commit(NewVersion(path: paths[0], kind: .flow, definition: flow(99)), author: "t")
        #expect(single.version.number == 6)
        #expect(try s.files().map(\.path) == paths)
        #expect(try s.resolve("team/flow-0@staging") == results[16].versionID)
        #expect(try s.verify().problems.isEmpty)
    }

    /// Divergence records are backend data: a pull that meets a ref both sides moved records it,
    /// `gc` keeps the incoming chain, and `resolve` joins the two, on every backend (here with an
    /// in-memory store as the other side, so each run is also a sync between two backends).
    @Test(arguments: Backend.tested) func divergencesAreRecordedKeptAndResolved(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let s = backendStore.store
        let other = InMemoryBackend().versionStore(clock: s.clock)
        let path = try FlowPath("team/shared")
        try s.commit(NewVersion(path: path, kind: .flow, definition: flow(1)), author: "here")
        try other.pull(from: s)
        try s.commit(NewVersion(path: path, kind: .flow, definition: flow(2)), author: "here")
        let theirs = try other.commit(NewVersion(path: path, kind: .flow, definition: flow(3)), author: "there")

        let report = try s.pull(from: other)
        #expect(report.refs.contains { $0.outcome == .diverged })
        let diverged = try s.divergedRefs()
        #expect(diverged.count == 1)
        let name = try #require(diverged.first?.name)
        // gc without a grace period keeps what only the record reaches.
        _ = try s.gc(graceSeconds: 0)
        #expect(try s.version(theirs.versionID).number == 2)
        try s.resolveDivergence(name, take: .incoming, author: "here")
        #expect(try s.divergedRefs().isEmpty)
        #expect(try s.history(from: try s.head(of: path)).contains { $0.0 == theirs.versionID })
        #expect(try s.verify().problems.isEmpty)
    }

    @Test(arguments: Backend.tested) func concurrentCommitsLoseNothing(_ backend: Backend) async throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let s = backendStore.store
        let path = try FlowPath("shared")
        let group = GroupCommit(store: s)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for n in 0..<24 {
                tasks.addTask {
                    let new = NewVersion(path: path, kind: .flow, definition: flow(n), reuse: .never)
                    if n % 2 == 0 {
                        _ = try await group.commit(new, author: "group")
                    } else {
                        _ = try s.commit(new, author: "single")
                    }
                }
            }
            try await tasks.waitForAll()
        }
        let history = try s.history(from: try s.head(of: path))
        #expect(history.map(\.1.number) == Array((1...24).reversed()))
        #expect(try s.verify().problems.isEmpty)
    }

    @Test(arguments: Backend.tested) func gcKeepsTheGracePeriodAndWhatIsReachable(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let s = backendStore.store
        let kept = try s.commit(NewVersion(path: try FlowPath("P"), kind: .flow, definition: flow(1)), author: "t")
        let stray = try s.write(.content(ContentObject(kind: .flow, definition: flow(2))))
        let recent = try s.gc()
        #expect(recent.removed.isEmpty)
        #expect(recent.keptRecent == 1)
        #expect(try s.gc(graceSeconds: 0).removed == [stray])
        #expect(try s.objects.has(kept.versionID))
        #expect(try s.verify().problems.isEmpty)
    }

    /// `gc` with no grace in a loop beside writers: every acknowledged version stays whole.
    @Test(arguments: Backend.tested) func gcPruneNowBesideWriters(_ backend: Backend) throws {
        let backendStore = try BackendStore(backend)
        defer { withExtendedLifetime(backendStore) {} }
        let s = backendStore.store
        let acknowledged = Mutex<[ObjectID]>([])
        let failures = Mutex<[String]>([])
        let writing = Atomic<Int>(2)
        let group = DispatchGroup()
        for writer in 0..<2 {
            group.enter()
            Thread {
                defer {
                    writing.subtract(1, ordering: .sequentiallyConsistent)
                    group.leave()
                }
                do throws(StoreError) {
                    for n in 0..<20 {
                        let definition = flow(writer * 100 + n)
                        try s.write(.content(ContentObject(kind: .flow, definition: definition)))  // re-used next
                        let result = try s.commit(
                            NewVersion(path: try FlowPath("race/w\(writer)"), kind: .flow, definition: definition), author: "w")
                        acknowledged.withLock { $0.append(result.versionID) }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }.start()
        }
        group.enter()
        Thread {
            defer { group.leave() }
            while writing.load(ordering: .sequentiallyConsistent) > 0 {
                do throws(StoreError) { _ = try s.gc(graceSeconds: 0) } catch {
                    failures.withLock { $0.append("gc: \(error)") }
                    return
                }
            }
        }.start()
        group.wait()
        #expect(failures.withLock { $0 } == [])
        for id in acknowledged.withLock({ $0 }) { _ = try s.content(try s.version(id).content) }
        #expect(acknowledged.withLock { $0.count } == 40)
        #expect(try s.verify().problems.isEmpty)
    }
}
