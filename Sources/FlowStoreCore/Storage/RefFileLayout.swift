/// How ref names map to directory entries under `refs/` (spec/FORMAT.md §4, "On disk").
///
/// Each segment of a name is one level: a folder segment a directory, the last segment the
/// stem of `<segment>.ref` (and of `<segment>.lock` while a writer holds the ref). File names
/// are at most 255 bytes (NAME_MAX), so a segment is spelled this way only while
/// `<segment>.lock` fits: up to `plainLimit` bytes. A longer segment — names may be up to
/// `NameRules.maxSegmentBytes` — is spelled over several levels instead: directories
/// `.~<piece>` holding its leading pieces, then `=<end>` for the rest, which is the folder
/// (a directory) or the stem of `=<end>.ref` / `=<end>.lock`:
///
///     refs/paths/Team/.~<bytes 1–253>/.~<bytes 254–506>/=<the rest>.ref
///
/// Nothing else can be mistaken for these. No segment starts with `.` (`NameRules`), so at a
/// folder's level `.~` only ever begins a long segment; inside a `.~` directory there is nothing
/// but `.~` pieces and `=` ends. A piece may end in `.ref` or `.lock`, so the prefix is read
/// first; an end cannot (no segment ends so). Pieces are cut on Unicode scalar boundaries, so
/// every entry is valid UTF-8, and the cut is fixed by the bytes alone: one name, one spelling,
/// which readers check (`isCanonical`) so a stray entry is never listed as another name.
package enum RefFileLayout {
    /// The longest segment stored as itself: `<segment>.lock` is then 255 bytes.
    package static let plainLimit = 250
    /// `.~` and a piece of at most 253 bytes: a 255-byte directory name.
    package static let pieceLimit = 253
    /// `=`, an end of at most 249 bytes and `.lock`: a 255-byte file name.
    package static let endLimit = 249
    package static let piecePrefix = ".~"
    package static let endPrefix = "="

    /// The directory entries that spell `segment`, outermost first: the segment itself, or its
    /// `.~` pieces and its `=` end.
    package static func entries(of segment: some StringProtocol) -> [String] {
        let bytes = segment.utf8
        guard bytes.count > plainLimit else { return [String(segment)] }
        var entries: [String] = []
        var rest = Substring(segment)
        while rest.utf8.count > endLimit {
            // The longest scalar-aligned prefix that fits, leaving a non-empty end.
            let budget = min(pieceLimit, rest.utf8.count - 1)
            var cut = rest.utf8.index(rest.utf8.startIndex, offsetBy: budget)
            while cut > rest.utf8.startIndex, UTF8.isContinuation(rest.utf8[cut]) {
                cut = rest.utf8.index(before: cut)
            }
            entries.append(piecePrefix + String(Substring(rest.utf8[..<cut])))
            rest = Substring(rest.utf8[cut...])
        }
        entries.append(endPrefix + String(rest))
        return entries
    }

    /// A ref name's path relative to `refs/`, without `.ref` or `.lock`.
    package static func relativePath(of name: some StringProtocol) -> String {
        // Most names have no long segment to respell.
        if name.utf8.count <= plainLimit { return String(name) }
        return String(name).splitBytes(on: UInt8(ascii: "/")).flatMap { entries(of: $0) }.joined(separator: "/")
    }

    /// Whether `entries`, as found on disk, are how `segment` is spelled.
    package static func isCanonical(_ found: [String], for segment: String) -> Bool {
        let expected = entries(of: segment)
        return expected.count == found.count && zip(expected, found).allSatisfy { $0.bytesEqual($1) }
    }

    /// What a directory entry is, read at a folder's level (`inLongSegment == false`) or inside
    /// a long segment's `.~` directory. Whether a `folder` or `piece` really is a directory is
    /// for the caller to check.
    package enum Entry: Equatable {
        /// `<segment>.ref`, or `=<end>.ref`: the text of the segment (or its end).
        case ref(String)
        case lock
        /// A folder segment (or the end of a long one).
        case folder(String)
        /// A `.~` directory: the piece of a long segment it holds.
        case piece(String)
        /// Dot files at a folder's level, anything else inside a long segment: not the store's.
        case foreign
    }

    package static func classify(_ entry: String, inLongSegment: Bool) -> Entry {
        if entry.hasBytePrefix(piecePrefix) { return .piece(entry.droppingBytes(piecePrefix.utf8.count)) }
        let text: String
        if inLongSegment {
            guard entry.hasBytePrefix(endPrefix) else { return .foreign }
            text = entry.droppingBytes(endPrefix.utf8.count)
        } else {
            guard !entry.hasBytePrefix(".") else { return .foreign }
            text = entry
        }
        if text.hasByteSuffix(".ref") { return .ref(text.droppingLastBytes(4)) }
        if text.hasByteSuffix(".lock") { return .lock }
        return .folder(text)
    }
}
