/// The JSON shape of each object type, as `spec/FORMAT.md` defines it. Optional fields are
/// omitted when absent (never `null`), so each object has exactly one canonical form.
extension StoredObject {
    public var json: JSONValue {
        var o = JSONObject()
        o["type"] = .string(typeName)
        switch self {
        case .file(let f):
            o["kind"] = .string(f.kind.rawValue)
            o["path"] = .string(f.path.rawValue)
            o["author"] = .string(f.author)
            o["created_at"] = .string(f.createdAt)
            o["nonce"] = .string(f.nonce)
        case .content(let c):
            o["kind"] = .string(c.kind.rawValue)
            for member in c.definition { o[member.key] = member.value }
        case .version(let v):
            o["file"] = .string(v.file.hex)
            o["kind"] = .string(v.kind.rawValue)
            o["path"] = .string(v.path.rawValue)
            o["content"] = .string(v.content.hex)
            o["parents"] = .array(v.parents.map { .string($0.hex) })
            o["number"] = .number(Double(v.number))
            o["name"] = v.name.map(JSONValue.string)
            o["message"] = v.message.map(JSONValue.string)
            o["author"] = .string(v.author)
            o["created_at"] = .string(v.createdAt)
            o["metadata"] = v.metadata.map(JSONValue.object)
        case .event(let e):
            o["ref"] = .string(e.ref.rawValue)
            o["action"] = .string(e.action.rawValue)
            o["from"] = e.from.map { .string($0.hex) }
            o["to"] = e.to.map { .string($0.hex) }
            o["prev"] = e.prev.map { .string($0.hex) }
            if !e.merged.isEmpty { o["merged"] = .array(e.merged.map { .string($0.hex) }) }
            o["author"] = .string(e.author)
            o["time"] = .string(e.time)
            o["message"] = e.message.map(JSONValue.string)
        case .log(let l):
            o["file"] = .string(l.file.hex)
            o["version"] = .string(l.version.hex)
            o["log_id"] = .string(l.logID)
            o["previous"] = l.previous.map { .string($0.hex) }
            o["created_at"] = .string(l.createdAt)
            o["author"] = .string(l.author)
            o["data"] = .object(l.data)
        case .annotation(let a):
            o["file"] = .string(a.file.hex)
            o["version"] = .string(a.version.hex)
            o["name"] = a.name.map(JSONValue.string)
            o["description"] = a.description.map(JSONValue.string)
            o["hidden"] = .bool(a.hidden)
            o["evaluators"] = a.evaluators.map(JSONValue.array)
            o["author"] = .string(a.author)
            o["created_at"] = .string(a.createdAt)
        }
        return .object(o)
    }

    /// The canonical bytes, whose SHA-256 is the object's id.
    public func canonicalBytes() -> [UInt8] {
        // Objects are built from parsed JSON and validated fields: every number is finite.
        (try? CanonicalJSON.encode(json)) ?? []
    }

