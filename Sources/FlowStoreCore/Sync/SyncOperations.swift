#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What one sync did: pull or push between two stores, an import of a bare objects directory
/// or a bundle, or a rescan of objects copied into the store by hand.
public struct SyncReport: Sendable {
    public enum Kind: String, Sendable { case pull, push, objects, bundle, rescan }

    public var kind: Kind
    /// Where objects came from and where they went (store directories, a bundle file).
    public var source: String
    public var destination: String

    package init(kind: Kind, source: String, destination: String) {
        self.kind = kind
        self.source = source
        self.destination = destination
    }
    public var objectsCopied = 0
    public var bytesCopied = 0
    /// Every incoming ref head that differed from the local one, and what happened to it.
    public var refs: [RefDecision] = []
    /// Problems that did not stop the sync, each naming an object or ref (a rescan skips
    /// half-copied objects and the refs that need them).
    public var warnings: [String] = []
    /// Entries of an imported objects directory that are not objects (ignored).
    public var ignored: [String] = []

    /// A sync never writes events: refs fast-forward onto incoming events, and divergence is
    /// only recorded. (`resolve` is what writes `merge` events.)
    public var eventsWritten: Int { 0 }

    public func count(_ outcome: RefOutcome) -> Int { refs.filter { $0.outcome == outcome }.count }
}

extension VersionStore {
    /// Pull: copies from `other` everything this store lacks behind the refs whose heads differ,
    /// then fast-forwards or reports them as diverged (see `RefReconciler`). Push is
    /// `other.pull(from: self)`.
    ///
    /// A no-op costs one ref read per ref on each side. Every incoming object is hash-checked
    /// and decoded before it is written; any bad object, chain gap or invalid ref rejects the
    /// whole pull with nothing written.
    @discardableResult
    public func pull(
        from other: VersionStore, progress: ((ObjectTransfer.Progress) -> Void)? = nil
    ) throws(StoreError) -> SyncReport {
        try receive(from: other, kind: .pull, progress: progress)
    }

    /// Push: the same as a pull run by `other`, so `other`'s refs follow the same rules and any
    /// divergence is recorded (and resolved) in `other`.
    @discardableResult
    public func push(
        to other: VersionStore, progress: ((ObjectTransfer.Progress) -> Void)? = nil
    ) throws(StoreError) -> SyncReport {
        try other.receive(from: self, kind: .push, progress: progress)
    }

    private func receive(
        from other: VersionStore, kind: SyncReport.Kind, progress: ((ObjectTransfer.Progress) -> Void)?
    ) throws(StoreError) -> SyncReport {
        if let here = root, let there = other.root, Self.sameDirectory(here, there) {
            throw .invalidInput("\(there) is this store")
        }
        if root == nil, !location.isEmpty, location == other.location {
            throw .invalidInput("\(location) is this store")
        }
        var report = SyncReport(kind: kind, source: other.location, destination: location)
        let changed = try ObjectTransfer.changedRefs(from: other.refs, to: refs)
        try receive(heads: changed, roots: changed.map(\.head), from: other.objects, into: &report, progress: progress)
        return report
    }

    /// After objects were copied straight into `objects/`: reads every object, finds each ref's
    /// chain heads among the events, and applies the sync rules to those the ref does not
    /// reach. Objects are already in place, so a corrupt one (a half-finished copy) is reported
    /// and skipped, together with any ref whose incoming chain needs it; the rest go ahead.
    @discardableResult
    public func rescan(progress: ((ObjectTransfer.Progress) -> Void)? = nil) throws(StoreError) -> SyncReport {
        try writing { () throws(StoreError) -> SyncReport in
            var report = SyncReport(kind: .rescan, source: root.map { "\($0)/objects" } ?? location, destination: location)
            var events: [(ObjectID, EventObject)] = []
            var scanned = 0
            try objects.list { (id: ObjectID) throws(StoreError) in
                scanned += 1
                progress?(ObjectTransfer.Progress(phase: .checking, done: scanned, total: nil))
                do throws(StoreError) {
                    if case .event(let event) = try ObjectTransfer.checked(id, try objects.get(id)) { events.append((id, event)) }
                } catch {
                    report.warnings.append("\(error) (a half-finished copy? copy it again; it was skipped)")
                }
            }
            let reconciler = RefReconciler(store: self)
            var checked = Set<ObjectID>()
            for (name, head) in Self.chainHeads(events) where try refs.read(name) != head {
                do throws(StoreError) {
                    // The whole history behind an incoming head must be intact before a ref may point at it.
                    let reached = try ObjectTransfer.walk(from: [head], source: objects, isKnown: { checked.contains($0) })
                    checked.formUnion(reached)
                    report.refs.append(try reconciler.apply(try reconciler.plan(name, incoming: head)))
                } catch {
                    report.warnings.append("ref \(name) left alone: \(error)")
                }
            }
            try recordDivergences(report.refs)
            return report
        }
    }

