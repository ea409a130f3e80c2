#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Bulk commits: many versions made durable by a handful of file-system barriers instead of
/// about ten `fsync`s per version, through the backend's `StoreTransaction` (on disk, `BatchWriter`).
///
/// A batch records exactly what the same `commit` calls, one after another, would record: the
/// same objects (file, content, version, one event per ref move), the same version numbers and
/// parents, the same audit chains, the same checks and errors. What differs is when things
/// become visible: each ref is written once per flush, at its final event, after every object
/// of the flush is on disk; so readers see each file's new versions appear together.
///
/// ```swift
/// let results = try store.commitBatch(versions, author: "importer")
/// // or, streaming (flushes every `limits.maxVersions` versions):
/// let batch = try store.batch(author: "importer")
/// for v in versions { try batch.add(v) }
/// try batch.finish()
/// ```
///
/// Concurrent writers stay safe: refs still move by compare-and-swap under their locks. If
/// another writer moved a file's head (or created the same path) during a flush, that file's
/// versions of the flush are redone with ordinary `commit`s on top of theirs; a label someone
/// else moved is moved again after theirs, as `moveRef` does.
public struct BatchLimits: Sendable {
    /// Versions per flush.
    public var maxVersions: Int
    /// Bytes of staged objects per flush.
    public var maxBytes: Int
    /// Refs moved per flush. Each is locked, with a descriptor open, from the start of its
    /// flush to the end, so this bounds the descriptors a batch holds however many paths it
    /// touches (an import of 100,000 new flows holds at most this many, not 200,000). Lowered
    /// further to half the process's descriptor limit (`RLIMIT_NOFILE`) when that is lower.
    public var maxRefs: Int

    /// A flush keeps about 1 KB per version in memory (not its definition), and each flush moves
    /// every touched ref once: bigger flushes mean fewer ref moves.
    public init(maxVersions: Int = 100_000, maxBytes: Int = 1 << 30, maxRefs: Int = 1024) {
        self.maxVersions = maxVersions
        self.maxBytes = maxBytes
        self.maxRefs = maxRefs
    }

    /// `maxRefs`, within what the descriptor limit leaves (room kept for the process's own).
    var refsPerFlush: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else {
            return max(1, maxRefs)
        }
        let available = (Int(clamping: limit.rlim_cur) - 64) / 2
        return max(1, min(maxRefs, available))
    }
}

extension VersionStore {
    /// Commits `versions` in order, as `commit` would one by one, with batched durability.
    /// Returns one result per version, in order.
    public func commitBatch(
        _ versions: [NewVersion], author: String, limits: BatchLimits = BatchLimits()
    ) throws(StoreError) -> [CommitResult] {
        let batch = try self.batch(author: author, limits: limits)
        for version in versions { try batch.add(version) }
        return try batch.finish()
    }

    /// A batch to add versions to; see `VersionBatch`.
    public func batch(author: String, limits: BatchLimits = BatchLimits(), keepResults: Bool = true) throws(StoreError)
        -> VersionBatch
    {
        try VersionBatch(store: self, author: author, limits: limits, keepResults: keepResults)
    }
}

/// A streaming batch of commits (see `VersionStore.commitBatch`). Not thread-safe: one batch
/// is used by one task; any number of batches and single commits may run side by side.
public final class VersionBatch {
    public let store: VersionStore
    public let author: String
    public let limits: BatchLimits
    private let keepResults: Bool
    /// `limits.refsPerFlush`, read once.
    private let refsPerFlush: Int
    /// nil when the store's backend offers no transactions: then every `add` is a plain `commit`.
    private let writer: (any StoreTransaction)?

    /// What a ref looks like on disk (`expected`) and after the moves staged so far.
    private struct RefTrack {
        var expected: ObjectID?
        var event: ObjectID?
        var target: ObjectID?
        /// The path whose versions this ref belongs to (for redoing them after a conflict).
        var path: FlowPath
        /// Label moves staged in this flush, in order (replayed if someone else moved the label).
        var moves: [(target: ObjectID?, message: String?, author: String)] = []
    }

