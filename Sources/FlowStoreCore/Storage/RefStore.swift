#if canImport(Glibc)
import Glibc
#endif

/// The mutable half of the store: names that point at event objects (the head of each ref's
/// audit chain). Everything a ref "means" is read from that event, so the ref itself is only
/// a cache of the chain head and can be rebuilt from objects.
public protocol RefStore: Sendable {
    /// The event the ref points at, or `nil` if the ref was never written.
    func read(_ name: RefName) throws(StoreError) -> ObjectID?
    /// Moves the ref from `expected` to `new` atomically, or throws `refConflict` when someone
    /// else moved it first. `expected == nil` means "the ref must not exist yet".
    func compareAndSwap(_ name: RefName, expected: ObjectID?, new: ObjectID) throws(StoreError)
    /// Every ref whose name starts with `prefix` (a whole segment prefix such as `files/abc…/`),
    /// sorted by name.
    func list(prefix: String) throws(StoreError) -> [(name: RefName, event: ObjectID)]
    /// How many refs `list(prefix:)` would return, without reading them if the backend can
    /// count cheaper (a directory listing, a `COUNT(*)`): a version's log count is asked on
    /// every read of it, and popular versions have many logs.
    func count(prefix: String) throws(StoreError) -> Int
}

extension RefStore {
    public func count(prefix: String) throws(StoreError) -> Int { try list(prefix: prefix).count }
}

/// A ref name: `/`-separated segments, each safe to use as a file name.
public struct RefName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) throws(StoreError) {
        let segments = rawValue.split(separator: "/", omittingEmptySubsequences: false)
        for segment in segments {
            if let reason = NameRules.problem(with: segment) {
                throw .invalidName(kind: "ref name", name: rawValue, reason: reason)
            }
        }
        self.rawValue = rawValue
    }

    /// For names assembled from already-validated parts (paths, labels, hex ids).
    init(validated rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
    public static func < (a: RefName, b: RefName) -> Bool { a.rawValue < b.rawValue }
}

/// The rules every path segment, label, environment and ref segment follows, so that any
/// name a user can type maps to exactly one file inside the store and never outside it.
public enum NameRules {
    /// Longest segment in UTF-8 bytes; leaves room for `.lock`/`.ref` within the 255-byte file name limit.
    public static let maxSegmentBytes = 200

    /// Why `segment` is not acceptable, or `nil` when it is.
    public static func problem(with segment: some StringProtocol) -> String? {
        if segment.isEmpty { return "empty segment" }
        if segment == "." || segment == ".." { return "'.' and '..' are not allowed" }
        if segment.utf8.count > maxSegmentBytes { return "segment longer than \(maxSegmentBytes) bytes" }
        if segment.hasPrefix(".") { return "segments may not start with '.'" }
        if segment.hasSuffix(".ref") || segment.hasSuffix(".lock") {
            return "segments may not end with '.ref' or '.lock'"
        }
        for scalar in segment.unicodeScalars {
            if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) {
                return "control characters are not allowed"
            }
            if scalar == "\\" { return "backslashes are not allowed" }
            if scalar == "/" { return "'/' separates segments" }
        }
        if segment.first?.isWhitespace == true || segment.last?.isWhitespace == true {
            return "segments may not begin or end with whitespace"
        }
        return nil
    }
}

/// Refs as files under `refs/`: `refs/<name>.ref` holds the event id on one line.
///
/// Writers take an exclusive `flock` on `refs/<name>.lock`, compare, write a temp file, fsync,
/// and rename over the ref (batch writers put the lock file itself in place: `BatchWriter`).
/// A writer killed at any point leaves the old ref intact, and its lock dies with it (flock
/// locks are released by the kernel), so nothing stays stuck.
public struct FileRefStore: RefStore {
    public let directory: String
    public let tempDirectory: String

    public init(directory: String, tempDirectory: String) {
        self.directory = directory
        self.tempDirectory = tempDirectory
    }

