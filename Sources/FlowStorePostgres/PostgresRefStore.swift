import FlowStoreCore
import NIOCore
import PostgresNIO

/// Refs as rows of `refs(name text COLLATE "C", event bytea)`.
///
/// `compareAndSwap` is one statement (a conditional `UPDATE`, or an `INSERT … ON CONFLICT DO
/// NOTHING` for a ref that must not exist), so it is atomic; a writer that finds the row locked
/// by a prepared transaction waits for it, bounded by `lock_timeout`. The same statement bumps
/// the listing stamp of the ref's top segment, in the same transaction as the move.
public struct PostgresRefStore: RefStore {
    let pool: PostgresConnectionPool
    /// The store's identity, part of every listing stamp (see `PostgresSchema.Info`).
    let storeID: Int64

    /// The top segments whose listings are stamped. Only `paths`: it moves when a file is
    /// created, moved or deleted, and its stamp is what the server asks for. Not `files`,
    /// whose refs move on every commit: its counter row would be one hot row that every
    /// commit of every writer locks until its COMMIT is on disk, serialising all writes
    /// behind one WAL flush each. (`listingStamp` answers nil for segments not tracked.)
    static let stampedSegments: Set<Substring> = ["paths"]

    var database: String { pool.connector.configuration.database }

    /// The tracked top segment a ref name is under, if any.
    static func stampedSegment(of name: String) -> String? {
        RefNames.topSegment(of: name).flatMap { stampedSegments.contains($0) ? String($0) : nil }
    }

    public func read(_ name: RefName) throws(StoreError) -> ObjectID? {
        try pool.withSession(idempotent: true) { (session) throws(StoreError) -> ObjectID? in
            try readEvent(name, session)
        }
    }

    func readEvent(_ name: RefName, _ session: PostgresSession) throws(StoreError) -> ObjectID? {
        let rows = try session.run("SELECT event FROM refs WHERE name = \(name.rawValue)")
        guard let row = rows.rows.first else { return nil }
        return try event(row, name: name.rawValue, session)
    }

    public func compareAndSwap(_ name: RefName, expected: ObjectID?, new: ObjectID) throws(StoreError) {
        let segment = Self.stampedSegment(of: name.rawValue)
        let newBytes = ObjectIDBytes.buffer(new)
        // Not retried on a lost connection: the move may have been made before the answer was
        // lost, and a second try would report a conflict with our own move.
        let moved = try pool.withSession { (session) throws(StoreError) -> Bool in
            let result: PostgresQueryResult
            if let expected {
                result = try session.run(
                    """
                    WITH moved AS (
                        UPDATE refs SET event = \(newBytes)
                        WHERE name = \(name.rawValue) AND event = \(ObjectIDBytes.buffer(expected))
                        RETURNING name
                    ), stamped AS (
                        INSERT INTO ref_stamps (segment, moves) SELECT \(segment)::text, 1 FROM moved WHERE \(segment)::text IS NOT NULL
                        ON CONFLICT (segment) DO UPDATE SET moves = ref_stamps.moves + 1
                    )
                    SELECT count(*) FROM moved
                    """, waitingFor: name.rawValue)
            } else {
                result = try session.run(
                    """
                    WITH moved AS (
                        INSERT INTO refs (name, event) VALUES (\(name.rawValue), \(newBytes))
                        ON CONFLICT (name) DO NOTHING
                        RETURNING name
                    ), stamped AS (
                        INSERT INTO ref_stamps (segment, moves) SELECT \(segment)::text, 1 FROM moved WHERE \(segment)::text IS NOT NULL
                        ON CONFLICT (segment) DO UPDATE SET moves = ref_stamps.moves + 1
                    )
                    SELECT count(*) FROM moved
                    """, waitingFor: name.rawValue)
            }
            guard let row = result.rows.first else { return false }
            return try PostgresSchema.decode(Int64.self, row, session.configuration) == 1
        }
        guard !moved else { return }
        let actual = try read(name)
        throw .refConflict(ref: name.rawValue, expected: expected, actual: actual)
    }

    public func list(prefix: String) throws(StoreError) -> [(name: RefName, event: ObjectID)] {
        try pool.withSession(idempotent: true) { (session) throws(StoreError) -> [(name: RefName, event: ObjectID)] in
            let rows: PostgresQueryResult
            if prefix.isEmpty {
                rows = try session.run("SELECT name, event FROM refs ORDER BY name")
            } else {
                rows = try session.run("SELECT name, event FROM refs WHERE name LIKE \(Self.likePattern(prefix)) ORDER BY name")
            }
            var out: [(name: RefName, event: ObjectID)] = []
            out.reserveCapacity(rows.rows.count)
            for row in rows.rows {
                let (text, bytes) = try PostgresSchema.decode((String, ByteBuffer).self, row, session.configuration)
                guard let name = try? RefName(text) else {
                    throw .io(path: database, message: "refs holds an invalid ref name \(quotedText(text))")
                }
                guard let id = ObjectIDBytes.id(bytes) else {
                    throw .io(path: database, message: "ref \(text) does not hold an object id")
                }
                out.append((name, id))
            }
            return out
        }
    }

    public func count(prefix: String) throws(StoreError) -> Int {
        try pool.withSession(idempotent: true) { (session) throws(StoreError) -> Int in
            let rows: PostgresQueryResult
            if prefix.isEmpty {
                rows = try session.run("SELECT count(*) FROM refs")
            } else {
                rows = try session.run("SELECT count(*) FROM refs WHERE name LIKE \(Self.likePattern(prefix))")
            }
            guard let row = rows.rows.first else { return 0 }
            return Int(try PostgresSchema.decode(Int64.self, row, session.configuration))
        }
    }

    /// The counter of the prefix's top segment, bumped in the same transaction as every move
    /// below it: a reader who sees a new stamp and then lists sees the move. Nil for a prefix
    /// that is not below a tracked segment, and when the database cannot be asked.
    public func listingStamp(prefix: String) -> RefListingStamp? {
        guard let segment = Self.stampedSegment(of: prefix) else { return nil }
        let moves = try? pool.withSession(idempotent: true) { (session) throws(StoreError) -> Int64 in
            let rows = try session.run("SELECT moves FROM ref_stamps WHERE segment = \(segment)")
            guard let row = rows.rows.first else { return 0 }
            return try PostgresSchema.decode(Int64.self, row, session.configuration)
        }
        return moves.map { RefListingStamp([storeID, $0]) }
    }

    /// `prefix%` with LIKE's own characters escaped. With the column's "C" collation and the
    /// pattern known when the statement is planned, PostgreSQL turns it into a range of the
    /// primary key (`name >= prefix AND name < next`), so a listing reads only its rows.
    static func likePattern(_ prefix: String) -> String {
        var out = ""
        for c in prefix.unicodeScalars {
            if c == "%" || c == "_" || c == "\\" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out + "%"
    }

    func event(_ row: PostgresRow, name: String, _ session: PostgresSession) throws(StoreError) -> ObjectID {
        let bytes = try PostgresSchema.decode(ByteBuffer.self, row, session.configuration)
        guard let id = ObjectIDBytes.id(bytes) else {
            throw .io(path: database, message: "ref \(name) does not hold an object id")
        }
        return id
    }
}