    /// Imports a bundle (`FlowStoreBundle`): every object is checked before anything is written,
    /// then the bundle's ref heads go through the same rules as a pull.
    @discardableResult
    public func importBundle(
        _ bytes: [UInt8], name: String, progress: ((ObjectTransfer.Progress) -> Void)? = nil
    ) throws(StoreError) -> SyncReport {
        let bundle = try FlowStoreBundle.decode(bytes)
        var contents: [ObjectID: [UInt8]] = [:]
        for (id, body) in bundle.objects { contents[id] = body }
        for (ref, head) in bundle.refs where contents[head] == nil && !ObjectTransfer.isIntact(head, in: objects) {
            throw .invalidInput("bundle rejected, nothing was written: it names \(head.hex) as the head of ref \(ref) but does not contain it")
        }
        var report = SyncReport(kind: .bundle, source: name, destination: location)
        var heads: [(name: RefName, head: ObjectID)] = []
        for (ref, head) in bundle.refs where try refs.read(ref) != head { heads.append((ref, head)) }
        try receive(
            heads: heads, roots: heads.map(\.head) + bundle.objects.map(\.id), from: MemoryObjectStore(objects: contents),
            into: &report, progress: progress)
        return report
    }

    /// A bundle of the refs of the files at `paths` (every ref when `nil`) and everything they
    /// reach: whole histories, so it can be imported into any store.
    public func createBundle(paths: [FlowPath]? = nil) throws(StoreError) -> FlowStoreBundle {
        var heads: [(name: RefName, head: ObjectID)] = []
        if let paths {
            for path in paths {
                let file = try requireFile(at: path)
                if let head = try refs.read(RefNames.path(path)) { heads.append((RefNames.path(path), head)) }
                heads += try refs.list(prefix: RefNames.filePrefix(file)).map { ($0.name, $0.event) }
            }
        } else {
            heads = try refs.list(prefix: "").map { ($0.name, $0.event) }
        }
        let ids = try ObjectTransfer.walk(from: heads.map(\.head), source: objects, isKnown: { _ in false })
        var objects: [(id: ObjectID, bytes: [UInt8])] = []
        for id in ids { objects.append((id, try self.objects.get(id))) }
        return FlowStoreBundle(refs: heads, objects: objects)
    }

    /// Diverged refs with their incoming heads, checked against the refs as they are now: a
    /// head the local chain has since reached (merged elsewhere, or fast-forwarded) is left out.
    public func divergedRefs() throws(StoreError) -> [DivergedRef] {
        guard let log = divergences else { return [] }
        let reconciler = RefReconciler(store: self)
        var out: [DivergedRef] = []
        for entry in try log.load() {
            let current = try reconciler.pruned(entry)
            if !current.incoming.isEmpty { out.append(current) }
        }
        return out
    }

