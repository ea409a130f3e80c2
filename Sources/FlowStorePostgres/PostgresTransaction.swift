#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowStoreCore
import NIOCore
import PostgresNIO

/// Where a PostgreSQL store's transactions come from.
public struct PostgresTransactions: TransactionSource {
    let objects: PostgresObjectStore
    let refs: PostgresRefStore

    public func begin() throws(StoreError) -> any StoreTransaction {
        PostgresTransaction(objects: objects, refs: refs)
    }
}

/// A `StoreTransaction` as one database transaction for the refs, all or nothing:
///
/// - `stage` buffers objects; every `stageChunkBytes` they are written (one upsert each, in
///   autocommit) so that a sync of 100,000 objects never holds them all in memory.
/// - `prepare` writes what is still buffered, then opens a transaction on a connection of its
///   own and takes every ref in one call of `flowstore_take_refs` (see `PostgresSchema`),
///   which returns the refs that conflict, already released.
/// - `commit` moves the prepared refs not skipped, drops the rows it inserted for skipped refs
///   that did not exist, bumps the listing stamps, and COMMITs: one statement and the COMMIT.
///   Either every ref moves or none does (a failure throws, nothing acknowledged).
///
/// Objects are committed before the transaction that moves refs onto them (the same order as
/// the directory store's: objects durable before refs). Writing them outside it also keeps row
/// locks on objects out of the ref transaction, so two transactions can only wait for each
/// other on refs, which they take in name order: no deadlock.
final class PostgresTransaction: StoreTransaction {
    private let objects: PostgresObjectStore
    private let refs: PostgresRefStore
    private var staged: [(ObjectID, [UInt8])] = []
    private var stagedIDs: Set<ObjectID> = []
    private var bufferedBytes = 0
    private(set) var stagedCount = 0
    private(set) var stagedBytes = 0
    /// Open between `prepare` and `commit` / `abort`.
    private var session: PostgresSession?
    private var prepared: [RefMove] = []
    /// Refs that did not exist, inserted by `prepare` (so that others wait on them).
    private var inserted: Set<RefName> = []

    /// Staged objects are written in chunks of about this many bytes.
    static let stageChunkBytes = 4 << 20

    init(objects: PostgresObjectStore, refs: PostgresRefStore) {
        self.objects = objects
        self.refs = refs
    }

    deinit { abort() }

    func stage(_ canonicalBytes: [UInt8], isNew: Bool) throws(StoreError) -> ObjectID {
        let id = ObjectID(hashing: canonicalBytes)
        guard stagedIDs.insert(id).inserted else { return id }
        staged.append((id, canonicalBytes))
        stagedCount += 1
        stagedBytes += canonicalBytes.count
        bufferedBytes += canonicalBytes.count
        if bufferedBytes >= Self.stageChunkBytes { try writeStaged() }
        return id
    }

    /// Writes the buffered objects: inside the open ref transaction when there is one (objects
    /// staged between `prepare` and `commit`), else committed on their own.
    private func writeStaged() throws(StoreError) {
        guard !staged.isEmpty else { return }
        if session != nil {
            try insertInTransaction(staged)
        } else {
            try objects.insert(staged)
        }
        staged.removeAll(keepingCapacity: true)
        bufferedBytes = 0
    }

    private func insertInTransaction(_ batch: [(ObjectID, [UInt8])]) throws(StoreError) {
        guard let session else { return }
        let sorted = batch.sorted { $0.0 < $1.0 }
        let ids = sorted.map { ObjectIDBytes.buffer($0.0) }
        let bodies = sorted.map { ByteBuffer(bytes: $0.1) }
        let now = Int64(time(nil))
        try session.run(
            """
            INSERT INTO objects (id, body, stored_at)
            SELECT id, body, \(now) FROM unnest(\(ids)::bytea[], \(bodies)::bytea[]) AS staged(id, body) ORDER BY id
            ON CONFLICT (id) DO UPDATE SET stored_at = excluded.stored_at
            WHERE objects.stored_at < excluded.stored_at
            """, waitingFor: "objects another writer is storing")
    }