    private struct FileState {
        var file: ObjectID
        var kind: FileKind
        var tip: (id: ObjectID, version: VersionObject)?
        /// The head on disk when the file was first read (nil for a file this batch creates):
        /// its history is asked of `VersionStore.historySummary`; versions staged on top of it
        /// are in the two sets below.
        var diskHead: ObjectID?
        /// Names of the versions staged on top of `diskHead`.
        var stagedNames: Set<String> = []
        /// Content id → newest version staged on top of `diskHead` with it.
        var stagedContents: [ObjectID: (id: ObjectID, version: VersionObject)] = [:]
    }

    /// What is needed to redo a version with `commit` if a concurrent writer got there first:
    /// the request without its definition (which may be large), and the content object it was
    /// stored as, from which the definition is read back (it is on disk by then).
    private struct Pending {
        var new: NewVersion
        var author: String
        var content: ObjectID
        var resultIndex: Int
        /// The refs this version's commit moves: it is committed once all of them have moved.
        var refs: [RefName]

        init(_ new: NewVersion, author: String, content: ObjectID, resultIndex: Int, refs: [RefName]) {
            self.new = new
            self.new.definition = JSONObject()
            self.author = author
            self.content = content
            self.resultIndex = resultIndex
            self.refs = refs
        }
    }

    private var files: [FlowPath: FileState] = [:]
    private var refs: [RefName: RefTrack] = [:]
    /// Refs moved in this flush, in the order they must be swapped: paths, then heads, then labels.
    private var touchedPaths: [RefName] = []
    private var touchedHeads: [RefName] = []
    private var touchedLabels: [RefName] = []
    /// Versions staged in this flush, for `base` checks before they are on disk.
    private var stagedVersions: [ObjectID: VersionObject] = [:]
    private var pending: [Pending] = []
    /// The refs staged to move by the `add` running now, for its `Pending`.
    private var movedRefs: [RefName] = []
    /// Objects staged in this flush, decoded, for the store's object cache once they are
    /// durable: the next commit on a file reads its head version and event, the server's answer
    /// reads the version and content. Only kept when the store has a cache.
    private var written: [(ObjectID, StoredObject, Int)] = []
    private var results: [CommitResult] = []
    private var resultCount = 0
    /// Open from the first version staged after a flush to the end of the next flush, so that
    /// `gc` cannot sweep what the flush is about to make reachable (see `SweepFence`).
    private var window: WriteWindow?
    /// Folders of refs listed once for the whole batch, for the case check of new names.
    private lazy var caseFolds = CaseFoldIndex(refs: store.refs)

    init(store: VersionStore, author: String, limits: BatchLimits, keepResults: Bool) throws(StoreError) {
        self.store = store
        self.author = author
        self.limits = limits
        self.keepResults = keepResults
        self.refsPerFlush = limits.refsPerFlush
        writer = try store.transactions?.begin()
    }

    /// How many versions were added (committed or pending).
    public var count: Int { resultCount }

