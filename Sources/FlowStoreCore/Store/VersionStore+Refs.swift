/// The two kinds of named pointer a file has besides its head.
public enum RefKind: String, Sendable, CaseIterable {
    /// Release labels (`production`, `staging`): PromptLayer's release labels, FlowStore's tags.
    case labels
    /// Deployments (`development`, `production`): Humanloop's environments.
    case environments

    /// Singular, for messages.
    public var noun: String { self == .labels ? "label" : "environment" }
}

/// The ref namespace, in one place (spec/FORMAT.md, "Refs").
public enum RefNames {
    public static func path(_ path: FlowPath) -> RefName {
        RefName(validated: "paths/\(path.rawValue)")
    }

    public static func filePrefix(_ file: ObjectID) -> String { "files/\(file.hex)/" }

    /// The first segment of a ref name or listing prefix (`paths` of `paths/a/b` and of
    /// `paths/`), by bytes; `nil` when it has no `/`. Listing stamps are kept per top segment.
    public static func topSegment(of name: String) -> Substring? {
        guard let slash = name.utf8.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        return Substring(name.utf8[..<slash])
    }

    public static func head(_ file: ObjectID) -> RefName {
        RefName(validated: "files/\(file.hex)/head")
    }

    public static func named(_ file: ObjectID, _ kind: RefKind, _ label: RefLabel) -> RefName {
        RefName(validated: "files/\(file.hex)/\(kind.rawValue)/\(label.rawValue)")
    }
}

/// What a ref says now: the event at its chain head and the target that event left it at.
public struct RefState: Sendable, Equatable {
    public var name: RefName
    public var eventID: ObjectID
    public var event: EventObject
    /// `nil` when the last event deleted the ref.
    public var target: ObjectID? { event.to }
}

/// How a ref move guards against concurrent writers.
public enum RefExpectation: Sendable, Equatable {
    /// Move from whatever the ref points at now (every move is still chained and audited).
    case any
    /// Move only if the ref's target is exactly this (`nil`: unset or deleted).
    case target(ObjectID?)
}

extension VersionStore {
    static let casAttempts = 64

    public func refState(_ name: RefName) throws(StoreError) -> RefState? {
        guard let eventID = try refs.read(name) else { return nil }
        let event = try event(eventID)
        guard event.ref == name else {
            throw .corruptObject(eventID, reason: "event belongs to ref \(event.ref), not \(name)")
        }
        return RefState(name: name, eventID: eventID, event: event)
    }

    public func target(of name: RefName) throws(StoreError) -> ObjectID? {
        try refState(name)?.target
    }

    /// Moves a ref by first writing the event that explains the move, then compare-and-swapping
    /// the ref onto it. Returns the new event id, or `nil` when the ref already had that target
    /// (nothing to record).
    @discardableResult
    public func moveRef(
        _ name: RefName, to target: ObjectID?, author: String, message: String?,
        expecting expectation: RefExpectation = .any
    ) throws(StoreError) -> ObjectID? {
        try writing { () throws(StoreError) -> ObjectID? in
            for _ in 0..<Self.casAttempts {
                let current = try refState(name)
                let currentTarget = current?.target
                if case .target(let expected) = expectation, expected != currentTarget {
                    throw .refConflict(ref: name.rawValue, expected: expected, actual: currentTarget)
                }
                if currentTarget == target { return nil }
                if current == nil { try CaseFoldIndex(refs: refs).check(name) }
                let action: EventAction = target == nil ? .delete : (currentTarget == nil ? .create : .move)
                let event = EventObject(
                    ref: name, action: action, from: currentTarget, to: target, prev: current?.eventID,
                    author: author, time: clock(), message: message)
                let eventID = try write(.event(event))
                do throws(StoreError) {
                    try refs.compareAndSwap(name, expected: current?.eventID, new: eventID)
                    return eventID
                } catch .refConflict {
                    continue  // someone moved it first: re-read, re-check the expectation, chain after theirs
                }
            }
            throw .lockTimeout(name.rawValue)
        }
    }

    // MARK: Files

    /// The file currently at `path`, if any.
    public func fileID(at path: FlowPath) throws(StoreError) -> ObjectID? {
        try target(of: RefNames.path(path))
    }

    public func requireFile(at path: FlowPath) throws(StoreError) -> ObjectID {
        guard let id = try fileID(at: path) else { throw .fileNotFound(path.rawValue) }
        return id
    }

    /// Every live file, sorted by path.
    public func files() throws(StoreError) -> [(path: FlowPath, file: ObjectID)] {
        var out: [(path: FlowPath, file: ObjectID)] = []
        for (name, eventID) in try refs.list(prefix: "paths/") {
            let event = try event(eventID)
            guard let file = event.to, let path = try? FlowPath(name.dropping(prefix: "paths/"))
            else { continue }
            out.append((path, file))
        }
        return out
    }

