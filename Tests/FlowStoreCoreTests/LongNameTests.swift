import Foundation
import Testing
@testable import FlowStoreCore
@testable import FlowStoreDirectory

#if canImport(Glibc)
import Glibc
#endif

/// Issue 15, item 10(c): segments longer than a file name allows (PromptLayer names of up to
/// 255 characters), spelled over several directory levels on disk (`RefFileLayout`).
@Suite("Long names")
struct LongNameTests {
    /// 255 bytes: ASCII, and two-byte `é`s with one ASCII letter.
    static let ascii255 = String(repeating: "a", count: 255)
    static let multibyte255 = String(repeating: "é", count: 127) + "x"
    /// The longest accepted: 255 four-byte characters.
    static let max1020 = String(repeating: "𝄞", count: 255)

    static let cases: [(folder: String, name: String, label: String, environment: String)] = [
        ("Team", ascii255, String(repeating: "L", count: 255), String(repeating: "e", count: 255)),
        ("Équipe", multibyte255, String(repeating: "ü", count: 127) + "L", String(repeating: "ê", count: 127) + "e"),
        // A folder of 255 bytes (one more level on disk) above 255 two-byte characters.
        (String(repeating: "F", count: 255), String(repeating: "Ж", count: 255), String(repeating: "Ж", count: 255),
         String(repeating: "中", count: 255)),
        // The longest segment, as a whole path at the top level.
        ("", max1020, max1020, String(repeating: "中", count: 340)),
    ]

    @Test("Every spelling on disk fits a file name, joins back to the segment, and is one of a kind")
    func layoutRoundTrips() {
        let widths = ["a", "é", "中", "𝄞"]
        var seen: [String: String] = [:]
        for length in 1...NameRules.maxSegmentBytes {
            for (offset, wide) in widths.enumerated() {
                // `wide` characters from the end, ASCII before, so scalars straddle every cut.
                let count = (length - offset) / wide.utf8.count
                guard count > 0 else { continue }
                let segment = String(repeating: "b", count: length - count * wide.utf8.count)
                    + String(repeating: wide, count: count)
                let entries = RefFileLayout.entries(of: segment)
                if segment.utf8.count <= RefFileLayout.plainLimit {
                    #expect(entries == [segment])
                    continue
                }
                for (index, entry) in entries.enumerated() {
                    let isEnd = index == entries.count - 1
                    #expect(entry.hasBytePrefix(isEnd ? "=" : ".~"))
                    #expect(entry.utf8.count + (isEnd ? 5 : 0) <= 255, "\(segment.utf8.count) bytes: \(entry.utf8.count)")
                    #expect(entry.utf8.count > (isEnd ? 1 : 2))
                }
                let joined = entries.dropLast().map { $0.droppingBytes(2) }.joined() + entries[entries.count - 1].droppingBytes(1)
                #expect(joined.bytesEqual(segment))
                let key = entries.joined(separator: "/")
                #expect(seen[key] == nil)
                seen[key] = segment
            }
        }
    }

    @Test("Segments of 1020 bytes are accepted; longer ones are refused naming the limit")
    func limit() throws {
        _ = try FlowPath(Self.max1020)
        _ = try RefLabel(Self.max1020)
        let error = try #require(throws: StoreError.self) { try FlowPath("Team/" + Self.max1020 + "x") }
        #expect(error.description.contains("1020 bytes"))
        let segment = try #require(throws: StoreError.self) { try RefLabel(Self.max1020 + "x") }
        #expect(segment.description.contains("segment longer than 1020 bytes"))
    }

