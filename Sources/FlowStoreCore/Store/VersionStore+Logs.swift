/// Logs recorded against versions (Humanloop "Log to a Flow").
///
/// Each log has a ref `files/<file>/logs/<version>/<log id>` whose event chain records the
/// log's creation and every update; an update writes a new `log` object whose `previous` is
/// the one it supersedes. Putting the version in the ref name makes "how many logs does this
/// version have" one directory listing, with no index to keep in step.
extension RefNames {
    public static func logsPrefix(_ file: ObjectID, _ version: ObjectID) -> String {
        "files/\(file.hex)/logs/\(version.hex)/"
    }

    /// The ref of one log; `logID` must be a valid ref segment (see `VersionStore.validateLogID`).
    public static func log(_ file: ObjectID, _ version: ObjectID, _ logID: String) throws(StoreError) -> RefName {
        try VersionStore.validateLogID(logID)
        return RefName(validated: logsPrefix(file, version) + logID)
    }

    /// Where a client-chosen log id says which log it names: `logids/` and the SHA-256 of the
    /// id's UTF-8 bytes, so any valid id, of any length or case, is one fixed-size name that
    /// cannot clash with another on a case-insensitive file system. It targets the log's first
    /// object, which names the file, the version and the id.
    public static func logID(_ logID: String) -> RefName {
        RefName(validated: "logids/" + SHA256.hex(of: Array(logID.utf8)))
    }
}

/// Where a log lives and what it says now.
public struct LogState: Sendable, Equatable {
    public var ref: RefName
    public var id: ObjectID
    public var log: LogObject
}

extension VersionStore {
    public static func validateLogID(_ logID: String) throws(StoreError) {
        if let reason = NameRules.problem(with: logID) {
            throw .invalidName(kind: "log id", name: logID, reason: reason)
        }
    }

    public func logObject(_ id: ObjectID) throws(StoreError) -> LogObject {
        let object = try object(id)
        guard case .log(let l) = object else { throw .wrongObjectType(id, expected: "log", actual: object.typeName) }
        return l
    }

    /// Records a new log against a version of `file`. A log id already used for this version
    /// is a `refConflict` (nothing is overwritten).
    ///
    /// `findableByID`: the id says nothing of where the log is (a client chose it), so it
    /// also gets a `logids/` ref (`RefNames.logID`) and `log(id:)` finds it with two ref reads.
    /// Made after the log's own ref: a crash between leaves a log that only a walk finds
    /// (`findLog(_:in:)`), never an id that names no log. An id already naming another live
    /// log keeps naming it (the first log recorded with an id is the one found by it).
    public func recordLog(
        file: ObjectID, version: ObjectID, logID: String, data: JSONObject, author: String,
        findableByID: Bool = false
    ) throws(StoreError) -> LogState {
        try writing { () throws(StoreError) -> LogState in
            let ref = try RefNames.log(file, version, logID)
            guard try self.version(version).file == file else {
                throw .invalidInput("version \(version.short) is not a version of file \(file.short)")
            }
            if let existing = try refs.read(ref) {
                throw .refConflict(ref: ref.rawValue, expected: nil, actual: existing)
            }
            let log = LogObject(
                file: file, version: version, logID: logID, previous: nil, createdAt: clock(), author: author, data: data)
            let id = try write(.log(log))
            try moveRef(ref, to: id, author: author, message: "log", expecting: .target(nil))
            if findableByID { try index(logID, at: id, author: author) }
            return LogState(ref: ref, id: id, log: log)
        }
    }

    /// Points `logids/…` at the log `first` unless it already names a live log.
    private func index(_ logID: String, at first: ObjectID, author: String) throws(StoreError) {
        let alias = RefNames.logID(logID)
        var expected: ObjectID? = nil
        for _ in 0..<Self.casAttempts {
            do throws(StoreError) {
                try moveRef(alias, to: first, author: author, message: "log id", expecting: .target(expected))
                return
            } catch .refConflict {
                let current = try target(of: alias)
                // Another live log has the id: it stays the one the id names.
                if let current, try log(indexedAt: current, logID: logID) != nil { return }
                expected = current
            }
        }
        throw .lockTimeout(alias.rawValue)
    }

