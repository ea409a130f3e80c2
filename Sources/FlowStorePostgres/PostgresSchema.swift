import FlowStoreCore
import PostgresNIO

/// The store's tables, versioned: `flowstore_schema` holds the version, and each migration
/// takes the schema one version forward (never back). `initialize` applies what is missing;
/// `open` refuses a database without the schema, or with a version this build does not know.
///
/// Names and ref names are `text COLLATE "C"`, so `ORDER BY` and ranges are in the byte order
/// of their UTF-8, as the `RefStore` contract asks of every backend; ids are `bytea`.
enum PostgresSchema {
    /// The version this build writes and reads.
    static let version = 1

    /// Advisory lock keys (`pg_advisory_lock(int, int)`), per database: the first half is
    /// FlowStore's ("FlSt"), the second says what is locked.
    static let lockClass: Int32 = 0x466c_5374
    enum LockKey: Int32 {
        case sweepFence = 1
        case divergences = 2
        case migration = 3
    }

    /// Migration N is `migrations[N - 1]`: statements run in one transaction.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE objects (
                id bytea PRIMARY KEY,
                body bytea NOT NULL,
                stored_at bigint NOT NULL
            )
            """,
            """
            CREATE TABLE refs (
                name text COLLATE "C" PRIMARY KEY,
                event bytea NOT NULL
            )
            """,
            // One counter per tracked top segment of ref names, bumped in the transaction that
            // moves a ref below it (never a sequence: sequences are not transactional, and a
            // reader who sees a new stamp must see the move).
            """
            CREATE TABLE ref_stamps (
                segment text COLLATE "C" PRIMARY KEY,
                moves bigint NOT NULL
            )
            """,
            """
            CREATE TABLE diverged (
                ref text COLLATE "C" PRIMARY KEY,
                local bytea,
                incoming bytea[] NOT NULL
            )
            """,
            // A transaction's `prepare` in one round trip, in name order (the caller sorts), so
            // that two transactions taking overlapping refs wait for each other and never
            // deadlock. A ref expected absent is inserted now: invisible to others until COMMIT,
            // and a concurrent inserter of the same name waits on the unique index. A ref
            // expected at an event is locked `FOR UPDATE` inside a block of its own, so that a
            // conflict rolls back just that block and its lock: conflicting refs are released
            // at once. An empty `expected` means "must not exist". Returns the names that conflict.
            """
            CREATE FUNCTION flowstore_take_refs(names text[], expected bytea[], proposed bytea[])
            RETURNS text[] LANGUAGE plpgsql AS $$
            DECLARE
                conflicts text[] := '{}';
                current_event bytea;
            BEGIN
                FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
                    IF length(expected[i]) = 0 THEN
                        INSERT INTO refs (name, event) VALUES (names[i], proposed[i]) ON CONFLICT (name) DO NOTHING;
                        IF NOT FOUND THEN
                            conflicts := conflicts || names[i];
                        END IF;
                    ELSE
                        BEGIN
                            current_event := NULL;
                            SELECT event INTO current_event FROM refs WHERE name = names[i] FOR UPDATE;
                            IF current_event IS DISTINCT FROM expected[i] THEN
                                RAISE EXCEPTION USING ERRCODE = 'FSREF';
                            END IF;
                        EXCEPTION WHEN SQLSTATE 'FSREF' THEN
                            conflicts := conflicts || names[i];
                        END;
                    END IF;
                END LOOP;
                RETURN conflicts;
            END
            $$
            """,
        ]
    ]

    /// What `open` learns: the store's identity, for listing stamps that never match a stamp
    /// of another store (or of this database before it was made again).
    struct Info: Sendable {
        var storeID: Int64
    }

    /// Creates or upgrades the schema; idempotent, and safe against another process doing the
    /// same at the same time (a transaction-level advisory lock serialises them).
    static func initialize(_ session: PostgresSession) throws(StoreError) -> Info {
        let configuration = session.configuration
        try checkEncoding(session)
        try session.run("BEGIN")
        do throws(StoreError) {
            try session.run(
                "SELECT pg_advisory_xact_lock(\(lockClass), \(LockKey.migration.rawValue))",
                waitingFor: "the store's schema (another process is creating it)")
            try session.run(
                """
                CREATE TABLE IF NOT EXISTS flowstore_schema (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    version integer NOT NULL,
                    store_id bigint NOT NULL
                )
                """)
            var current = 0
            let rows = try session.run("SELECT version FROM flowstore_schema")
            if let row = rows.rows.first {
                current = Int(try decode(Int32.self, row, configuration))
            } else {
                try session.run(
                    """
                    INSERT INTO flowstore_schema (version, store_id)
                    VALUES (0, (random() * 9.2e18)::bigint)
                    """)
            }
            guard current <= version else { throw newer(current, configuration) }
            if current < version {
                for next in (current + 1)...version {
                    for statement in migrations[next - 1] { try session.run(PostgresQuery(unsafeSQL: statement)) }
                    try session.run("UPDATE flowstore_schema SET version = \(Int32(next))")
                }
            }
            try session.run("COMMIT")
        } catch {
            rollBack(session)
            throw error
        }
        return try open(session)
    }

    /// Reads the schema version and refuses what this build cannot use.
    static func open(_ session: PostgresSession) throws(StoreError) -> Info {
        let configuration = session.configuration
        let result: PostgresQueryResult
        do throws(PostgresFailure) {
            result = try session.execute("SELECT version, store_id, current_setting('server_encoding') FROM flowstore_schema")
        } catch {
            // 42P01, undefined_table: a database, but not one of ours.
            if error.sqlState == "42P01" { throw .notAStore(configuration.description) }
            throw error.error
        }
        guard let row = result.rows.first else { throw .notAStore(configuration.description) }
        let (found, storeID, encoding) = try decode((Int32, Int64, String).self, row, configuration)
        guard encoding == "UTF8" else { throw badEncoding(encoding, configuration) }
        guard Int(found) <= version else { throw newer(Int(found), configuration) }
        guard Int(found) == version else {
            throw .io(
                path: configuration.database,
                message:
                    "the store's schema is version \(found), older than this build's \(version): run `flowstore init --store \(configuration)` to upgrade it"
            )
        }
        return Info(storeID: storeID)
    }

    /// Names are text: a database in another encoding would change their bytes.
    private static func checkEncoding(_ session: PostgresSession) throws(StoreError) {
        let rows = try session.run("SELECT current_setting('server_encoding')")
        guard let row = rows.rows.first else { return }
        let encoding = try decode(String.self, row, session.configuration)
        guard encoding == "UTF8" else { throw badEncoding(encoding, session.configuration) }
    }

    private static func badEncoding(_ encoding: String, _ configuration: PostgresStoreConfiguration) -> StoreError {
        .io(
            path: configuration.database,
            message: "the database's encoding is \(encoding), not UTF8 (create it with `createdb -E UTF8 -T template0 \(configuration.database)`)")
    }

    private static func newer(_ found: Int, _ configuration: PostgresStoreConfiguration) -> StoreError {
        .io(
            path: configuration.database,
            message: "the store's schema is version \(found), newer than this build reads (\(version)): use a newer flowstore")
    }

    static func rollBack(_ session: PostgresSession) {
        do { try session.run("ROLLBACK") } catch { session.markBroken() }
    }

    static func decode<T: PostgresDecodable>(
        _ type: T.Type, _ row: PostgresRow, _ configuration: PostgresStoreConfiguration
    ) throws(StoreError) -> T {
        do {
            return try row.decode(T.self)
        } catch {
            throw .io(path: configuration.database, message: "unexpected column in an answer: \(PostgresFailure.oneLine(String(describing: error)))")
        }
    }

    static func decode<each T: PostgresDecodable>(
        _ type: (repeat each T).Type, _ row: PostgresRow, _ configuration: PostgresStoreConfiguration
    ) throws(StoreError) -> (repeat each T) {
        do {
            return try row.decode((repeat each T).self)
        } catch {
            throw .io(path: configuration.database, message: "unexpected columns in an answer: \(PostgresFailure.oneLine(String(describing: error)))")
        }
    }
}
