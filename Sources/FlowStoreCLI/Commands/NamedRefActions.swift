import FlowStoreCore

/// Setting, removing and listing labels and environments: `label …` and `deploy`/`undeploy`/
/// `env ls` are the same operations on two kinds of name.
enum NamedRefActions {
    static func set(
        _ kind: RefKind, path pathText: String, name: String, revision: String?, expect: String?,
        message: String?, store storeOptions: StoreOptions, author authorOptions: AuthorOptions
    ) throws {
        let author = try authorOptions.resolved()
        let path = try Arguments.path(pathText)
        let label = try Arguments.label(name, kind: kind)
        let store = try storeOptions.open()
        let version = try Arguments.version(revision, of: path, in: store)
        var expectation = RefExpectation.any
        if let expect {
            expectation = .target(expect == "none" ? nil : try Arguments.version(expect, of: path, in: store))
        }
        let event = try setExpecting(
            kind, label, of: path, to: version, author: author, message: message, expectation: expectation, in: store)
        let what = "version \(try store.version(version).number) (\(version.short)) of \(TextStyle.quoted(path.rawValue))"
        let console = Console.current
        switch (kind, event != nil) {
        case (.labels, true): console.print("set label \(label.rawValue) to \(what)")
        case (.labels, false): console.print("label \(label.rawValue) already points at \(what)")
        case (.environments, true): console.print("deployed \(what) to \(label.rawValue)")
        case (.environments, false): console.print("\(what) is already deployed to \(label.rawValue)")
        }
    }

    /// `setRef`, with a compare-and-swap failure explained in terms of `--expect`.
    private static func setExpecting(
        _ kind: RefKind, _ label: RefLabel, of path: FlowPath, to version: ObjectID, author: String, message: String?,
        expectation: RefExpectation, in store: VersionStore
    ) throws -> ObjectID? {
        do {
            return try store.setRef(kind, label, of: path, to: version, author: author, message: message, expecting: expectation)
        } catch StoreError.refConflict(_, let expected, let actual) {
            func describe(_ id: ObjectID?) -> String { id?.short ?? "unset" }
            throw CLIError(
                "\(kind.noun) \(label.rawValue) of \(TextStyle.quoted(path.rawValue)) is \(actual == nil ? "" : "at ")"
                    + "\(describe(actual)), not \(describe(expected)) as --expect requires; nothing changed")
        }
    }

    static func remove(
        _ kind: RefKind, path pathText: String, name: String, message: String?,
        store storeOptions: StoreOptions, author authorOptions: AuthorOptions
    ) throws {
        let author = try authorOptions.resolved()
        let path = try Arguments.path(pathText)
        let label = try Arguments.label(name, kind: kind)
        let store = try storeOptions.open()
        let file = try store.requireFile(at: path)
        let previous = try store.target(of: RefNames.named(file, kind, label))
        try store.removeRef(kind, label, of: path, author: author, message: message)
        let was = previous.map { " (was \($0.short))" } ?? ""
        let quotedPath = TextStyle.quoted(path.rawValue)
        Console.current.print(
            kind == .labels
                ? "removed label \(label.rawValue) from \(quotedPath)\(was)"
                : "undeployed \(quotedPath) from \(label.rawValue)\(was)")
    }

    static func list(_ kind: RefKind, path pathText: String, store storeOptions: StoreOptions, json: Bool) throws {
        let path = try Arguments.path(pathText)
        let store = try storeOptions.open()
        let refs = try store.namedRefs(kind, of: try store.requireFile(at: path))
        var rows: [(label: RefLabel, version: ObjectID, number: Int?)] = []
        for (label, version) in refs { rows.append((label, version, try? store.version(version).number)) }
        let console = Console.current
        if json {
            return console.printJSON(.array(rows.map { JSONShapes.namedRef($0.label, $0.version, number: $0.number) }))
        }
        let width = rows.map(\.label.rawValue.count).max() ?? 0
        for row in rows {
            let number = row.number.map { "version \($0)" } ?? "version ?"
            console.print("\(TextStyle.pad(TextStyle.safe(row.label.rawValue), width))  \(number)  \(row.version.short)")
        }
        // A sync may have left some of these diverged: say so, and how to settle it.
        let prefix = "\(RefNames.filePrefix(try store.requireFile(at: path)))\(kind.rawValue)/"
        for diverged in try store.divergedRefs() where diverged.name.rawValue.hasBytePrefix(prefix) {
            let label = TextStyle.safe(diverged.name.dropping(prefix: prefix))
            let command = kind == .labels ? "label" : "env"
            console.print(
                "note: \(kind.noun) \(label) diverged in a sync (\(diverged.incoming.count) incoming head(s)); "
                    + "settle it with `flowstore \(command) resolve '\(TextStyle.safe(path.rawValue))' \(label) --take local|incoming|REV`")
        }
    }
}
