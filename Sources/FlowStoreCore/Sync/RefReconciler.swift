/// What a sync did with one incoming ref head.
public enum RefOutcome: String, Sendable, CaseIterable {
    /// Both sides already had the same head.
    case upToDate = "up_to_date"
    /// The ref was unknown here; it now points at the incoming head.
    case created
    /// The local head was an ancestor of the incoming one: the ref moved forward (no new event).
    case fastForward = "fast_forward"
    /// The incoming head is an ancestor of the local one: nothing to do.
    case behind
    /// Both sides moved the ref: nothing was changed; both heads are kept until `resolve`.
    case diverged
}

/// One ref's incoming head, what the local head was, and what happened.
public struct RefDecision: Sendable, Equatable {
    public var name: RefName
    /// The local head event when the decision was made; `nil` when the ref is new here.
    public var local: ObjectID?
    public var incoming: ObjectID
    public var outcome: RefOutcome
}

/// Which side a `resolve` keeps.
public enum ResolveChoice: Sendable, Equatable {
    /// Keep the local target.
    case local
    /// Take the incoming target.
    case incoming
    /// Point the ref at this object (a version of the file, for file refs).
    case target(ObjectID)
}

/// What `resolve` wrote.
public struct MergeResult: Sendable, Equatable {
    /// The `merge` event now at the head of the ref.
    public var event: ObjectID
    public var target: ObjectID?
    /// For a diverged `head`: the merge version that was written, if any.
    public var mergeVersion: ObjectID?
}

/// The sync rules for refs (spec/FORMAT.md, "Offline sync"): an incoming chain that extends the
/// local one fast-forwards the ref; one that is behind changes nothing; two chains that both
/// moved are never overwritten, and a person joins them with a `merge` event.
///
/// Backend-agnostic: it reads through `VersionStore`'s `ObjectStore` and moves refs with the
/// `RefStore`'s compare-and-swap, so concurrent local writers are never lost.
public struct RefReconciler: Sendable {
    /// The local store.
    public let store: VersionStore
    /// The local store overlaid with incoming objects not written yet, so chains can be
    /// checked before anything is written.
    let view: VersionStore

    public init(store: VersionStore, incoming: (any ObjectStore)? = nil) {
        self.store = store
        if let incoming {
            view = VersionStore(
                objects: OverlayObjectStore(local: store.objects, incoming: incoming), refs: store.refs,
                root: nil, clock: store.clock, sweepFence: store.sweepFence, divergences: store.divergences)
        } else {
            view = store
        }
    }

    /// Decides what to do with `incoming` as the head of `name`, checking every incoming event
    /// on the way (see `checkChain`). Writes nothing.
    public func plan(_ name: RefName, incoming: ObjectID) throws(StoreError) -> RefDecision {
        guard Self.isKnownNamespace(name) else {
            throw .invalidInput("incoming ref \(name) is not a FlowStore ref (refs are paths/PATH or files/FILE-ID/…)")
        }
        let local = try store.refs.read(name)
        var decision = RefDecision(name: name, local: local, incoming: incoming, outcome: .upToDate)
        if local == incoming { return decision }
        // Cheap check first: an incoming head that is already in local history is usually behind.
        if let local, try store.objects.has(incoming), try isAncestor(incoming, of: local) {
            decision.outcome = .behind
            return decision
        }
        let reachesLocal = try checkChain(name, head: incoming, stopAt: local)
        decision.outcome = local == nil ? .created : (reachesLocal ? .fastForward : .diverged)
        return decision
    }

    /// Carries out a `created` or `fastForward` decision by compare-and-swap. When a local
    /// writer moved the ref meanwhile, the decision is made again against the new local head.
    @discardableResult
    public func apply(_ decision: RefDecision) throws(StoreError) -> RefDecision {
        var decision = decision
        for _ in 0..<VersionStore.casAttempts {
            guard decision.outcome == .created || decision.outcome == .fastForward else { return decision }
            do throws(StoreError) {
                try store.refs.compareAndSwap(decision.name, expected: decision.local, new: decision.incoming)
                return decision
            } catch .refConflict {
                decision = try plan(decision.name, incoming: decision.incoming)
            }
        }
        throw .lockTimeout(decision.name.rawValue)
    }

