import Foundation
import Testing
@testable import FlowStoreCore
@testable import FlowStoreDirectory

/// Regression tests for the hardening issue: names that vanished, unbounded lock waits,
/// revision arithmetic, gc and unreadable objects, descriptors held by batches.
@Suite("Hardening") struct HardeningTests {
    /// Names that fused with `/` or `.ref` as grapheme clusters, or print as something else.
    @Test func namesThatUsedToVanishAreRefused() throws {
        let refusedPaths = ["\u{301}x", "Team/\u{301}x", "Team\u{600}/x", "a\u{200B}b", "x\u{FEFF}", "e\u{301}",
                            "\u{E000}", "\u{378}x", "a\u{202E}b", "\u{1F3FB}x"]
        for text in refusedPaths {
            #expect(throws: StoreError.self, "\(Array(text.unicodeScalars))") { try FlowPath(text) }
        }
        for text in ["prod\u{600}", "production\u{200B}", "\u{301}prod", "e\u{301}"] {
            #expect(throws: StoreError.self) { try RefLabel(text) }
        }
        #expect(throws: StoreError.invalidPath("Team\u{600}/x", reason: "U+0600 is an invisible format character (zero-width, bidirectional control or byte order mark)")) {
            try FlowPath("Team\u{600}/x")
        }
    }

    /// Property: every name the store accepts appears in every listing, in `audit` and
    /// `verify`, and survives `gc` with no grace period.
    @Test func everyAcceptedNameIsListedAuditedAndSurvivesGC() throws {
        let t = try TestStore()
        let s = t.store
        // Prepend (U+0D4E, a letter) before `/`, `@` and `.ref`; marks inside a segment; CJK; NFC accents.
        let paths = ["Team\u{D4E}/x", "x\u{D4E}", "Équipe/naïve", "日本語/フロー", "ka\u{94D}\u{937}a/y", "a@b/c#1", "plain"]
        let labels = ["prod\u{D4E}", "ståging", "ε"]
        for text in paths {
            let path = try FlowPath(text)
            let result = try s.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow()), author: "t")
            for label in labels {
                try s.setRef(.labels, try RefLabel(label), of: path, to: result.versionID, author: "t")
            }
        }
        let listed = try s.files().map(\.path.rawValue)
        #expect(listed == paths.sorted { $0.bytesPrecede($1) })
        for text in paths {
            let path = try FlowPath(text)
            let file = try s.requireFile(at: path)
            #expect(try s.namedRefs(.labels, of: file).map(\.label.rawValue) == labels.sorted { $0.bytesPrecede($1) })
            for label in labels { #expect(try s.resolveVersion("\(text)@\(label)") == (try s.head(of: path))) }
            #expect(try s.audit(path: path).count == 1 + 1 + labels.count)  // path, head, labels
        }
        let refCount = try s.refs.list(prefix: "").count
        #expect(refCount == paths.count * (2 + labels.count))
        let report = try s.verify()
        #expect(report.problems.isEmpty)
        _ = try s.gc(graceSeconds: 0)
        #expect(try s.verify().problems.isEmpty)
        #expect(try t.objectCount() == report.objectsChecked)
    }

    /// NFC and NFD spellings are different bytes: never one key, never two refs.
    @Test func namesAreKeyedByBytes() throws {
        let nfc = try FlowPath("caf\u{E9}")
        #expect(Set([nfc.rawValue, "cafe\u{301}"]).count == 1)  // what `String` would do
        #expect(throws: StoreError.self) { try FlowPath("cafe\u{301}") }
        let later = try FlowPath("cafz")
        #expect(later < nfc)  // byte order: 0xC3 sorts after "z"
    }

    @Test func namesDifferingOnlyByCaseAreRefused() throws {
        let t = try TestStore()
        let s = t.store
        let first = try s.commit(NewVersion(path: try FlowPath("Team/Flow"), kind: .flow, definition: Samples.flow()), author: "t")
        var before: [ObjectID] = []
        try s.objects.list { before.append($0) }
        #expect(throws: StoreError.caseClash(name: "team/other", existing: "Team")) {
            try s.createFile(path: try FlowPath("team/other"), kind: .flow, author: "t")
        }
        var after: [ObjectID] = []
        try s.objects.list { after.append($0) }
        #expect(after == before, "a refused name writes nothing, not even the file object")
        #expect(throws: StoreError.caseClash(name: "team/other", existing: "Team")) {
            try s.commit(NewVersion(path: try FlowPath("team/other"), kind: .flow, definition: Samples.flow()), author: "t")
        }
        #expect(throws: StoreError.caseClash(name: "Team/flow", existing: "Team/Flow")) {
            try s.commit(NewVersion(path: try FlowPath("Team/flow"), kind: .flow, definition: Samples.flow()), author: "t")
        }
        try s.setRef(.labels, try RefLabel("Production"), of: try FlowPath("Team/Flow"), to: first.versionID, author: "t")
        #expect(throws: StoreError.caseClash(name: "production", existing: "Production")) {
            try s.setRef(.labels, try RefLabel("production"), of: try FlowPath("Team/Flow"), to: first.versionID, author: "t")
        }
        // Batches check too, against the store and against each other.
        #expect(throws: StoreError.caseClash(name: "TEAM/x", existing: "Team")) {
            _ = try s.commitBatch([NewVersion(path: try FlowPath("TEAM/x"), kind: .flow, definition: Samples.flow())], author: "t")
        }
        // The same folder, exactly, is fine.
        _ = try s.commit(NewVersion(path: try FlowPath("Team/Other"), kind: .flow, definition: Samples.flow()), author: "t")
        #expect(try s.files().count == 2)
    }

    /// A lock held by a stopped process no longer stalls writers for ever.
    @Test func lockWaitsAreBounded() throws {
        let t = try TestStore()
        let path = try FlowPath("P")
        let first = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow()), author: "t")
        let head = RefNames.head(first.file)
        let held = try FileRefStore.lock("\(t.root)/refs/\(head.rawValue).lock", ref: head, timeout: .seconds(5))
        defer { close(held) }
        let objects = FileObjectStore(directory: "\(t.root)/objects", tempDirectory: "\(t.root)/tmp")
        let refs = FileRefStore(directory: "\(t.root)/refs", tempDirectory: "\(t.root)/tmp", lockTimeout: .milliseconds(200))
        let impatient = VersionStore(
            objects: objects, refs: refs, root: t.root, transactions: DirectoryTransactions(objects: objects, refs: refs))
        let started = ContinuousClock.now
        #expect(throws: StoreError.lockTimeout(head.rawValue)) {
            try impatient.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.1)), author: "t")
        }
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(throws: StoreError.lockTimeout(head.rawValue)) {
            _ = try impatient.commitBatch([NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.2))], author: "t")
        }
        #expect(try t.store.version(t.store.head(of: path)).number == 1)
    }

    @Test func revisionArithmeticNeverTraps() throws {
        let t = try TestStore()
        _ = try t.store.commit(NewVersion(path: try FlowPath("P"), kind: .flow, definition: Samples.flow()), author: "t")
        for spec in ["P~9223372036854775807~", "P~9223372036854775807", "P~99999999999999999999", "P~5000000000000000000~5000000000000000000"] {
            #expect(throws: StoreError.self) { try t.store.resolve(spec) }
        }
    }

    /// gc never sweeps past an object it could not read: what hides behind it may be live.
    @Test func gcStopsAtAnUnreadableReachableObject() throws {
        let t = try TestStore()
        let result = try t.store.commit(NewVersion(path: try FlowPath("P"), kind: .flow, definition: Samples.flow()), author: "t")
        let garbage = try t.store.objects.put(Array("{\"type\":\"stray\"}".utf8))
        try FileManager.default.removeItem(atPath: t.objectPath(result.version.content))
        #expect(throws: StoreError.self) { try t.store.gc(graceSeconds: 0) }
        #expect(try t.store.objects.has(garbage))
    }

    /// Storing an object that exists counts as storing it now, so a gc that found it
    /// unreachable spares it for the grace period.
    @Test func reusedObjectsAreFreshened() throws {
        let t = try TestStore()
        let bytes = Array("{\"type\":\"x\",\"n\":1}".utf8)
        let id = try t.store.objects.put(bytes)
        let old = timespec(tv_sec: 1_000_000, tv_nsec: 0)
        var times = [old, old]
        _ = utimensat(AT_FDCWD, t.objectPath(id), &times, 0)
        #expect(try t.store.objects.storedAt(id) == 1_000_000)
        try t.store.objects.put(bytes)
        #expect(try t.store.objects.storedAt(id)! > 1_000_000)
        #expect(try t.store.gc().removed.isEmpty)
    }

    /// However many paths a batch touches, it holds a bounded number of ref locks at once.
    @Test func batchesFlushBeforeTheirLocksOutgrowTheLimit() throws {
        let t = try TestStore()
        let versions = try (0..<300).map { n in
            NewVersion(path: try FlowPath("many/flow-\(n)"), kind: .flow, definition: Samples.flow(temperature: Double(n)))
        }
        let limits = BatchLimits(maxRefs: 16)
        #expect(limits.refsPerFlush == 16)
        let results = try t.store.commitBatch(versions, author: "t", limits: limits)
        #expect(results.count == 300)
        #expect(try t.store.files().count == 300)
        #expect(try t.store.verify().problems.isEmpty)
    }
}
