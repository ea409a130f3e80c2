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