    /// The log a client-chosen id names, found through its `logids/` ref: two ref reads and an
    /// object read, whatever the store's size. `nil` when the id has no such ref (an unknown id,
    /// or a log recorded without one: `findLog(_:in:)` walks a file's logs).
    public func log(id logID: String) throws(StoreError) -> LogState? {
        guard NameRules.problem(with: logID) == nil, let first = try target(of: RefNames.logID(logID)) else {
            return nil
        }
        return try log(indexedAt: first, logID: logID)
    }

    /// The current state of the log whose first object is `first`, if it is live and has the id.
    private func log(indexedAt first: ObjectID, logID: String) throws(StoreError) -> LogState? {
        guard case .log(let original) = try object(first), original.logID.utf8.elementsEqual(logID.utf8) else {
            return nil
        }
        return try logState(RefNames.log(original.file, original.version, logID))
    }

    /// Supersedes a log: `change` edits a copy of its data; the new log object points back at
    /// the old one, and the ref moves by compare-and-swap (a concurrent update is retried on
    /// top of the other, so neither is lost).
    public func updateLog(
        _ state: LogState, author: String, change: (inout JSONObject) -> Void
    ) throws(StoreError) -> LogState {
        try writing { () throws(StoreError) -> LogState in
            var current = state
            for _ in 0..<Self.casAttempts {
                var data = current.log.data
                change(&data)
                let log = LogObject(
                    file: current.log.file, version: current.log.version, logID: current.log.logID, previous: current.id,
                    createdAt: clock(), author: author, data: data)
                let id = try write(.log(log))
                do throws(StoreError) {
                    try moveRef(current.ref, to: id, author: author, message: "update log", expecting: .target(current.id))
                    return LogState(ref: current.ref, id: id, log: log)
                } catch .refConflict {
                    guard let fresh = try logState(current.ref) else { throw .refNotFound(current.ref.rawValue) }
                    current = fresh
                }
            }
            throw .lockTimeout(state.ref.rawValue)
        }
    }

    public func logState(_ ref: RefName) throws(StoreError) -> LogState? {
        guard let target = try target(of: ref) else { return nil }
        return LogState(ref: ref, id: target, log: try logObject(target))
    }

    /// The log with this id among a file's logs, found by listing the file's log refs.
    public func findLog(_ logID: String, in file: ObjectID) throws(StoreError) -> LogState? {
        guard NameRules.problem(with: logID) == nil else { return nil }
        for (id, ref) in try logRefs(of: file) where id.utf8.elementsEqual(logID.utf8) {
            if let state = try logState(ref) { return state }
        }
        return nil
    }

    /// Every log ref of a file, with the log id its name ends in: one listing, no log read.
    public func logRefs(of file: ObjectID) throws(StoreError) -> [(logID: String, ref: RefName)] {
        try refs.list(prefix: RefNames.filePrefix(file) + "logs/").compactMap { (name, _) in
            guard let slash = name.rawValue.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
            return (String(Substring(name.rawValue.utf8[name.rawValue.utf8.index(after: slash)...])), name)
        }
    }

    /// How many logs a version has: one directory listing, no log read.
    public func logCount(file: ObjectID, version: ObjectID) throws(StoreError) -> Int {
        try refs.count(prefix: RefNames.logsPrefix(file, version))
    }

    /// The first log object of a chain (the log as first recorded), following `previous`.
    public func originalLog(_ state: LogState) throws(StoreError) -> LogObject {
        var log = state.log
        var seen: Set<ObjectID> = [state.id]
        while let previous = log.previous, seen.insert(previous).inserted {
            log = try logObject(previous)
        }
        return log
    }
}
