/// Revision syntax, modelled on git's (spec/FORMAT.md, "Naming versions"):
///
/// | form | meaning |
/// |---|---|
/// | `PATH` | the file's head |
/// | `PATH@NAME` | label NAME, else environment NAME |
/// | `PATH@labels/NAME`, `PATH@environments/NAME` | explicitly one or the other |
/// | `PATH#N` | version number N |
/// | `ID` | a full id or a unique prefix of at least 4 hex characters |
/// | any of these + `~K` | K first-parent steps back (`~` alone is `~1`) |
extension VersionStore {
    /// Resolves a revision to a version id.
    public func resolveVersion(_ spec: String) throws(StoreError) -> ObjectID {
        let id = try resolve(spec)
        _ = try version(id)  // type check: the spec must name a version
        return id
    }

    /// Resolves a revision, or an object id of any type, to an object id.
    public func resolve(_ spec: String) throws(StoreError) -> ObjectID {
        guard !spec.isEmpty else { throw .invalidInput("empty revision") }
        // Split on scalars, not Characters: a Prepend character before `~`, `#` or `@` (or a
        // combining mark after one) fuses with it into one Character.
        var base = Substring(spec).unicodeScalars
        var steps = 0
        // Trailing ~K / ~ suffixes, read right to left.
        while let tilde = base.lastIndex(of: "~") {
            let digits = base[base.index(after: tilde)...]
            guard digits.allSatisfy({ ("0"..."9").contains($0) }) else { break }
            var step = 1
            if !digits.isEmpty {
                guard digits.count <= 18, let k = Int(String(digits)) else {
                    throw .invalidInput("\(quoted(spec)): ~\(String(digits)) is more steps than any history has")
                }
                step = k
            }
            let (sum, overflow) = steps.addingReportingOverflow(step)
            guard !overflow else { throw .invalidInput("\(quoted(spec)): more steps back than any history has") }
            steps = sum
            base = base[..<tilde]
        }
        let start = try resolveBase(String(Substring(base)), original: spec)
        return steps == 0 ? start : try ancestor(of: start, steps: steps)
    }

    private func resolveBase(_ base: String, original: String) throws(StoreError) -> ObjectID {
        // A whole path wins, so paths may contain '@' or '#'.
        if let path = try? FlowPath(base), let file = try fileID(at: path) {
            guard let head = try target(of: RefNames.head(file)) else { throw .versionNotFound(original) }
            return head
        }
        let scalars = base.unicodeScalars
        if let hash = scalars.lastIndex(of: "#"), let number = Int(String(Substring(scalars[scalars.index(after: hash)...]))),
            let path = try? FlowPath(String(Substring(scalars[..<hash]))), try fileID(at: path) != nil
        {
            return try version(numbered: number, of: path)
        }
        if let at = scalars.lastIndex(of: "@"), let path = try? FlowPath(String(Substring(scalars[..<at]))),
            let file = try fileID(at: path)
        {
            return try resolveNamed(String(Substring(scalars[scalars.index(after: at)...])), file: file, path: path)
        }
        if ObjectID.isPrefix(base), base.utf8.count >= 4 {
            return try expand(prefix: base)
        }
        let beforeAt = scalars.firstIndex(of: "@").map { String(Substring(scalars[..<$0])) } ?? base
        if let path = try? FlowPath(beforeAt) {
            throw .fileNotFound(path.rawValue)
        }
        throw .versionNotFound(original)
    }

    private func resolveNamed(_ name: String, file: ObjectID, path: FlowPath) throws(StoreError) -> ObjectID {
        var kinds = RefKind.allCases
        var labelText = name
        for kind in RefKind.allCases where name.hasBytePrefix("\(kind.rawValue)/") {
            kinds = [kind]
            labelText = name.droppingBytes(kind.rawValue.utf8.count + 1)
        }
        let label = try RefLabel(labelText)
        for kind in kinds {
            if let target = try target(of: RefNames.named(file, kind, label)) { return target }
        }
        throw .refNotFound("\(path.rawValue)@\(name)")
    }
}

/// One audit record: an event and its id.
public struct AuditEntry: Sendable, Equatable {
    public var id: ObjectID
    public var event: EventObject
}

extension VersionStore {
    /// The events of every ref of a file (or of the whole store), newest first. Each ref's
    /// chain is walked through `prev` links, so what is shown is exactly what the chain proves.
    public func audit(path: FlowPath? = nil, limit: Int? = nil) throws(StoreError) -> [AuditEntry] {
        var heads: [(name: RefName, event: ObjectID)]
        if let path {
            let file = try requireFile(at: path)
            heads = try refs.list(prefix: RefNames.filePrefix(file))
            if let pathHead = try refs.read(RefNames.path(path)) { heads.append((RefNames.path(path), pathHead)) }
        } else {
            heads = try refs.list(prefix: "")
        }
        // (entry, depth in its chain): same-millisecond events of one ref keep chain order.
        var entries: [(AuditEntry, Int)] = []
        for (_, head) in heads {
            // A merge event (offline sync) joins other chains of the ref through `merged`: walk those too.
            var pending: [(ObjectID, Int)] = [(head, 0)]
            var seen = Set<ObjectID>()
            while let (id, depth) = pending.popLast() {
                guard seen.insert(id).inserted else { continue }
                let event = try event(id)
                entries.append((AuditEntry(id: id, event: event), depth))
                pending += (event.merged + [event.prev].compactMap { $0 }).map { ($0, depth + 1) }
            }
        }
        entries.sort { a, b in
            if a.0.event.time != b.0.event.time { return a.0.event.time > b.0.event.time }
            if a.0.event.ref != b.0.event.ref { return a.0.event.ref < b.0.event.ref }
            return a.1 < b.1
        }
        let ordered = entries.map(\.0)
        guard let limit else { return ordered }
        return Array(ordered.prefix(limit))
    }
}
