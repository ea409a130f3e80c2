/// Moving objects between stores: which objects a receiver lacks, and copying them so that
/// every object is checked on arrival and nothing ever points at an object that is not there.
///
/// Works on the `ObjectStore` and `RefStore` protocols only, so a second backend can sync too.
public enum ObjectTransfer {
    /// Where a transfer is, for progress bars.
    public struct Progress: Sendable {
        public enum Phase: String, Sendable { case checking, copying }
        public var phase: Phase
        public var done: Int
        /// Known only while copying.
        public var total: Int?

        package init(phase: Phase, done: Int, total: Int?) {
            self.phase = phase
            self.done = done
            self.total = total
        }
    }

    /// The refs whose head event differs between two ref stores: the only ones a sync needs to
    /// look at. Costs one ref read per ref and never lists objects, so a no-op sync of two
    /// identical stores is as cheap as listing their refs.
    public static func changedRefs(
        from source: any RefStore, to destination: any RefStore
    ) throws(StoreError) -> [(name: RefName, head: ObjectID)] {
        var changed: [(name: RefName, head: ObjectID)] = []
        for (name, head) in try source.list(prefix: "") where try destination.read(name) != head {
            changed.append((name, head))
        }
        return changed
    }

    /// Every object reachable from `roots` (events → `from`/`to`/`prev`/`merged` → versions →
    /// `file`, `content`, `parents`; logs, annotations, …) that `destination` does not hold
    /// intact, each read from `source`, hash-checked, decoded and checked to be canonical.
    ///
    /// Like `git fetch`, the walk stops at objects the destination already holds: the
    /// destination has everything those reach, because every writer (including this one) stores
    /// an object only after everything it refers to. The result lists referenced objects
    /// before the objects that refer to them, so copying in that order keeps that true even
    /// when a copy is interrupted.
    ///
    /// Throws, naming the object, when `source` holds a corrupt or invalid object, or when an
    /// object refers to one that neither store holds (for an event's `prev`: a gap in the chain).
    public static func missingObjects(
        from roots: [ObjectID], source: any ObjectStore, destination: any ObjectStore,
        progress: ((Progress) -> Void)? = nil
    ) throws(StoreError) -> [ObjectID] {
        try walk(from: roots, source: source, isKnown: { isIntact($0, in: destination) }, destination: destination,
                 progress: progress)
    }

    /// The walk behind `missingObjects`: every object reachable from `roots` except those
    /// `isKnown` accepts (and what only they reach), read and checked from `source`, referenced
    /// objects first. With `isKnown` always false it checks a whole history (rescan, bundles).
    static func walk(
        from roots: [ObjectID], source: any ObjectStore, isKnown: (ObjectID) -> Bool,
        destination: (any ObjectStore)? = nil, progress: ((Progress) -> Void)? = nil
    ) throws(StoreError) -> [ObjectID] {
        var order: [ObjectID] = []
        var visited = Set<ObjectID>()
        // (object, who refers to it, whether its references are already on the stack)
        var stack: [(id: ObjectID, referrer: ObjectID?, expanded: Bool)] = roots.reversed().map { ($0, nil, false) }
        while let (id, referrer, expanded) = stack.popLast() {
            if expanded {
                order.append(id)
                continue
            }
            guard visited.insert(id).inserted, !isKnown(id) else { continue }
            let object = try read(id, from: source, referrer: referrer, destination: destination)
            progress?(Progress(phase: .checking, done: visited.count, total: nil))
            stack.append((id, nil, true))
            for reference in object.references.reversed() where !visited.contains(reference) {
                stack.append((reference, id, false))
            }
        }
        return order
    }

    /// Copies `ids` (in order) from `source` into `destination` with `put`, which writes each
    /// object atomically under its hash. Returns the number of bytes copied.
    @discardableResult
    public static func copy(
        _ ids: [ObjectID], from source: any ObjectStore, to destination: any ObjectStore,
        progress: ((Progress) -> Void)? = nil
    ) throws(StoreError) -> Int {
        try copy(ids, from: source, progress: progress) { (data: [UInt8]) throws(StoreError) in
            try destination.put(data)
        }
    }

    /// `copy`, handing each object's bytes to `write` (e.g. a `BatchWriter`'s `stage`).
    static func copy(
        _ ids: [ObjectID], from source: any ObjectStore, progress: ((Progress) -> Void)?,
        write: ([UInt8]) throws(StoreError) -> Void
    ) throws(StoreError) -> Int {
        var bytes = 0
        for (index, id) in ids.enumerated() {
            let data = try source.get(id)  // re-hashed on read: what arrives is what was checked
            try write(data)
            bytes += data.count
            progress?(Progress(phase: .copying, done: index + 1, total: ids.count))
        }
        return bytes
    }

    /// An incoming object as it may enter a store: its bytes hash to its id, decode as a valid
    /// object (FORMAT.md §3: known type and fields, valid ref names, …) and are canonical.
    public static func checked(_ id: ObjectID, _ bytes: [UInt8]) throws(StoreError) -> StoredObject {
        let actual = ObjectID(hashing: bytes)
        guard actual == id else { throw .corruptObject(id, reason: "content hashes to \(actual.short)") }
        let object = try StoredObject.decode(id: id, bytes: bytes)
        guard object.canonicalBytes() == bytes else { throw .corruptObject(id, reason: "bytes are not in canonical form") }
        return object
    }

