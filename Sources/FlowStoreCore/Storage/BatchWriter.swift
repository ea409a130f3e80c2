#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CFlowStoreSys

/// Many object and ref writes made durable by a few file-system barriers instead of two
/// `fsync`s each — git's `core.fsyncMethod=batch`, done strictly.
///
/// The protocol (spec/FORMAT.md §9 holds at every step):
/// 1. `stage` writes each new object to a temp file in `tmp/` (no fsync); `prepareRef` writes
///    each ref's new content to a temp file too.
/// 2. **Barrier**: `syncfs` on the store's file system, so every temp file's bytes are on disk.
/// 3. Each staged object is renamed into `objects/` (metadata only: its bytes are durable).
/// 4. **Barrier**, so the objects are in place on disk before anything can point at them.
/// 5. Each ref is moved by compare-and-swap under its `flock`: `rename` of its durable temp
///    file over `refs/N.ref`.
/// 6. **Barrier**, so the ref moves are durable before the caller hears "done".
///
/// A crash before 4 leaves only temp files (and maybe some complete, unreferenced objects) that
/// `gc` removes; a crash after leaves each ref old or new, never torn, and every new ref names
/// an event whose objects are all on disk. Nothing is ever written inside `objects/` that is not
/// already durable, so a copy of `objects/` or a reader never sees a torn object.
///
/// On platforms without `syncfs` each temp file is fsynced before its rename and each touched
/// directory after, which is correct but not fast.
final class BatchWriter {
    let objectStore: FileObjectStore
    let refStore: FileRefStore
    /// Held open from the start: Linux `syncfs` reports write-back errors since the fd was opened.
    private let barrierFD: Int32

    private struct StagedObject {
        var id: ObjectID
        var temp: String
    }
    private var staged: [StagedObject] = []
    private var stagedIDs: Set<ObjectID> = []
    private(set) var stagedBytes = 0
    private var knownFanouts: Set<String> = []

    struct PreparedRef {
        var name: RefName
        /// The event the ref must still point at (nil: the ref must not exist).
        var expected: ObjectID?
        var new: ObjectID
        var temp: String
    }

