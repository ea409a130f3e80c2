/// One thing `verify` found wrong, named so a person can find it.
public struct VerifyProblem: Sendable, Equatable, CustomStringConvertible {
    /// An object id, a ref name, or a file inside the store.
    public var subject: String
    public var message: String

    public var description: String { "\(subject): \(message)" }
}

public struct VerifyReport: Sendable {
    public var objectsChecked = 0
    public var refsChecked = 0
    public var eventsChecked = 0
    public var problems: [VerifyProblem] = []
    public var isClean: Bool { problems.isEmpty }
}

extension VersionStore {
    /// Rehashes and decodes every object, checks every reference between objects, and walks
    /// every ref's event chain. Streams over objects, so memory does not grow with the store.
    public func verify(progress: ((Int) -> Void)? = nil) throws(StoreError) -> VerifyReport {
        var report = VerifyReport()
        func problem(_ subject: String, _ message: String) {
            report.problems.append(VerifyProblem(subject: subject, message: message))
        }

        for entry in try objects.strayEntries() {
            problem(entry, "not an object (stray or temporary file; `flowstore gc` removes temporary files)")
        }

        try objects.list { (id: ObjectID) throws(StoreError) in
            report.objectsChecked += 1
            progress?(report.objectsChecked)
            let bytes: [UInt8]
            let decoded: StoredObject
            do throws(StoreError) {
                bytes = try objects.get(id)
                decoded = try StoredObject.decode(id: id, bytes: bytes)
            } catch {
                problem(id.hex, Self.reason(error, for: id))
                return
            }
            if decoded.canonicalBytes() != bytes {
                problem(id.hex, "bytes are not in canonical form")
            }
            for ref in decoded.references where try !objects.has(ref) {
                problem(id.hex, "\(decoded.typeName) refers to missing object \(ref.hex)")
            }
            if case .version(let v) = decoded {
                try checkVersion(id, v, problem: problem)
            }
        }

        // A torn or garbage ref file is one more problem, not the end of the check.
        let allRefs = try refs.list(prefix: "") { ref, error in
            problem("ref \(ref)", "ref file does not hold an event id (\(error))")
        }
        for (name, head) in allRefs {
            report.refsChecked += 1
            var events = 0  // not `&report.eventsChecked`: `problem` also writes to `report`
            try checkChain(name, head: head, count: &events, problem: problem)
            report.eventsChecked += events
        }
        return report
    }

    private static func reason(_ error: StoreError, for id: ObjectID) -> String {
        switch error {
        case .corruptObject(_, let reason): reason
        case .objectNotFound: "vanished while verifying"
        default: error.description
        }
    }

    /// Parent links must stay inside the file and number versions densely along first parents.
    private func checkVersion(_ id: ObjectID, _ v: VersionObject, problem: (String, String) -> Void) throws(StoreError) {
        if let first = v.parents.first {
            if let parent = try? version(first) {
                if parent.file != v.file { problem(id.hex, "first parent \(first.short) belongs to another file") }
                // A merge version (offline sync) follows the highest of its parents instead.
                let highest = v.parents.count > 1 ? v.parents.compactMap { try? version($0).number }.max() : nil
                if parent.number + 1 != v.number, highest.map({ $0 + 1 }) != v.number {
                    problem(id.hex, "version number \(v.number) does not follow its parent's \(parent.number)")
                }
            }
        } else if v.number != 1 {
            problem(id.hex, "version without parents must be number 1, not \(v.number)")
        }
        if let content = try? object(v.content), case .content(let c) = content, c.kind != v.kind {
            problem(id.hex, "content \(v.content.short) is a \(c.kind.rawValue) definition, not a \(v.kind.rawValue)")
        }
    }

    /// A chain is sound when each event belongs to the ref, each `from` equals the previous
    /// event's `to`, each target has the type the ref holds, and the chain ends at a first event.
    /// A `merge` event (offline sync) also names the heads of the chains it joins in `merged`:
    /// those must be events of the same ref, and their chains are checked the same way.
    private func checkChain(
        _ name: RefName, head: ObjectID, count: inout Int, problem: (String, String) -> Void
    ) throws(StoreError) {
        let subject = "ref \(name.rawValue)"
        // (event, the event after it through `prev`; nil for a chain head or a merged head)
        var pending: [(id: ObjectID, newer: EventObject?, mergedBy: ObjectID?)] = [(head, nil, nil)]
        var seen = Set<ObjectID>()
        while let (id, newer, mergedBy) = pending.popLast() {
            let event: EventObject
            do {
                event = try self.event(id)
            } catch .objectNotFound {
                if let mergedBy { problem(subject, "merge event \(mergedBy.short) joins missing event \(id.hex)"); continue }
                problem(subject, newer == nil ? "points at missing event \(id.hex)" : "event chain broken: missing event \(id.hex)")
                continue
            } catch {
                problem(subject, "event \(id.short): \(Self.reason(error, for: id))")
                continue
            }
            if let newer, newer.from != event.to {
                problem(subject, "event chain broken after \(id.short): next event starts from \(newer.from?.short ?? "nothing"), not \(event.to?.short ?? "nothing")")
            }
            guard seen.insert(id).inserted else { continue }  // history shared by two merged chains
            count += 1
            if event.ref != name {
                problem(subject, mergedBy.map { "merge event \($0.short) joins event \(id.short) of ref \(event.ref)" }
                    ?? "event \(id.short) belongs to ref \(event.ref)")
            }
            if (event.action == .merge) == event.merged.isEmpty {
                problem(subject, event.action == .merge ? "merge event \(id.short) joins no chain" : "\(event.action.rawValue) event \(id.short) names merged chains")
            }
            if let target = event.to { checkTarget(target, of: name, event: id, problem: problem) }
            if event.prev == nil, event.from != nil {
                problem(subject, "first event \(id.short) moves from \(event.from?.short ?? "") but has no previous event")
            }
            for other in event.merged.reversed() { pending.append((other, nil, id)) }
            if let prev = event.prev { pending.append((prev, event, nil)) }
        }
    }

    func checkTarget(_ target: ObjectID, of name: RefName, event: ObjectID, problem: (String, String) -> Void) {
        let subject = "ref \(name.rawValue)"
        guard let object = try? object(target) else {
            return problem(subject, "event \(event.short) points at missing or corrupt object \(target.hex)")
        }
        let parts = name.segments
        if parts.first == "paths" {
            if case .file = object { return }
            problem(subject, "event \(event.short) points at a \(object.typeName), not a file")
        } else if parts.first == "logids" {
            guard case .log(let log) = object else {
                return problem(subject, "event \(event.short) points at a \(object.typeName), not a log")
            }
            if RefNames.logID(log.logID) != name { problem(subject, "event \(event.short) points at log \(log.logID), whose id is not this one") }
        } else if parts.first == "files", parts.count >= 3 {
            // Annotation and log refs (VersionStore+Annotations, VersionStore+Logs) hold their own types.
            if let (file, expected) = Self.annotationOrLogTarget(object, namespace: parts[2]) {
                if file.hex != parts[1] { problem(subject, "event \(event.short) points at a \(expected) of another file") }
                return
            }
            if parts[2] == "annotations" || parts[2] == "logs" {
                let expected = parts[2] == "logs" ? "a log" : "an annotation"
                return problem(subject, "event \(event.short) points at a \(object.typeName), not \(expected)")
            }
            guard case .version(let v) = object else {
                return problem(subject, "event \(event.short) points at a \(object.typeName), not a version")
            }
            if v.file.hex != parts[1] { problem(subject, "event \(event.short) points at a version of another file") }
        }
    }
}
