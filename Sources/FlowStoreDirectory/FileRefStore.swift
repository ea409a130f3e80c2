#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowStoreCore

/// Refs as files under `refs/`: `refs/<name>.ref` holds the event id on one line (a segment
/// too long for a file name is spelled over several levels: `RefFileLayout`).
///
/// Writers take an exclusive `flock` on `refs/<name>.lock`, compare, write a temp file, fsync,
/// and rename over the ref (batch writers put the lock file itself in place: `BatchWriter`).
/// A writer killed at any point leaves the old ref intact, and its lock dies with it (flock
/// locks are released by the kernel), so nothing stays stuck.
public struct FileRefStore: RefStore {
    public let directory: String
    public let tempDirectory: String
    /// How long a writer waits for a ref's lock before it gives up with `lockTimeout`: a
    /// stopped process (SIGSTOP, a debugger) holding a lock must not stall every writer of
    /// that ref, the server's group commit among them, for ever.
    public let lockTimeout: Duration
    /// For tests: an error a batch's ref move raises instead of moving the ref, as a disk that
    /// fails part-way through a flush would.
    var batchMoveFault: (@Sendable (RefName) -> StoreError?)?

    /// `LockWait.defaultTimeout`.
    public static var defaultLockTimeout: Duration { LockWait.defaultTimeout }

    public init(directory: String, tempDirectory: String, lockTimeout: Duration = Self.defaultLockTimeout) {
        self.directory = directory
        self.tempDirectory = tempDirectory
        self.lockTimeout = lockTimeout
    }

    func path(of name: RefName) -> String { "\(directory)/\(RefFileLayout.relativePath(of: name.rawValue)).ref" }

    /// The file whose `flock` is the ref's lock, beside the ref (`BatchWriter` takes it too).
    func lockPath(of name: RefName) -> String { "\(directory)/\(RefFileLayout.relativePath(of: name.rawValue)).lock" }

    public func read(_ name: RefName) throws(StoreError) -> ObjectID? {
        try readFile(path(of: name), name: name.rawValue)
    }

    private func readFile(_ path: String, name: String) throws(StoreError) -> ObjectID? {
        // A ref is 65 bytes; anything longer than the buffer is not a ref either.
        guard let bytes = try POSIXFile.readSmall(path, limit: 128) else { return nil }
        var hex = bytes[...]
        if hex.last == UInt8(ascii: "\n") { hex = hex.dropLast() }
        guard let id = ObjectID(hexBytes: hex) else {
            throw .io(path: path, message: "ref \(name) does not hold an object id")
        }
        return id
    }

    /// Counts the ref files a `list(prefix:)` would read, from directory listings alone.
    public func count(prefix: String) throws(StoreError) -> Int {
        var n = 0
        try walk(prefix: prefix) { (relative: String) throws(StoreError) in
            if relative.hasBytePrefix(prefix), (try? RefName(relative)) != nil { n += 1 }
        }
        return n
    }

    public func compareAndSwap(_ name: RefName, expected: ObjectID?, new: ObjectID) throws(StoreError) {
        let file = path(of: name)
        try POSIXFile.makeDirectories(POSIXFile.parent(of: file))
        let lockPath = lockPath(of: name)
        let fd = try Self.lock(lockPath, ref: name, timeout: lockTimeout)
        defer {
            unlink(lockPath)
            close(fd)
        }
        let current = try read(name)
        guard current == expected else {
            throw .refConflict(ref: name.rawValue, expected: expected, actual: current)
        }
        try POSIXFile.writeAtomically(Array("\(new.hex)\n".utf8), to: file, tempDirectory: tempDirectory)
        noteMoved(name)
    }

    /// The top folders whose listing is stamped (`listingStamp`): the paths, whose refs move
    /// only when a file is created, moved or deleted, and the files' own refs (heads, labels,
    /// environments, annotations, logs), which move on every commit: a server keeps what it
    /// derived from every flow's default version (a sorted listing) only while none moved.
    static let stampedFolders: Set<Substring> = ["paths", "files"]

    /// The stamped folder `name` is under, if any.
    static func stampedFolder(of name: String) -> String? {
        RefNames.topSegment(of: name).flatMap { stampedFolders.contains($0) ? String($0) : nil }
    }

    /// After a ref under a stamped folder moved: touches that folder (`refs/paths`,
    /// `refs/files`), so its modification time, the listing stamp, changes whichever folder
    /// below it the ref is in. After the move, so a reader that sees the new stamp and then
    /// reads sees the new ref.
    func noteMoved(_ name: RefName) {
        if let folder = Self.stampedFolder(of: name.rawValue) {
            POSIXFile.freshen("\(directory)/\(folder)")
        }
    }