    /// Adds a version. It is checked at once (and throws what `commit` would throw, leaving the
    /// batch as it was); it is durable, and visible to readers, after the next flush.
    /// `author` overrides the batch's (a server's group commit mixes requests of several users).
    /// Returns its position in the batch.
    @discardableResult
    public func add(_ new: NewVersion, author: String? = nil) throws(StoreError) -> Int {
        let author = author ?? self.author
        guard let writer else {
            let result = try store.commit(new, author: author)
            return record(result)
        }
        if window == nil, let fence = store.sweepFence { window = try fence.openWindow() }
        movedRefs.removeAll(keepingCapacity: true)
        // Not again for a version made from a `Definition.Checked` (the server's requests).
        var new = new
        try new.validate()
        if let name = new.name, name.isEmpty { throw .invalidInput("version name may not be empty") }
        let existing = try existingFile(new)
        // New names are checked before anything is staged, so a refused one leaves no trace.
        if let existing {
            for label in new.labels { try checkNewName(RefNames.named(existing.file, .labels, label), path: new.path) }
        } else {
            try checkNewName(RefNames.path(new.path), path: new.path)
        }
        if let base = new.base {
            // Checked before a file is created, so a refused version leaves no trace.
            let refused = StoreError.invalidInput("base version \(base.short) is not a version of \(quoted(new.path.rawValue))")
            guard let existing else { throw refused }
            var baseFile = stagedVersions[base]?.file
            if baseFile == nil { baseFile = try store.version(base).file }
            guard baseFile == existing.file else { throw refused }
        }
        var state: FileState
        let fileCreated: Bool
        if let existing {
            state = existing
            fileCreated = false
        } else {
            state = try createFile(new, author: author, writer: writer)
            fileCreated = true
        }
        let file = state.file

        let content = StoredObject.content(ContentObject(kind: new.kind, definition: new.definition))
        let contentBytes = content.canonicalBytes()
        let contentID = ObjectID(hashing: contentBytes)
        if let reused = try reusable(contentID, policy: new.reuse, state: &state) {
            files[new.path] = state
            for label in new.labels {
                try stageMove(RefNames.named(file, .labels, label), to: reused.id, message: nil, path: new.path, author: author)
            }
            let index = record(
                CommitResult(file: file, fileCreated: false, versionID: reused.id, version: reused.version, created: false))
            pending.append(Pending(new, author: author, content: contentID, resultIndex: index, refs: takeMovedRefs()))
            try flushIfFull()
            return index
        }
        if let name = new.name {
            var taken = state.stagedNames.contains(name)
            if !taken, let diskHead = state.diskHead {
                taken = !(try store.historySummary(of: file, head: diskHead).versions(named: name).isEmpty)
            }
            if taken { throw .versionNameTaken(path: new.path.rawValue, name: name) }
        }

        try stage(contentBytes, content, writer)
        var parents = state.tip.map { [$0.id] } ?? []
        if let base = new.base, base != state.tip?.id { parents.append(base) }
        let version = VersionObject(
            file: file, kind: new.kind, path: new.path, content: contentID, parents: parents,
            number: (state.tip?.version.number ?? 0) + 1, name: new.name, message: new.message, author: author,
            createdAt: store.clock(), metadata: new.metadata)
        let versionID = try stage(.version(version), writer)
        try stageMove(
            RefNames.head(file), to: versionID, message: new.message ?? "version \(version.number)", path: new.path,
            author: author)
        for label in new.labels {
            try stageMove(RefNames.named(file, .labels, label), to: versionID, message: nil, path: new.path, author: author)
        }
        stagedVersions[versionID] = version
        state.tip = (versionID, version)
        if let name = new.name { state.stagedNames.insert(name) }
        state.stagedContents[contentID] = (versionID, version)  // the newest staged one wins, as in `history`
        files[new.path] = state

        let index = record(
            CommitResult(file: file, fileCreated: fileCreated, versionID: versionID, version: version, created: true))
        pending.append(Pending(new, author: author, content: contentID, resultIndex: index, refs: takeMovedRefs()))
        try flushIfFull()
        return index
    }

    /// Makes every version added so far durable and moves the refs; returns nothing new to
    /// wait for. Called automatically when a flush fills up, and by `finish`.
    public func flush() throws(StoreError) {
        guard let prepared = try prepareFlush() else { return }
        let failures = try completeFlush(prepared)
        if let first = failures.min(by: { $0.key < $1.key }) { throw first.value }
    }