    func path(of name: RefName) -> String { "\(directory)/\(name.rawValue).ref" }

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
        try walk(relative: Self.directory(ofPrefix: prefix)) { (relative: String) throws(StoreError) in
            if relative.hasPrefix(prefix), (try? RefName(relative)) != nil { n += 1 }
        }
        return n
    }

    public func compareAndSwap(_ name: RefName, expected: ObjectID?, new: ObjectID) throws(StoreError) {
        let file = path(of: name)
        try POSIXFile.makeDirectories(POSIXFile.parent(of: file))
        let lockPath = "\(directory)/\(name.rawValue).lock"
        let fd = try Self.lock(lockPath)
        defer {
            unlink(lockPath)
            close(fd)
        }
        let current = try read(name)
        guard current == expected else {
            throw .refConflict(ref: name.rawValue, expected: expected, actual: current)
        }
        try POSIXFile.writeAtomically(Array("\(new.hex)\n".utf8), to: file, tempDirectory: tempDirectory)
    }

    /// Takes the exclusive lock, making sure the lock file we hold is still the one on disk
    /// (a previous holder unlinks it, or swaps it with the ref, on release). `BatchWriter`
    /// takes the same lock, so batch and single writers exclude each other.
    static func lock(_ lockPath: String) throws(StoreError) -> Int32 {
        while true {
            var fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
            // Read-only: a batch writer about to put it in place as the ref (or killed just
            // before). Wait on it all the same; it is either gone when we get it, or ours to fix.
            let readOnly = fd < 0 && errno == EACCES
            if readOnly { fd = open(lockPath, O_RDONLY | O_CLOEXEC) }
            guard fd >= 0 else {
                if errno == ENOENT { continue }  // swapped or unlinked between the two opens
                throw .io(path: lockPath, message: POSIXFile.lastError())
            }
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR {
                    let message = POSIXFile.lastError()
                    close(fd)
                    throw .io(path: lockPath, message: message)
                }
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

    /// `list`, but a ref file that does not hold an id (torn, garbage) is passed to
    /// `unreadable` and skipped instead of failing the whole listing: how `verify` names
    /// every damaged ref and still checks the others. (`gc` must not skip: it uses `list`.)
    public func list(
        prefix: String, unreadable: ((_ ref: String, _ error: StoreError) -> Void)?
    ) throws(StoreError) -> [(name: RefName, event: ObjectID)] {
        var found: [(name: RefName, event: ObjectID)] = []
        try walk(relative: Self.directory(ofPrefix: prefix)) { (relative: String) throws(StoreError) in
            guard relative.hasPrefix(prefix) else { return }
            let event: ObjectID?
            do throws(StoreError) {
                event = try readFile("\(directory)/\(relative).ref", name: relative)
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
            for entry in try POSIXFile.list(dir) {
                let path = "\(dir)/\(entry)"
                if !entry.hasSuffix(".lock") {
                    if !entry.hasSuffix(".ref"), POSIXFile.isDirectory(path) { pending.append(path) }
                    continue
                }
                let fd = open(path, O_RDONLY | O_CLOEXEC)  // flock needs no write access
                guard fd >= 0 else { continue }
                defer { close(fd) }
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }  // held: a live writer
                var held = stat()
                var onDisk = stat()
                guard fstat(fd, &held) == 0, stat(path, &onDisk) == 0, held.st_ino == onDisk.st_ino,
                    held.st_dev == onDisk.st_dev
                else { continue }
                if !dryRun { unlink(path) }
                removed += 1
            }
        }
        return removed
    }

    /// The directory (relative to `refs/`) a prefix names: only it is walked, and what is
    /// found there is filtered by the full prefix.
    private static func directory(ofPrefix prefix: String) -> String {
        guard let slash = prefix.lastIndex(of: "/") else { return "" }
        return String(prefix[..<slash])
    }

    private func walk(relative: String, _ visit: (String) throws(StoreError) -> Void) throws(StoreError) {
        let dir = relative.isEmpty ? directory : "\(directory)/\(relative)"
        for entry in try POSIXFile.list(dir).sorted() {
            let child = relative.isEmpty ? entry : "\(relative)/\(entry)"
            if entry.hasSuffix(".ref") {
                try visit(String(child.dropLast(4)))
            } else if !entry.hasPrefix("."), !entry.hasSuffix(".lock"), POSIXFile.isDirectory("\(dir)/\(entry)") {
                try walk(relative: child, visit)
            }
        }
    }
}
