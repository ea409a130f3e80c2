#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowStoreCore
import CFlowStoreSys
import Synchronization

/// Many object and ref writes made durable by a few file-system barriers instead of two
/// `fsync`s each — git's `core.fsyncMethod=batch`, done strictly.
///
/// The protocol (spec/FORMAT.md §9 holds at every step):
/// 1. `stage` writes each new object to a temp file in `tmp/` (no fsync); `lockRefs` takes
///    each ref's lock, checks the ref, and writes its new content into the lock file.
/// 2. **Barrier** (`syncfs` on the store's file system): every temp file written so far is on disk.
/// 3. Those objects are renamed into `objects/` (metadata only: their bytes are already durable).
///    Steps 1–3 repeat, a chunk at a time, while more objects are staged.
/// 4. **Barrier**, so every object is in place on disk before anything can point at it.
/// 5. Each ref moves by `commit`: its durable lock file swaps names with `refs/N.ref` (or, where
///    that is not supported, is renamed over it), which also releases the lock.
/// 6. **Barrier**, so the ref moves are durable before the caller hears "done".
///
/// A crash before 5 leaves only temp files, lock files and complete, unreferenced objects
/// (`gc` removes all three; a lock file is harmless meanwhile: the next writer reuses it); a
/// crash after leaves each ref old or new, never torn, and every new ref names an
/// event whose objects are all on disk. Nothing ever appears inside `objects/` that is not
/// already durable, so a reader or a copy of `objects/` never sees a torn object.
///
/// Steps 1–3 run on a background thread (`StagingThread`) while the caller parses,
/// canonicalises and hashes the next objects, so bulk ingest keeps both cores busy.
///
/// On platforms without `syncfs` each temp file is fsynced before its rename and each touched
/// directory after, which is correct but not fast.
final class BatchWriter: StoreTransaction {
    let objectStore: FileObjectStore
    let refStore: FileRefStore
    private let fileSystem: FileSystemBarrier
    private let stager: StagingThread
    /// Ids staged since the last publish (written, being written, or found already stored).
    private var stagedIDs: Set<ObjectID> = []
    private(set) var stagedBytes = 0
    /// Objects not yet handed to the staging thread: it is woken once per group, not per object.
    private var group: [StagedObject] = []
    private var groupBytes = 0

    /// Refs locked by `prepare`, in the order they move.
    private var prepared: [LockedRef] = []

    /// A ref locked for a move whose new content is already in its lock file: `commit` puts
    /// that file in place of the ref, which moves the ref and releases the lock in one step.
    struct LockedRef {
        var name: RefName
        var new: ObjectID
        fileprivate var lockPath: String
        fileprivate var fd: Int32
    }

    init(objects: FileObjectStore, refs: FileRefStore) throws(StoreError) {
        objectStore = objects
        refStore = refs
        fileSystem = try FileSystemBarrier(directory: objects.tempDirectory)
        stager = StagingThread(objects: objects, fileSystem: fileSystem)
    }

    deinit {
        release(prepared)
        // Anything staged and never published is only temp files: remove them now rather than
        // leaving them to `gc`.
        for temp in stager.finish() { unlink(temp) }
        fileSystem.release()
    }

    static var hasFileSystemBarrier: Bool { flowstore_has_syncfs() != 0 }

    /// Objects staged since the last publish.
    var stagedCount: Int { stagedIDs.count }

    /// Stages canonical bytes as an object and returns its id at once; the temp file is written
    /// (and published) in the background, and a write error is thrown by a later `stage` or by
    /// `publishObjects`. Idempotent, and a no-op for an object already stored intact (as
    /// `FileObjectStore.put` decides). `isNew` says the object cannot be stored yet (it holds a
    /// fresh timestamp or nonce): it is written without looking for it first, which saves a
    /// lookup in a large directory (and should it exist after all, the intact copy is kept).
    @discardableResult
    func stage(_ canonicalBytes: [UInt8], isNew: Bool) throws(StoreError) -> ObjectID {
        let id = ObjectID(hashing: canonicalBytes)
        if stagedIDs.contains(id) { return id }
        group.append(StagedObject(id: id, bytes: canonicalBytes, isNew: isNew))
        groupBytes += canonicalBytes.count
        if group.count >= 64 || groupBytes >= 1 << 20 { try handOver() }
        stagedIDs.insert(id)
        stagedBytes += canonicalBytes.count
        return id
    }

