/// The rules every path segment, label, environment and ref segment follows, so that any name
/// a user can type maps to exactly one ref, is listed wherever refs are listed, and prints as
/// what it is.
///
/// Everything is decided on Unicode scalars and UTF-8 bytes (see `NameBytes`), never on
/// grapheme clusters. Names must be in NFC, so one name has one spelling: an NFD spelling of
/// a stored name is refused, not silently taken for it or stored beside it. Characters that
/// print as nothing or as something else are refused: format characters (zero-width spaces
/// and joiners, bidirectional controls, U+FEFF), unassigned and private-use code points, and a
/// combining mark at the start of a segment (it would draw itself onto the `/` before it).
public enum NameRules {
    /// Longest segment in UTF-8 bytes: any 255 Unicode characters (up to 4 bytes each), as
    /// PromptLayer documents workflow names of 1–255 characters. Segments too long for a file
    /// name are spelled over several directory levels on disk (`RefFileLayout`).
    public static let maxSegmentBytes = 1020

    /// Why `segment` is not acceptable, or `nil` when it is.
    public static func problem(with segment: some StringProtocol) -> String? {
        let bytes = segment.utf8
        if bytes.isEmpty { return "empty segment" }
        if segment.bytesEqual(".") || segment.bytesEqual("..") { return "'.' and '..' are not allowed" }
        if bytes.count > maxSegmentBytes {
            return "segment longer than \(maxSegmentBytes) bytes of UTF-8 (\(bytes.count) bytes)"
        }
        // Also reserves `.~` for the spelling of long segments on disk (`RefFileLayout`).
        if bytes.first == UInt8(ascii: ".") { return "segments may not start with '.'" }
        if segment.hasByteSuffix(".ref") || segment.hasByteSuffix(".lock") {
            return "segments may not end with '.ref' or '.lock'"
        }
        var isASCII = true
        var first = true
        var last: Unicode.Scalar = " "
        for scalar in segment.unicodeScalars {
            defer {
                first = false
                last = scalar
            }
            if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) {
                return "control characters are not allowed"
            }
            if scalar == "\\" { return "backslashes are not allowed" }
            if scalar == "/" { return "'/' separates segments" }
            if first, scalar.properties.isWhitespace { return "segments may not begin or end with whitespace" }
            guard scalar.isASCII else {
                isASCII = false
                if let reason = problem(with: scalar, first: first) { return reason }
                continue
            }
        }
        if last.properties.isWhitespace { return "segments may not begin or end with whitespace" }
        if !isASCII {
            let string = String(segment)
            let nfc = string._nfcCodeUnits  // the standard library's own normaliser (it compares strings with it)
            if !bytes.elementsEqual(nfc) {
                return "not in Unicode normalization form C (NFC); its NFC spelling is \(quoted(String(decoding: nfc, as: UTF8.self)))"
            }
        }
        return nil
    }

    /// Why a non-ASCII scalar may not appear (at the start of a segment, when `first`).
    private static func problem(with scalar: Unicode.Scalar, first: Bool) -> String? {
        let code = "U+" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
        switch scalar.properties.generalCategory {
        case .format:
            return "\(code) is an invisible format character (zero-width, bidirectional control or byte order mark)"
        case .unassigned: return "\(code) is not an assigned Unicode character"
        case .privateUse: return "\(code) is a private-use character"
        case .surrogate: return "\(code) is a surrogate code point"
        case .lineSeparator, .paragraphSeparator: return "\(code) is a line or paragraph separator"
        case .nonspacingMark, .spacingMark, .enclosingMark:
            return first ? "segments may not start with a combining mark (\(code))" : nil
        default:
            // Also joins what precedes it, though not a mark: halfwidth sound marks, emoji modifiers.
            if first, scalar.properties.isGraphemeExtend || scalar.properties.isEmojiModifier {
                return "segments may not start with a combining character (\(code))"
            }
            return nil
        }
    }

    /// The form under which two names are the same file on a case-insensitive file system
    /// (macOS's and Windows' defaults): a store refuses a name whose fold equals an existing
    /// sibling's, so it can be copied to one of those without two refs becoming one.
    public static func caseFold(_ name: some StringProtocol) -> String {
        String(name).lowercased()
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
