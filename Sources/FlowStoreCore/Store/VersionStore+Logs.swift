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
    public func recordLog(
        file: ObjectID, version: ObjectID, logID: String, data: JSONObject, author: String
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
            return LogState(ref: ref, id: id, log: log)
        }
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
        for (name, _) in try refs.list(prefix: "files/\(file.hex)/logs/") where name.rawValue.hasByteSuffix("/" + logID) {
            if let state = try logState(name) { return state }
        }
        return nil
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