    private func handOver() throws(StoreError) {
        guard !group.isEmpty else { return }
        let items = group
        group = []
        groupBytes = 0
        try stager.submit(items)
    }

    /// Waits until everything written to the store's file system so far is on disk.
    func barrier() throws(StoreError) {
        try fileSystem.wait()
    }

    /// When `writeStaged` returned (everything staged, and the ref locks' contents, written).
    private var writtenAt: UInt64?

    /// Whether a barrier has made durable everything `writeStaged` wrote; forgets `writtenAt`,
    /// which counts for one barrier only.
    private func takeWrittenAreDurable() -> Bool {
        defer { writtenAt = nil }
        guard let writtenAt else { return false }
        return fileSystem.hasCovered(writesBefore: writtenAt)
    }

    /// Step 1 to its end: waits until every staged object is in a temp file (not yet durable).
    /// `publishObjects` then has only the barriers and renames left.
    func writeStaged() throws(StoreError) {
        try handOver()
        try stager.waitWritten()
        writtenAt = FileSystemBarrier.now()
    }

    /// Steps 2–4 for everything staged: waits for the staging thread, makes the last temp files
    /// durable (unless a barrier since `writeStaged` did), moves them into `objects/`, and makes
    /// that durable. Also a barrier for the ref locks' new contents.
    func publishObjects() throws(StoreError) {
        try handOver()
        stagedIDs.removeAll(keepingCapacity: true)
        stagedBytes = 0
        try stager.publishAll(tempFilesDurable: takeWrittenAreDurable())
        try barrier()
    }

    /// A barrier for the ref locks' new contents when nothing else was staged, skipped when a
    /// barrier since `writeStaged` already made them durable.
    func barrierForLockedRefs() throws(StoreError) {
        if !takeWrittenAreDurable() { try barrier() }
    }

    /// Step 1 for refs: takes each ref's lock (`FileRefStore.lock`, in name order, so two
    /// batches never wait for each other), checks the ref still points at `expected`, and writes
    /// the new content into the lock file itself — git's lock files, with `flock` underneath.
    /// The next barrier makes those contents durable; `commit` then puts each lock file in place
    /// of its ref. That is at most one file created per ref move (none once the ref's lock file
    /// exists), not a temp file and a lock file.
    /// Refs someone else moved meanwhile are unlocked at once and returned as `conflicts`.
    /// Locks are held until `commit` or `release`: a concurrent writer of the same ref waits.
    private func lockRefs(
        _ moves: [(name: RefName, expected: ObjectID?, new: ObjectID)]
    ) throws(StoreError) -> (locked: [LockedRef], conflicts: [RefName]) {
        var locked: [LockedRef] = []
        var conflicts: [RefName] = []
        do throws(StoreError) {
            for move in moves.sorted(by: { $0.name < $1.name }) {
                if move.expected == nil {  // a ref that exists has its directory
                    try POSIXFile.makeDirectories(
                        POSIXFile.parent(of: refStore.path(of: move.name)), sync: !Self.hasFileSystemBarrier)
                }
                let lockPath = refStore.lockPath(of: move.name)
                let ref = LockedRef(name: move.name, new: move.new, lockPath: lockPath, fd: try FileRefStore.lock(lockPath, ref: move.name, timeout: refStore.lockTimeout))
                let current: ObjectID?
                do { current = try refStore.read(move.name) } catch {
                    release([ref])
                    throw error
                }
                guard current == move.expected else {
                    release([ref])
                    conflicts.append(move.name)
                    continue
                }
                locked.append(ref)
                if let message = POSIXFile.replaceContents(
                    of: ref.fd, with: Array("\(move.new.hex)\n".utf8), sync: !Self.hasFileSystemBarrier)
                {
                    throw StoreError.io(path: lockPath, message: message)
                }
            }
        } catch {
            release(locked)
            throw error
        }
        return (locked, conflicts)
    }

