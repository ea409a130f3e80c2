import FlowStoreCore
import Synchronization

/// The live files by the ids clients know them by (`fl_` + 24 hex, PromptLayer's 48-bit
/// integers), so finding a file by id is a dictionary lookup and one ref read, not a walk
/// over every path.
///
/// Built from one listing of the paths, kept up to date by this server's own creates and
/// moves (`note`), and rebuilt when the store's set of files may have changed behind it
/// (`FileSetStamp`: one `stat`). Every answer is checked against the store before it is used:
/// - an entry found is used only if its path's ref still names its file; a stale one (moved or
///   deleted by another process) makes the index be rebuilt, once per such change (a
///   read-only key cannot cause one);
/// - an id not in the index is unknown without further work while the stamp is unchanged: no
///   file has been added since the index was built. A read-only key asking for made-up ids
///   costs a `stat` per request, whatever the store's size;
/// - rebuilds are at most one per `minInterval`: while files are being added, a miss in
///   between only probes the one object fan-out directory the id's hex names (a file created
///   by another process is found there, at its creation path), so misses never each cost a
///   walk;
/// - a stamp can miss a change within one file-system timestamp tick, or a deleted file
///   restored at a path by another process (no directory is added), so an index older than
///   `maxAge` is rebuilt on a miss: at most one rebuild per `maxAge` from that.
final class FileIndex: Sendable {
    struct Entry: Sendable, Equatable {
        var file: ObjectID
        var path: FlowPath
    }

    private struct Snapshot {
        var byFlowID: [String: Entry] = [:]
        /// PromptLayer integers are 48 bits of the id: two files may share one (then both are here).
        var byInteger: [Int: [Entry]] = [:]
        var stamp: FileSetStamp?
        /// When it was built (`ProcessClock` seconds); `nil`: never built.
        var builtAt: Double?

        mutating func add(_ entry: Entry) {
            byFlowID[PublicIDs.flow(entry.file)] = entry
            var same = byInteger[PublicIDs.integer(entry.file)] ?? []
            same.removeAll { $0.file == entry.file }
            same.append(entry)
            byInteger[PublicIDs.integer(entry.file)] = same
        }
    }

    private let snapshot = Mutex(Snapshot())
    private let rebuildCount = Atomic<Int>(0)
    /// One rebuild at a time: requests that miss meanwhile probe instead of walking too.
    private let rebuilding = Atomic<Bool>(false)
    let minInterval: Double
    let maxAge: Double

    init(minInterval: Double = 1, maxAge: Double = 60) {
        self.minInterval = minInterval
        self.maxAge = maxAge
    }

    /// Full rebuilds so far, for tests and diagnostics.
    var rebuilds: Int { rebuildCount.load(ordering: .relaxed) }

    /// The live file whose `fl_` id is `publicID`, if there is one.
    func file(flowID publicID: String, in store: VersionStore) throws(StoreError) -> Entry? {
        // Only well-formed ids can name a file: anything else is unknown at no cost.
        guard publicID.utf8.count == 3 + PublicIDs.hexLength, publicID.hasPrefix("fl_") else { return nil }
        let hex = String(publicID.dropFirst(3))
        guard ObjectID.isPrefix(hex) else { return nil }
        return try lookup(in: store, probe: hex) { $0.byFlowID[publicID].map { [$0] } ?? [] }
            .first { PublicIDs.flow($0.file) == publicID }
    }

    /// The live files whose PromptLayer integer id is `integer` (usually one; none if unknown).
    func files(integer: Int, in store: VersionStore) throws(StoreError) -> [Entry] {
        guard integer >= 0, integer < 1 << 48 else { return [] }
        let hex = String(integer, radix: 16)
        let padded = String(repeating: "0", count: max(0, 12 - hex.utf8.count)) + hex
        return try lookup(in: store, probe: padded) { $0.byInteger[integer] ?? [] }
            .filter { PublicIDs.integer($0.file) == integer }
    }

    /// This server created or moved a file: known at once, without waiting for a rebuild.
    func note(file: ObjectID, at path: FlowPath) {
        snapshot.withLock { $0.add(Entry(file: file, path: path)) }
    }

    /// Entries `find` gives whose path still names their file; rebuilds or probes first when
    /// the index cannot vouch for its answer (see the type's comment).
    private func lookup(
        in store: VersionStore, probe hexPrefix: String, _ find: (borrowing Snapshot) -> [Entry]
    ) throws(StoreError) -> [Entry] {
        var rebuilt = false
        while true {
            let (found, stamp, builtAt) = snapshot.withLock { s in (find(s), s.stamp, s.builtAt) }
            var live: [Entry] = []
            var stale = false
            for entry in found {
                if try store.fileID(at: entry.path) == entry.file { live.append(entry) } else { stale = true }
            }
            if rebuilt || (!live.isEmpty && !stale) { return live }
            let age = builtAt.map { ProcessClock.seconds - $0 } ?? .infinity
            let current = store.fileSetStamp()
            let unchanged = current != nil && current == stamp
            if !stale, unchanged, age < maxAge { return live }
            if stale {
                // A file moved or deleted since: always rebuilt, so each such change costs one
                // rebuild (then the entry is right, or gone and so unknown at no cost).
                try rebuild(from: store)
                rebuilt = true
                continue
            }
            let claimed = age >= minInterval
                && rebuilding.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
            guard claimed else {
                // Rebuilt moments ago, or being rebuilt: look only where a new file with this
                // id would be.
                let probed = try probe(hexPrefix, in: store)
                snapshot.withLock { s in for entry in probed { s.add(entry) } }
                return live + probed.filter { !live.contains($0) }
            }
            defer { rebuilding.store(false, ordering: .releasing) }
            try rebuild(from: store)
            rebuilt = true
        }
    }

    /// Files whose object id starts with `hexPrefix` and that still live where they were
    /// created: one listing of one object fan-out directory (1/256 of the objects).
    private func probe(_ hexPrefix: String, in store: VersionStore) throws(StoreError) -> [Entry] {
        var out: [Entry] = []
        for id in try store.objects.ids(withPrefix: hexPrefix) {
            guard case .file(let object)? = try? store.object(id) else { continue }
            if try store.fileID(at: object.path) == id { out.append(Entry(file: id, path: object.path)) }
        }
        return out
    }

    /// One listing of the paths. The stamp is taken first, so a file added during the listing
    /// changes the stamp after it and a later miss rebuilds again.
    func rebuild(from store: VersionStore) throws(StoreError) {
        let stamp = store.fileSetStamp()
        var next = Snapshot(stamp: stamp, builtAt: ProcessClock.seconds)
        for (path, file) in try store.files() { next.add(Entry(file: file, path: path)) }
        snapshot.withLock { $0 = next }
        rebuildCount.add(1, ordering: .relaxed)
    }
}

/// Seconds on a monotonic clock since the process first asked.
enum ProcessClock {
    private static let start = ContinuousClock.now

    static var seconds: Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
