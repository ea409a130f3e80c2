#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A ref both sides moved: the local head and the incoming chain heads not merged yet.
public struct DivergedRef: Sendable, Equatable {
    public var name: RefName
    /// The local head event (as of the last sync, or now for `divergedRefs()`).
    public var local: ObjectID?
    /// Incoming chain heads that are not ancestors of the local head, sorted.
    public var incoming: [ObjectID]

    public init(name: RefName, local: ObjectID?, incoming: [ObjectID]) {
        self.name = name
        self.local = local
        self.incoming = incoming
    }
}

/// `<store>/sync/diverged.json`: the incoming heads of diverged refs, kept until `resolve`.
///
/// Only a cache: the heads are immutable event objects in `objects/`, and `sync --rescan`
/// rebuilds the file from them (an incoming head is an event nothing names as `prev` or
/// `merged` and that the ref's chain does not reach). It exists so `sync --status` and
/// `resolve` need not scan every object, and so `gc` keeps the incoming chains (it treats the
/// heads listed here as roots). Written atomically (temp file, rename) under an exclusive
/// `flock` on `sync/diverged.lock`, so concurrent syncs do not lose each other's entries.
///
/// ```
/// {"diverged":[{"incoming":["<event id>",…],"local":"<event id>","ref":"<ref name>"}],"format":1}
/// ```
struct DivergenceLog {
    static let format = 1
    let directory: String
    let tempDirectory: String

    var path: String { "\(directory)/diverged.json" }

    func load() throws(StoreError) -> [DivergedRef] {
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
    func update<T>(_ change: (inout [DivergedRef]) throws(StoreError) -> T) throws(StoreError) -> T {
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
        entries = entries.filter { !$0.incoming.isEmpty }.sorted { $0.name < $1.name }
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

extension VersionStore {
    /// The divergence cache of an on-disk store; `nil` for a backend without a directory.
    var divergenceLog: DivergenceLog? {
        root.map { DivergenceLog(directory: "\($0)/sync", tempDirectory: "\($0)/tmp") }
    }

    /// The incoming heads of diverged refs: `gc` keeps everything they reach, so nothing a
    /// sync brought in is lost before someone resolves it. An unreadable cache makes gc fail
    /// rather than collect what it protects.
    func divergedHeads() throws(StoreError) -> [ObjectID] {
        try divergenceLog?.load().flatMap(\.incoming) ?? []
    }

    /// Adds the diverged decisions of a sync to the cache and drops incoming heads that the
    /// local chain now reaches (fast-forwarded or merged), for every ref the sync touched.
    func recordDivergences(_ decisions: [RefDecision]) throws(StoreError) {
        guard let log = divergenceLog, !decisions.isEmpty else { return }
        let reconciler = RefReconciler(store: self)
        let diverged = decisions.filter { $0.outcome == .diverged }
        let touched = Set(decisions.map(\.name))
        if diverged.isEmpty, try log.load().allSatisfy({ !touched.contains($0.name) }) { return }
        try log.update { (entries: inout [DivergedRef]) throws(StoreError) in
            for decision in diverged {
                if let i = entries.firstIndex(where: { $0.name == decision.name }) {
                    entries[i].incoming.append(decision.incoming)
                } else {
                    entries.append(DivergedRef(name: decision.name, local: decision.local, incoming: [decision.incoming]))
                }
            }
            for i in entries.indices where touched.contains(entries[i].name) {
                entries[i] = try reconciler.pruned(entries[i])
            }
        }
    }
}

extension RefReconciler {
    /// `entry` with the current local head, and without incoming heads that the local chain
    /// reaches or that another incoming head reaches (only the newest of a chain is kept).
    func pruned(_ entry: DivergedRef) throws(StoreError) -> DivergedRef {
        let local = try store.refs.read(entry.name)
        let candidates = Array(Set(entry.incoming)).sorted()
        var heads: [ObjectID] = []
        for head in candidates {
            if let local, try isAncestor(head, of: local) { continue }
            var reachedByOther = false
            for other in candidates where other != head && !reachedByOther { reachedByOther = try isAncestor(head, of: other) }
            if !reachedByOther { heads.append(head) }
        }
        return DivergedRef(name: entry.name, local: local, incoming: heads)
    }
}
