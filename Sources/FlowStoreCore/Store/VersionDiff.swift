/// A structural diff of two versions, in the terms people think in: changed attributes for a
/// flow; added, removed and changed nodes and edges for an agent; and the version metadata.
public struct VersionDiff: Sendable, Equatable {
    public enum Change: Sendable, Equatable {
        case added(JSONValue)
        case removed(JSONValue)
        case changed(from: JSONValue, to: JSONValue)
    }

    /// One difference, located by a readable path such as `attributes.prompt.temperature`,
    /// `nodes["router"].configuration` or `edges["router" -> "sales"]`.
    public struct Entry: Sendable, Equatable {
        public var location: String
        public var change: Change
    }

    public var from: ObjectID
    public var to: ObjectID
    public var entries: [Entry]

    public var isEmpty: Bool { entries.isEmpty }
}

extension VersionStore {
    public func diff(_ a: ObjectID, _ b: ObjectID) throws(StoreError) -> VersionDiff {
        let va = try version(a)
        let vb = try version(b)
        var entries: [VersionDiff.Entry] = []
        func meta(_ key: String, _ x: String?, _ y: String?) {
            VersionDiff.compare(key, x.map(JSONValue.string), y.map(JSONValue.string), into: &entries)
        }
        meta("path", va.path.rawValue, vb.path.rawValue)
        meta("name", va.name, vb.name)
        meta("message", va.message, vb.message)
        if va.content != vb.content {
            let ca = try content(va.content)
            let cb = try content(vb.content)
            if ca.kind != cb.kind {
                VersionDiff.compare("kind", .string(ca.kind.rawValue), .string(cb.kind.rawValue), into: &entries)
            }
            for key in Set(ca.definition.keys + cb.definition.keys).sorted() {
                let x = ca.definition[key]
                let y = cb.definition[key]
                switch key {
                case "nodes":
                    VersionDiff.compareKeyed(key, x, y, keyOf: { $0["name"]?.stringValue.map(quoted) }, into: &entries)
                case "edges":
                    VersionDiff.compareKeyed(key, x, y, keyOf: { e in
                        guard let s = e["source_node_name"]?.stringValue, let t = e["target_node_name"]?.stringValue
                        else { return nil }
                        return "\(quoted(s)) -> \(quoted(t))"
                    }, into: &entries)
                default:
                    VersionDiff.compare(key, x, y, into: &entries)
                }
            }
        }
        return VersionDiff(from: a, to: b, entries: entries)
    }
}

extension VersionDiff {
    /// Recursive diff: objects member by member, everything else (arrays included) as a whole.
    static func compare(_ location: String, _ x: JSONValue?, _ y: JSONValue?, into entries: inout [Entry]) {
        switch (x, y) {
        case (nil, nil): return
        case (nil, let y?): entries.append(Entry(location: location, change: .added(y)))
        case (let x?, nil): entries.append(Entry(location: location, change: .removed(x)))
        case (.object(let ox)?, .object(let oy)?):
            for key in Set(ox.keys + oy.keys).sorted(by: { JSONObject.compareKeys($0, $1) == .orderedAscending }) {
                compare("\(location).\(key)", ox[key], oy[key], into: &entries)
            }
        case (let x?, let y?):
            if x != y { entries.append(Entry(location: location, change: .changed(from: x, to: y))) }
        }
    }

    /// Arrays of named things (nodes by name, edges by endpoints) compare element by element
    /// under their key; arrays whose elements have no key fall back to a whole-value compare.
    static func compareKeyed(
        _ location: String, _ x: JSONValue?, _ y: JSONValue?, keyOf: (JSONValue) -> String?,
        into entries: inout [Entry]
    ) {
        func keyed(_ v: JSONValue?) -> [(String, JSONValue)]? {
            guard let items = v?.arrayValue else { return v == nil ? [] : nil }
            var out: [(String, JSONValue)] = []
            var seen = Set<String>()
            for item in items {
                guard let key = keyOf(item), seen.insert(key).inserted else { return nil }
                out.append((key, item))
            }
            return out
        }
        guard let kx = keyed(x), let ky = keyed(y) else { return compare(location, x, y, into: &entries) }
        let mx = Dictionary(uniqueKeysWithValues: kx)
        let my = Dictionary(uniqueKeysWithValues: ky)
        for (key, value) in kx where my[key] == nil {
            entries.append(Entry(location: "\(location)[\(key)]", change: .removed(value)))
        }
        for (key, value) in ky {
            guard let old = mx[key] else {
                entries.append(Entry(location: "\(location)[\(key)]", change: .added(value)))
                continue
            }
            compare("\(location)[\(key)]", old, value, into: &entries)
        }
    }
}
