#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowStoreCore

/// The directory store's divergence records: `<store>/sync/diverged.json`, the incoming heads of
/// diverged refs, kept until `resolve` (see `DivergenceRecords`). Written atomically (temp file, rename) under an exclusive
/// `flock` on `sync/diverged.lock`, so concurrent syncs do not lose each other's entries.
///
/// ```
/// {"diverged":[{"incoming":["<event id>",…],"local":"<event id>","ref":"<ref name>"}],"format":1}
/// ```
public struct DirectoryDivergenceRecords: DivergenceRecords {
    static let format = 1
    let directory: String
    let tempDirectory: String

    /// The records of the store at `root`.
    public init(root: String) {
        directory = "\(root)/sync"
        tempDirectory = "\(root)/tmp"
    }

    var path: String { "\(directory)/diverged.json" }

    public func load() throws(StoreError) -> [DivergedRef] {
        guard let bytes = try POSIXFile.read(path) else { return [] }
        func bad(_ why: String) -> StoreError {
            .io(path: path, message: "\(why); delete it and run `flowstore sync --rescan` to rebuild it")
        }
        guard let value = try? JSONParser.parse(bytes), value["format"]?.intValue == Self.format,
            let items = value["diverged"]?.arrayValue
        else { throw bad("not a divergence file of format \(Self.format)") }
        var out: [DivergedRef] = []
        for item in items {
            guard let text = item["ref"]?.stringValue, let name = try? RefName(text),
                let heads = item["incoming"]?.arrayValue?.compactMap({ $0.stringValue.flatMap(ObjectID.init(hex:)) })
            else { throw bad("malformed entry") }
            out.append(DivergedRef(name: name, local: item["local"]?.stringValue.flatMap(ObjectID.init(hex:)), incoming: heads))
        }
        return out
    }

    /// Read-modify-write under the lock; writes only when `change` changed something, and
    /// removes the file when nothing is diverged any more.
    public func update<T>(_ change: (inout [DivergedRef]) throws(StoreError) -> T) throws(StoreError) -> T {
        try POSIXFile.makeDirectories(directory)
        let lockPath = "\(directory)/diverged.lock"
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: lockPath, message: POSIXFile.lastError()) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw .io(path: lockPath, message: POSIXFile.lastError()) }
        }
        let before = try load()
        var entries = before
        let result = try change(&entries)
        entries = Self.normalized(entries)
        if entries != before {
            if entries.isEmpty {
                try POSIXFile.remove(path)
            } else {
                try POSIXFile.writeAtomically(encode(entries), to: path, tempDirectory: tempDirectory)
            }
        }
        return result
    }

    private func encode(_ entries: [DivergedRef]) -> [UInt8] {
        let items: [JSONValue] = entries.map { entry in
            var o = JSONObject()
            o["ref"] = .string(entry.name.rawValue)
            o["local"] = entry.local.map { .string($0.hex) }
            o["incoming"] = .array(entry.incoming.map { .string($0.hex) })
            return .object(o)
        }
        let body: JSONValue = ["format": .number(Double(Self.format)), "diverged": .array(items)]
        return ((try? CanonicalJSON.encode(body)) ?? []) + [0x0a]
    }
}