    /// Whether `ancestor` is `descendant` or reachable from it through `prev` and `merged`.
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) throws(StoreError) -> Bool {
        var pending = [descendant]
        var seen = Set<ObjectID>()
        while let id = pending.popLast() {
            if id == ancestor { return true }
            guard seen.insert(id).inserted else { continue }
            let event = try view.event(id)
            pending += event.merged + [event.prev].compactMap { $0 }
        }
        return false
    }

    /// Checks the incoming chain from `head` the way `verify` does, stopping at `stopAt` (the
    /// local head, already trusted), and says whether it was reached. Every event must belong
    /// to `name`, start from where the event before it left the ref, point at the right type
    /// of object, and the chain must end at a first event: a gap, an event of another ref or a
    /// target of the wrong type rejects the whole sync, naming the ref and the event.
    func checkChain(_ name: RefName, head: ObjectID, stopAt local: ObjectID?) throws(StoreError) -> Bool {
        func reject(_ message: String) -> StoreError { .invalidInput("incoming ref \(name): \(message)") }
        var reachesLocal = false
        var pending: [(id: ObjectID, newer: (id: ObjectID, event: EventObject)?)] = [(head, nil)]
        var seen = Set<ObjectID>()
        while let (id, newer) = pending.popLast() {
            let event: EventObject
            do throws(StoreError) {
                event = try view.event(id)
            } catch .objectNotFound {
                throw reject(newer.map { "event chain has a gap: event \($0.id.short) names previous event \(id.hex), which is neither incoming nor local" }
                    ?? "event \(id.hex) is neither incoming nor local")
            } catch .wrongObjectType(_, _, let actual) {
                throw reject("\(id.hex) is a \(actual), not an event")
            }
            if let newer, newer.event.from != event.to {
                throw reject("event chain broken: event \(newer.id.short) moves from \(newer.event.from?.short ?? "nothing"), but the event before it, \(id.short), left the ref at \(event.to?.short ?? "nothing")")
            }
            if id == local {
                reachesLocal = true
                continue
            }
            guard seen.insert(id).inserted else { continue }
            guard event.ref == name else { throw reject("event \(id.short) belongs to ref \(event.ref)") }
            if (event.action == .merge) == event.merged.isEmpty {
                throw reject("\(event.action.rawValue) event \(id.short) \(event.merged.isEmpty ? "joins no chain" : "names merged chains")")
            }
            if event.prev == nil, event.from != nil {
                throw reject("first event \(id.short) moves from \(event.from?.short ?? "") but has no previous event")
            }
            if let target = event.to {
                var problems: [String] = []
                view.checkTarget(target, of: name, event: id) { _, message in problems.append(message) }
                if let first = problems.first { throw reject(first) }
            }
            for merged in event.merged { pending.append((merged, nil)) }
            if let prev = event.prev { pending.append((prev, (id, event))) }
        }
        return reachesLocal
    }

    // MARK: Resolving a divergence

    /// Joins the local chain of `name` with the diverged `incoming` heads: writes a `merge` event
    /// whose `prev` is the local head and whose `merged` lists the incoming heads, `from` the
    /// local target, `to` the chosen one. For a file's `head`, the chosen side's definition
    /// becomes a merge version with parents [local head, incoming heads…], numbered one past
    /// the highest of them, so both histories stay in `log`.
    ///
    /// Compare-and-swap on the local head: a concurrent local move makes this fail with
    /// `refConflict` and nothing is lost (run it again).
    public func merge(
        _ name: RefName, incoming heads: [ObjectID], take choice: ResolveChoice, author: String, message: String?
    ) throws(StoreError) -> MergeResult {
        guard !heads.isEmpty else { throw .invalidInput("ref \(name) has no diverged heads to merge") }
        guard let localID = try store.refs.read(name) else { throw .refNotFound(name.rawValue) }
        let local = try view.event(localID)
        var incomingTargets: [ObjectID?] = []
        for head in heads {
            let event = try view.event(head)
            guard event.ref == name else { throw .invalidInput("event \(head.short) belongs to ref \(event.ref), not \(name)") }
            if !incomingTargets.contains(event.to) { incomingTargets.append(event.to) }
        }

        var target: ObjectID?
        switch choice {
        case .local: target = local.to
        case .target(let id): target = id
        case .incoming:
            guard incomingTargets.count == 1 else {
                throw .invalidInput("ref \(name) has \(incomingTargets.count) incoming heads with different targets: name the one to keep")
            }
            target = incomingTargets[0]
        }

        var mergeVersion: ObjectID?
        if let file = Self.headFile(name), let chosen = target, let localVersion = local.to {
            let parents = [localVersion] + incomingTargets.compactMap { $0 }.filter { $0 != localVersion }
            if parents.count > 1 {
                let base = try view.version(localVersion)
                let source = try view.version(chosen)
                guard source.file == file else { throw .invalidInput("version \(chosen.short) belongs to another file") }
                var highest = base.number
                for parent in parents { highest = max(highest, try view.version(parent).number) }
                let version = VersionObject(
                    file: file, kind: base.kind, path: base.path, content: source.content, parents: parents,
                    number: highest + 1, name: nil,
                    message: message ?? "merge \(parents.dropFirst().map(\.short).joined(separator: ", ")) into \(localVersion.short)",
                    author: author, createdAt: store.clock(), metadata: source.metadata)
                mergeVersion = try view.write(.version(version))
                target = mergeVersion
            }
        }
        if let target, mergeVersion == nil {
            var problems: [String] = []
            view.checkTarget(target, of: name, event: localID) { _, problem in problems.append(problem) }
            if var first = problems.first {
                let prefix = "event \(localID.short) points at "
                if first.hasPrefix(prefix) { first = "it is " + first.dropFirst(prefix.count) }
                throw .invalidInput("cannot point ref \(name) at \(target.short): \(first)")
            }
        }

        let event = EventObject(
            ref: name, action: .merge, from: local.to, to: target, prev: localID, merged: heads, author: author,
            time: store.clock(), message: message)
        let eventID = try view.write(.event(event))
        try store.refs.compareAndSwap(name, expected: localID, new: eventID)
        return MergeResult(event: eventID, target: target, mergeVersion: mergeVersion)
    }

    /// Whether `name` is in the ref namespace (spec/FORMAT.md, "Refs"): `paths/<path>` or
    /// `files/<file id>/<…>`. Incoming chains for any other name are refused, so another store
    /// cannot plant refs that nothing here would check.
    static func isKnownNamespace(_ name: RefName) -> Bool {
        let parts = name.segments
        switch parts.first {
        case "paths": return parts.count >= 2
        case "files": return parts.count >= 3 && ObjectID(hex: parts[1]) != nil
        default: return false
        }
    }

    /// The file whose `head` ref this is (`files/<id>/head`), else `nil`.
    static func headFile(_ name: RefName) -> ObjectID? {
        let parts = name.segments
        guard parts.count == 3, parts[0] == "files", parts[2] == "head" else { return nil }
        return ObjectID(hex: parts[1])
    }
}
