import FlowStoreCore
import NIOCore
import PostgresNIO

/// Diverged refs as rows of `diverged(ref, local, incoming bytea[])`.
///
/// `update` is exclusive across processes: it holds an advisory lock (session-level, on a
/// dedicated connection) from before it reads to after it writes. Not a lock inside a
/// transaction on a pooled connection: `change` reads the store, and a sync may even commit
/// through it (`resolve` writes a merge), so it must find the pools free of us. The write
/// itself is one transaction, so readers see the records before or after, never half.
public struct PostgresDivergenceRecords: DivergenceRecords {
    let pool: PostgresConnectionPool
    let updater: DedicatedSession

    var database: String { pool.connector.configuration.database }

    private static let classKey = PostgresSchema.lockClass
    private static let lockKey = PostgresSchema.LockKey.divergences.rawValue

    public func load() throws(StoreError) -> [DivergedRef] {
        try pool.withSession(idempotent: true) { (session) throws(StoreError) -> [DivergedRef] in
            let rows = try session.run("SELECT ref, local, incoming FROM diverged ORDER BY ref")
            var out: [DivergedRef] = []
            for row in rows.rows {
                let (text, local, incoming) = try PostgresSchema.decode((String, ByteBuffer?, [ByteBuffer]).self, row, session.configuration)
                guard let name = try? RefName(text) else {
                    throw .io(path: database, message: "diverged holds an invalid ref name \(quotedText(text))")
                }
                var heads: [ObjectID] = []
                for bytes in incoming {
                    guard let id = ObjectIDBytes.id(bytes) else {
                        throw .io(path: database, message: "diverged ref \(text) holds an incoming head that is not an object id")
                    }
                    heads.append(id)
                }
                out.append(DivergedRef(name: name, local: local.flatMap(ObjectIDBytes.id), incoming: heads))
            }
            return out
        }
    }

    public func update<T>(_ change: (inout [DivergedRef]) throws(StoreError) -> T) throws(StoreError) -> T {
        try updater.withSession { (lock) throws(StoreError) -> T in
            try lock.run(
                "SELECT pg_advisory_lock(\(Self.classKey), \(Self.lockKey))",
                waitingFor: "the divergence records (another sync is updating them)")
            defer {
                do { try lock.run("SELECT pg_advisory_unlock(\(Self.classKey), \(Self.lockKey))") } catch { lock.markBroken() }
            }
            let before = try load()
            var entries = before
            let result = try change(&entries)
            entries = Self.normalized(entries)
            if entries != before { try write(entries) }
            return result
        }
    }

    private func write(_ entries: [DivergedRef]) throws(StoreError) {
        try pool.withSession { (session) throws(StoreError) in
            try session.run("BEGIN")
            do throws(StoreError) {
                try session.run("DELETE FROM diverged")
                for entry in entries {
                    let incoming = entry.incoming.map(ObjectIDBytes.buffer)
                    try session.run(
                        """
                        INSERT INTO diverged (ref, local, incoming)
                        VALUES (\(entry.name.rawValue), \(entry.local.map(ObjectIDBytes.buffer)), \(incoming)::bytea[])
                        """)
                }
                try session.run("COMMIT")
            } catch {
                PostgresSchema.rollBack(session)
                throw error
            }
        }
    }
}
