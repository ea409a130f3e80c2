import FlowStoreCore
import Synchronization

/// Logs with a client-chosen id but no `logids/` ref, which FlowStore records beside every
/// such log today: those recorded by an older FlowStore (or a crash between a log's ref and
/// its id's, before the client was answered). Finding one means walking every flow's logs.
///
/// The walk is what a made-up id would cost, so it is rationed: at most one every `interval`
/// seconds, one at a time, and it remembers every id it saw (client-chosen ids only: the
/// server's own name their file and version). Between walks an id it did not see is unknown
/// at no cost, so a read-only key asking for made-up ids costs one walk per `interval`, not
/// one per request. A log without the ref brought in by `sync` is found once the next walk
/// is due.
final class UnindexedLogs: Sendable {
    private struct Seen {
        var refs: [String: RefName] = [:]
        var walkedAt: Double?
    }

    private let seen = Mutex(Seen())
    private let walking = Mutex(())
    let interval: Double

    init(interval: Double = 60) { self.interval = interval }

    func find(_ logID: String, in store: VersionStore) throws(StoreError) -> LogState? {
        if let found = try known(logID, store) { return found }
        return try walking.withLock { _ throws(StoreError) -> LogState? in
            let walkedAt = seen.withLock { $0.walkedAt }
            if let walkedAt, ProcessClock.seconds - walkedAt < interval { return try known(logID, store) }
            var refs: [String: RefName] = [:]
            let startedAt = ProcessClock.seconds
            for (_, file) in try store.files() {
                for (id, ref) in try store.logRefs(of: file) where PublicIDs.logParts(id) == nil && refs[id] == nil {
                    refs[id] = ref
                }
            }
            seen.withLock { $0 = Seen(refs: refs, walkedAt: startedAt) }
            return try known(logID, store)
        }
    }

    private func known(_ logID: String, _ store: VersionStore) throws(StoreError) -> LogState? {
        guard let ref = seen.withLock({ $0.refs[logID] }) else { return nil }
        return try store.logState(ref)
    }
}
