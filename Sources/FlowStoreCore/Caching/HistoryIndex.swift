/// What one file's history holds: every version reachable from a head, the newest version of
/// each content, and the versions carrying each stored name.
///
/// Commits need "is this definition already a version?" (`ReusePolicy.anyVersion`) and "is
/// this version name taken?", which are questions about the whole history. A summary answers
/// them with one dictionary lookup; `HistoryIndex` keeps one per file and extends it by the
/// few versions a moved head added, instead of walking thousands of versions per commit.
public struct HistorySummary: Sendable {
    /// The version this summarises the history of.
    public let head: ObjectID
    private var reachable: Set<ObjectID> = []
    private var newestByContent: [ObjectID: Newest] = [:]
    private var byName: [String: [ObjectID]] = [:]

    private struct Newest {
        var id: ObjectID
        var number: Int
        var createdAt: String
    }

    init(head: ObjectID) {
        self.head = head
    }

    private init(extending base: HistorySummary, to head: ObjectID) {
        self.head = head
        reachable = base.reachable
        newestByContent = base.newestByContent
        byName = base.byName
    }

    /// How many versions the history has.
    public var count: Int { reachable.count }

    public func contains(_ version: ObjectID) -> Bool { reachable.contains(version) }

    /// The newest version (highest number, then latest time: `history`'s order) whose content
    /// is `content`: what `commit` returns under `ReusePolicy.anyVersion`.
    public func newestVersion(withContent content: ObjectID) -> ObjectID? { newestByContent[content]?.id }

    /// Versions whose stored `name` is `name` (annotations, which rename versions, are not
    /// objects of the history: callers that care about effective names read them).
    public func versions(named name: String) -> [ObjectID] { byName[name] ?? [] }

    mutating func add(_ id: ObjectID, _ version: VersionObject) {
        guard reachable.insert(id).inserted else { return }
        // Newest by `history`'s order: number, then time.
        let recorded = newestByContent[version.content]
        if recorded.map({ ($0.number, $0.createdAt) < (version.number, version.createdAt) }) ?? true {
            newestByContent[version.content] = Newest(id: id, number: version.number, createdAt: version.createdAt)
        }
        if let name = version.name { byName[name, default: []].append(id) }
    }

    func extended(to head: ObjectID) -> HistorySummary { HistorySummary(extending: self, to: head) }
}

/// One `HistorySummary` per file, remembered across commits and extended as the head moves.
///
/// Summaries are facts about immutable objects (a head and its ancestors never change), so a
/// remembered one is never wrong, only possibly not the latest; `VersionStore.historySummary`
/// asks for the head it has just read. Memory is bounded by `capacity` versions in all (see
/// `BoundedCache`); a forgotten summary is rebuilt by one walk.
public final class HistoryIndex: Sendable {
    let summaries: BoundedCache<ObjectID, HistorySummary>

    /// `capacity`: versions remembered across all files (about 150 bytes each; up to twice
    /// as many are held while a generation turns over, see `BoundedCache`).
    public init(capacity: Int = 200_000) {
        summaries = BoundedCache(capacity: capacity)
    }
}

extension VersionStore {
    /// The summary of `history(from: head)` for a version of `file`.
    ///
    /// When the index holds an older summary of the same file whose head is an ancestor of
    /// `head` (the usual case: the head moved forward by a few commits), only the versions
    /// the older head cannot reach are read; otherwise the whole history is walked once.
    public func historySummary(of file: ObjectID, head: ObjectID) throws(StoreError) -> HistorySummary {
        let known = historyIndex.summaries.value(forKey: file)
        if let known, known.head == head { return known }
        var summary: HistorySummary
        if let known, let extended = try extend(known, to: head) {
            summary = extended
        } else {
            summary = HistorySummary(head: head)
            try collect(from: head, into: &summary, stoppingAt: nil)
        }
        historyIndex.summaries.set(summary, forKey: file, cost: max(1, summary.count))
        return summary
    }

    /// `known` plus what `head` reaches beyond it, or `nil` when `known.head` is not an
    /// ancestor of `head` (a history rewritten by nothing FlowStore does, but cheap to check).
    private func extend(_ known: HistorySummary, to head: ObjectID) throws(StoreError) -> HistorySummary? {
        var summary = known.extended(to: head)
        let reachedKnownHead = try collect(from: head, into: &summary, stoppingAt: known)
        return reachedKnownHead ? summary : nil
    }

    /// Adds every version reachable from `start` to `summary`, not descending into versions
    /// `boundary` already holds (their ancestors are all in it). Returns whether the walk met
    /// `boundary.head`.
    @discardableResult
    private func collect(
        from start: ObjectID, into summary: inout HistorySummary, stoppingAt boundary: HistorySummary?
    ) throws(StoreError) -> Bool {
        var metBoundaryHead = false
        var seen: Set<ObjectID> = []
        var pending = [start]
        while let id = pending.popLast() {
            if let boundary, boundary.contains(id) {
                if id == boundary.head { metBoundaryHead = true }
                continue
            }
            guard seen.insert(id).inserted else { continue }
            let version = try self.version(id)
            summary.add(id, version)
            pending.append(contentsOf: version.parents)
        }
        return metBoundaryHead
    }
}