    /// Step 5: puts the ref's lock file, holding its new content (made durable by a barrier
    /// since `lockRefs`), in place of the ref. Where the file system can, the two files swap
    /// names (`RENAME_EXCHANGE`): the old ref stays behind as the ref's lock file, to be reused
    /// by the next move. Renaming over the ref instead would free an inode per move, and ext4
    /// without a journal scans every inode freed in the last minute on each file creation
    /// after that: under a steady stream of commits that scan was a quarter of the CPU.
    /// Either way a waiting writer finds the lock file it holds no longer on disk and retries,
    /// as when a lock is released by unlinking. Call `barrier()` after the last one.
    private func commit(_ ref: LockedRef) throws(StoreError) {
        if let fault = refStore.batchMoveFault?(ref.name) {
            release([ref])
            throw fault
        }
        let file = refStore.path(of: ref.name)
        // Read-only like every ref file, before it becomes one: after the swap another writer
        // may already be using the old ref as its lock file. Writers meeting a read-only lock
        // file wait on it read-only and retry (see `FileRefStore.lock`).
        fchmod(ref.fd, 0o444)
        if !Self.swapRef(lock: ref.lockPath, ref: file) {
            guard rename(ref.lockPath, file) == 0 else {
                let message = POSIXFile.lastError()
                release([ref])
                throw .io(path: file, message: message)
            }
        }
        close(ref.fd)
        if !Self.hasFileSystemBarrier { try POSIXFile.syncDirectory(POSIXFile.parent(of: file)) }
        refStore.noteMoved(ref.name)
    }

    /// Off once a swap fails for want of support (an older kernel, a file system without it).
    private static let canSwap = Atomic<Bool>(true)

    /// Whether ref moves swap files (so the old ref stays behind as the lock file) rather than
    /// rename over the ref: true until a swap was refused for want of support.
    static var swapsRefFiles: Bool { canSwap.load(ordering: .relaxed) }

    /// Swaps the lock file and the ref, leaving the old ref, made writable, as the next lock
    /// file. False when it did nothing: no ref yet (a move that creates it), or no support.
    private static func swapRef(lock: String, ref: String) -> Bool {
        guard canSwap.load(ordering: .relaxed) else { return false }
        // Only we may move this ref (we hold its lock): until the swap, only readers see it
        // writable, and a crash meanwhile leaves a 0644 ref, which is harmless.
        guard chmod(ref, 0o644) == 0 else { return false }  // ENOENT: the move creates the ref
        if flowstore_rename2(lock, ref, UInt32(FLOWSTORE_RENAME_EXCHANGE)) == 0 { return true }
        if errno == EINVAL || errno == ENOSYS { canSwap.store(false, ordering: .relaxed) }
        chmod(ref, 0o444)
        return false
    }

    // MARK: StoreTransaction

    /// Step 1 to its end: the refs locked with their new contents in their lock files, and every
    /// object staged so far in a temp file. Nothing is durable or visible yet.
    func prepare(_ moves: [RefMove]) throws(StoreError) -> [RefName] {
        let result = try lockRefs(moves.map { ($0.name, $0.expected, $0.new) })
        var byName: [RefName: LockedRef] = [:]
        for ref in result.locked { byName[ref.name] = ref }
        prepared = moves.compactMap { byName[$0.name] }
        do {
            try writeStaged()
        } catch {
            abort()
            throw error
        }
        return result.conflicts
    }

    /// Steps 2–6. The first ref that fails to move stops the rest: the disk is failing.
    func commit(skipping: Set<RefName>) throws(StoreError) -> [RefName: StoreError] {
        let refs = prepared
        prepared = []
        do {
            if stagedCount > 0 {
                try publishObjects()  // barrier (objects and new ref contents durable), rename, barrier
            } else if !refs.isEmpty {
                try barrierForLockedRefs()  // new ref contents durable
            }
        } catch {
            release(refs)
            throw error
        }
        guard !refs.isEmpty else { return [:] }
        var unmoved: [RefName: StoreError] = [:]
        var stopped: StoreError?
        for ref in refs {
            if skipping.contains(ref.name) {
                release([ref])
            } else if let stopped {
                release([ref])
                unmoved[ref.name] = stopped
            } else {
                do {
                    try commit(ref)
                } catch {
                    unmoved[ref.name] = error  // `commit` released its lock
                    stopped = error
                }
            }
        }
        try barrier()
        return unmoved
    }

