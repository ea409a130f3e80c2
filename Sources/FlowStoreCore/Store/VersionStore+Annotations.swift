/// Mutable metadata over an immutable version: its effective name, description, whether it is
/// hidden ("deleted"), and the monitoring evaluators attached to it.
///
/// Versions never change (their id is their hash), yet Humanloop lets a client rename a
/// version, edit its description or delete it. Each such change writes a new annotation
/// object holding the *whole* effective metadata, and moves the version's annotation ref
/// `files/<file>/annotations/<version>` onto it; the ref's event chain is the audit trail of
/// every rename, description change, deletion and restore.
public struct AnnotationObject: Sendable, Equatable {
    public var file: ObjectID
    public var version: ObjectID
    /// The effective version name (overrides `VersionObject.name`; `nil`: no name).
    public var name: String?
    /// The effective description (overrides `VersionObject.message`; `nil`: none).
    public var description: String?
    /// A hidden version is left out of listings and lookups, but stays in history.
    public var hidden: Bool
    /// Monitoring evaluator requests (Humanloop `activate` items) in force for this version.
    public var evaluators: [JSONValue]?
    public var author: String
    public var createdAt: String

    public init(
        file: ObjectID, version: ObjectID, name: String?, description: String?, hidden: Bool,
        evaluators: [JSONValue]?, author: String, createdAt: String
    ) {
        self.file = file
        self.version = version
        self.name = name
        self.description = description
        self.hidden = hidden
        self.evaluators = evaluators
        self.author = author
        self.createdAt = createdAt
    }
}

/// A version's effective metadata: the latest annotation if there is one, else what the
/// version object itself says.
public struct VersionMetadata: Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var hidden: Bool
    public var evaluators: [JSONValue]?
    /// When the metadata last changed (the annotation ref's latest event), or `nil` if never.
    public var updatedAt: String?

    public init(name: String?, description: String?, hidden: Bool = false, evaluators: [JSONValue]? = nil,
                updatedAt: String? = nil) {
        self.name = name
        self.description = description
        self.hidden = hidden
        self.evaluators = evaluators
        self.updatedAt = updatedAt
    }

    /// Equal apart from `updatedAt`: whether a change would record anything.
    func sameContent(as other: VersionMetadata) -> Bool {
        name == other.name && description == other.description && hidden == other.hidden
            && evaluators == other.evaluators
    }
}

extension RefNames {
    /// `files/<file>/annotations/<version>`: the chain of a version's metadata changes.
    public static func annotation(_ file: ObjectID, _ version: ObjectID) -> RefName {
        RefName(validated: "files/\(file.hex)/annotations/\(version.hex)")
    }
}

extension VersionStore {
    public func annotationObject(_ id: ObjectID) throws(StoreError) -> AnnotationObject {
        let object = try object(id)
        guard case .annotation(let a) = object else {
            throw .wrongObjectType(id, expected: "annotation", actual: object.typeName)
        }
        return a
    }

    /// The effective metadata of a version.
    public func metadata(of versionID: ObjectID, _ version: VersionObject) throws(StoreError) -> VersionMetadata {
        try metadataState(of: versionID, version).metadata
    }

    /// The effective metadata and the annotation ref's event it was read from (`nil`: never
    /// annotated): the event id changes whenever the metadata does, so callers can key caches
    /// of anything computed from the metadata by it.
    public func metadataState(
        of versionID: ObjectID, _ version: VersionObject
    ) throws(StoreError) -> (metadata: VersionMetadata, event: ObjectID?) {
        guard let state = try refState(RefNames.annotation(version.file, versionID)) else {
            return (VersionMetadata(name: version.name, description: version.message), nil)
        }
        guard let target = state.target else {
            return (VersionMetadata(name: version.name, description: version.message), state.eventID)
        }
        let a = try annotationObject(target)
        let metadata = VersionMetadata(
            name: a.name, description: a.description, hidden: a.hidden, evaluators: a.evaluators,
            updatedAt: state.event.time)
        return (metadata, state.eventID)
    }

    /// Every version of `file` that has an annotation, with its effective metadata: one
    /// listing of the file's annotation refs (usually few: only renamed, redescribed, hidden or
    /// monitored versions have one), so questions about effective names need not read every version.
    public func annotatedVersions(of file: ObjectID) throws(StoreError) -> [ObjectID: VersionMetadata] {
        let prefix = "\(RefNames.filePrefix(file))annotations/"
        var out: [ObjectID: VersionMetadata] = [:]
        for (name, _) in try refs.list(prefix: prefix) {
            guard let versionID = ObjectID(hex: name.dropping(prefix: prefix)) else { continue }
            out[versionID] = try metadata(of: versionID, try version(versionID))
        }
        return out
    }

    /// Changes a version's metadata: `change` gets the current effective metadata and edits
    /// it; `check` may refuse the result (e.g. a name already taken) before anything is
    /// written. Returns the new metadata; when nothing changed, nothing is written.
    ///
    /// Compare-and-swap on the annotation ref, retried on a concurrent change, so two renames
    /// of one version serialise and both are in the chain.
    @discardableResult
    public func annotate(
        _ versionID: ObjectID, author: String, message: String?,
        check: (VersionMetadata) throws(StoreError) -> Void = { _ throws(StoreError) in },
        change: (inout VersionMetadata) -> Void
    ) throws(StoreError) -> VersionMetadata {
        try writing { () throws(StoreError) -> VersionMetadata in
            let version = try version(versionID)
            let ref = RefNames.annotation(version.file, versionID)
            for _ in 0..<Self.casAttempts {
                let state = try refState(ref)
                let current = try metadata(of: versionID, version)
                var next = current
                change(&next)
                if next.sameContent(as: current) { return current }
                try check(next)
                let annotation = AnnotationObject(
                    file: version.file, version: versionID, name: next.name, description: next.description,
                    hidden: next.hidden, evaluators: next.evaluators, author: author, createdAt: clock())
                let id = try write(.annotation(annotation))
                do throws(StoreError) {
                    let event = try moveRef(ref, to: id, author: author, message: message, expecting: .target(state?.target))
                    next.updatedAt = event.flatMap { try? self.event($0).time } ?? annotation.createdAt
                    return next
                } catch .refConflict {
                    continue
                }
            }
            throw .lockTimeout(ref.rawValue)
        }
    }

    /// For `verify`: the file an annotation or log object belongs to, and the noun for it,
    /// when `object` is the type the `files/<file>/<namespace>/…` ref namespace holds.
    static func annotationOrLogTarget(_ object: StoredObject, namespace: Substring) -> (ObjectID, String)? {
        switch (object, namespace) {
        case (.annotation(let a), "annotations"): (a.file, "annotation")
        case (.log(let l), "logs"): (l.file, "log")
        default: nil
        }
    }
}
