/// When a new definition equals one already stored, whether to make a new version anyway.
public enum ReusePolicy: Sendable {
    /// Always record a new version (PromptLayer: every create is a version).
    case never
    /// Return the head if it has the same definition (`flowstore put`, like git's "nothing to commit").
    case head
    /// Return any earlier version with the same definition (Humanloop: a version *is* its attributes).
    case anyVersion
}

/// Everything needed to record one version.
public struct NewVersion: Sendable {
    public var path: FlowPath
    public var kind: FileKind { didSet { isChecked = false } }
    /// The definition's members: `attributes` for a flow; `nodes`, `edges`,
    /// `required_input_variables` for an agent (see `Definition`).
    public var definition: JSONObject { didSet { isChecked = false } }
    /// Whether `definition` is known to pass `Definition.validate` as `kind`: set only by the
    /// initializer taking a `Definition.Checked` (which only validation makes), cleared by any
    /// change to either, so `commit` and `VersionBatch.add` validate exactly what was not.
    var isChecked = false
    public var name: String?
    public var message: String?
    public var metadata: JSONObject?
    public var labels: [RefLabel]
    /// The version this one was derived from, when it is not the head (PromptLayer's PATCH).
    public var base: ObjectID?
    public var reuse: ReusePolicy
    /// Whether a missing file may be created; `false` makes an unknown path an error.
    public var createFile: Bool

    public init(
        path: FlowPath, kind: FileKind, definition: JSONObject, name: String? = nil, message: String? = nil,
        metadata: JSONObject? = nil, labels: [RefLabel] = [], base: ObjectID? = nil,
        reuse: ReusePolicy = .head, createFile: Bool = true
    ) {
        self.path = path
        self.kind = kind
        self.definition = definition
        self.name = name
        self.message = message
        self.metadata = metadata
        self.labels = labels
        self.base = base
        self.reuse = reuse
        self.createFile = createFile
    }

    /// A version of an already validated definition (`Definition.checked`, `SeedBody.parse`):
    /// the store does not validate it a second time.
    public init(
        path: FlowPath, definition: Definition.Checked, name: String? = nil, message: String? = nil,
        metadata: JSONObject? = nil, labels: [RefLabel] = [], base: ObjectID? = nil,
        reuse: ReusePolicy = .head, createFile: Bool = true
    ) {
        self.init(
            path: path, kind: definition.kind, definition: definition.object, name: name, message: message,
            metadata: metadata, labels: labels, base: base, reuse: reuse, createFile: createFile)
        isChecked = true
    }

    /// Validates the definition (once: a checked version is not checked again).
    public mutating func validate() throws(StoreError) {
        if isChecked { return }
        try Definition.validate(definition, kind: kind)
        isChecked = true
    }
}

/// What `commit` did.
public struct CommitResult: Sendable {
    public var file: ObjectID
    public var fileCreated: Bool
    public var versionID: ObjectID
    public var version: VersionObject
    /// `false` when an identical existing version was returned instead (see `ReusePolicy`).
    public var created: Bool
}

extension VersionStore {
    /// Records a version: content object, version object, then the head moves by
    /// compare-and-swap; a concurrent writer makes us re-read the head and try again, so
    /// version numbers stay unique and dense and no update is lost.
    public func commit(_ new: NewVersion, author: String) throws(StoreError) -> CommitResult {
        try writing { () throws(StoreError) -> CommitResult in
            var new = new
            try new.validate()
            if let name = new.name, name.isEmpty { throw .invalidInput("version name may not be empty") }

            let existing = try fileID(at: new.path)
            if let existing {
                try checkKind(of: existing, new)
            } else if !new.createFile {
                throw .fileNotFound(new.path.rawValue)
            }
            if let base = new.base {
                guard let existing, try version(base).file == existing else {
                    throw .invalidInput("base version \(base.short) is not a version of \(quoted(new.path.rawValue))")
                }
            }
            var fileCreated = false
            let file: ObjectID
            if let existing {
                file = existing
            } else {
                do throws(StoreError) {
                    file = try createFile(path: new.path, kind: new.kind, author: author)
                    fileCreated = true
                } catch .fileExists {
                    // Another writer created it a moment ago: add to theirs.
                    guard let created = try fileID(at: new.path) else { throw .fileExists(new.path.rawValue) }
                    try checkKind(of: created, new)
                    file = created
                }
            }

            // Nothing is written until every check has passed: a refused request leaves no trace.
            let content = StoredObject.content(ContentObject(kind: new.kind, definition: new.definition))
            let contentBytes = content.canonicalBytes()
            let contentID = ObjectID(hashing: contentBytes)
            for _ in 0..<Self.casAttempts {
                let headID = try target(of: RefNames.head(file))
                var head: VersionObject?
                if let headID { head = try version(headID) }
                let current: (ObjectID, VersionObject)? = if let headID, let head { (headID, head) } else { nil }

                if let reused = try reusable(contentID, policy: new.reuse, head: current, file: file) {
                    try applyLabels(new.labels, file: file, version: reused.0, author: author)
                    return CommitResult(
                        file: file, fileCreated: fileCreated, versionID: reused.0, version: reused.1, created: false)
                }
                if let name = new.name, let headID,
                    !(try historySummary(of: file, head: headID).versions(named: name).isEmpty)
                {
                    throw .versionNameTaken(path: new.path.rawValue, name: name)
                }

                try objects.put(contentBytes)
                var parents = headID.map { [$0] } ?? []
                if let base = new.base, base != headID { parents.append(base) }
                let version = VersionObject(
                    file: file, kind: new.kind, path: new.path, content: contentID, parents: parents,
                    number: (head?.number ?? 0) + 1, name: new.name, message: new.message, author: author,
                    createdAt: clock(), metadata: new.metadata)
                let versionID = try write(.version(version))
                do throws(StoreError) {
                    try moveRef(
                        RefNames.head(file), to: versionID, author: author,
                        message: new.message ?? "version \(version.number)", expecting: .target(headID))
                } catch .refConflict {
                    continue
                }
                try applyLabels(new.labels, file: file, version: versionID, author: author)
                return CommitResult(
                    file: file, fileCreated: fileCreated, versionID: versionID, version: version, created: true)
            }
            throw .lockTimeout(RefNames.head(file).rawValue)
        }
    }

