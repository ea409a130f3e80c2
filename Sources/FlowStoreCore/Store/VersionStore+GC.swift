#if canImport(Glibc)
import Glibc
#endif

/// The roots of one mark: ref heads by name, and diverged refs' incoming heads.
private struct GCRoots {
    var heads: [RefName: ObjectID]
    var diverged: [ObjectID]

    var values: Dictionary<RefName, ObjectID>.Values { heads.values }

    /// Heads that are new or moved since `earlier`.
    func changed(since earlier: GCRoots) -> [ObjectID] {
        heads.compactMap { name, head in earlier.heads[name] == head ? nil : head } + diverged
    }
}

public struct GCReport: Sendable {
    public var reachable = 0
    public var removed: [ObjectID] = []
    /// Unreachable objects kept because they are younger than the grace period.
    public var keptRecent = 0
    public var tempFilesRemoved = 0
}

extension VersionStore {
    /// Removes objects that no ref, head or event reaches, stale temp files, and ref lock files
    /// no writer holds.
    ///
    /// Events are never unreachable (refs point at chain heads and chains are never cut), so
    /// every version that was ever a head or labelled stays: gc only reclaims what a failed or
    /// interrupted write left behind. Objects younger than `graceSeconds` are kept (git's prune
    /// expiry), and objects a writer re-uses are freshened, so they count as young again.
    ///
    /// The sweep runs behind the store's `SweepFence`, after every write window open when it
    /// starts has closed, and marks again from the refs as they are then: an object a writer
    /// stored or re-used and has since made reachable is kept, whatever the grace period
    /// (`graceSeconds: 0`, `--prune-now`, included). The long mark and listing run beside
    /// writers; only the re-mark and the removals hold them up.
    public func gc(graceSeconds: Int = 3600, dryRun: Bool = false) throws(StoreError) -> GCReport {
        var report = GCReport()
        var marked = Set<ObjectID>()
        var roots = try gcRoots()
        try mark(from: Array(roots.values) + roots.diverged, into: &marked)

        var candidates: [ObjectID] = []
        var logs: [(ObjectID, LogObject)] = []
        try objects.list { (id: ObjectID) throws(StoreError) in
            if marked.contains(id) { return }
            // Logs hang off versions (nothing points at a log), so a log lives as long as its version.
            if case .log(let log)? = try? object(id) { logs.append((id, log)) } else { candidates.append(id) }
        }
        let sweep = { () throws(StoreError) -> Void in
            // Refs moved since the first mark (by windows that have closed since) reach more.
            let now = try gcRoots()
            try mark(from: now.changed(since: roots), into: &marked)
            roots = now
            var removable = candidates
            for (id, log) in logs {
                if marked.contains(log.version) { marked.insert(id) } else { removable.append(id) }
            }
            report.reachable = marked.count
            let time = Int(Glibc.time(nil))
            for id in removable where !marked.contains(id) {
                if let stored = try objects.storedAt(id), time - stored < graceSeconds {
                    report.keptRecent += 1
                    continue
                }
                if !dryRun { try objects.remove(id) }
                report.removed.append(id)
            }
            if let housekeeping {
                report.tempFilesRemoved = try housekeeping.removeLeftovers(now: time, graceSeconds: graceSeconds, dryRun: dryRun)
            }
        }
        if let sweepFence, !dryRun {
            try sweepFence.whileSweeping(sweep)
        } else {
            try sweep()
        }
        return report
    }

    /// What gc marks from: every ref's chain head, and the incoming heads of diverged refs.
    private func gcRoots() throws(StoreError) -> GCRoots {
        var heads: [RefName: ObjectID] = [:]
        for (name, event) in try refs.list(prefix: "") { heads[name] = event }
        return GCRoots(heads: heads, diverged: try divergedHeads())  // Sync/DivergenceLog
    }

    /// Marks everything reachable from `roots` that is not marked yet.
    private func mark(from roots: [ObjectID], into marked: inout Set<ObjectID>) throws(StoreError) {
        var stack = roots
        while let id = stack.popLast() {
            guard marked.insert(id).inserted else { continue }
            // A reachable object that cannot be read (missing, corrupt, EIO, EMFILE) hides what it
            // reaches: sweeping now would delete live history. Stop, having removed nothing.
            let object: StoredObject
            do { object = try self.object(id) } catch {
                throw .io(path: "gc", message: "cannot read reachable object \(id.hex) (\(error.description)); nothing was removed: run `flowstore verify`")
            }
            stack.append(contentsOf: object.references)
        }
    }
}
