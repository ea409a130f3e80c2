import FlowStoreCore
import Synchronization

/// Every listed flow's default version (Humanloop's: the one deployed to the default
/// environment, else the newest visible one), for List Flows sorted by time or filtered by
/// author: those orders need each flow's default version, which is several ref reads a flow.
///
/// Kept while the store vouches that nothing it depends on moved: the set of paths
/// (`pathSetStamp`) and every file's own refs (`fileRefsStamp`: heads, environments,
/// annotations). Then a sorted listing reads no ref; after any write, by this server or any
/// other process, the next one reads every flow's default version again, once: rebuilds are
/// one at a time, and requests that waited for one use it. A read-only key alone can therefore
/// cost one walk per write, never one per request. A backend that cannot vouch (a stamp of
/// `nil`) is read through every time.
final class DefaultVersionIndex: Sendable {
    private struct Snapshot {
        var paths: RefListingStamp
        var fileRefs: RefListingStamp
        var builtAt: Double
        /// By file; a flow without a visible version maps to `nil`.
        var entries: [ObjectID: VersionEntry?]
    }

    private let snapshot = Mutex<Snapshot?>(nil)
    private let rebuild = Mutex(())
    private let rebuildCount = Atomic<Int>(0)
    let maxAge: Double

    init(maxAge: Double = 900) { self.maxAge = maxAge }

    /// Times every flow's default version was read, for tests and diagnostics.
    var rebuilds: Int { rebuildCount.load(ordering: .relaxed) }

    /// The default version of each of `flows` (the store's current listing), by file.
    func entries(
        of flows: [FlowFile], in store: VersionStore,
        reading defaultVersion: (FlowFile) throws(APIError) -> VersionEntry?
    ) throws(APIError) -> [ObjectID: VersionEntry?] {
        if let current = current(store, flows) { return current }
        return try rebuild.withLock { _ throws(APIError) -> [ObjectID: VersionEntry?] in
            if let current = current(store, flows) { return current }
            // The stamps are taken before the reads: a move during them changes the stamp
            // after it, so the next request reads again.
            let paths = store.pathSetStamp()
            let fileRefs = store.fileRefsStamp()
            var entries: [ObjectID: VersionEntry?] = [:]
            entries.reserveCapacity(flows.count)
            for flow in flows { entries[flow.id] = .some(try defaultVersion(flow)) }
            rebuildCount.add(1, ordering: .relaxed)
            if let paths, let fileRefs {
                snapshot.withLock {
                    $0 = Snapshot(paths: paths, fileRefs: fileRefs, builtAt: ProcessClock.seconds, entries: entries)
                }
            }
            return entries
        }
    }

    /// The snapshot's entries, if the store vouches they are current and they cover `flows`.
    private func current(_ store: VersionStore, _ flows: [FlowFile]) -> [ObjectID: VersionEntry?]? {
        guard let kept = snapshot.withLock({ $0 }), ProcessClock.seconds - kept.builtAt < maxAge,
            let paths = store.pathSetStamp(), paths == kept.paths,
            let fileRefs = store.fileRefsStamp(), fileRefs == kept.fileRefs,
            flows.allSatisfy({ kept.entries[$0.id] != nil })
        else { return nil }
        return kept.entries
    }
}
