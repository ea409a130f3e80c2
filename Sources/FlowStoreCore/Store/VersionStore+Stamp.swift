#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A cheap sign that files were added to a store: compare two stamps instead of listing.
///
/// Every file gets its own directory of refs, `refs/files/<file id>/`, when its first version
/// is committed, by this process or any other (CLI, import, sync); creating it changes the
/// modification time, link count and size of `refs/files`. So while the stamp is unchanged, no
/// file has been added, and an index of files built under it still knows every file id.
/// Moves and deletes of existing files do not change it: they are seen by checking an entry's
/// path ref when it is used.
public struct FileSetStamp: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64
    var links: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int
}

extension VersionStore {
    /// The stamp of the store's set of files, or `nil` when it has none to give (a ref store
    /// not on disk, or an error): callers then cannot trust an index and must look.
    public func fileSetStamp() -> FileSetStamp? {
        // The ref directory: a `FileRefStore`'s, or the store's own `refs/` under a ref store
        // that wraps one (instrumented or layered stores keep the layout).
        guard let directory = (refs as? FileRefStore)?.directory ?? root.map({ "\($0)/refs" }) else { return nil }
        var st = stat()
        let path = "\(directory)/files"
        guard stat(path, &st) == 0 else {
            // No file has been committed yet: the directory appears with the first. Its parent
            // then stands in, as its creation changes `refs/`.
            guard errno == ENOENT, stat(directory, &st) == 0 else { return nil }
            return FileSetStamp(st, absent: true)
        }
        return FileSetStamp(st, absent: false)
    }
}

extension FileSetStamp {
    init(_ st: stat, absent: Bool) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        // `refs/files` absent: a link count no real directory has, so the stamps differ.
        links = absent ? UInt64.max : UInt64(st.st_nlink)
        size = Int64(st.st_size)
        #if canImport(Darwin)
        modifiedSeconds = Int(st.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int(st.st_mtimespec.tv_nsec)
        #else
        modifiedSeconds = Int(st.st_mtim.tv_sec)
        modifiedNanoseconds = Int(st.st_mtim.tv_nsec)
        #endif
    }
}