    /// For `paths/` and `files/`: the `stat` of that folder, which every move of a ref below it touches
    /// (`noteMoved`). A modification time less than `racyWindow` old cannot vouch for anything:
    /// a move in the same clock tick as the stamp could leave it unchanged (git's "racy clean"
    /// problem), so the caller lists until the stamp has settled.
    public func listingStamp(prefix: String) -> RefListingStamp? {
        guard let folder = Self.stampedFolder(of: prefix), prefix.utf8.count == folder.utf8.count + 1 else { return nil }
        var st = stat()
        var marker: Int64 = 0
        if stat("\(directory)/\(folder)", &st) != 0 {
            // No path yet: `refs/` stands in, as the folder's creation changes it.
            guard errno == ENOENT, stat(directory, &st) == 0 else { return nil }
            marker = 1
        }
        #if canImport(Darwin)
        let modified = st.st_mtimespec
        #else
        let modified = st.st_mtim
        #endif
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let age = (Int64(now.tv_sec) - Int64(modified.tv_sec)) * 1_000_000_000
            + (Int64(now.tv_nsec) - Int64(modified.tv_nsec))
        guard age > Self.racyWindowNanoseconds else { return nil }
        return RefListingStamp([
            marker, Int64(bitPattern: UInt64(st.st_dev)), Int64(bitPattern: UInt64(st.st_ino)),
            Int64(st.st_nlink), Int64(st.st_size), Int64(modified.tv_sec), Int64(modified.tv_nsec),
        ])
    }

    /// Far more than a file-system clock tick (a few milliseconds with coarse timestamps).
    public static let racyWindowNanoseconds: Int64 = 100_000_000

