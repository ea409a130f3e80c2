#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The version store: flows and agents as immutable objects, refs that name versions, and an
/// audit chain of events behind every ref move. The CLI and the HTTP server are thin faces
/// over this type; it knows nothing of either.
public struct VersionStore: Sendable {
    /// On-disk format version written to `flowstore.json`; bumped on incompatible changes.
    public static let formatVersion = 1
    public static let configFileName = "flowstore.json"

    public let objects: any ObjectStore
    public let refs: any RefStore
    /// The store directory, when the store lives on disk.
    public let root: String?
    /// Produces timestamps; injectable so tests are deterministic.
    public let clock: @Sendable () -> String
    /// Decoded objects already read and verified, shared by copies of this store. Objects never
    /// change, so a hit is never stale; `nil` (the default) reads every object from disk, which
    /// is what a short-lived CLI process wants. A long-running server turns it on
    /// (`cachingObjects`).
    public let objectCache: BoundedCache<ObjectID, StoredObject>?
    /// What each file's history holds (contents, names), kept up to date as heads move, so a
    /// commit checks reuse and name clashes without walking the whole history (`HistoryIndex`).
    public let historyIndex: HistoryIndex
    /// Keeps `gc`'s sweep out of write windows; nil when nothing else sweeps this store's
    /// objects (see `SweepFence`).
    public let sweepFence: (any SweepFence)?
    /// Where the batches of bulk writers (group commit, import, sync) get their transactions;
    /// nil when the backend has none, and each version is then a plain `commit`.
    public let transactions: (any TransactionSource)?
    /// Where sync keeps diverged refs until `resolve`; nil when the backend keeps none (such a
    /// store cannot record a divergence, and a sync that meets one reports it only).
    public let divergences: (any DivergenceRecords)?

    public init(
        objects: any ObjectStore, refs: any RefStore, root: String? = nil,
        clock: @escaping @Sendable () -> String = Timestamp.now,
        objectCache: BoundedCache<ObjectID, StoredObject>? = nil,
        historyIndex: HistoryIndex = HistoryIndex(),
        sweepFence: (any SweepFence)? = nil,
        transactions: (any TransactionSource)? = nil,
        divergences: (any DivergenceRecords)? = nil
    ) {
        self.objects = objects
        self.refs = refs
        self.root = root
        self.clock = clock
        self.objectCache = objectCache
        self.historyIndex = historyIndex
        self.sweepFence = sweepFence
        self.transactions = transactions
        self.divergences = divergences
    }

    /// Runs `body` as one write window (see `SweepFence`): every public operation that writes
    /// objects and then moves refs runs in one, so a concurrent `gc` cannot sweep the objects
    /// between the two.
    func writing<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        guard let sweepFence else { return try body() }
        return try sweepFence.whileWriting(body)
    }

    /// This store with an in-memory cache of up to about `bytes` of decoded objects, as
    /// `MemoryCost` counts them (twice that at worst, see `BoundedCache`): for processes that
    /// serve many reads of the same versions.
    public func cachingObjects(upTo bytes: Int) -> VersionStore {
        VersionStore(
            objects: objects, refs: refs, root: root, clock: clock,
            objectCache: BoundedCache(capacity: bytes, maxEntryCost: max(1, bytes / 8)), historyIndex: historyIndex,
            sweepFence: sweepFence, transactions: transactions, divergences: divergences)
    }

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
            divergences: DirectoryDivergenceRecords(root: root))
    }

    private static func normalize(_ path: String) -> String {
        var p = path.isEmpty ? "." : path
        while p.count > 1, p.hasSuffix("/") { p.removeLast() }
        return p
    }

    // MARK: Objects

    /// Canonicalises and stores an object, returning its id.
    @discardableResult
    public func write(_ object: StoredObject) throws(StoreError) -> ObjectID {
        try writing { () throws(StoreError) -> ObjectID in try objects.put(object.canonicalBytes()) }
    }

    /// Reads, verifies and decodes any object.
    public func object(_ id: ObjectID) throws(StoreError) -> StoredObject {
        if let cache = objectCache, let hit = cache.value(forKey: id) { return hit }
        let bytes = try objects.get(id)
        let object = try StoredObject.decode(id: id, bytes: bytes)
        // Charged what the decoded object holds, not its encoded size, which can be a tenth of it.
        objectCache?.set(object, forKey: id, cost: MemoryCost.of(object))
        return object
    }

    public func version(_ id: ObjectID) throws(StoreError) -> VersionObject {
        let object = try object(id)
        guard case .version(let v) = object else { throw .wrongObjectType(id, expected: "version", actual: object.typeName) }
        return v
    }

    public func content(_ id: ObjectID) throws(StoreError) -> ContentObject {
        let object = try object(id)
        guard case .content(let c) = object else { throw .wrongObjectType(id, expected: "content", actual: object.typeName) }
        return c
    }

    public func event(_ id: ObjectID) throws(StoreError) -> EventObject {
        let object = try object(id)
        guard case .event(let e) = object else { throw .wrongObjectType(id, expected: "event", actual: object.typeName) }
        return e
    }

    public func fileObject(_ id: ObjectID) throws(StoreError) -> FileObject {
        let object = try object(id)
        guard case .file(let f) = object else { throw .wrongObjectType(id, expected: "file", actual: object.typeName) }
        return f
    }

    /// Expands an abbreviated id (at least 4 hex characters) to the one object it names.
    public func expand(prefix: String) throws(StoreError) -> ObjectID {
        if let id = ObjectID(hex: prefix) { return id }
        guard prefix.utf8.count >= 4, ObjectID.isPrefix(prefix) else {
            throw .invalidInput("\(quoted(prefix)) is not an object id (give at least 4 lowercase hex characters)")
        }
        let matches = try objects.ids(withPrefix: prefix)
        switch matches.count {
        case 0: throw .unknownObjectPrefix(prefix)
        case 1: return matches[0]
        default: throw .ambiguousPrefix(prefix, candidates: matches)
        }
    }
}
