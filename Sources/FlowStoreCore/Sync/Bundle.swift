/// A single-file archive of objects and ref heads, for mail or air-gapped transfer
/// (`flowstore bundle create` / `bundle import`). Format 1, byte for byte:
///
/// ```
/// flowstore-bundle 1\n                     magic and format version
/// ref <event id> <ref name>\n              zero or more: the ref heads it carries
/// \n                                       an empty line ends the header
/// <object id> <length>\n<length bytes>\n   zero or more objects, each referenced object first
/// end <object count>\n                     the trailer: a truncated bundle has none
/// ```
///
/// Ids are 64 lowercase hex characters, lengths and counts decimal. Ref names follow the ref
/// name rules, which exclude control characters, so each header line is one ref. Objects are
/// their canonical bytes, exactly as stored under `objects/`.
public struct FlowStoreBundle: Sendable {
    public static let magic = "flowstore-bundle"
    public static let format = 1
    public var refs: [(name: RefName, head: ObjectID)]
    public var objects: [(id: ObjectID, bytes: [UInt8])]

    public init(refs: [(name: RefName, head: ObjectID)], objects: [(id: ObjectID, bytes: [UInt8])]) {
        self.refs = refs
        self.objects = objects
    }

    public func encoded() -> [UInt8] {
        var out = Array("\(Self.magic) \(Self.format)\n".utf8)
        for (name, head) in refs { out += Array("ref \(head.hex) \(name.rawValue)\n".utf8) }
        out.append(0x0a)
        for (id, bytes) in objects {
            out += Array("\(id.hex) \(bytes.count)\n".utf8)
            out += bytes
            out.append(0x0a)
        }
        out += Array("end \(objects.count)\n".utf8)
        return out
    }

    /// Parses a bundle and checks every object (its bytes hash to its id, it decodes as a valid
    /// object, it is canonical) before returning anything, so a caller never writes part of a
    /// bad bundle. Every problem is listed in the error, each naming the object or ref.
    public static func decode(_ bytes: [UInt8]) throws(StoreError) -> FlowStoreBundle {
        var reader = LineReader(bytes: bytes)
        func malformed(_ why: String) -> StoreError { .invalidInput("not a valid bundle: \(why)") }

        guard let first = reader.line(), first.hasPrefix(magic + " ") else {
            throw .invalidInput("not a FlowStore bundle (it does not start with \"\(magic) \(format)\")")
        }
        guard first == "\(magic) \(format)" else {
            throw .invalidInput("bundle format \(first.dropFirst(magic.count + 1)) is not supported (this build reads format \(format))")
        }

        var refs: [(name: RefName, head: ObjectID)] = []
        while true {
            guard let line = reader.line() else { throw malformed("the header does not end") }
            if line.isEmpty { break }
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "ref", let head = ObjectID(hex: parts[1]) else {
                throw malformed("bad header line \(quoted(line))")
            }
            let name: RefName
            do throws(StoreError) { name = try RefName(String(parts[2])) } catch { throw .invalidInput("bundle rejected: \(error)") }
            guard !refs.contains(where: { $0.name == name }) else { throw malformed("ref \(name) is listed twice") }
            refs.append((name, head))
        }

        var objects: [(id: ObjectID, bytes: [UInt8])] = []
        var problems: [String] = []
        while true {
            guard let line = reader.line() else { throw malformed("it is truncated (no end line after \(objects.count) objects)") }
            if line.hasPrefix("end ") {
                guard Int(line.dropFirst(4)) == objects.count else { throw malformed("the end line says \(quoted(line)) but it holds \(objects.count) objects") }
                guard reader.atEnd else { throw malformed("there is data after the end line") }
                break
            }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, let id = ObjectID(hex: parts[0]), parts[1].utf8.count <= 12,
                parts[1].utf8.allSatisfy({ (48...57).contains($0) }), let length = Int(parts[1])
            else { throw malformed("bad object line \(quoted(String(line.prefix(100))))") }
            guard let body = reader.take(length), reader.take(1) == [0x0a] else {
                throw malformed("it is truncated (object \(id.short) is cut short)")
            }
            if let problem = ObjectTransfer.problem(id, body) { problems.append(problem) }
            objects.append((id, body))
        }
        guard problems.isEmpty else {
            throw .invalidInput("bundle rejected, nothing was written: \(ObjectTransfer.summary(problems))")
        }
        return FlowStoreBundle(refs: refs, objects: objects)
    }

    /// Checks that the bundle holds everything its ref heads reach, as `createBundle` writes
    /// it, so it can be imported into any store (`bundle verify`, without a store at hand).
    public func checkComplete() throws(StoreError) {
        var contents: [ObjectID: [UInt8]] = [:]
        for (id, bytes) in objects { contents[id] = bytes }
        _ = try ObjectTransfer.walk(from: refs.map(\.head), source: MemoryObjectStore(objects: contents), isKnown: { _ in false })
    }

}

/// Reads `\n`-terminated UTF-8 lines and raw byte runs from a buffer.
private struct LineReader {
    let bytes: [UInt8]
    var offset = 0
    /// Header lines are short; a longer "line" means this is not a bundle.
    static let maxLine = 4096

    var atEnd: Bool { offset == bytes.count }

    /// The next line without its newline; `nil` at the end, without a newline, or when it is
    /// too long or not UTF-8.
    mutating func line() -> String? {
        let limit = min(bytes.count, offset + Self.maxLine)
        guard let newline = bytes[offset..<limit].firstIndex(of: 0x0a),
            let text = String(validating: bytes[offset..<newline], as: UTF8.self)
        else { return nil }
        offset = newline + 1
        return text
    }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= bytes.count - offset else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}