    /// Creates a new, empty file at a free path.
    public func createFile(path: FlowPath, kind: FileKind, author: String) throws(StoreError) -> ObjectID {
        try writing { () throws(StoreError) -> ObjectID in
            // A name refused for its letter case is refused before anything is written (`moveRef`
            // checks again, for a sibling created meanwhile).
            let ref = RefNames.path(path)
            if try refs.read(ref) == nil { try CaseFoldIndex(refs: refs).check(ref) }
            let nonce = Nonce.make()
            let file = try write(.file(FileObject(kind: kind, path: path, author: author, createdAt: clock(), nonce: nonce)))
            do throws(StoreError) {
                try moveRef(RefNames.path(path), to: file, author: author, message: "create \(kind.rawValue)",
                            expecting: .target(nil))
            } catch .refConflict {
                throw .fileExists(path.rawValue)
            }
            return file
        }
    }

    /// Moves a file to a new path: the new path's ref is created first, then the old one deleted,
    /// so a crash in between leaves the file reachable (under both paths), never lost.
    public func moveFile(from: FlowPath, to: FlowPath, author: String) throws(StoreError) {
        let file = try requireFile(at: from)
        if from == to { return }
        do {
            try moveRef(RefNames.path(to), to: file, author: author, message: "move from \(from.rawValue)",
                        expecting: .target(nil))
        } catch .refConflict {
            throw .fileExists(to.rawValue)
        }
        try moveRef(RefNames.path(from), to: nil, author: author, message: "move to \(to.rawValue)",
                    expecting: .target(file))
    }

    /// Hides a file: its path ref is deleted by an event; every object and its history remain.
    public func deleteFile(at path: FlowPath, author: String, message: String? = nil) throws(StoreError) {
        let file = try requireFile(at: path)
        try moveRef(RefNames.path(path), to: nil, author: author, message: message ?? "delete",
                    expecting: .target(file))
    }

    // MARK: Labels and environments

    /// Points a label or environment of the file at one of its versions.
    @discardableResult
    public func setRef(
        _ kind: RefKind, _ label: RefLabel, of path: FlowPath, to version: ObjectID, author: String,
        message: String? = nil, expecting: RefExpectation = .any
    ) throws(StoreError) -> ObjectID? {
        let file = try requireFile(at: path)
        let v = try self.version(version)
        guard v.file == file else {
            throw .invalidInput("version \(version.short) belongs to another file, not \(quoted(path.rawValue))")
        }
        return try moveRef(RefNames.named(file, kind, label), to: version, author: author, message: message,
                           expecting: expecting)
    }

    /// Removes a label or deployment (an event; the history of the ref stays).
    @discardableResult
    public func removeRef(
        _ kind: RefKind, _ label: RefLabel, of path: FlowPath, author: String, message: String? = nil
    ) throws(StoreError) -> ObjectID {
        let file = try requireFile(at: path)
        let name = RefNames.named(file, kind, label)
        guard let current = try target(of: name) else {
            throw .refNotFound("\(path.rawValue)@\(kind.rawValue)/\(label.rawValue)")
        }
        guard let event = try moveRef(name, to: nil, author: author, message: message, expecting: .target(current))
        else { throw .refNotFound(name.rawValue) }
        return event
    }

    /// The labels (or environments) of a file that point at a version, sorted by name.
    public func namedRefs(_ kind: RefKind, of file: ObjectID) throws(StoreError) -> [(label: RefLabel, version: ObjectID)] {
        let prefix = "\(RefNames.filePrefix(file))\(kind.rawValue)/"
        var out: [(label: RefLabel, version: ObjectID)] = []
        for (name, eventID) in try refs.list(prefix: prefix) {
            guard let target = try event(eventID).to,
                let label = try? RefLabel(name.dropping(prefix: prefix))
            else { continue }
            out.append((label, target))
        }
        return out
    }

    /// Copies the target of one label onto another: how a version is promoted
    /// (`staging` → `production`). The destination moves by compare-and-swap after the event
    /// that records it, so concurrent promotions are each chained, none silently lost.
    @discardableResult
    public func promote(
        _ path: FlowPath, kind: RefKind = .labels, from source: RefLabel, to destination: RefLabel,
        author: String, message: String? = nil
    ) throws(StoreError) -> (version: ObjectID, event: ObjectID?) {
        let file = try requireFile(at: path)
        guard let version = try target(of: RefNames.named(file, kind, source)) else {
            throw .refNotFound("\(path.rawValue)@\(kind.rawValue)/\(source.rawValue)")
        }
        let event = try moveRef(
            RefNames.named(file, kind, destination), to: version, author: author,
            message: message ?? "promote \(source.rawValue) to \(destination.rawValue)")
        return (version, event)
    }
}
