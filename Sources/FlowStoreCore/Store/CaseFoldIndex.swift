/// The check that keeps a store portable to case-insensitive file systems (macOS's and
/// Windows' defaults): a new ref is refused when a sibling — a folder or ref at the same level
/// — differs from it only in letter case, since the two would be one file there.
///
/// Only the levels a user names are checked (path segments; a label's or environment's name),
/// not `files/<id>`, and only from the first level that does not exist yet: deeper levels are
/// empty. Each folder is listed once per index, so a batch creating many refs in one folder
/// lists it once, not once per ref.
final class CaseFoldIndex {
    private struct Key: Hashable {
        var fold: String
        var isFolder: Bool
    }

    /// Per folder prefix (`paths/Team/`): fold → the children's exact names.
    private var folders: [String: [Key: [String]]] = [:]
    private let refs: any RefStore

    init(refs: any RefStore) {
        self.refs = refs
    }

    /// Throws `caseClash` when `name`, which does not exist yet, differs only in case from an
    /// existing sibling at some level.
    func check(_ name: RefName) throws(StoreError) {
        let segments = name.segments
        var prefix = ""
        for (index, segment) in Self.levels(of: name) {
            if prefix.isEmpty { prefix = segments[..<index].joined(separator: "/") + "/" }
            let isFolder = index < segments.count - 1
            let siblings = try children(of: prefix)
            let found = siblings[Key(fold: NameRules.caseFold(segment), isFolder: isFolder)] ?? []
            if found.contains(where: { $0.bytesEqual(segment) }) {
                prefix += segment + "/"
                continue
            }
            if let existing = found.first ?? Self.pieceClash(segment, among: siblings) {
                throw .caseClash(name: Self.display(name.rawValue), existing: Self.display(prefix + existing))
            }
            return
        }
    }

    /// A sibling whose spelling on disk shares a directory with `segment`'s on a case-insensitive
    /// file system although the two differ: a long segment is spelled over `.~` directories of
    /// its leading pieces (`RefFileLayout`), and two whose pieces differ only in case would meet
    /// in one directory there, one then listed under the other's spelling. Folders and refs alike
    /// (both can be long segments starting in the same directories).
    private static func pieceClash(_ segment: String, among siblings: [Key: [String]]) -> String? {
        let pieces = RefFileLayout.entries(of: segment).dropLast()
        guard !pieces.isEmpty else { return nil }
        for names in siblings.values {
            for name in names where name.utf8.count > RefFileLayout.plainLimit {
                for (mine, theirs) in zip(pieces, RefFileLayout.entries(of: name).dropLast()) {
                    if mine.bytesEqual(theirs) { continue }
                    if NameRules.caseFold(mine) == NameRules.caseFold(theirs) { return name }
                    break
                }
            }
        }
        return nil
    }

    /// Records a ref created since the folders were listed (a batch staging several new names).
    func insert(_ name: RefName) {
        let segments = name.segments
        var prefix = ""
        for (index, segment) in Self.levels(of: name) {
            if prefix.isEmpty { prefix = segments[..<index].joined(separator: "/") + "/" }
            let key = Key(fold: NameRules.caseFold(segment), isFolder: index < segments.count - 1)
            if folders[prefix] != nil, !(folders[prefix]?[key]?.contains(where: { $0.bytesEqual(segment) }) ?? false) {
                folders[prefix]?[key, default: []].append(String(segment))
            }
            prefix += segment + "/"
        }
    }

    private func children(of prefix: String) throws(StoreError) -> [Key: [String]] {
        if let known = folders[prefix] { return known }
        var map: [Key: [String]] = [:]
        for child in try refs.children(of: prefix) {
            map[Key(fold: NameRules.caseFold(child.name), isFolder: child.isFolder), default: []].append(child.name)
        }
        folders[prefix] = map
        return map
    }

    /// The user-named segments with their positions: after `paths/`, or after
    /// `files/<id>/<kind>/`.
    private static func levels(of name: RefName) -> [(Int, String)] {
        let segments = name.segments
        let first = segments.first == "paths" ? 1 : 3
        guard segments.count > first else { return [] }
        return (first..<segments.count).map { ($0, String(segments[$0])) }
    }

    /// A path ref as its path; a label or environment as its name.
    private static func display(_ ref: String) -> String {
        let segments = ref.splitBytes(on: UInt8(ascii: "/"))
        let first = segments.first == "paths" ? 1 : min(3, segments.count - 1)
        return segments[first...].joined(separator: "/")
    }
}
