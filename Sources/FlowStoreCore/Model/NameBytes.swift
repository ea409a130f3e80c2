/// Names — paths, labels, ref names, the file names refs are stored under — are split,
/// matched and ordered as UTF-8 bytes, never as `Character`s.
///
/// `String`'s own `hasPrefix`, `split` and slicing work on grapheme clusters: a combining mark
/// after `/` fuses with it (`"paths/\u{301}x".hasPrefix("paths/")` is false), and a Prepend
/// character before `.ref` fuses with the dot. Either made names that were written vanish from
/// listings (and from `gc`'s roots). On bytes, what was joined with `/` splits back apart
/// exactly, and two names are equal only when they are the same bytes.
extension StringProtocol {
    /// Whether the UTF-8 bytes start with those of `prefix`.
    public func hasBytePrefix(_ prefix: some StringProtocol) -> Bool {
        utf8.starts(with: prefix.utf8)
    }

    /// Whether the UTF-8 bytes end with those of `suffix`.
    public func hasByteSuffix(_ suffix: some StringProtocol) -> Bool {
        let count = suffix.utf8.count
        return utf8.count >= count && utf8.suffix(count).elementsEqual(suffix.utf8)
    }

    /// Byte-wise (UTF-8) order, which is also code point order: the order of every listing.
    public func bytesPrecede(_ other: some StringProtocol) -> Bool {
        utf8.lexicographicallyPrecedes(other.utf8)
    }

    /// Byte-wise equality: unlike `==`, an NFC and an NFD spelling of one name differ.
    public func bytesEqual(_ other: some StringProtocol) -> Bool {
        utf8.elementsEqual(other.utf8)
    }
}

extension String {
    /// The text after the first `count` bytes; `count` must end on a scalar boundary (the
    /// length of an ASCII or already-matched prefix).
    public func droppingBytes(_ count: Int) -> String {
        String(Substring(utf8.dropFirst(count)))
    }

    /// The text before the last `count` bytes (an ASCII suffix such as `.ref`).
    public func droppingLastBytes(_ count: Int) -> String {
        String(Substring(utf8.dropLast(count)))
    }

    /// Splits on an ASCII separator byte, keeping empty pieces.
    public func splitBytes(on separator: UInt8) -> [Substring] {
        utf8.split(separator: separator, omittingEmptySubsequences: false).map { Substring($0) }
    }
}