    func abort() {
        release(prepared)
        prepared = []
    }

    /// Unlocks refs that will not be moved (a conflict, a redo, an earlier step failed): the
    /// lock file is removed, as `FileRefStore.compareAndSwap` does when it releases.
    private func release(_ refs: [LockedRef]) {
        for ref in refs {
            unlink(ref.lockPath)
            close(ref.fd)
        }
    }
}

/// The store's file system made durable as a whole (`syncfs`), and when it last was: a barrier
/// that began after some writes had returned made them durable too, so a flush whose writes
/// another flush's barrier covered skips its own (`GroupCommit` overlaps flushes).
struct FileSystemBarrier: Sendable {
    /// Held open from the start: Linux `syncfs` reports write-back errors since the fd was opened.
    private let fd: Int32
    private let path: String
    /// Nil when it cannot be told: then no other barrier counts for this one's writes.
    private let device: UInt64?

    /// When the last successful barrier on each file system (by device) began.
    private static let starts = Mutex<[UInt64: UInt64]>([:])

    init(directory: String) throws(StoreError) {
        fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: directory, message: POSIXFile.lastError()) }
        path = directory
        var info = stat()
        device = fstat(fd, &info) == 0 ? UInt64(info.st_dev) : nil
    }

    /// Closes the descriptor held for `syncfs`; the barrier is not used after.
    func release() { close(fd) }

    /// A monotonic clock in nanoseconds, for `hasCovered(writesBefore:)`.
    static func now() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Waits until everything written to the file system so far is on disk.
    func wait() throws(StoreError) {
        guard BatchWriter.hasFileSystemBarrier else { return }  // per-file fsyncs did the work
        let started = Self.now()
        while flowstore_syncfs(fd) != 0 {
            if errno == EINTR { continue }
            throw .io(path: path, message: "syncfs: \(POSIXFile.lastError())")
        }
        guard let device else { return }
        Self.starts.withLock { starts in starts[device] = max(starts[device] ?? 0, started) }
    }

    /// Whether a barrier that began after `time` (`now()` once some writes had returned) has
    /// succeeded, making those writes durable.
    func hasCovered(writesBefore time: UInt64) -> Bool {
        guard BatchWriter.hasFileSystemBarrier, let device else { return false }
        return Self.starts.withLock { ($0[device] ?? 0) > time }
    }
}

/// An object on its way to the staging thread.
struct StagedObject {
    var id: ObjectID
    var bytes: [UInt8]
    var isNew: Bool
}

/// The background half of `BatchWriter`: a writer thread that writes staged objects to temp
/// files in `tmp/` (skipping objects already stored intact), and a publisher thread that, every
/// `chunk` written objects, makes them durable with one barrier and renames them into
/// `objects/` — while the caller prepares the next objects. The publisher spends most of its
/// time waiting for the disk, so the writer keeps writing meanwhile. A queue bounded in bytes
/// keeps memory flat however large the batch.
final class StagingThread: @unchecked Sendable {
    private struct Written {
        var id: ObjectID
        var temp: String
    }

    private let objects: FileObjectStore
    private let fileSystem: FileSystemBarrier
    /// Objects per barrier-and-rename round in the background.
    private let chunk: Int
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var writerThread = pthread_t()
    private var publisherThread = pthread_t()
    private var started = false
    // Shared with the thread, under `mutex`.
    private var queue: [[StagedObject]] = []
    private var queueHead = 0
    private var queuedBytes = 0
    private var busy = false
    private var closing = false
    /// Temp files written and not yet handed to the publisher.
    private var unpublished: [Written] = []
    /// Rounds waiting for the publisher, and whether it is in one.
    private var rounds: [[Written]] = []
    private var publishing = false
    private var failure: StoreError?
    // The thread's own (or the caller's, once the thread is idle).
    private var touchedDirectories: Set<String> = []
    /// Temp names: one random prefix per batch and a counter (not eight `getrandom` calls each).
    private let tempPrefix: String
    private var tempCounter = 0

    static let maxQueuedBytes = 64 << 20

