#if canImport(Glibc)
import Glibc
#endif

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
    /// interrupted write left behind. Objects younger than `graceSeconds` are kept, because a
    /// concurrent writer may have written them a moment before moving its ref (git's prune expiry).
    public func gc(graceSeconds: Int = 3600, dryRun: Bool = false) throws(StoreError) -> GCReport {
        var report = GCReport()
        var marked = Set<ObjectID>()
        var stack: [ObjectID] = try refs.list(prefix: "").map(\.event) + (try divergedHeads())  // Sync/DivergenceLog
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

        let now = Int(time(nil))
        var candidates: [ObjectID] = []
        var logs: [(ObjectID, LogObject)] = []
        try objects.list { (id: ObjectID) throws(StoreError) in
            if marked.contains(id) { return }
            // Logs hang off versions (nothing points at a log), so a log lives as long as its version.
            if case .log(let log)? = try? object(id) { logs.append((id, log)) } else { candidates.append(id) }
        }
        for (id, log) in logs {
            if marked.contains(log.version) { marked.insert(id) } else { candidates.append(id) }
        }
        report.reachable = marked.count
        for id in candidates where !marked.contains(id) {
            if let stored = try objects.storedAt(id), now - stored < graceSeconds {
                report.keptRecent += 1
                continue
            }
            if !dryRun { try objects.remove(id) }
            report.removed.append(id)
        }
        if let root { report.tempFilesRemoved = try removeStaleTemps(root: root, now: now, graceSeconds: graceSeconds, dryRun: dryRun) }
        // Lock files of writers killed mid-swap (safe at any age: a held lock is skipped).
        if let fileRefs = refs as? FileRefStore { report.tempFilesRemoved += try fileRefs.removeStaleLocks(dryRun: dryRun) }
        return report
    }

    private func removeStaleTemps(root: String, now: Int, graceSeconds: Int, dryRun: Bool) throws(StoreError) -> Int {
        var removed = 0
        for name in try POSIXFile.list("\(root)/tmp") {
            let path = "\(root)/tmp/\(name)"
            guard let mtime = POSIXFile.modificationTime(path), now - mtime >= graceSeconds else { continue }
            if !dryRun { try POSIXFile.remove(path) }
            removed += 1
        }
        return removed
    }
}
