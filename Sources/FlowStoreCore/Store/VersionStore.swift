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
    public let objects: any ObjectStore
    public let refs: any RefStore
    /// The store directory, when the store lives on disk.
    public let root: String?
    /// Where the store is, for messages and reports: the directory, or a database URL without
    /// its password. Two handles with one location are one store.
    public let location: String
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
    /// What `gc` cleans up besides unreachable objects (temp and lock files); nil: nothing.
    public let housekeeping: (any StoreHousekeeping)?

    public init(
        objects: any ObjectStore, refs: any RefStore, root: String? = nil,
        clock: @escaping @Sendable () -> String = Timestamp.now,
        objectCache: BoundedCache<ObjectID, StoredObject>? = nil,
        historyIndex: HistoryIndex = HistoryIndex(),
        sweepFence: (any SweepFence)? = nil,
        transactions: (any TransactionSource)? = nil,
        divergences: (any DivergenceRecords)? = nil,
        housekeeping: (any StoreHousekeeping)? = nil,
        location: String? = nil
    ) {
        self.objects = objects
        self.refs = refs
        self.root = root
        self.location = location ?? root ?? ""
        self.clock = clock
        self.objectCache = objectCache
        self.historyIndex = historyIndex
        self.sweepFence = sweepFence
        self.transactions = transactions
        self.divergences = divergences
        self.housekeeping = housekeeping
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
            sweepFence: sweepFence, transactions: transactions, divergences: divergences,
            housekeeping: housekeeping, location: location)
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