    init(objects: FileObjectStore, fileSystem: FileSystemBarrier, chunk: Int = 8192) {
        tempPrefix = objects.tempDirectory + "/tmp-" + POSIXFile.randomToken() + "-"
        self.objects = objects
        self.fileSystem = fileSystem
        self.chunk = chunk
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    private func startIfNeeded() {
        guard !started else { return }
        started = true
        let writer = Unmanaged.passRetained(self).toOpaque()
        let writerResult = pthread_create(&writerThread, nil, { context in
            let stager = Unmanaged<StagingThread>.fromOpaque(context!).takeRetainedValue()
            stager.run()
            return nil
        }, writer)
        precondition(writerResult == 0, "cannot start the staging thread")
        let publisher = Unmanaged.passRetained(self).toOpaque()
        let publisherResult = pthread_create(&publisherThread, nil, { context in
            let stager = Unmanaged<StagingThread>.fromOpaque(context!).takeRetainedValue()
            stager.runPublisher()
            return nil
        }, publisher)
        precondition(publisherResult == 0, "cannot start the publishing thread")
    }

    /// Queues a group of objects; throws the first error the thread met, if any.
    func submit(_ items: [StagedObject]) throws(StoreError) {
        startIfNeeded()
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while queuedBytes >= Self.maxQueuedBytes, failure == nil { pthread_cond_wait(changed, mutex) }
        if let failure { throw failure }
        queue.append(items)
        for item in items { queuedBytes += item.bytes.count }
        pthread_cond_broadcast(changed)
    }

    /// Waits for the writer thread to write everything queued; throws the first error met.
    func waitWritten() throws(StoreError) {
        guard started else { return }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while queueHead < queue.count || busy { pthread_cond_wait(changed, mutex) }
        if let failure { throw failure }
    }

    /// Waits for the thread to write everything queued, then publishes what it has not:
    /// barrier, renames (then, without `syncfs`, fsync of the directories). The caller's
    /// barrier after this makes the renames durable. Throws the first error met.
    func publishAll(tempFilesDurable: Bool = false) throws(StoreError) {
        pthread_mutex_lock(mutex)
        while queueHead < queue.count || busy || !rounds.isEmpty || publishing { pthread_cond_wait(changed, mutex) }
        queue.removeAll(keepingCapacity: true)
        queueHead = 0
        let rest = unpublished
        unpublished = []
        let error = failure
        failure = nil
        pthread_mutex_unlock(mutex)
        // Both threads are idle until the next submit: their sets are ours meanwhile.
        if let error {
            for object in rest { unlink(object.temp) }
            throw error
        }
        try publish(rest, durable: tempFilesDurable)
        for directory in touchedDirectories { try POSIXFile.syncDirectory(directory) }
        touchedDirectories.removeAll()
    }

    /// Stops both threads (what is queued is dropped) and returns the temp files never published.
    func finish() -> [String] {
        guard started else { return [] }
        pthread_mutex_lock(mutex)
        closing = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
        pthread_join(writerThread, nil)
        pthread_join(publisherThread, nil)
        started = false
        let out = (unpublished + rounds.joined()).map(\.temp)
        unpublished = []
        rounds = []
        return out
    }

    private func run() {
        pthread_mutex_lock(mutex)
        while true {
            while queueHead == queue.count, !closing { pthread_cond_wait(changed, mutex) }
            if closing { break }  // a batch dropped without a flush: what is queued is not written
            let items = queue[queueHead]
            queue[queueHead] = []  // release the bytes once taken
            queueHead += 1
            busy = true
            let skip = failure != nil
            pthread_mutex_unlock(mutex)

            var written: [Written] = []
            var firstError: StoreError?
            var bytesDone = 0
            for item in items where !skip && firstError == nil {
                switch write(item) {
                case .success(let object?): written.append(object)
                case .success(nil): break
                case .failure(let error): firstError = error
                }
            }
            for item in items { bytesDone += item.bytes.count }

            pthread_mutex_lock(mutex)
            queuedBytes -= bytesDone
            unpublished += written
            if let firstError, failure == nil { failure = firstError }
            if unpublished.count >= chunk, failure == nil {
                // A round for the publisher: barrier, then renames, while writing goes on.
                rounds.append(unpublished)
                unpublished = []
            }
            busy = false
            pthread_cond_broadcast(changed)
        }
        pthread_mutex_unlock(mutex)
    }

    private func runPublisher() {
        pthread_mutex_lock(mutex)
        while true {
            while rounds.isEmpty, !closing { pthread_cond_wait(changed, mutex) }
            if closing { break }  // nor published: `finish` removes the temp files
            let round = rounds.removeFirst()
            publishing = true
            let skip = failure != nil
            pthread_mutex_unlock(mutex)
            var error: StoreError?
            if skip {
                for object in round { unlink(object.temp) }
            } else {
                do { try publish(round) } catch let e { error = e }
            }
            pthread_mutex_lock(mutex)
            if let error, failure == nil { failure = error }
            publishing = false
            pthread_cond_broadcast(changed)
        }
        pthread_mutex_unlock(mutex)
    }

    private func write(_ object: StagedObject) -> Result<Written?, StoreError> {
        // An existing file counts only if it hashes right (as in `FileObjectStore.put`).
        if !object.isNew, let existing = try? POSIXFile.read(objects.path(of: object.id)),
            ObjectID(hashing: existing) == object.id
        {
            POSIXFile.freshen(objects.path(of: object.id))
            return .success(nil)
        }
        tempCounter += 1
        let temp = tempPrefix + String(tempCounter)
        do {
            try POSIXFile.writeNew(object.bytes, to: temp, sync: !BatchWriter.hasFileSystemBarrier)
        } catch {
            return .failure(error)
        }
        return .success(Written(id: object.id, temp: temp))
    }

    /// Barrier, then renames `round` into `objects/`. On error the rest of the round's temp
    /// files are removed.
    private func publish(_ round: [Written], durable: Bool = false) throws(StoreError) {
        guard !round.isEmpty else { return }
        do {
            if !durable { try fileSystem.wait() }
        } catch {
            for object in round { unlink(object.temp) }
            throw error
        }
        for (n, object) in round.enumerated() {
            let target = objects.path(of: object.id)
            let fanout = POSIXFile.parent(of: target)
            do throws(StoreError) {
                if !(try place(object.temp, object.id, at: target)) {
                    // No fan-out directory yet. No fsync of `objects/` here: the barrier after
                    // this round's renames covers it.
                    try POSIXFile.makeDirectories(fanout, sync: !BatchWriter.hasFileSystemBarrier)
                    guard try place(object.temp, object.id, at: target) else {
                        throw .io(path: target, message: "no such file or directory")
                    }
                }
            } catch {
                for rest in round[n...] { unlink(rest.temp) }
                throw error
            }
            if !BatchWriter.hasFileSystemBarrier { touchedDirectories.insert(fanout) }
        }
    }

    /// Moves a durable temp file into place as an object. An object already there is kept if
    /// it hashes right (the temp file is dropped), so a stored object's inode never changes;
    /// a damaged one is replaced. False when the fan-out directory does not exist.
    private func place(_ temp: String, _ id: ObjectID, at target: String) throws(StoreError) -> Bool {
        if Self.canRenameWithoutReplacing.load(ordering: .relaxed) {
            if flowstore_rename2(temp, target, UInt32(FLOWSTORE_RENAME_NOREPLACE)) == 0 { return true }
            switch errno {
            case ENOENT: return false
            case EEXIST:
                if let existing = try? POSIXFile.read(target), ObjectID(hashing: existing) == id {
                    unlink(temp)
                    POSIXFile.freshen(target)
                    return true
                }
            case EINVAL, ENOSYS: Self.canRenameWithoutReplacing.store(false, ordering: .relaxed)
            default: throw .io(path: target, message: POSIXFile.lastError())
            }
        }
        guard rename(temp, target) == 0 else {
            if errno == ENOENT { return false }
            throw .io(path: target, message: POSIXFile.lastError())
        }
        return true
    }

    /// Off once the kernel or file system refused `RENAME_NOREPLACE`.
    private static let canRenameWithoutReplacing = Atomic<Bool>(true)
}



/// The directory store's transactions: `BatchWriter`s over its objects and refs.
public struct DirectoryTransactions: TransactionSource {
    public let objects: FileObjectStore
    public let refs: FileRefStore

    public init(objects: FileObjectStore, refs: FileRefStore) {
        self.objects = objects
        self.refs = refs
    }

    public func begin() throws(StoreError) -> any StoreTransaction {
        try BatchWriter(objects: objects, refs: refs)
    }
}
