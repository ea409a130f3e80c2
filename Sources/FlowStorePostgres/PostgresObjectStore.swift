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

/// Objects as rows of `objects(id bytea, body bytea, stored_at bigint)`.
///
/// Durable on return because every session runs with `synchronous_commit = on`. `get`
/// re-verifies the hash like every backend. `put` is one upsert: a new object is inserted, an
/// existing one freshened (`stored_at`, as git touches a re-used object) and, should its
/// stored bytes not be the ones that hash to its id, repaired.
public struct PostgresObjectStore: ObjectStore {
    let pool: PostgresConnectionPool
    /// Ids per page of `list`: each page is one short query, and `body` runs between pages
    /// with no connection held, so it may use the store.
    static let listPage = 2000

    var database: String { pool.connector.configuration.database }

    public func get(_ id: ObjectID) throws(StoreError) -> [UInt8] {
        let body = try pool.withSession(idempotent: true) { (session) throws(StoreError) -> ByteBuffer? in
            let rows = try session.run("SELECT body FROM objects WHERE id = \(ObjectIDBytes.buffer(id))")
            guard let row = rows.rows.first else { return nil }
            return try PostgresSchema.decode(ByteBuffer.self, row, session.configuration)
        }
        guard let body else { throw .objectNotFound(id) }
        return try id.verified(Array(body.readableBytesView))
    }

    @discardableResult
    public func put(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID {
        let id = ObjectID(hashing: canonicalBytes)
        try insert([(id, canonicalBytes)])
        return id
    }

    /// Stores objects, or freshens them when stored already: one statement, so one round trip
    /// and one commit for all of them. Rows are written in id order, so two writers storing
    /// overlapping sets lock them in the same order and never deadlock. Idempotent, so it is
    /// retried once on a fresh connection after a lost one.
    func insert(_ objects: [(ObjectID, [UInt8])]) throws(StoreError) {
        guard !objects.isEmpty else { return }
        let sorted = objects.sorted { $0.0 < $1.0 }
        var ids: [ByteBuffer] = []
        var bodies: [ByteBuffer] = []
        ids.reserveCapacity(sorted.count)
        bodies.reserveCapacity(sorted.count)
        var previous: ObjectID?
        for (id, bytes) in sorted where id != previous {  // one row per id: an upsert may not touch a row twice
            previous = id
            ids.append(ObjectIDBytes.buffer(id))
            bodies.append(ByteBuffer(bytes: bytes))
        }
        let now = Int64(time(nil))
        try pool.withSession(idempotent: true) { (session) throws(StoreError) in
            try session.run(
                """
                INSERT INTO objects (id, body, stored_at)
                SELECT id, body, \(now) FROM unnest(\(ids)::bytea[], \(bodies)::bytea[]) AS staged(id, body) ORDER BY id
                ON CONFLICT (id) DO UPDATE SET
                    stored_at = excluded.stored_at,
                    body = CASE WHEN objects.body = excluded.body THEN objects.body ELSE excluded.body END
                WHERE objects.stored_at < excluded.stored_at OR objects.body <> excluded.body
                """, waitingFor: "objects another writer is storing")
        }
    }

    public func has(_ id: ObjectID) throws(StoreError) -> Bool {
        try pool.withSession(idempotent: true) { (session) throws(StoreError) -> Bool in
            !(try session.run("SELECT 1 FROM objects WHERE id = \(ObjectIDBytes.buffer(id))").rows.isEmpty)
        }
    }

    /// In id order, a page at a time (keyset: `WHERE id > last`), so a store of any size
    /// streams in bounded memory and no connection is held while `body` runs.
    public func list(_ body: (ObjectID) throws(StoreError) -> Void) throws(StoreError) {
        var after = ByteBuffer()  // the empty bytea sorts before every id
        while true {
            let page = try pool.withSession(idempotent: true) { (session) throws(StoreError) -> [ObjectID] in
                let rows = try session.run("SELECT id FROM objects WHERE id > \(after) ORDER BY id LIMIT \(Int32(Self.listPage))")
                return try ids(rows, session)
            }
            for id in page { try body(id) }
            guard page.count == Self.listPage, let last = page.last else { return }
            after = ObjectIDBytes.buffer(last)
        }
    }

    /// A range of the primary key: the prefix padded with `0`s to the prefix padded with `f`s.
    public func ids(withPrefix prefix: String) throws(StoreError) -> [ObjectID] {
        guard ObjectID.isPrefix(prefix) else { return [] }
        let padding = 64 - prefix.utf8.count
        let low = ObjectIDBytes.buffer(hex: prefix + String(repeating: "0", count: padding))
        let high = ObjectIDBytes.buffer(hex: prefix + String(repeating: "f", count: padding))
        return try pool.withSession(idempotent: true) { (session) throws(StoreError) -> [ObjectID] in
            try ids(try session.run("SELECT id FROM objects WHERE id BETWEEN \(low) AND \(high) ORDER BY id"), session)
        }
    }

    /// A table holds nothing but rows: there is nothing stray to find.
    public func strayEntries() throws(StoreError) -> [String] { [] }

    public func storedAt(_ id: ObjectID) throws(StoreError) -> Int? {
        try pool.withSession(idempotent: true) { (session) throws(StoreError) -> Int? in
            let rows = try session.run("SELECT stored_at FROM objects WHERE id = \(ObjectIDBytes.buffer(id))")
            guard let row = rows.rows.first else { return nil }
            return Int(try PostgresSchema.decode(Int64.self, row, session.configuration))
        }
    }

    public func remove(_ id: ObjectID) throws(StoreError) {
        try pool.withSession(idempotent: true) { (session) throws(StoreError) in
            try session.run("DELETE FROM objects WHERE id = \(ObjectIDBytes.buffer(id))")
        }
    }

    /// Test seam: replaces an object's bytes, as a damaged disk or a hand edit would.
    public func damage(_ id: ObjectID, with bytes: [UInt8]) throws(StoreError) {
        try pool.withSession { (session) throws(StoreError) in
            try session.run("UPDATE objects SET body = \(ByteBuffer(bytes: bytes)) WHERE id = \(ObjectIDBytes.buffer(id))")
        }
    }

    private func ids(_ rows: PostgresQueryResult, _ session: PostgresSession) throws(StoreError) -> [ObjectID] {
        var out: [ObjectID] = []
        out.reserveCapacity(rows.rows.count)
        for row in rows.rows {
            let bytes = try PostgresSchema.decode(ByteBuffer.self, row, session.configuration)
            guard let id = ObjectIDBytes.id(bytes) else {
                throw .io(path: database, message: "a row of objects has an id of \(bytes.readableBytes) bytes, not 32")
            }
            out.append(id)
        }
        return out
    }
}