    /// The first half of a flush, for callers that overlap flushes (`GroupCommit`): the refs
    /// to move are locked, with their new contents in their lock files, and every staged
    /// object is written to a temp file; nothing is durable or visible yet. `completeFlush`
    /// must follow, with no `add` in between. Nil when there is nothing to flush.
    struct PreparedFlush {
        fileprivate var moves: [RefMove]
        fileprivate var conflicts: [RefName]
    }

    func prepareFlush() throws(StoreError) -> PreparedFlush? {
        guard let writer, !pending.isEmpty || writer.stagedCount > 0 else {
            closeWindow()
            return nil
        }
        // Every ref this flush moves, in the order they move: paths, then heads, then labels.
        var moves: [RefMove] = []
        for name in touchedPaths + touchedHeads + touchedLabels {
            guard let track = refs[name], let event = track.event, event != track.expected else { continue }
            moves.append(RefMove(name: name, expected: track.expected, new: event))
        }
        do {
            let conflicts = try writer.prepare(moves)
            return PreparedFlush(moves: moves, conflicts: conflicts)
        } catch {
            forgetAll()
            resetFlush()
            closeWindow()
            throw error
        }
    }

    /// The second half: objects made durable and put in place, refs moved, all durable; then
    /// what concurrent writers got in the way of is redone on top of theirs.
    ///
    /// Throws only when nothing was acknowledged: the objects could not be made durable, or the
    /// last barrier failed (so no ref move is known to be durable). A failure once refs have
    /// begun to move is each request's own: returned are the versions (by their position in
    /// the batch) that failed and why — those with a ref that did not move, a redo or a
    /// relabel that failed. Every other version is committed, exactly as `add` said.
    @discardableResult
    func completeFlush(_ prepared: PreparedFlush) throws(StoreError) -> [Int: StoreError] {
        guard let writer else { return [:] }
        defer {
            resetFlush()
            closeWindow()
        }
        // Someone else moved these since we read them: a file whose path or head moved is
        // redone on top of theirs; a label is moved again after theirs.
        var redo: Set<FlowPath> = []
        var relabel: [RefName] = []
        for name in prepared.conflicts {
            guard let track = refs[name] else { continue }
            if name.rawValue.hasBytePrefix("paths/") || name.rawValue.hasByteSuffix("/head") {
                redo.insert(track.path)
            } else {
                relabel.append(name)
            }
        }
        // Refs of files to redo are not moved: the redo moves them on top of the other writer's.
        var skipping: Set<RefName> = []
        for move in prepared.moves where refs[move.name].map({ redo.contains($0.path) }) ?? true {
            skipping.insert(move.name)
        }
        // The backend stops at a ref that fails to move (the disk is failing): every version
        // whose refs did not all move is then refused, not half acknowledged.
        var unmoved: [RefName: StoreError]
        do {
            unmoved = try writer.commit(skipping: skipping)
        } catch {
            forgetAll()
            throw error
        }
        let conflicts = Set(prepared.conflicts)
        for move in prepared.moves where !skipping.contains(move.name) && !conflicts.contains(move.name) && unmoved[move.name] == nil {
            refs[move.name]?.expected = move.new
            refs[move.name]?.moves = []
        }
        let stopped = unmoved.values.first
        if let cache = store.objectCache {
            for (id, object, cost) in written { cache.set(object, forKey: id, cost: cost) }
        }

        var failures: [Int: StoreError] = [:]
        if let stopped {
            // What is on disk is no longer what the batch believes: read it afresh next time.
            forgetAll()
            for name in relabel { unmoved[name] = stopped }
            for item in pending where redo.contains(item.new.path) { failures[item.resultIndex] = stopped }
        } else {
            redoConflicts(relabel: relabel, redo: redo, unmoved: &unmoved, failures: &failures)
        }
        for item in pending where !redo.contains(item.new.path) {
            if let error = item.refs.lazy.compactMap({ unmoved[$0] }).first { failures[item.resultIndex] = error }
        }
        return failures
    }

