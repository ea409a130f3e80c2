import FlowStoreCore

/// Ref names as people read them: `Personal Projects/MedQA Flow@production` rather than
/// `files/<64 hex>/labels/production`.
struct RefDisplay {
    private let store: VersionStore
    private var paths: [ObjectID: String] = [:]

    init(store: VersionStore) throws(StoreError) {
        self.store = store
        for (path, file) in try store.files() { paths[file] = path.rawValue }
    }

    /// The path a file lives at now; for a removed file, the path it was created at, marked.
    mutating func path(of file: ObjectID) -> String {
        if let known = paths[file] { return known }
        let name = (try? store.fileObject(file)).map { "\($0.path.rawValue) (removed)" } ?? file.short
        paths[file] = name
        return name
    }

    /// `P` for a head, `P@label`, `P@environments/env`, `path P` for a path ref,
    /// `P (metadata of <version>)` and `P (log <id>)` for annotation and log refs.
    mutating func name(_ ref: RefName) -> String {
        let raw = ref.rawValue
        if raw.hasBytePrefix("paths/") { return "path \(ref.dropping(prefix: "paths/"))" }
        let parts = ref.segments
        guard parts.count >= 3, parts[0] == "files", let file = ObjectID(hex: parts[1]) else { return raw }
        let path = path(of: file)
        switch (parts[2], parts.count) {
        case ("head", 3): return path
        case ("labels", 4): return "\(path)@\(parts[3])"
        case ("environments", 4): return "\(path)@environments/\(parts[3])"
        case ("annotations", 4): return "\(path) (metadata of \(parts[3].prefix(12)))"
        case ("logs", 5): return "\(path) (log \(parts[4]))"
        default: return raw
        }
    }
}