    /// Decodes stored bytes; any deviation from the spec is a `corruptObject` error naming
    /// the field, because the bytes came from disk or another store, not from a user.
    public static func decode(id: ObjectID, bytes: [UInt8]) throws(StoreError) -> StoredObject {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw .corruptObject(id, reason: error.description)
        }
        guard let object = value.objectValue else { throw .corruptObject(id, reason: "not a JSON object") }
        let r = FieldReader(id: id, object: object)
        let decoded: StoredObject
        switch try r.string("type") {
        case "file":
            try r.only(["type", "kind", "path", "author", "created_at", "nonce"])
            decoded = .file(
                FileObject(
                    kind: try r.kind(), path: try r.path("path"), author: try r.string("author"),
                    createdAt: try r.time("created_at"), nonce: try r.string("nonce")))
        case "content":
            let kind = try r.kind()
            let fields = ContentObject.fields(for: kind)
            try r.only(["type", "kind"] + fields)
            var definition = JSONObject()
            for member in object where fields.contains(member.key) { definition[member.key] = member.value }
            decoded = .content(ContentObject(kind: kind, definition: definition))
        case "version":
            try r.only([
                "type", "file", "kind", "path", "content", "parents", "number", "name", "message", "author",
                "created_at", "metadata",
            ])
            let number = try r.int("number")
            guard number >= 1 else { throw .corruptObject(id, reason: "field number must be at least 1") }
            decoded = .version(
                VersionObject(
                    file: try r.id("file"), kind: try r.kind(), path: try r.path("path"),
                    content: try r.id("content"), parents: try r.ids("parents"), number: number,
                    name: try r.optionalString("name"), message: try r.optionalString("message"),
                    author: try r.string("author"), createdAt: try r.time("created_at"),
                    metadata: try r.optionalObject("metadata")))
        case "event":
            try r.only(["type", "ref", "action", "from", "to", "prev", "merged", "author", "time", "message"])
            guard let action = EventAction(rawValue: try r.string("action")) else {
                throw .corruptObject(id, reason: "unknown event action")
            }
            let ref: RefName
            do { ref = try RefName(try r.string("ref")) } catch { throw .corruptObject(id, reason: error.description) }
            decoded = .event(
                EventObject(
                    ref: ref, action: action, from: try r.optionalID("from"), to: try r.optionalID("to"),
                    prev: try r.optionalID("prev"), merged: object["merged"] == nil ? [] : try r.ids("merged"),
                    author: try r.string("author"), time: try r.time("time"),
                    message: try r.optionalString("message")))
        case "log":
            try r.only(["type", "file", "version", "log_id", "previous", "created_at", "author", "data"])
            guard let data = try r.optionalObject("data") else { throw .corruptObject(id, reason: "missing field data") }
            decoded = .log(
                LogObject(
                    file: try r.id("file"), version: try r.id("version"), logID: try r.string("log_id"),
                    previous: try r.optionalID("previous"), createdAt: try r.time("created_at"),
                    author: try r.string("author"), data: data))
        case "annotation":
            try r.only(["type", "file", "version", "name", "description", "hidden", "evaluators", "author", "created_at"])
            guard let hidden = object["hidden"]?.boolValue else { throw .corruptObject(id, reason: "field hidden must be a boolean") }
            var evaluators: [JSONValue]?
            if let raw = object["evaluators"] {
                guard let list = raw.arrayValue else { throw .corruptObject(id, reason: "field evaluators must be an array") }
                evaluators = list
            }
            decoded = .annotation(
                AnnotationObject(
                    file: try r.id("file"), version: try r.id("version"), name: try r.optionalString("name"),
                    description: try r.optionalString("description"), hidden: hidden, evaluators: evaluators,
                    author: try r.string("author"), createdAt: try r.time("created_at")))
        case let other:
            throw .corruptObject(id, reason: "unknown object type \(quoted(other))")
        }
        return decoded
    }
}

/// Reads typed fields out of a stored object, turning every surprise into `corruptObject`.
private struct FieldReader {
    let id: ObjectID
    let object: JSONObject

    func fail(_ reason: String) -> StoreError { .corruptObject(id, reason: reason) }

    func only(_ allowed: [String]) throws(StoreError) {
        for key in object.keys where !allowed.contains(key) { throw fail("unexpected field \(quoted(key))") }
    }

    func string(_ key: String) throws(StoreError) -> String {
        guard let s = object[key]?.stringValue else { throw fail("field \(key) must be a string") }
        return s
    }

    func optionalString(_ key: String) throws(StoreError) -> String? {
        guard let value = object[key] else { return nil }
        guard let s = value.stringValue else { throw fail("field \(key) must be a string") }
        return s
    }

    func optionalObject(_ key: String) throws(StoreError) -> JSONObject? {
        guard let value = object[key] else { return nil }
        guard let o = value.objectValue else { throw fail("field \(key) must be an object") }
        return o
    }

    func int(_ key: String) throws(StoreError) -> Int {
        guard let n = object[key]?.intValue else { throw fail("field \(key) must be an integer") }
        return n
    }

    func id(_ key: String) throws(StoreError) -> ObjectID {
        guard let id = ObjectID(hex: try string(key)) else { throw fail("field \(key) must be an object id") }
        return id
    }

    func optionalID(_ key: String) throws(StoreError) -> ObjectID? {
        object[key] == nil ? nil : try id(key)
    }

    func ids(_ key: String) throws(StoreError) -> [ObjectID] {
        guard let items = object[key]?.arrayValue else { throw fail("field \(key) must be an array") }
        var out: [ObjectID] = []
        for item in items {
            guard let s = item.stringValue, let id = ObjectID(hex: s) else {
                throw fail("field \(key) must hold object ids")
            }
            out.append(id)
        }
        return out
    }

    func kind() throws(StoreError) -> FileKind {
        guard let kind = FileKind(rawValue: try string("kind")) else { throw fail("unknown kind") }
        return kind
    }

    func path(_ key: String) throws(StoreError) -> FlowPath {
        do { return try FlowPath(try string(key)) } catch { throw fail("field \(key): \(error.description)") }
    }

    func time(_ key: String) throws(StoreError) -> String {
        let t = try string(key)
        guard Timestamp.isValid(t) else { throw fail("field \(key) is not an RFC 3339 UTC timestamp") }
        return t
    }
}