    init(objects: FileObjectStore, refs: FileRefStore) throws(StoreError) {
        objectStore = objects
        refStore = refs
        let fd = open(objects.tempDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: objects.tempDirectory, message: POSIXFile.lastError()) }
        barrierFD = fd
    }

    deinit {
        close(barrierFD)
        // Anything staged and never published is only temp files: remove them now rather than
        // leaving them to `gc`.
        for object in staged { unlink(object.temp) }
    }

    static var hasFileSystemBarrier: Bool { flowstore_has_syncfs() != 0 }

    var stagedCount: Int { staged.count }

    /// Whether the object is staged in this batch (not yet published).
    func isStaged(_ id: ObjectID) -> Bool { stagedIDs.contains(id) }

    /// Stages canonical bytes as an object; idempotent, and a no-op for an object already
    /// stored intact (as `FileObjectStore.put` decides).
    @discardableResult
    func stage(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID {
        let id = ObjectID(hashing: canonicalBytes)
        if stagedIDs.contains(id) { return id }
        if let existing = try? POSIXFile.read(objectStore.path(of: id)), ObjectID(hashing: existing) == id { return id }
        let temp = objectStore.tempDirectory + "/tmp-" + POSIXFile.randomToken()
        try POSIXFile.writeNew(canonicalBytes, to: temp, sync: !Self.hasFileSystemBarrier)
        staged.append(StagedObject(id: id, temp: temp))
        stagedIDs.insert(id)
        stagedBytes += canonicalBytes.count
        return id
    }

    /// Writes a ref's new content to a temp file, to be swapped in by `moveRefs`.
    func prepareRef(_ name: RefName, expected: ObjectID?, new: ObjectID) throws(StoreError) -> PreparedRef {
        let temp = refStore.tempDirectory + "/tmp-" + POSIXFile.randomToken()
        try POSIXFile.writeNew(Array("\(new.hex)\n".utf8), to: temp, sync: !Self.hasFileSystemBarrier)
        return PreparedRef(name: name, expected: expected, new: new, temp: temp)
    }

    /// Waits until everything written to the store's file system so far is on disk.
    func barrier() throws(StoreError) {
        guard Self.hasFileSystemBarrier else { return }  // per-file fsyncs did the work
        while flowstore_syncfs(barrierFD) != 0 {
            if errno == EINTR { continue }
            throw .io(path: objectStore.tempDirectory, message: "syncfs: \(POSIXFile.lastError())")
        }
    }

    /// Steps 2–4: makes the staged objects durable, then moves them into `objects/` durably.
    func publishObjects() throws(StoreError) {
        guard !staged.isEmpty else { return }
        try barrier()
        var touched: Set<String> = []
        for object in staged {
            let target = objectStore.path(of: object.id)
            let fanout = POSIXFile.parent(of: target)
            if !knownFanouts.contains(fanout) {
                try POSIXFile.makeDirectories(fanout)
                knownFanouts.insert(fanout)
            }
            guard rename(object.temp, target) == 0 else {
                throw .io(path: target, message: POSIXFile.lastError())
            }
            if !Self.hasFileSystemBarrier { touched.insert(fanout) }
        }
        for directory in touched { try POSIXFile.syncDirectory(directory) }
        staged.removeAll(keepingCapacity: true)
        stagedIDs.removeAll(keepingCapacity: true)
        stagedBytes = 0
        try barrier()
    }

    /// Step 5: compare-and-swaps one prepared ref: true when it moved, false when someone else
    /// moved it first (then it is left as it is and the temp file removed). Call `barrier()`
    /// after the last one.
    func moveRef(_ ref: PreparedRef) throws(StoreError) -> Bool {
        let file = refStore.path(of: ref.name)
        let directory = POSIXFile.parent(of: file)
        do {
            try POSIXFile.makeDirectories(directory)
        } catch {
            unlink(ref.temp)
            throw error
        }
        let lockPath = "\(refStore.directory)/\(ref.name.rawValue).lock"
        let fd: Int32
        do { fd = try Self.lock(lockPath) } catch {
            unlink(ref.temp)
            throw error
        }
        defer {
            unlink(lockPath)
            close(fd)
        }
        let current: ObjectID?
        do {
            current = try refStore.read(ref.name)
        } catch {
            unlink(ref.temp)
            throw error
        }
        guard current == ref.expected else {
            unlink(ref.temp)
            return false
        }
        guard rename(ref.temp, file) == 0 else {
            let message = POSIXFile.lastError()
            unlink(ref.temp)
            throw .io(path: file, message: message)
        }
        if !Self.hasFileSystemBarrier { try POSIXFile.syncDirectory(directory) }
        return true
    }

    /// Removes prepared ref temp files that will not be used (an earlier step failed).
    func discard(_ prepared: [PreparedRef]) {
        for ref in prepared { unlink(ref.temp) }
    }

    /// The exclusive ref lock of `FileRefStore` (same file, same protocol: `flock` on
    /// `refs/N.lock`, then check the file we hold is still the one on disk, since a previous
    /// holder unlinks it on release), so batch and single writers exclude each other.
    private static func lock(_ lockPath: String) throws(StoreError) -> Int32 {
        while true {
            let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .io(path: lockPath, message: POSIXFile.lastError()) }
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR {
                    let message = POSIXFile.lastError()
                    close(fd)
                    throw .io(path: lockPath, message: message)
                }
            }
            var held = stat()
            var onDisk = stat()
            if fstat(fd, &held) == 0, stat(lockPath, &onDisk) == 0, held.st_ino == onDisk.st_ino,
                held.st_dev == onDisk.st_dev
            {
                return fd
            }
            close(fd)
        }
    }
}