    func prepare(_ moves: [RefMove]) throws(StoreError) -> [RefName] {
        abort()  // a transaction prepares once per commit; anything still held is stale
        try writeStaged()
        guard !moves.isEmpty else { return [] }
        // In name order, byte-wise (the column's "C" collation), as every transaction takes them.
        let order = moves.sorted { $0.name < $1.name }
        let names = order.map(\.name.rawValue)
        // An empty bytea stands for "must not exist" (an id is 32 bytes): PostgresNIO binds no
        // arrays with NULLs in them.
        let expected = order.map { $0.expected.map(ObjectIDBytes.buffer) ?? ByteBuffer() }
        let proposed = order.map { ObjectIDBytes.buffer($0.new) }
        let session = try objects.pool.checkout()
        let conflicts: [String]
        do throws(StoreError) {
            try session.run("BEGIN")
            let rows = try session.run(
                "SELECT flowstore_take_refs(\(names)::text[], \(expected)::bytea[], \(proposed)::bytea[])",
                waitingFor: "refs of a transaction (\(names.count), first \(names[0]))")
            guard let row = rows.rows.first else { throw .io(path: objects.database, message: "flowstore_take_refs returned nothing") }
            conflicts = try PostgresSchema.decode([String].self, row, session.configuration)
        } catch {
            PostgresSchema.rollBack(session)
            objects.pool.checkin(session)
            throw error
        }
        self.session = session
        let conflicting = Set(conflicts)
        prepared = moves.filter { !conflicting.contains($0.name.rawValue) }
        inserted = Set(prepared.filter { $0.expected == nil }.map(\.name))
        return moves.map(\.name).filter { conflicting.contains($0.rawValue) }
    }

    func commit(skipping: Set<RefName>) throws(StoreError) -> [RefName: StoreError] {
        // Whatever happens, what was staged is done with: written, or left for gc.
        defer { resetStaged() }
        guard let session else {
            // Objects only (a sync's copy): committed as they are written.
            try writeStaged()
            return [:]
        }
        defer { finish() }
        do throws(StoreError) {
            try writeStaged()
            let moving = prepared.filter { !skipping.contains($0.name) }
            let dropping = prepared.filter { skipping.contains($0.name) && inserted.contains($0.name) }.map(\.name.rawValue)
            let segments = Array(Set(moving.compactMap { PostgresRefStore.stampedSegment(of: $0.name.rawValue) })).sorted()
            if !moving.isEmpty || !dropping.isEmpty {
                let names = moving.map(\.name.rawValue)
                let events = moving.map { ObjectIDBytes.buffer($0.new) }
                try session.run(
                    """
                    WITH moved AS (
                        UPDATE refs SET event = m.event FROM unnest(\(names)::text[], \(events)::bytea[]) AS m(name, event)
                        WHERE refs.name = m.name
                    ), dropped AS (
                        DELETE FROM refs WHERE name = ANY(\(dropping)::text[])
                    )
                    INSERT INTO ref_stamps (segment, moves) SELECT unnest(\(segments)::text[]), 1
                    ON CONFLICT (segment) DO UPDATE SET moves = ref_stamps.moves + 1
                    """, waitingFor: "the listing stamps")
            }
            try session.run("COMMIT")
        } catch {
            PostgresSchema.rollBack(session)
            throw error
        }
        return [:]
    }

    func abort() {
        guard let session else { return }
        PostgresSchema.rollBack(session)
        finish()
    }

    /// Gives the connection back and forgets what was prepared.
    private func finish() {
        if let session { objects.pool.checkin(session) }
        session = nil
        prepared = []
        inserted = []
    }

    private func resetStaged() {
        staged.removeAll()
        stagedIDs.removeAll()
        bufferedBytes = 0
        stagedCount = 0
        stagedBytes = 0
    }
}
