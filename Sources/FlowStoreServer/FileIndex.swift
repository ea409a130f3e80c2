import FlowStoreCore
import Synchronization

/// The live files: by path in byte order (List Flows, directories), and by the ids clients
/// know them by (`fl_` + 24 hex, PromptLayer's 48-bit integers), so a listing costs its page
/// and finding a file by id is a dictionary lookup and one ref read, not a walk over every path.
///
/// Built from one listing of the paths, and trusted while the store's path-set stamp
/// (`VersionStore.pathSetStamp`, one `stat` on a directory store) is unchanged: every create,
/// move or delete of a file, by this server or any other process, changes it. Answers are
/// still checked against the store before they are used:
/// - an entry found by id is used only if its path's ref still names its file; a stale one
///   makes the index be rebuilt, once per such change (a read-only key cannot cause one);
/// - an id not in the index is unknown without further work while the stamp is unchanged. A
///   read-only key asking for made-up ids costs a `stat` per request, whatever the store's size;
/// - rebuilds for lookups are at most one per `minInterval`: while files are being added, a
///   miss in between only probes the one object fan-out directory the id's hex names (a file
///   created by another process is found there, at its creation path);
/// - a listing is rebuilt whenever the stamp changed, so it is always current; rebuilds are
///   one at a time, and requests that wait for one use it;
/// - a writer killed between moving a path's ref and touching the stamp leaves it unchanged,
///   so an index older than `maxAge` is rebuilt when next used: at most one walk per `maxAge`.
final class FileIndex: Sendable {
    struct Entry: Sendable, Equatable {
        var file: ObjectID
        var path: FlowPath
    }

    /// A live file as listings show it: its path, id and file object (read once: immutable).
    struct ListedFile: Sendable {
        var path: FlowPath
        var file: ObjectID
        var object: FileObject
        var kind: FileKind { object.kind }
    }

    private struct Snapshot {
        var byFlowID: [String: Entry] = [:]
        /// PromptLayer integers are 48 bits of the id: two files may share one (then both are here).
        var byInteger: [Int: [Entry]] = [:]
        var stamp: RefListingStamp?
        /// When it was built (`ProcessClock` seconds); `nil`: never built.
        var builtAt: Double?
        /// Every live file in byte order of its path, as of `stamp`; `nil` once `note` added
        /// what the listing does not hold (the next listing rebuilds).
        var listing: [ListedFile]? = []

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

    init(minInterval: Double = 1, maxAge: Double = 900) {
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
        snapshot.withLock {
            $0.add(Entry(file: file, path: path))
            $0.listing = nil
        }
    }

    /// Serialises listing rebuilds: after a change, concurrent listings wait for one walk.
    private let listingRebuild = Mutex(())

    /// Every live file in byte order of its path: the snapshot's while the path-set stamp is
    /// unchanged (no ref read at all), else one walk of the paths.
    func listing(in store: VersionStore) throws(StoreError) -> [ListedFile] {
        if let current = currentListing(store) { return current }
        return try listingRebuild.withLock { _ throws(StoreError) -> [ListedFile] in
            // Rebuilt by the request we waited for: that walk started after our stamp check.
            if let current = currentListing(store) { return current }
            return try rebuild(from: store)
        }
    }

    /// The snapshot's listing, if the store vouches it is current.
    private func currentListing(_ store: VersionStore) -> [ListedFile]? {
        let (listing, stamp, builtAt) = snapshot.withLock { s in (s.listing, s.stamp, s.builtAt) }
        guard let listing, let stamp, let builtAt, ProcessClock.seconds - builtAt < maxAge,
            store.pathSetStamp() == stamp
        else { return nil }
        return listing
    }

    /// The path a file lives at now, or nil when it is deleted: a lookup, not a walk.
    func path(of file: ObjectID, in store: VersionStore) throws(StoreError) -> FlowPath? {
        try self.file(flowID: PublicIDs.flow(file), in: store).map(\.path)
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
            let current = store.pathSetStamp()
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
    /// changes the stamp after it and a later use rebuilds again.
    @discardableResult
    func rebuild(from store: VersionStore) throws(StoreError) -> [ListedFile] {
        let stamp = store.pathSetStamp()
        var next = Snapshot(stamp: stamp, builtAt: ProcessClock.seconds)
        var listing: [ListedFile] = []
        for (path, file) in try store.files() {
            next.add(Entry(file: file, path: path))
            listing.append(ListedFile(path: path, file: file, object: try store.fileObject(file)))
        }
        next.listing = listing
        snapshot.withLock { $0 = next }
        rebuildCount.add(1, ordering: .relaxed)
        return listing
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