    /// Why an incoming object cannot enter a store, or `nil` when it can (for listing every
    /// problem of a bundle or an objects directory at once).
    static func problem(_ id: ObjectID, _ bytes: [UInt8]) -> String? {
        do throws(StoreError) {
            _ = try checked(id, bytes)
            return nil
        } catch {
            return error.description
        }
    }

    /// Problems joined for one error line: the first ten, then how many more.
    package static func summary(_ problems: [String]) -> String {
        var text = problems.prefix(10).joined(separator: "; ")
        if problems.count > 10 { text += "; and \(problems.count - 10) more" }
        return text
    }

    /// Whether `store` holds `id` with the right bytes (a truncated copy left by an interrupted
    /// `cp` does not count: the object is fetched again and `put` replaces the bad file).
    static func isIntact(_ id: ObjectID, in store: any ObjectStore) -> Bool {
        guard (try? store.has(id)) == true else { return false }
        return (try? store.get(id)) != nil
    }

    /// Reads, hash-checks and decodes one incoming object, turning every failure into a message
    /// that names the object (and, for a missing one, who refers to it).
    static func read(
        _ id: ObjectID, from source: any ObjectStore, referrer: ObjectID?, destination: (any ObjectStore)?
    ) throws(StoreError) -> StoredObject {
        let bytes: [UInt8]
        do {
            bytes = try source.get(id)
        } catch .objectNotFound {
            throw .invalidInput(missingMessage(id, referrer: referrer, source: source, destination: destination))
        }
        return try checked(id, bytes)
    }

    private static func missingMessage(
        _ id: ObjectID, referrer: ObjectID?, source: any ObjectStore, destination: (any ObjectStore)?
    ) -> String {
        guard let referrer else { return "object \(id.hex) is missing from the incoming data" }
        let bytes = (try? source.get(referrer)) ?? destination.flatMap { try? $0.get(referrer) }
        let object = bytes.flatMap { try? StoredObject.decode(id: referrer, bytes: $0) }
        if case .event(let event)? = object, event.prev == id || event.merged.contains(id) {
            return "ref \(event.ref): event chain has a gap: event \(referrer.short) names "
                + "\(event.prev == id ? "previous" : "merged") event \(id.hex), which is neither incoming nor local"
        }
        return "\(object?.typeName ?? "object") \(referrer.short) refers to object \(id.hex), which is neither incoming nor local"
    }
}

/// Reads from the local store first and falls back to incoming objects that are not written
/// yet: how incoming ref chains are checked against local history before anything is written.
/// Writes go to the local store.
struct OverlayObjectStore: ObjectStore {
    let local: any ObjectStore
    let incoming: any ObjectStore

    func get(_ id: ObjectID) throws(StoreError) -> [UInt8] {
        do throws(StoreError) {
            return try local.get(id)
        } catch {
            // A corrupt local copy is no reason to refuse a good incoming one.
            if let bytes = try? incoming.get(id) { return bytes }
            throw error
        }
    }

    func put(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID { try local.put(canonicalBytes) }
    func has(_ id: ObjectID) throws(StoreError) -> Bool {
        if try local.has(id) { return true }
        return try incoming.has(id)
    }
    func list(_ body: (ObjectID) throws(StoreError) -> Void) throws(StoreError) { try local.list(body) }
    func ids(withPrefix prefix: String) throws(StoreError) -> [ObjectID] { try local.ids(withPrefix: prefix) }
    func strayEntries() throws(StoreError) -> [String] { try local.strayEntries() }
    func storedAt(_ id: ObjectID) throws(StoreError) -> Int? { try local.storedAt(id) }
    func remove(_ id: ObjectID) throws(StoreError) { try local.remove(id) }
}

/// Objects held in memory, already checked (a parsed bundle). Read-only: `get` still re-hashes,
/// like every backend, so nothing unverified is ever served.
struct MemoryObjectStore: ObjectStore {
    let objects: [ObjectID: [UInt8]]

    func get(_ id: ObjectID) throws(StoreError) -> [UInt8] {
        guard let bytes = objects[id] else { throw .objectNotFound(id) }
        let actual = ObjectID(hashing: bytes)
        guard actual == id else { throw .corruptObject(id, reason: "content hashes to \(actual.short)") }
        return bytes
    }

    func put(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID {
        throw .invalidInput("incoming objects are read-only")
    }

    func has(_ id: ObjectID) throws(StoreError) -> Bool { objects[id] != nil }

    func list(_ body: (ObjectID) throws(StoreError) -> Void) throws(StoreError) {
        for id in objects.keys.sorted() { try body(id) }
    }

    func ids(withPrefix prefix: String) throws(StoreError) -> [ObjectID] {
        objects.keys.filter { $0.hex.hasPrefix(prefix) }.sorted()
    }

    func strayEntries() throws(StoreError) -> [String] { [] }
    func storedAt(_ id: ObjectID) throws(StoreError) -> Int? { nil }
    func remove(_ id: ObjectID) throws(StoreError) { throw .invalidInput("incoming objects are read-only") }
}
