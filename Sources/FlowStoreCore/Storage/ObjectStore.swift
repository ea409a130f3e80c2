/// Where immutable objects live, named by the SHA-256 of their canonical bytes.
///
/// The contract every backend keeps:
/// - **Durable on return.** When `put` returns, the object survives a crash of the process or
///   the machine (power loss included, on storage that honours flushes).
/// - **Objects before refs.** A writer stores every object a ref will reach before it moves
///   the ref, so a crash at any point leaves each ref naming a complete chain.
/// - **Never torn, never wrong.** A reader sees an object whole or not at all, and `get`
///   re-verifies the hash, so corrupt bytes are an error, never an answer.
/// - **Immutable.** An object never changes; only `gc` removes one, behind the store's
///   `SweepFence`, and only when nothing reaches it.
public protocol ObjectStore: Sendable {
    /// The object's bytes, re-verified against its id: a mismatch throws `corruptObject`,
    /// so corrupt data is never served.
    func get(_ id: ObjectID) throws(StoreError) -> [UInt8]
    /// Stores canonical bytes under their hash. Idempotent: storing an existing object writes
    /// nothing, but counts as storing it now for `storedAt` (git's "freshen"), so a `gc` that
    /// found it unreachable a moment ago spares it for another grace period.
    @discardableResult
    func put(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID
    func has(_ id: ObjectID) throws(StoreError) -> Bool
    /// Calls `body` with every stored id, streaming, in no particular order.
    func list(_ body: (ObjectID) throws(StoreError) -> Void) throws(StoreError)
    /// Ids that start with `prefix` (lowercase hex), for abbreviated ids.
    func ids(withPrefix prefix: String) throws(StoreError) -> [ObjectID]
    /// Entries in the backend that are not well-formed objects (stray or temp files), for `verify`.
    func strayEntries() throws(StoreError) -> [String]
    /// When the object was stored (seconds since the epoch), so `gc` can spare fresh objects.
    func storedAt(_ id: ObjectID) throws(StoreError) -> Int?
    /// Removes an object; only `gc` calls this, and only for objects nothing reaches.
    func remove(_ id: ObjectID) throws(StoreError)
}

/// Objects as files: `objects/<first 2 hex>/<remaining 62 hex>`, each holding the canonical bytes.
///
/// The layout is git's, so copying or rsyncing `objects/` between stores is always safe: files
/// never change once written, and a union of two object directories is a valid one.
public struct FileObjectStore: ObjectStore {
    public let directory: String
    /// Temp files are written here (same file system, outside `objects/`) so that a copy of
    /// `objects/` never picks up a half-written file.
    public let tempDirectory: String

    public init(directory: String, tempDirectory: String) {
        self.directory = directory
        self.tempDirectory = tempDirectory
    }

    func path(of id: ObjectID) -> String {
        let hex = id.hex
        let split = hex.index(hex.startIndex, offsetBy: 2)
        return "\(directory)/\(hex[..<split])/\(hex[split...])"
    }

    public func get(_ id: ObjectID) throws(StoreError) -> [UInt8] {
        guard let bytes = try POSIXFile.read(path(of: id)) else { throw .objectNotFound(id) }
        let actual = ObjectID(hashing: bytes)
        guard actual == id else {
            throw .corruptObject(id, reason: "content hashes to \(actual.short)")
        }
        return bytes
    }

    @discardableResult
    public func put(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID {
        let id = ObjectID(hashing: canonicalBytes)
        let target = path(of: id)
        // An existing file is trusted only if it hashes right: a half-finished `cp -r` or a
        // flipped bit must not make us skip the write and then point at a broken object.
        if let existing = try? POSIXFile.read(target), ObjectID(hashing: existing) == id {
            POSIXFile.freshen(target)
            return id
        }
        try POSIXFile.makeDirectories(POSIXFile.parent(of: target))
        try POSIXFile.writeAtomically(canonicalBytes, to: target, tempDirectory: tempDirectory)
        return id
    }

    public func has(_ id: ObjectID) throws(StoreError) -> Bool {
        POSIXFile.exists(path(of: id))
    }

    public func list(_ body: (ObjectID) throws(StoreError) -> Void) throws(StoreError) {
        for fanout in try POSIXFile.list(directory).sorted() where Self.isFanout(fanout) {
            for rest in try POSIXFile.list("\(directory)/\(fanout)").sorted() {
                if let id = ObjectID(hex: fanout + rest) { try body(id) }
            }
        }
    }

    public func ids(withPrefix prefix: String) throws(StoreError) -> [ObjectID] {
        guard ObjectID.isPrefix(prefix), prefix.utf8.count >= 2 else { return [] }
        let fanout = String(prefix.prefix(2))
        let rest = prefix.dropFirst(2)
        return try POSIXFile.list("\(directory)/\(fanout)")
            .filter { $0.hasPrefix(rest) }
            .compactMap { ObjectID(hex: fanout + $0) }
            .sorted()
    }

    public func strayEntries() throws(StoreError) -> [String] {
        var stray: [String] = []
        for fanout in try POSIXFile.list(directory).sorted() {
            guard Self.isFanout(fanout), POSIXFile.isDirectory("\(directory)/\(fanout)") else {
                stray.append("objects/\(fanout)")
                continue
            }
            for rest in try POSIXFile.list("\(directory)/\(fanout)").sorted()
            where ObjectID(hex: fanout + rest) == nil {
                stray.append("objects/\(fanout)/\(rest)")
            }
        }
        return stray
    }

    public func storedAt(_ id: ObjectID) throws(StoreError) -> Int? {
        POSIXFile.modificationTime(path(of: id))
    }

    public func remove(_ id: ObjectID) throws(StoreError) {
        let target = path(of: id)
        try POSIXFile.remove(target)
        POSIXFile.removeDirectoryIfEmpty(POSIXFile.parent(of: target))
    }

    static func isFanout(_ name: String) -> Bool {
        name.utf8.count == 2 && name.utf8.allSatisfy(ObjectID.isLowerHex)
    }
}
