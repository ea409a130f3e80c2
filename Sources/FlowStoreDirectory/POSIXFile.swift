#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowStoreCore

/// Thin, throwing wrappers over the POSIX calls the on-disk backend needs.
///
/// Durability needs exact control over `fsync` and `rename`, which Foundation's file APIs
/// hide; so the store talks to the kernel directly, in one place.
enum POSIXFile {
    /// Reads a whole file; `nil` when it does not exist.
    static func read(_ path: String) throws(StoreError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .io(path: path, message: lastError())
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, message: lastError()) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw .io(path: path, message: "is a directory") }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < out.count {
            let n = out.withUnsafeMutableBytes { buf in
                Glibc.read(fd, buf.baseAddress! + done, buf.count - done)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, message: lastError())
            }
            if n == 0 { out.removeSubrange(done...); break }
            done += n
        }
        return out
    }

    /// Reads a file of at most `limit` bytes in one `read` (no `fstat`, no second buffer):
    /// refs are read on every request. `nil` when it does not exist; longer files are an error.
    static func readSmall(_ path: String, limit: Int) throws(StoreError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .io(path: path, message: lastError())
        }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: limit + 1)
        var done = 0
        while done <= limit {
            let n = out.withUnsafeMutableBytes { buf in Glibc.read(fd, buf.baseAddress! + done, buf.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EISDIR { throw .io(path: path, message: "is a directory") }
                throw .io(path: path, message: lastError())
            }
            if n == 0 { break }
            done += n
            if done < out.count { break }  // a short read of a regular file is its end
        }
        guard done <= limit else { throw .io(path: path, message: "longer than \(limit) bytes") }
        out.removeSubrange(done...)
        return out
    }

    /// Writes `bytes` to `path` so that readers see either nothing or the whole file:
    /// a temp file in `tempDirectory` (same file system), fsync, rename, fsync of the directory.
    static func writeAtomically(
        _ bytes: [UInt8], to path: String, tempDirectory: String, sync: Bool = true
    ) throws(StoreError) {
        let temp = tempDirectory + "/tmp-" + randomToken()
        try writeNew(bytes, to: temp, sync: sync)
        var attempts = 0
        while rename(temp, path) != 0 {
            let message = lastError()
            // A folder emptied and removed by a concurrent `gc` since the caller made it: make
            // it again (as git does for its object fan-out folders).
            attempts += 1
            if errno == ENOENT, attempts < 8, exists(temp), !isDirectory(parent(of: path)) {
                try makeDirectories(parent(of: path), sync: sync)
                continue
            }
            unlink(temp)
            throw .io(path: path, message: message)
        }
        if sync { try syncDirectory(parent(of: path)) }
    }

    /// Creates `path` exclusively and writes `bytes` to it.
    static func writeNew(_ bytes: [UInt8], to path: String, sync: Bool) throws(StoreError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        guard fd >= 0 else { throw .io(path: path, message: lastError()) }
        let message = writeAll(bytes, to: fd, sync: sync)
        close(fd)
        if let message {
            unlink(path)
            throw .io(path: path, message: message)
        }
    }

    /// Makes an open file hold exactly `bytes` (from offset 0, truncated after), fsynced when
    /// `sync`. Returns the error message, or `nil` on success.
    static func replaceContents(of fd: Int32, with bytes: [UInt8], sync: Bool) -> String? {
        // Overwritten in place, then cut to length: a file that already has the size (a ref's
        // reused lock file) keeps its data block instead of freeing it and taking another.
        guard lseek(fd, 0, SEEK_SET) == 0 else { return lastError() }
        if let message = writeAll(bytes, to: fd, sync: false) { return message }
        guard ftruncate(fd, off_t(bytes.count)) == 0 else { return lastError() }
        if sync, fsync(fd) != 0 { return lastError() }
        return nil
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32, sync: Bool) -> String? {
        var message: String?
        bytes.withUnsafeBytes { buf in
            var done = 0
            while done < buf.count {
                let n = write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    message = lastError()
                    return
                }
                done += n
            }
        }
        if message == nil, sync, fsync(fd) != 0 { message = lastError() }
        return message
    }

    static func syncDirectory(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, message: lastError()) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io(path: path, message: lastError()) }
    }

    /// `mkdir -p`; directories that already exist are fine.
    ///
    /// `sync: false` skips the fsync of each new directory's parent, for callers that make
    /// everything durable with a file-system barrier (`syncfs`) before anything depends on the
    /// new directories: `BatchWriter`.
    static func makeDirectories(_ path: String, sync: Bool = true) throws(StoreError) {
        if isDirectory(path) { return }
        let up = parent(of: path)
        if up != path, !up.isEmpty { try makeDirectories(up, sync: sync) }
        if mkdir(path, 0o755) != 0 {
            if errno != EEXIST { throw .io(path: path, message: lastError()) }
        } else if sync, up != path, !up.isEmpty {
            // The new directory's entry must be durable too, or a power cut could lose a
            // fanout directory (and the objects in it) that a durable ref already points into.
            try syncDirectory(up)
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Modification time in seconds since the epoch, or nil when the entry is gone.
    static func modificationTime(_ path: String) -> Int? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return Int(st.st_mtim.tv_sec)
    }

    /// Names in a directory (not `.`/`..`); empty when it does not exist.
    private static let direntNameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 19

    static func list(_ path: String) throws(StoreError) -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw .io(path: path, message: lastError())
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            // Read the name in place: `entry.pointee` would copy a whole `dirent`, and a short
            // record at the end of the kernel's buffer is followed by unmapped memory.
            let name = String(cString: (UnsafeRawPointer(entry) + Self.direntNameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func remove(_ path: String) throws(StoreError) {
        if unlink(path) != 0, errno != ENOENT { throw .io(path: path, message: lastError()) }
    }

    /// Sets the file's modification time to now: an object written again (deduplicated) is as
    /// young as a new one for `gc`'s grace period. Best effort: a read-only store stays as it is.
    static func freshen(_ path: String) {
        _ = utimensat(AT_FDCWD, path, nil, 0)
    }

    static func removeDirectoryIfEmpty(_ path: String) {
        rmdir(path)
    }

    /// The directory part, cut at the last `/` byte (a `Character` search misses a `/` that a
    /// combining mark after it fused with).
    static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        return slash == path.utf8.startIndex ? "/" : String(Substring(path.utf8[..<slash]))
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func lastError() -> String {
        String(cString: strerror(errno))
    }
}