    /// Rare: concurrent writers. Ordinary durable commits and ref moves, on top of theirs, each
    /// failing alone; in the batch's write window, which they must not wait behind.
    private func redoConflicts(
        relabel: [RefName], redo: Set<FlowPath>, unmoved: inout [RefName: StoreError], failures: inout [Int: StoreError]
    ) {
        func run(_ body: () throws(StoreError) -> Void) throws(StoreError) {
            if let window { try window.adopt(body) } else { try body() }
        }
        for name in relabel {
            guard let track = refs[name] else { continue }
            refs[name] = nil
            do {
                try run { () throws(StoreError) in
                    for move in track.moves {
                        try store.moveRef(name, to: move.target, author: move.author, message: move.message)
                    }
                }
            } catch {
                unmoved[name] = error
            }
        }
        for path in redo { forget(path) }
        for item in pending where redo.contains(item.new.path) {
            do {
                try run { () throws(StoreError) in
                    var new = item.new
                    new.definition = try store.content(item.content).definition
                    // What `add` validated, stored and read back: not checked a second time.
                    new.isChecked = true
                    let result = try store.commit(new, author: item.author)
                    if keepResults { results[item.resultIndex] = result }
                }
            } catch {
                failures[item.resultIndex] = error
            }
        }
    }

    /// Flushes and returns the result of every version added, in order (empty when the batch
    /// was made with `keepResults: false`).
    @discardableResult
    public func finish() throws(StoreError) -> [CommitResult] {
        try flush()
        return results
    }

    // MARK: - Internals

    /// Stages a version, event or file object: each holds a fresh timestamp (a file, a nonce),
    /// so it cannot be stored yet and the writer need not look for it first.
    @discardableResult
    private func stage(_ object: StoredObject, _ writer: any StoreTransaction) throws(StoreError) -> ObjectID {
        try stage(object.canonicalBytes(), object, writer, isNew: true)
    }

    /// Stages `object`, whose canonical bytes are `bytes`.
    @discardableResult
    private func stage(
        _ bytes: [UInt8], _ object: StoredObject, _ writer: any StoreTransaction, isNew: Bool = false
    ) throws(StoreError) -> ObjectID {
        let id = try writer.stage(bytes, isNew: isNew)
        if store.objectCache != nil { written.append((id, object, MemoryCost.of(object))) }
        return id
    }

    private func takeMovedRefs() -> [RefName] {
        defer { movedRefs.removeAll(keepingCapacity: true) }
        return movedRefs
    }

    private func record(_ result: CommitResult) -> Int {
        if keepResults { results.append(result) }
        resultCount += 1
        return resultCount - 1
    }

    private func flushIfFull() throws(StoreError) {
        guard let writer else { return }
        let refs = touchedPaths.count + touchedHeads.count + touchedLabels.count
        if pending.count >= limits.maxVersions || writer.stagedBytes >= limits.maxBytes || refs >= refsPerFlush {
            try flush()
        }
    }

    private func closeWindow() {
        window?.close()
        window = nil
    }

    private func resetFlush() {
        written.removeAll(keepingCapacity: true)
        touchedPaths.removeAll(keepingCapacity: true)
        touchedHeads.removeAll(keepingCapacity: true)
        touchedLabels.removeAll(keepingCapacity: true)
        stagedVersions.removeAll(keepingCapacity: true)
        pending.removeAll(keepingCapacity: true)
        for (name, track) in refs where !track.moves.isEmpty { refs[name]?.moves = [] }
    }

    /// Drops what we believe about a path and its refs, so it is read again from disk.
    private func forget(_ path: FlowPath) {
        files[path] = nil
        for (name, track) in refs where track.path == path { refs[name] = nil }
    }

    private func forgetAll() {
        files.removeAll()
        refs.removeAll()
    }

