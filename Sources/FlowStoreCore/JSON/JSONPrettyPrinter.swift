extension JSONValue {
    /// A human-readable rendering for display (e.g. `flowstore show`): one member or element
    /// per line, `"key": value`, keys in canonical order, and strings and numbers written
    /// exactly as in the canonical form, so what a user reads matches what was hashed.
    ///
    /// Never fails: a NaN or infinite number (which cannot be canonicalised) is shown as
    /// `NaN`, `Infinity` or `-Infinity`, so the output is valid JSON only for finite values.
    public func prettyPrinted(indent: Int = 2) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONPrettyPrinter(indentWidth: max(0, indent)).append(self, level: 0, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The canonical (RFC 8785) text of this value.
    public var canonicalString: String {
        get throws(JSONError) {
            String(decoding: try CanonicalJSON.encode(self), as: UTF8.self)
        }
    }
}

private struct JSONPrettyPrinter {
    let indentWidth: Int

    func newline(level: Int, into out: inout [UInt8]) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: level * indentWidth))
    }

    func append(_ value: JSONValue, level: Int, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: b ? "true".utf8 : "false".utf8)
        case .number(let d):
            do {
                try CanonicalJSON.appendNumber(d, into: &out)
            } catch {
                out.append(contentsOf: (d.isNaN ? "NaN" : d < 0 ? "-Infinity" : "Infinity").utf8)
            }
        case .string(let s): CanonicalJSON.appendString(s, into: &out)
        case .array(let elements):
            guard !elements.isEmpty else { return out.append(contentsOf: "[]".utf8) }
            out.append(0x5B)
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(0x2C) }
                newline(level: level + 1, into: &out)
                append(element, level: level + 1, into: &out)
            }
            newline(level: level, into: &out)
            out.append(0x5D)
        case .object(let object):
            guard !object.isEmpty else { return out.append(contentsOf: "{}".utf8) }
            out.append(0x7B)
            for (index, member) in object.members.enumerated() {
                if index > 0 { out.append(0x2C) }
                newline(level: level + 1, into: &out)
                CanonicalJSON.appendString(member.key, into: &out)
                out.append(contentsOf: ": ".utf8)
                append(member.value, level: level + 1, into: &out)
            }
            newline(level: level, into: &out)
            out.append(0x7D)
        }
    }
}
