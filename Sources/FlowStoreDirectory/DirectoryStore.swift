#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowStoreCore

/// The directory backend: a store is a folder holding `flowstore.json`, `objects/`, `refs/`,
/// `tmp/` and the sweep fence's lock files (spec/FORMAT.md §1).
extension VersionStore {
    /// On-disk format version written to `flowstore.json`; bumped on incompatible changes.
    public static let formatVersion = 1
    public static let configFileName = "flowstore.json"

    /// Creates the store layout (idempotent: an existing store is left as it is).
    ///
    /// A new store is private unless `shared`: its root (when created here) and its `objects/`,
    /// `refs/` and `tmp/` directories are mode 0700, so no other user can read or even list
    /// anything in it, whatever the modes of the files inside (flows, templates and logs may hold
    /// secrets and personal data). `shared` keeps the umask's modes, for a store a group works
    /// in, and is recorded in `flowstore.json` so directories re-created later follow it.
    @discardableResult
    public static func initialize(
        at root: String, clock: @escaping @Sendable () -> String = Timestamp.now, shared: Bool = false
    ) throws(StoreError) -> VersionStore {
        let root = normalize(root)
        if POSIXFile.exists(root), !POSIXFile.isDirectory(root) {
            throw .io(path: root, message: "exists and is not a directory")
        }
        let config = "\(root)/\(configFileName)"
        let isNew = !POSIXFile.exists(config)
        let rootExisted = POSIXFile.isDirectory(root)
        for dir in ["objects", "refs", "tmp"] { try POSIXFile.makeDirectories("\(root)/\(dir)") }
        if isNew, !shared {
            // Before the configuration is written, so a store is never usable while open to others;
            // a root that existed already is the caller's directory and keeps its mode.
            if !rootExisted { try restrict(root) }
            for dir in ["objects", "refs", "tmp"] { try restrict("\(root)/\(dir)") }
        }
        if isNew {
            var body: JSONValue = ["format": .number(Double(formatVersion)), "type": "flowstore"]
            if shared, case .object(var o) = body {
                o["shared"] = true
                body = .object(o)
            }
            let bytes = (try? CanonicalJSON.encode(body)) ?? []
            try DirectorySweepFence(root: root).createLockFiles()
            try POSIXFile.writeAtomically(bytes + [0x0a], to: config, tempDirectory: "\(root)/tmp")
        }
        return try open(at: root, clock: clock)
    }

    /// Mode 0700: only the owner may list, read or write anything below `path`.
    private static func restrict(_ path: String) throws(StoreError) {
        if chmod(path, 0o700) != 0 {
            throw .io(path: path, message: String(cString: strerror(errno)))
        }
    }

    /// Opens an existing store; refuses a directory that is not one, so a typo in `--store`
    /// never scatters objects into a random folder.
    public static func open(
        at root: String, clock: @escaping @Sendable () -> String = Timestamp.now
    ) throws(StoreError) -> VersionStore {
        let root = normalize(root)
        guard let config = try POSIXFile.read("\(root)/\(configFileName)") else { throw .notAStore(root) }
        guard let value = try? JSONParser.parse(config), value["type"]?.stringValue == "flowstore",
            let format = value["format"]?.intValue
        else {
            throw .io(path: "\(root)/\(configFileName)", message: "not a FlowStore configuration file")
        }
        guard format == formatVersion else {
            throw .io(path: root, message: "store format \(format) is not supported (this build reads \(formatVersion))")
        }
        let tmp = "\(root)/tmp"
        if !POSIXFile.isDirectory(tmp) {
            // Removed by hand: re-created as private as the store was made (temp files hold
            // objects in flight).
            try POSIXFile.makeDirectories(tmp)
            if value["shared"]?.boolValue != true { try restrict(tmp) }
        }
        let objects = FileObjectStore(directory: "\(root)/objects", tempDirectory: tmp)
        let refs = FileRefStore(directory: "\(root)/refs", tempDirectory: tmp)
        return VersionStore(
            objects: objects, refs: refs, root: root, clock: clock,
            sweepFence: DirectorySweepFence(root: root),
            transactions: DirectoryTransactions(objects: objects, refs: refs),
            divergences: DirectoryDivergenceRecords(root: root),
            housekeeping: DirectoryHousekeeping(root: root, refs: refs))
    }

    private static func normalize(_ path: String) -> String {
        var p = path.isEmpty ? "." : path
        while p.count > 1, p.hasSuffix("/") { p.removeLast() }
        return p
    }
}

/// The directory store's leftovers: temp files in `tmp/` of writers killed mid-write, and ref
/// lock files nobody holds (`FileRefStore.removeStaleLocks`).
public struct DirectoryHousekeeping: StoreHousekeeping {
    public let root: String
    public let refs: FileRefStore

    public init(root: String, refs: FileRefStore) {
        self.root = root
        self.refs = refs
    }

    public func removeLeftovers(now: Int, graceSeconds: Int, dryRun: Bool) throws(StoreError) -> Int {
        var removed = 0
        for name in try POSIXFile.list("\(root)/tmp") {
            let path = "\(root)/tmp/\(name)"
            guard let mtime = POSIXFile.modificationTime(path), now - mtime >= graceSeconds else { continue }
            if !dryRun { try POSIXFile.remove(path) }
            removed += 1
        }
        // Lock files of writers killed mid-swap: safe at any age, as a held lock is skipped.
        return removed + (try refs.removeStaleLocks(dryRun: dryRun))
    }
}
