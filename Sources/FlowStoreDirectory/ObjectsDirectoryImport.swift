#if canImport(Glibc)
import Glibc
#endif
import FlowStoreCore

/// Offline sync by copying object directories: the directory half of `SyncOperations`.
extension VersionStore {
    /// Imports a bare objects directory (`objects/` copied from another store, a USB stick, an
    /// rsync target): every object in it is checked first, and one corrupt, truncated or invalid
    /// object rejects the import with nothing written. Ref heads are the incoming events that no
    /// other incoming event names as `prev` or `merged`.
    @discardableResult
    public func importObjects(
        from directory: String, progress: ((ObjectTransfer.Progress) -> Void)? = nil
    ) throws(StoreError) -> SyncReport {
        guard POSIXFile.isDirectory(directory) else { throw .io(path: directory, message: "not a directory") }
        if POSIXFile.exists("\(directory)/\(Self.configFileName)") {
            throw .invalidInput("\(directory) is a store, not an objects directory: use `flowstore sync \(directory)`")
        }
        if let root, Self.sameDirectory(directory, "\(root)/objects") {
            throw .invalidInput("\(directory) is this store's objects directory: use `flowstore sync --rescan`")
        }
        let source = FileObjectStore(directory: directory, tempDirectory: "\(root ?? directory)/tmp")
        var report = SyncReport(kind: .objects, source: directory, destination: root ?? "")
        var ids: [ObjectID] = []
        var events: [(ObjectID, EventObject)] = []
        var problems: [String] = []
        try source.list { (id: ObjectID) throws(StoreError) in
            do throws(StoreError) {
                // Every object, reachable or not, is checked before anything is written.
                if case .event(let event) = try ObjectTransfer.checked(id, try source.get(id)) { events.append((id, event)) }
                ids.append(id)
                progress?(ObjectTransfer.Progress(phase: .checking, done: ids.count, total: nil))
            } catch {
                problems.append(error.description)
            }
        }
        guard problems.isEmpty else {
            throw .invalidInput("objects in \(directory) rejected, nothing was written (copy them again?): \(ObjectTransfer.summary(problems))")
        }
        report.ignored = try source.strayEntries()
        try receive(heads: Self.chainHeads(events), roots: ids, from: source, into: &report, progress: progress)
        return report
    }
}