    @Test("A path, a label and an environment with long segments: put, resolve, list, audit, verify, gc, sync, bundle",
          arguments: 0..<4)
    func endToEnd(_ index: Int) throws {
        let (folder, name, label, environment) = Self.cases[index]
        let t = try TestStore()
        let folderPrefix = folder.isEmpty ? "" : folder + "/"
        let path = try FlowPath(folderPrefix + name)
        let neighbour = try FlowPath(folderPrefix + name.dropLast())  // shares the leading pieces
        let v1 = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.1)), author: "a")
        let v2 = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow(temperature: 0.2)), author: "a")
        _ = try t.store.commitBatch(
            [NewVersion(path: neighbour, kind: .flow, definition: Samples.flow(temperature: 0.3))], author: "b")
        try t.store.setRef(.labels, RefLabel(label), of: path, to: v1.versionID, author: "a")
        try t.store.setRef(.environments, RefLabel(environment, kind: "environment"), of: path, to: v2.versionID, author: "a")

        func expectIntact(_ store: VersionStore, sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(try store.resolveVersion(path.rawValue) == v2.versionID, sourceLocation: sourceLocation)
            #expect(try store.resolveVersion("\(path.rawValue)@\(label)") == v1.versionID, sourceLocation: sourceLocation)
            #expect(try store.resolveVersion("\(path.rawValue)@environments/\(environment)") == v2.versionID,
                    sourceLocation: sourceLocation)
            let files = try store.files().map(\.path)
            #expect(Set(files) == [path, neighbour], sourceLocation: sourceLocation)
            let file = try store.requireFile(at: path)
            #expect(try store.namedRefs(.labels, of: file).map(\.label.rawValue) == [label], sourceLocation: sourceLocation)
            #expect(try store.namedRefs(.environments, of: file).map(\.label.rawValue) == [environment],
                    sourceLocation: sourceLocation)
            let names = try store.refs.list(prefix: "").map(\.name)
            #expect(names == names.sorted(), sourceLocation: sourceLocation)
            #expect(names.contains(RefNames.path(path)) && names.contains(RefNames.path(neighbour)), sourceLocation: sourceLocation)
            #expect(try store.refs.count(prefix: "paths/\(folderPrefix)") == 2, sourceLocation: sourceLocation)
            let children = try store.refs.children(of: "paths/\(folderPrefix)").sorted { $0.name.bytesPrecede($1.name) }
            #expect(children == [RefChild(name: String(name.dropLast()), isFolder: false), RefChild(name: name, isFolder: false)],
                    sourceLocation: sourceLocation)
            let audited = Set(try store.audit(path: path).map(\.event.ref.rawValue))
            #expect(audited.contains(RefNames.path(path).rawValue), sourceLocation: sourceLocation)
            #expect(audited.contains { $0.hasByteSuffix("/labels/" + label) }, sourceLocation: sourceLocation)
            #expect(audited.contains { $0.hasByteSuffix("/environments/" + environment) }, sourceLocation: sourceLocation)
            #expect(try store.verify().problems == [], sourceLocation: sourceLocation)
        }

        try expectIntact(t.store)
        try Self.expectEveryEntryFits(under: "\(t.root)/refs")

        // A lock left behind by a killed writer, inside the long spelling: gc removes it, and
        // removes nothing reachable.
        let refs = try #require(t.store.refs as? FileRefStore)
        let labelRef = RefNames.named(try t.store.requireFile(at: path), .labels, try RefLabel(label))
        let stale = open(refs.lockPath(of: labelRef), O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        #expect(stale >= 0)
        close(stale)
        let gc = try t.store.gc(graceSeconds: 0)
        #expect(gc.removed == [])
        #expect(gc.tempFilesRemoved >= 1)
        #expect(!FileManager.default.fileExists(atPath: refs.lockPath(of: labelRef)))
        try expectIntact(t.store)

        // Compare-and-swap keeps its meaning: creating a ref that exists is a conflict.
        let head = try #require(try refs.read(labelRef))
        #expect(throws: StoreError.refConflict(ref: labelRef.rawValue, expected: nil, actual: head)) {
            try refs.compareAndSwap(labelRef, expected: nil, new: head)
        }
        try refs.compareAndSwap(labelRef, expected: head, new: head)

        let pulled = try TestStore()
        try pulled.store.pull(from: t.store)
        try expectIntact(pulled.store)
        #expect(try pulled.store.refs.list(prefix: "").map(\.name) == (try t.store.refs.list(prefix: "").map(\.name)))

        let bundled = try TestStore()
        try bundled.store.importBundle(try t.store.createBundle().encoded(), name: "long.bundle")
        try expectIntact(bundled.store)
    }

    @Test("Long names that differ only in case clash, and so do long names whose leading pieces on disk do")
    func caseClashes() throws {
        let t = try TestStore()
        let upper = try FlowPath("Team/" + String(repeating: "A", count: 300))
        _ = try t.store.commit(NewVersion(path: upper, kind: .flow, definition: Samples.flow()), author: "a")
        #expect(throws: StoreError.caseClash(name: "Team/" + String(repeating: "a", count: 300), existing: upper.rawValue)) {
            try t.store.commit(
                NewVersion(path: FlowPath("Team/" + String(repeating: "a", count: 300)), kind: .flow, definition: Samples.flow()),
                author: "a")
        }
        // Different names, but `.~AAA…` and `.~aaa…` would be one directory on macOS.
        let sharesPiece = "Team/" + String(repeating: "a", count: 253) + String(repeating: "B", count: 47)
        #expect(throws: StoreError.caseClash(name: sharesPiece, existing: upper.rawValue)) {
            try t.store.commit(NewVersion(path: FlowPath(sharesPiece), kind: .flow, definition: Samples.flow()), author: "a")
        }
        // The same leading piece, byte for byte, is no clash: the two share its directory.
        let sibling = try FlowPath("Team/" + String(repeating: "A", count: 253) + String(repeating: "B", count: 47))
        _ = try t.store.commit(NewVersion(path: sibling, kind: .flow, definition: Samples.flow()), author: "a")
        #expect(try t.store.files().map(\.path).sorted() == [upper, sibling].sorted())
    }

    @Test("Entries that are not how a name is spelled are never listed as one")
    func strayEntriesAreIgnored() throws {
        let t = try TestStore()
        let path = try FlowPath("Team/" + Self.ascii255)
        _ = try t.store.commit(NewVersion(path: path, kind: .flow, definition: Samples.flow()), author: "a")
        let refs = try #require(t.store.refs as? FileRefStore)
        let real = refs.path(of: RefNames.path(path))
        let folder = "\(t.root)/refs/paths/Team"
        // A short name spelled long, and a long one cut in the wrong place.
        try FileManager.default.createDirectory(atPath: "\(folder)/.~short", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: real, toPath: "\(folder)/.~short/=name.ref")
        try FileManager.default.createDirectory(atPath: "\(folder)/.~" + String(repeating: "a", count: 100), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: real, toPath: "\(folder)/.~" + String(repeating: "a", count: 100) + "/=" + String(repeating: "a", count: 155) + ".ref")
        #expect(try t.store.files().map(\.path) == [path])
        #expect(try t.store.refs.children(of: "paths/Team/") == [RefChild(name: Self.ascii255, isFolder: false)])
    }

    /// Every directory entry under `refs/` is a legal file name: at most 255 bytes.
    static func expectEveryEntryFits(under root: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let enumerator = try #require(FileManager.default.enumerator(atPath: root))
        var longest = 0
        for case let relative as String in enumerator {
            let entry = relative.splitBytes(on: UInt8(ascii: "/")).last.map(String.init) ?? relative
            longest = max(longest, entry.utf8.count)
        }
        #expect(longest <= 255, sourceLocation: sourceLocation)
        #expect(longest > 200, "the long spellings were exercised", sourceLocation: sourceLocation)
    }
}
