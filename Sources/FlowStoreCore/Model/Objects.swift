/// Whether a file holds a Humanloop-style flow or a PromptLayer-style agent.
public enum FileKind: String, Sendable, CaseIterable, Codable {
    case flow, agent
}

/// A flow or agent's identity: written once when it is created. Its id is what `fl_…` ids and
/// the `files/<id>/…` refs derive from, so a file keeps its identity when it is moved.
public struct FileObject: Sendable, Equatable {
    public var kind: FileKind
    /// The path the file was created at (moves are events on `paths/…` refs).
    public var path: FlowPath
    public var author: String
    public var createdAt: String
    /// Random, so two files created at the same path and instant still differ.
    public var nonce: String

    public init(kind: FileKind, path: FlowPath, author: String, createdAt: String, nonce: String) {
        self.kind = kind
        self.path = path
        self.author = author
        self.createdAt = createdAt
        self.nonce = nonce
    }
}

/// The definition itself, stored once however many versions share it: a flow's `attributes`,
/// or an agent's `nodes`, `edges` and `required_input_variables`.
public struct ContentObject: Sendable, Equatable {
    public var kind: FileKind
    /// The definition's members (without `type`/`kind`).
    public var definition: JSONObject

    /// The members a definition of each kind carries; anything else belongs to the version.
    public static func fields(for kind: FileKind) -> [String] {
        switch kind {
        case .flow: ["attributes"]
        case .agent: ["edges", "nodes", "required_input_variables"]
        }
    }

    public init(kind: FileKind, definition: JSONObject) {
        self.kind = kind
        self.definition = definition
    }
}

/// One version of a file: immutable, linked to its parents, so history is a walk.
public struct VersionObject: Sendable, Equatable {
    public var file: ObjectID
    public var kind: FileKind
    public var path: FlowPath
    public var content: ObjectID
    /// The versions this one was made from; the first is its base.
    public var parents: [ObjectID]
    /// Position along the file's first-parent history, from 1.
    public var number: Int
    public var name: String?
    public var message: String?
    public var author: String
    public var createdAt: String
    /// Extra request fields a client sent that are not part of the definition (e.g. `folder_id`).
    public var metadata: JSONObject?

    public init(
        file: ObjectID, kind: FileKind, path: FlowPath, content: ObjectID, parents: [ObjectID], number: Int,
        name: String?, message: String?, author: String, createdAt: String, metadata: JSONObject? = nil
    ) {
        self.file = file
        self.kind = kind
        self.path = path
        self.content = content
        self.parents = parents
        self.number = number
        self.name = name
        self.message = message
        self.author = author
        self.createdAt = createdAt
        self.metadata = metadata
    }
}

/// What an event did to its ref.
public enum EventAction: String, Sendable, CaseIterable {
    /// The ref came into being (or came back after a delete).
    case create
    /// The ref moved from one target to another.
    case move
    /// The ref was hidden; its chain stays and can continue.
    case delete
    /// Two diverged chains of the same ref were joined (offline sync).
    case merge
}

/// One link of a ref's audit chain: who moved which ref from what to what, when and why.
/// Written before the ref moves, so the chain always explains the ref.
public struct EventObject: Sendable, Equatable {
    public var ref: RefName
    public var action: EventAction
    public var from: ObjectID?
    public var to: ObjectID?
    /// The ref's previous event; `nil` only for the first event of a ref.
    public var prev: ObjectID?
    /// For merges: the other chain heads joined by this event.
    public var merged: [ObjectID]
    public var author: String
    public var time: String
    public var message: String?

    public init(
        ref: RefName, action: EventAction, from: ObjectID?, to: ObjectID?, prev: ObjectID?,
        merged: [ObjectID] = [], author: String, time: String, message: String?
    ) {
        self.ref = ref
        self.action = action
        self.from = from
        self.to = to
        self.prev = prev
        self.merged = merged
        self.author = author
        self.time = time
        self.message = message
    }
}

/// A log recorded against a version (Humanloop's "Log to a Flow"). Immutable like everything
/// else: an update writes a new log object whose `previous` names the one it supersedes.
public struct LogObject: Sendable, Equatable {
    public var file: ObjectID
    public var version: ObjectID
    public var logID: String
    public var previous: ObjectID?
    public var createdAt: String
    public var author: String
    public var data: JSONObject

    public init(
        file: ObjectID, version: ObjectID, logID: String, previous: ObjectID?, createdAt: String, author: String,
        data: JSONObject
    ) {
        self.file = file
        self.version = version
        self.logID = logID
        self.previous = previous
        self.createdAt = createdAt
        self.author = author
        self.data = data
    }
}

/// Any object in the store, decoded by its `type`.
public enum StoredObject: Sendable, Equatable {
    case file(FileObject)
    case content(ContentObject)
    case version(VersionObject)
    case event(EventObject)
    case log(LogObject)
    case annotation(AnnotationObject)

    public var typeName: String {
        switch self {
        case .file: "file"
        case .content: "content"
        case .version: "version"
        case .event: "event"
        case .log: "log"
        case .annotation: "annotation"
        }
    }

    /// The ids this object points at, for reachability (`gc`) and integrity (`verify`).
    public var references: [ObjectID] {
        switch self {
        case .file, .content: []
        case .version(let v): [v.file, v.content] + v.parents
        case .event(let e): [e.from, e.to, e.prev].compactMap { $0 } + e.merged
        case .log(let l): [l.file, l.version] + [l.previous].compactMap { $0 }
        case .annotation(let a): [a.file, a.version]
        }
    }
}
