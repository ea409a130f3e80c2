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
    /// The default versions as of one read of them; `generation` tells reads apart.
    struct DefaultVersions: Sendable {
        var generation: Int
        /// By file; a flow without a visible version maps to `nil`.
        var entries: [ObjectID: VersionEntry?]
    }

    private struct Snapshot {
        var paths: RefListingStamp
        var fileRefs: RefListingStamp
        var builtAt: Double
        var versions: DefaultVersions
    }

    private let snapshot = Mutex<Snapshot?>(nil)
    /// Orders of the flows computed from one generation, by name (`"created_at desc"`).
    private let orders = Mutex<[String: (generation: Int, flows: [FlowFile])]>([:])
    private let rebuild = Mutex(())
    /// Numbers the reads of every default version: each read is a new generation.
    private let generations = Atomic<Int>(0)
    let maxAge: Double

    init(maxAge: Double = 900) { self.maxAge = maxAge }

    /// The default version of each of `flows` (the store's current listing), by file.
    func entries(
        of flows: [FlowFile], in store: VersionStore,
        reading defaultVersion: (FlowFile) throws(APIError) -> VersionEntry?
    ) throws(APIError) -> DefaultVersions {
        if let current = current(store, flows) { return current }
        return try rebuild.withLock { _ throws(APIError) -> DefaultVersions in
            if let current = current(store, flows) { return current }
            // The stamps are taken before the reads: a move during them changes the stamp
            // after it, so the next request reads again.
            let paths = store.pathSetStamp()
            let fileRefs = store.fileRefsStamp()
            var entries: [ObjectID: VersionEntry?] = [:]
            entries.reserveCapacity(flows.count)
            for flow in flows { entries[flow.id] = .some(try defaultVersion(flow)) }
            let versions = DefaultVersions(generation: generations.add(1, ordering: .relaxed).newValue, entries: entries)
            if let paths, let fileRefs {
                snapshot.withLock {
                    $0 = Snapshot(paths: paths, fileRefs: fileRefs, builtAt: ProcessClock.seconds, versions: versions)
                }
            }
            return versions
        }
    }

    /// The flows in the order `sorting` puts them, computed once per generation of `versions`:
    /// a repeated listing sorted by time sorts nothing.
    func order(_ name: String, of versions: DefaultVersions, sorting: () -> [FlowFile]) -> [FlowFile] {
        if let kept = orders.withLock({ $0[name] }), kept.generation == versions.generation { return kept.flows }
        let flows = sorting()
        orders.withLock { $0[name] = (versions.generation, flows) }
        return flows
    }

    /// The snapshot's entries, if the store vouches they are current and they cover `flows`.
    private func current(_ store: VersionStore, _ flows: [FlowFile]) -> DefaultVersions? {
        guard let kept = snapshot.withLock({ $0 }), ProcessClock.seconds - kept.builtAt < maxAge,
            let paths = store.pathSetStamp(), paths == kept.paths,
            let fileRefs = store.fileRefsStamp(), fileRefs == kept.fileRefs,
            flows.allSatisfy({ kept.versions.entries[$0.id] != nil })
        else { return nil }
        return kept.versions
    }
}