    /// Resolves a diverged ref with a `merge` event (see `RefReconciler.merge`) and drops it from
    /// the divergence cache.
    @discardableResult
    public func resolveDivergence(
        _ name: RefName, take choice: ResolveChoice, author: String, message: String? = nil
    ) throws(StoreError) -> MergeResult {
        try writing { () throws(StoreError) -> MergeResult in
            guard let log = divergences else { throw .invalidInput("ref \(name) is not diverged") }
            let reconciler = RefReconciler(store: self)
            return try log.update { (entries: inout [DivergedRef]) throws(StoreError) -> MergeResult in
                guard let index = entries.firstIndex(where: { $0.name == name }) else {
                    throw .invalidInput("ref \(name) is not diverged (see `flowstore sync --status`)")
                }
                entries[index] = try reconciler.pruned(entries[index])
                guard !entries[index].incoming.isEmpty else {
                    throw .invalidInput("ref \(name) is no longer diverged: its local chain already includes the incoming one")
                }
                let result = try reconciler.merge(
                    name, incoming: entries[index].incoming, take: choice, author: author, message: message)
                entries.remove(at: index)
                return result
            }
        }
    }

    // MARK: Shared steps

    /// The common path of pull, push and imports: find and check what is missing, decide every
    /// ref, and only then write objects (dependencies first) and move refs. Anything wrong
    /// before the first write rejects the sync with the store untouched.
    package func receive(
        heads: [(name: RefName, head: ObjectID)], roots: [ObjectID], from source: any ObjectStore,
        into report: inout SyncReport, progress: ((ObjectTransfer.Progress) -> Void)?
    ) throws(StoreError) {
        try writing { () throws(StoreError) -> Void in
            let reconciler = RefReconciler(store: self, incoming: source)
            let missing: [ObjectID]
            var decisions: [RefDecision] = []
            do throws(StoreError) {
                missing = try ObjectTransfer.missingObjects(from: roots, source: source, destination: objects, progress: progress)
                for (name, head) in heads { decisions.append(try reconciler.plan(name, incoming: head)) }
            } catch {
                throw .invalidInput("\(report.source) rejected, nothing was written: \(error)")
            }
            report.bytesCopied = try storeDurably(missing, from: source, progress: progress)
            report.objectsCopied = missing.count
            for decision in decisions { report.refs.append(try reconciler.apply(decision)) }
            try recordDivergences(report.refs)
        }
    }

    /// Writes `ids` from `source` into this store, all durable before it returns (and so before
    /// any ref moves onto them). On disk that is `BatchWriter`'s protocol — temp files, one
    /// `syncfs` barrier per chunk, renames, a last barrier — instead of two `fsync`s per object,
    /// so a pull of 100,000 objects is bound by the disk's bandwidth, not its flush latency.
    /// Nothing enters `objects/` before it is durable; a crash leaves only complete,
    /// unreferenced objects (`gc` removes them) and temp files.
    private func storeDurably(
        _ ids: [ObjectID], from source: any ObjectStore, progress: ((ObjectTransfer.Progress) -> Void)?
    ) throws(StoreError) -> Int {
        guard !ids.isEmpty, let transaction = try transactions?.begin() else {
            return try ObjectTransfer.copy(ids, from: source, to: objects, progress: progress)
        }
        let bytes = try ObjectTransfer.copy(ids, from: source, progress: progress) { (data: [UInt8]) throws(StoreError) in
            try transaction.stage(data)
        }
        _ = try transaction.commit(skipping: [])
        return bytes
    }

    /// For each ref, the events of `events` that no other event of the ref names as `prev` or
    /// in `merged`: the heads of its chains. Sorted by ref, then time, then id, so runs repeat.
    package static func chainHeads(_ events: [(ObjectID, EventObject)]) -> [(name: RefName, head: ObjectID)] {
        var named: [RefName: Set<ObjectID>] = [:]
        for (_, event) in events {
            named[event.ref, default: []].formUnion(event.merged + [event.prev].compactMap { $0 })
        }
        return events.filter { named[$0.1.ref]?.contains($0.0) != true }
            .sorted { a, b in
                if a.1.ref != b.1.ref { return a.1.ref < b.1.ref }
                return a.1.time != b.1.time ? a.1.time < b.1.time : a.0 < b.0
            }
            .map { ($0.1.ref, $0.0) }
    }

    package static func sameDirectory(_ a: String, _ b: String) -> Bool {
        var sa = stat()
        var sb = stat()
        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
}