    /// Takes the exclusive lock, making sure the lock file we hold is still the one on disk
    /// (a previous holder unlinks it, or swaps it with the ref, on release). `BatchWriter`
    /// takes the same lock, so batch and single writers exclude each other.
    ///
    /// The wait is bounded by `timeout` (then `lockTimeout`), so it polls with `LOCK_NB`
    /// instead of blocking: from 50 µs between tries, doubling to 20 ms, so an uncontended or
    /// briefly held lock costs nothing extra and a long wait costs little CPU.
    static func lock(_ lockPath: String, ref: RefName, timeout: Duration) throws(StoreError) -> Int32 {
        let deadline = ContinuousClock.now + timeout
        var pause: UInt32 = 50
        while true {
            var fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
            // Read-only: a batch writer about to put it in place as the ref (or killed just
            // before). Wait on it all the same; it is either gone when we get it, or ours to fix.
            let readOnly = fd < 0 && errno == EACCES
            if readOnly { fd = open(lockPath, O_RDONLY | O_CLOEXEC) }
            guard fd >= 0 else {
                // Swapped or unlinked between the two opens: try again. With no directory to
                // create it in, trying again would spin for ever: that is the caller's bug.
                let message = POSIXFile.lastError()
                if errno == ENOENT, ContinuousClock.now < deadline, POSIXFile.isDirectory(POSIXFile.parent(of: lockPath)) {
                    continue
                }
                throw .io(path: lockPath, message: message)
            }
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                if errno == EINTR { continue }
                guard errno == EWOULDBLOCK else {
                    let message = POSIXFile.lastError()
                    close(fd)
                    throw .io(path: lockPath, message: message)
                }
                guard ContinuousClock.now < deadline else {
                    close(fd)
                    throw .lockTimeout(ref.rawValue)
                }
                usleep(pause)
                pause = min(pause * 2, 20_000)
            }
            var held = stat()
            var onDisk = stat()
            if fstat(fd, &held) == 0, stat(lockPath, &onDisk) == 0,
                held.st_ino == onDisk.st_ino, held.st_dev == onDisk.st_dev
            {
                if !readOnly { return fd }
                // Left read-only by a killed writer: make it writable and open it again.
                guard fchmod(fd, 0o644) == 0 else {
                    let message = POSIXFile.lastError()
                    close(fd)
                    throw .io(path: lockPath, message: message)
                }
            }
            close(fd)
        }
    }

    public func list(prefix: String) throws(StoreError) -> [(name: RefName, event: ObjectID)] {
        try list(prefix: prefix, unreadable: nil)
    }

    /// A ref file that does not hold an id (torn, garbage) goes to `unreadable`.
    public func list(
        prefix: String, unreadable: ((_ ref: String, _ error: StoreError) -> Void)?
    ) throws(StoreError) -> [(name: RefName, event: ObjectID)] {
        var found: [(name: RefName, event: ObjectID)] = []
        try walk(prefix: prefix) { (relative: String) throws(StoreError) in
            guard relative.hasBytePrefix(prefix) else { return }
            let event: ObjectID?
            do throws(StoreError) {
                event = try readFile("\(directory)/\(RefFileLayout.relativePath(of: relative)).ref", name: relative)
            } catch {
                guard let unreadable else { throw error }
                return unreadable(relative, error)
            }
            guard let event, let name = try? RefName(relative) else { return }
            found.append((name, event))
        }
        return found.sorted { $0.name < $1.name }
    }

    /// Removes lock files nobody holds: what a writer killed inside `compareAndSwap` leaves
    /// behind (its flock died with it; the file did not). Follows the writers' own protocol —
    /// lock without waiting, check the file is still the one on disk, unlink, release — so a
    /// held lock is never touched, and a writer that opened the file a moment before simply
    /// goes round its retry loop. Returns how many were (with `dryRun`, would be) removed.
    public func removeStaleLocks(dryRun: Bool = false) throws(StoreError) -> Int {
        var removed = 0
        var pending = [directory]
        while let dir = pending.popLast() {
            for item in try items(inFolder: dir) {
                switch item {
                case .ref: continue
                case .folder(_, let path): pending.append(path)
                case .lock(let path):
                    let fd = open(path, O_RDONLY | O_CLOEXEC)  // flock needs no write access
                    guard fd >= 0 else { continue }
                    defer { close(fd) }
                    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }  // held: a live writer
                    var held = stat()
                    var onDisk = stat()
                    guard fstat(fd, &held) == 0, stat(path, &onDisk) == 0, held.st_ino == onDisk.st_ino,
                        held.st_dev == onDisk.st_dev, (held.st_mode & S_IFMT) == S_IFREG
                    else { continue }
                    if !dryRun { unlink(path) }
                    removed += 1
                }
            }
        }
        return removed
    }

    /// The folder a prefix names, on disk: only it is walked, and what is found there is
    /// filtered by the full prefix.
    private func folder(ofPrefix prefix: String) -> String {
        guard let slash = prefix.utf8.lastIndex(of: UInt8(ascii: "/")) else { return directory }
        return "\(directory)/\(RefFileLayout.relativePath(of: Substring(prefix.utf8[..<slash])))"
    }

    /// The logical folder of a prefix: the name up to its last `/`, with the `/` (or empty).
    private static func namePrefix(ofFolderIn prefix: String) -> String {
        guard let slash = prefix.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return String(Substring(prefix.utf8[...slash]))
    }

    public func children(of prefix: String) throws(StoreError) -> [RefChild] {
        try items(inFolder: folder(ofPrefix: prefix)).compactMap { item in
            switch item {
            case .ref(let segment): RefChild(name: segment, isFolder: false)
            case .folder(let segment, _): RefChild(name: segment, isFolder: true)
            case .lock: nil
            }
        }
    }

    /// What one level of names below a folder holds, long segments joined back together.
    private enum LevelItem {
        case ref(segment: String)
        case folder(segment: String, path: String)
        case lock(path: String)

        var segment: String {
            switch self {
            case .ref(let segment), .folder(let segment, _): segment
            case .lock: ""
            }
        }
    }

    /// The refs, folders and lock files one level below the folder at `dir`, following long
    /// segments' `.~` directories. Entries that are not how their segment is spelled
    /// (`RefFileLayout.isCanonical`) are left out: no read by name would find them.
    private func items(inFolder dir: String) throws(StoreError) -> [LevelItem] {
        var items: [LevelItem] = []
        try collect(dir, spelled: [], text: "", into: &items)
        return items
    }

    /// `collect` for one directory: the folder's own (`spelled` empty) or a `.~` directory of a
    /// long segment whose entries so far are `spelled` and whose text so far is `text`.
    private func collect(_ dir: String, spelled: [String], text: String, into items: inout [LevelItem]) throws(StoreError) {
        for entry in try POSIXFile.list(dir) {
            let path = "\(dir)/\(entry)"
            switch RefFileLayout.classify(entry, inLongSegment: !spelled.isEmpty) {
            case .ref(let end):
                let segment = text + end
                if RefFileLayout.isCanonical(spelled + [entry.droppingLastBytes(4)], for: segment) {
                    items.append(.ref(segment: segment))
                }
            case .folder(let end):
                let segment = text + end
                if RefFileLayout.isCanonical(spelled + [entry], for: segment), POSIXFile.isDirectory(path) {
                    items.append(.folder(segment: segment, path: path))
                }
            case .piece(let piece):
                if POSIXFile.isDirectory(path) { try collect(path, spelled: spelled + [entry], text: text + piece, into: &items) }
            case .lock:
                items.append(.lock(path: path))
            case .foreign:
                continue
            }
        }
    }

    /// Visits the name of every ref in the folder `prefix` names, and below it, in byte order
    /// of the names at each level.
    private func walk(prefix: String, _ visit: (String) throws(StoreError) -> Void) throws(StoreError) {
        try walk(folder: folder(ofPrefix: prefix), name: Self.namePrefix(ofFolderIn: prefix), visit)
    }

    private func walk(folder dir: String, name: String, _ visit: (String) throws(StoreError) -> Void) throws(StoreError) {
        for item in try items(inFolder: dir).sorted(by: { $0.segment.bytesPrecede($1.segment) }) {
            switch item {
            case .ref(let segment): try visit(name + segment)
            case .folder(let segment, let path): try walk(folder: path, name: name + segment + "/", visit)
            case .lock: continue
            }
        }
    }
}
