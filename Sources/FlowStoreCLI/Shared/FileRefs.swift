import FlowStoreCore

/// A file's head, labels and environments, read once, to decorate versions in `show`, `log`
/// and `ls` with the names that point at them.
struct FileRefs {
    var head: ObjectID?
    var labels: [(label: RefLabel, version: ObjectID)]
    var environments: [(label: RefLabel, version: ObjectID)]

    init(store: VersionStore, file: ObjectID) throws(StoreError) {
        head = try store.target(of: RefNames.head(file))
        labels = try store.namedRefs(.labels, of: file)
        environments = try store.namedRefs(.environments, of: file)
    }

    func refs(_ kind: RefKind) -> [(label: RefLabel, version: ObjectID)] {
        kind == .labels ? labels : environments
    }

    /// The names of `kind` pointing at `version`, sorted.
    func names(_ kind: RefKind, at version: ObjectID) -> [String] {
        refs(kind).filter { $0.version == version }.map(\.label.rawValue)
    }

    /// `head, production, env:development`: what points at `version`, for text output.
    func decorations(at version: ObjectID) -> [String] {
        (head == version ? ["head"] : []) + names(.labels, at: version)
            + names(.environments, at: version).map { "env:\($0)" }
    }
}
