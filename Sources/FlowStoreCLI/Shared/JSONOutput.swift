import FlowStoreCore

/// The `--json` output of every command: built as `JSONValue`s and printed with sorted keys,
/// two-space indentation and a final newline. Field names are snake_case and stable; an
/// absent value is `null`, never a missing field.
extension Console {
    func printJSON(_ value: JSONValue) {
        print(value.prettyPrinted())
    }
}

extension JSONValue {
    static func int(_ n: Int) -> JSONValue { .number(Double(n)) }
    static func nullable(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
    static func id(_ id: ObjectID?) -> JSONValue { id.map { .string($0.hex) } ?? .null }
    static func ids(_ ids: [ObjectID]) -> JSONValue { .array(ids.map { .string($0.hex) }) }
    static func strings(_ items: [String]) -> JSONValue { .array(items.map(JSONValue.string)) }
}

enum JSONShapes {
    /// A version, as `show`, `log` and `put` print it:
    /// `version_id, file_id, path, kind, number, name, message, author, created_at, parents,
    /// content_id, metadata, labels, environments, is_head`.
    static func version(_ id: ObjectID, _ v: VersionObject, refs: FileRefs) -> JSONObject {
        var o = JSONObject()
        o["version_id"] = .id(id)
        o["file_id"] = .id(v.file)
        o["path"] = .string(v.path.rawValue)
        o["kind"] = .string(v.kind.rawValue)
        o["number"] = .int(v.number)
        o["name"] = .nullable(v.name)
        o["message"] = .nullable(v.message)
        o["author"] = .string(v.author)
        o["created_at"] = .string(v.createdAt)
        o["parents"] = .ids(v.parents)
        o["content_id"] = .id(v.content)
        o["metadata"] = v.metadata.map(JSONValue.object) ?? .null
        o["labels"] = .strings(refs.names(.labels, at: id))
        o["environments"] = .strings(refs.names(.environments, at: id))
        o["is_head"] = .bool(refs.head == id)
        return o
    }

    /// A label or environment: `{name, version_id, number}`.
    static func namedRef(_ label: RefLabel, _ version: ObjectID, number: Int?) -> JSONValue {
        ["name": .string(label.rawValue), "version_id": .id(version), "number": number.map(JSONValue.int) ?? .null]
    }
}
