/// A ref both sides moved: the local head and the incoming chain heads not merged yet.
public struct DivergedRef: Sendable, Equatable {
    public var name: RefName
    /// The local head event (as of the last sync, or now for `divergedRefs()`).
    public var local: ObjectID?
    /// Incoming chain heads that are not ancestors of the local head, sorted.
    public var incoming: [ObjectID]

    public init(name: RefName, local: ObjectID?, incoming: [ObjectID]) {
        self.name = name
        self.local = local
        self.incoming = incoming
    }
}

/// Where a store keeps its diverged refs until `resolve`: backend data, so `sync --status`,
/// `resolve` and `gc` behave alike on every backend.
///
/// Only a cache: the incoming heads are immutable event objects, and `sync --rescan` rebuilds
/// the records from them (an incoming head is an event nothing names as `prev` or `merged` and
/// that the ref's chain does not reach). They exist so `sync --status` and `resolve` need not
/// scan every object, and so `gc` keeps the incoming chains (it treats the heads as roots).
public protocol DivergenceRecords: Sendable {
    /// Every diverged ref, sorted by name.
    func load() throws(StoreError) -> [DivergedRef]
    /// Read-modify-write, exclusive against every other `update` of the store (other processes
    /// and servers included), so concurrent syncs do not lose each other's entries. Writes only
    /// when `change` changed something; entries left with no incoming head are dropped. Durable
    /// when it returns.
    func update<T>(_ change: (inout [DivergedRef]) throws(StoreError) -> T) throws(StoreError) -> T
}

extension DivergenceRecords {
    /// What `update` keeps of `entries`: those with incoming heads, sorted by name.
    public static func normalized(_ entries: [DivergedRef]) -> [DivergedRef] {
        entries.filter { !$0.incoming.isEmpty }.sorted { $0.name < $1.name }
    }
}

extension VersionStore {
    /// The incoming heads of diverged refs: `gc` keeps everything they reach, so nothing a
    /// sync brought in is lost before someone resolves it. An unreadable cache makes gc fail
    /// rather than collect what it protects.
    func divergedHeads() throws(StoreError) -> [ObjectID] {
        try divergences?.load().flatMap(\.incoming) ?? []
    }

    /// Adds the diverged decisions of a sync to the cache and drops incoming heads that the
    /// local chain now reaches (fast-forwarded or merged), for every ref the sync touched.
    func recordDivergences(_ decisions: [RefDecision]) throws(StoreError) {
        guard let log = divergences, !decisions.isEmpty else { return }
        let reconciler = RefReconciler(store: self)
        let diverged = decisions.filter { $0.outcome == .diverged }
        let touched = Set(decisions.map(\.name))
        if diverged.isEmpty, try log.load().allSatisfy({ !touched.contains($0.name) }) { return }
        try log.update { (entries: inout [DivergedRef]) throws(StoreError) in
            for decision in diverged {
                if let i = entries.firstIndex(where: { $0.name == decision.name }) {
                    entries[i].incoming.append(decision.incoming)
                } else {
                    entries.append(DivergedRef(name: decision.name, local: decision.local, incoming: [decision.incoming]))
                }
            }
            for i in entries.indices where touched.contains(entries[i].name) {
                entries[i] = try reconciler.pruned(entries[i])
            }
        }
    }
}

extension RefReconciler {
    /// `entry` with the current local head, and without incoming heads that the local chain
    /// reaches or that another incoming head reaches (only the newest of a chain is kept).
    func pruned(_ entry: DivergedRef) throws(StoreError) -> DivergedRef {
        let local = try store.refs.read(entry.name)
        let candidates = Array(Set(entry.incoming)).sorted()
        var heads: [ObjectID] = []
        for head in candidates {
            if let local, try isAncestor(head, of: local) { continue }
            var reachedByOther = false
            for other in candidates where other != head && !reachedByOther { reachedByOther = try isAncestor(head, of: other) }
            if !reachedByOther { heads.append(head) }
        }
        return DivergedRef(name: entry.name, local: local, incoming: heads)
    }
}