    private func checkKind(of file: ObjectID, _ new: NewVersion) throws(StoreError) {
        let kind = try fileObject(file).kind
        guard kind == new.kind else { throw .kindMismatch(path: new.path.rawValue, existing: kind, requested: new.kind) }
    }

    private func reusable(
        _ content: ObjectID, policy: ReusePolicy, head: (ObjectID, VersionObject)?, file: ObjectID
    ) throws(StoreError) -> (ObjectID, VersionObject)? {
        guard let head else { return nil }
        switch policy {
        case .never: return nil
        case .head: return head.1.content == content ? head : nil
        case .anyVersion:
            guard let id = try historySummary(of: file, head: head.0).newestVersion(withContent: content) else { return nil }
            return (id, try version(id))
        }
    }

    private func applyLabels(_ labels: [RefLabel], file: ObjectID, version: ObjectID, author: String) throws(StoreError) {
        for label in labels {
            try moveRef(RefNames.named(file, .labels, label), to: version, author: author, message: nil)
        }
    }

    // MARK: History

    /// The versions reachable from `start` through parents, newest first (highest number, then
    /// latest time), each once. `limit` stops the walk early, so `log -n 50` costs 50 reads.
    public func history(from start: ObjectID, limit: Int? = nil) throws(StoreError) -> [(ObjectID, VersionObject)] {
        var out: [(ObjectID, VersionObject)] = []
        var seen: Set<ObjectID> = [start]
        var frontier: [(ObjectID, VersionObject)] = [(start, try version(start))]
        while !frontier.isEmpty {
            if let limit, out.count >= limit { break }
            // The frontier is tiny (one entry per open branch), so a linear max is fine.
            var best = 0
            for i in frontier.indices.dropFirst() where Self.newer(frontier[i].1, than: frontier[best].1) { best = i }
            let next = frontier.remove(at: best)
            out.append(next)
            for parent in next.1.parents where seen.insert(parent).inserted {
                frontier.append((parent, try version(parent)))
            }
        }
        return out
    }

    static func newer(_ a: VersionObject, than b: VersionObject) -> Bool {
        a.number != b.number ? a.number > b.number : a.createdAt > b.createdAt
    }

    /// The head version of the file at `path`.
    public func head(of path: FlowPath) throws(StoreError) -> ObjectID {
        let file = try requireFile(at: path)
        guard let head = try target(of: RefNames.head(file)) else { throw .versionNotFound(path.rawValue) }
        return head
    }

    /// Follows first parents `steps` times.
    public func ancestor(of start: ObjectID, steps: Int) throws(StoreError) -> ObjectID {
        var id = start
        for _ in 0..<steps {
            guard let parent = try version(id).parents.first else {
                throw .versionNotFound("\(id.short)~\(steps): history is shorter than \(steps) steps")
            }
            id = parent
        }
        return id
    }

    /// The version of a file with the given number, found along first parents from the head.
    public func version(numbered number: Int, of path: FlowPath) throws(StoreError) -> ObjectID {
        var id = try head(of: path)
        while true {
            let v = try version(id)
            if v.number == number { return id }
            guard v.number > number, let parent = v.parents.first else { break }
            id = parent
        }
        throw .versionNotFound("\(path.rawValue)#\(number)")
    }
}