    private func track(_ name: RefName, path: FlowPath) throws(StoreError) -> RefTrack {
        if let track = refs[name] { return track }
        let state = try store.refState(name)
        let track = RefTrack(expected: state?.eventID, event: state?.eventID, target: state?.target, path: path)
        refs[name] = track
        return track
    }

    /// Refuses a ref that does not exist yet if it differs only in case from a sibling.
    private func checkNewName(_ name: RefName, path: FlowPath) throws(StoreError) {
        if try track(name, path: path).event == nil { try caseFolds.check(name) }
    }

    /// Stages the event for a ref move, chained after the moves staged before it.
    private func stageMove(
        _ name: RefName, to target: ObjectID?, message: String?, path: FlowPath, author: String
    ) throws(StoreError) {
        guard let writer else { return }
        var track = try self.track(name, path: path)
        if track.target == target { return }
        let action: EventAction = target == nil ? .delete : (track.target == nil ? .create : .move)
        let event = EventObject(
            ref: name, action: action, from: track.target, to: target, prev: track.event, author: author,
            time: store.clock(), message: message)
        let id = try stage(.event(event), writer)
        if track.event == nil { caseFolds.insert(name) }
        if track.event == track.expected {
            let raw = name.rawValue
            if raw.hasBytePrefix("paths/") {
                touchedPaths.append(name)
            } else if raw.hasByteSuffix("/head") {
                touchedHeads.append(name)
            } else {
                touchedLabels.append(name)
            }
        }
        track.event = id
        track.target = target
        track.moves.append((target, message, author))
        movedRefs.append(name)
        refs[name] = track
    }

    /// The file at the version's path, known to the batch or read from disk; nil when there is
    /// none and the version may create it.
    private func existingFile(_ new: NewVersion) throws(StoreError) -> FileState? {
        if let state = files[new.path] {
            guard state.kind == new.kind else {
                throw .kindMismatch(path: new.path.rawValue, existing: state.kind, requested: new.kind)
            }
            return state
        }
        guard let file = try track(RefNames.path(new.path), path: new.path).target else {
            guard new.createFile else { throw .fileNotFound(new.path.rawValue) }
            return nil
        }
        let kind = try store.fileObject(file).kind
        guard kind == new.kind else { throw .kindMismatch(path: new.path.rawValue, existing: kind, requested: new.kind) }
        var tip: (id: ObjectID, version: VersionObject)?
        if let head = try track(RefNames.head(file), path: new.path).target { tip = (head, try store.version(head)) }
        let state = FileState(file: file, kind: kind, tip: tip, diskHead: tip?.id)
        files[new.path] = state
        return state
    }

    /// Stages a new file at the version's path, as `VersionStore.createFile` writes it.
    private func createFile(_ new: NewVersion, author: String, writer: any StoreTransaction) throws(StoreError) -> FileState {
        let object = FileObject(
            kind: new.kind, path: new.path, author: author, createdAt: store.clock(), nonce: Nonce.make())
        let file = try stage(.file(object), writer)
        try stageMove(
            RefNames.path(new.path), to: file, message: "create \(new.kind.rawValue)", path: new.path, author: author)
        let state = FileState(file: file, kind: new.kind, tip: nil, diskHead: nil)
        files[new.path] = state
        return state
    }

    private func reusable(
        _ content: ObjectID, policy: ReusePolicy, state: inout FileState
    ) throws(StoreError) -> (id: ObjectID, version: VersionObject)? {
        guard let tip = state.tip else { return nil }
        switch policy {
        case .never: return nil
        case .head: return tip.version.content == content ? tip : nil
        case .anyVersion:
            // Staged versions are newer than every version on disk.
            if let staged = state.stagedContents[content] { return staged }
            guard let diskHead = state.diskHead,
                let id = try store.historySummary(of: state.file, head: diskHead).newestVersion(withContent: content)
            else { return nil }
            return (id, try store.version(id))
        }
    }
}
