import FlowStoreCore
import Foundation

/// One event of a ref's chain.
struct ChainLink: Sendable {
    var id: ObjectID
    var event: EventObject
}

/// Structural checks the suite makes on a store, independently of `verify`: the chains are
/// walked here from the ref files, with the rules spelled out, so a bug in `verify` cannot
/// hide a bug in the writers.
enum Invariants {
    /// Every ref's chain, oldest event first, and every way a chain is not linear:
    /// each event names its ref, each `prev` is the event before, each `from` is the previous
    /// `to`, the first event creates, no event is a no-op, and there are no merges (no
    /// offline sync in these tests).
    static func chains(_ store: VersionStore) throws -> (chains: [String: [ChainLink]], problems: [String]) {
        var chains: [String: [ChainLink]] = [:]
        var problems: [String] = []
        for (name, head) in try store.refs.list(prefix: "") {
            var links: [ChainLink] = []
            var next: ObjectID? = head
            var seen = Set<ObjectID>()
            while let id = next {
                guard seen.insert(id).inserted else {
                    problems.append("ref \(name): chain loops at \(id.short)")
                    break
                }
                let event: EventObject
                do { event = try store.event(id) } catch {
                    problems.append("ref \(name): event \(id.short) unreadable: \(error)")
                    break
                }
                if event.ref != name { problems.append("ref \(name): event \(id.short) names ref \(event.ref)") }
                if event.action == .merge { problems.append("ref \(name): unexpected merge event \(id.short)") }
                links.append(ChainLink(id: id, event: event))
                next = event.prev
            }
            links.reverse()
            for (index, link) in links.enumerated() {
                let e = link.event
                if e.from == e.to { problems.append("ref \(name): no-op event \(link.id.short)") }
                switch e.action {
                case .create where e.from != nil || e.to == nil,
                    .move where e.from == nil || e.to == nil,
                    .delete where e.to != nil || e.from == nil:
                    problems.append("ref \(name): \(e.action.rawValue) event \(link.id.short) has from/to \(e.from?.short ?? "-")/\(e.to?.short ?? "-")")
                default: break
                }
                if index == 0 {
                    if e.prev != nil || e.from != nil { problems.append("ref \(name): first event \(link.id.short) is not a create") }
                    continue
                }
                let before = links[index - 1]
                if e.prev != before.id { problems.append("ref \(name): event \(link.id.short) prev is not \(before.id.short)") }
                if e.from != before.event.to {
                    problems.append("ref \(name): event \(link.id.short) moves from \(e.from?.short ?? "-") but the ref was at \(before.event.to?.short ?? "-") (torn or lost update)")
                }
            }
            chains[name.rawValue] = links
        }
        return (chains, problems)
    }

    /// The versions of a file along first parents from its head, oldest first, and the ways
    /// numbering is not dense and unique or the head's chain skips or repeats a version:
    /// version i (0-based) must be number i + 1, and the head ref's events must move
    /// through exactly these versions in order.
    static func versionLine(_ store: VersionStore, file: ObjectID, chains: [String: [ChainLink]]) throws
        -> (line: [ObjectID], problems: [String])
    {
        var problems: [String] = []
        var line: [ObjectID] = []
        guard let head = try store.target(of: RefNames.head(file)) else { return ([], []) }
        var next: ObjectID? = head
        while let id = next {
            let v = try store.version(id)
            if v.file != file { problems.append("version \(id.short) belongs to another file") }
            line.append(id)
            next = v.parents.first
            if line.count > 1_000_000 { problems.append("history does not end"); break }
        }
        line.reverse()
        for (index, id) in line.enumerated() {
            let number = try store.version(id).number
            if number != index + 1 { problems.append("version \(id.short) is number \(number), expected \(index + 1) (numbers must be dense and unique)") }
        }
        let headChain = chains[RefNames.head(file).rawValue] ?? []
        let targets = headChain.compactMap(\.event.to)
        if targets != line {
            problems.append("head chain of \(file.short) moves through \(targets.count) versions, the history has \(line.count): a head update was lost or repeated")
        }
        return (line, problems)
    }

    /// Whether `needle` appears in order (not necessarily adjacent) within `haystack`.
    static func isSubsequence<T: Equatable>(_ needle: [T], of haystack: [T]) -> Bool {
        var i = needle.startIndex
        for item in haystack where i < needle.endIndex && needle[i] == item { i += 1 }
        return i == needle.endIndex
    }
}
