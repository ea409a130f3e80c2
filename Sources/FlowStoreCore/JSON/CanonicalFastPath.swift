#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CFlowStoreSys

/// The fast path of `CanonicalJSON.canonicalize`: JSON text in, RFC 8785 bytes out, in one pass
/// over the input and without building a `JSONValue`, a `String` or a `Double` in the common case.
///
/// Why the common case is cheap:
/// - A string is canonical as it is, apart from escapes other than \" \\ \b \f \n \r \t, once
///   its bytes are checked as UTF-8 (no control characters, no quote): it is scanned and copied
///   in one pass by `flowstore_json_string_copy` (C; 32 bytes per step with AVX2).
/// - An escape is decoded and written back in its canonical form at once (`\/` → `/`,
///   `\u00e9` → `é`, `\u000A` → `\n`, …), so strings never go through a scratch copy.
/// - A plain integer of up to 15 digits, and a plain decimal such as `0.4` or `-123.25` with up
///   to 15 significant digits (no exponent, no trailing zero), is already in ECMAScript form: it
///   is copied. (Any decimal of at most 15 significant digits is the shortest text that reads
///   back as its nearest double, and ECMAScript lays such a number out exactly as written.)
///   Every other number is converted to a double and formatted by `CanonicalJSON.appendNumber`.
/// - Object members are written as they come, and only an object whose keys are out of order is
///   put in key order (UTF-8 key bytes compared with `KeyOrder`, which equals RFC 8785's UTF-16
///   order): a small one by moving its bytes, a large one by permuting runs of the output
///   (`segments`), which are gathered into the result once at the end.
///
/// Anything it does not like (invalid JSON, a duplicate key, nesting too deep) makes it give up
/// and `CanonicalJSON.canonicalize` runs the tree path instead, which throws the precise error.
/// So errors, and every output byte, are the tree path's by construction; the test suite checks
/// both paths agree on every vector and on seeded random documents.
struct FastCanonicalizer {
    /// Why the fast path stopped: the input is invalid (the tree path reports how), or the output
    /// buffer was too small (numbers such as `1e20` can be longer in canonical form).
    enum Bail: Error { case invalid, needSpace }

    private struct Member {
        /// The key's unescaped UTF-8 bytes: in the output buffer or, for a key written with
        /// escapes, in `keyArena`.
        var keyStart: Int
        var keyCount: Int
        var keyInArena: Bool
        /// The member's place in the output (`"key":value`, no comma): where it was written in
        /// the output buffer, which is also its place in the output text (see `segments`).
        var start: Int
        var end: Int
        /// While its object is reordered: its pieces in `pieces`.
        var firstPiece = 0
        var endPiece = 0
    }

    /// A run of bytes of the output buffer: `out[start..<end]`.
    private struct Segment {
        var start: Int
        var end: Int
    }

    private let input: UnsafePointer<UInt8>
    private let end: Int
    private var pos = 0
    private let out: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private var count = 0
    private let maxDepth: Int
    /// Objects up to this size (in output bytes) whose text is still one run of the buffer are
    /// reordered by moving their bytes: cheaper than segments for them, and it keeps the segment
    /// list short for the large objects around them (whose reorders walk it).
    private let inPlaceLimit: Int
    /// The members of every open object, innermost last; and the unescaped bytes of their keys
    /// that had escapes. Manually managed (freed by `canonicalize`): no uniqueness checks or
    /// reference counting on the per-member path.
    private var members = UnsafeStack<Member>()
    private var keyArena = UnsafeStack<UInt8>()
    /// Reordering moves no bytes: the output text is `segments` (runs of the output buffer, in
    /// output order) followed by `out[flushed..<count]`, and a reorder permutes segments. Each
    /// byte is written to the buffer once and copied to the result once (`gather`), however
    /// deep the unsorted objects nest; moving the bytes instead cost two copies per level.
    /// Either way the text is as long as the buffer's content, so a position in the text is
    /// the `count` at the time it was written.
    private var segments = UnsafeStack<Segment>()
    private var flushed = 0
    /// Scratch for `reorder`: the segments of the object being reordered, cut at its members.
    private var pieces = UnsafeStack<Segment>()
    /// Scratch for `reorder`: member indices in key order.
    private var order = UnsafeStack<Int>()
    /// Scratch for `reorderInPlace`: a copy of the object's members.
    private var moveScratch = UnsafeStack<UInt8>()

    /// Canonicalises `input`, or returns nil when the tree path must decide (invalid input).
    /// `inPlaceLimit` is for tests, which set it to 0 to send every reorder through segments.
    static func canonicalize(_ input: UnsafeBufferPointer<UInt8>, maxDepth: Int, inPlaceLimit: Int = 4096) -> [UInt8]? {
        guard let base = input.baseAddress, input.count > 0 else { return nil }
        // Canonical text is shorter than its input except where numbers grow (`1E5` → `100000`):
        // start with some room and retry with more in that rare case.
        var capacity = input.count + 64
        while true {
            // The working buffer: the thread's scratch buffer (reused, so a large document does
            // not cost fresh pages from the kernel every time), or one of its own past its limit.
            // The result is always a copy (`gather`): with reordered objects it is anyway.
            let scratch = flowstore_thread_scratch(capacity)
            let buffer = scratch ?? UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
            defer { if scratch == nil { buffer.deallocate() } }
            var scanner = FastCanonicalizer(
                input: base, end: input.count, out: buffer, capacity: capacity, maxDepth: maxDepth,
                inPlaceLimit: inPlaceLimit)
            var outcome: Bail?
            var result: [UInt8] = []
            do throws(Bail) {
                try scanner.document()
                result = scanner.gather()
            } catch {
                outcome = error
            }
            scanner.members.deallocate()
            scanner.keyArena.deallocate()
            scanner.segments.deallocate()
            scanner.pieces.deallocate()
            scanner.order.deallocate()
            scanner.moveScratch.deallocate()
            switch outcome {
            case nil: return result
            case .invalid: return nil
            case .needSpace: capacity = capacity * 2 + 64
            }
        }
    }

    private init(
        input: UnsafePointer<UInt8>, end: Int, out: UnsafeMutablePointer<UInt8>, capacity: Int, maxDepth: Int,
        inPlaceLimit: Int
    ) {
        self.inPlaceLimit = inPlaceLimit
        self.input = input
        self.end = end
        self.out = out
        self.capacity = capacity
        self.maxDepth = maxDepth
    }

    // MARK: Structure

    private mutating func document() throws(Bail) {
        skipWhitespace()
        try value(depth: 0)
        skipWhitespace()
        if pos != end { throw .invalid }
    }

    /// Skips JSON white space. Pretty-printed input is mostly a newline and a run of
    /// indentation: a run of spaces is measured eight bytes per load (the first byte that is not
    /// a space is the lowest nonzero byte of the word XOR eight spaces).
    @inline(__always)
    private mutating func skipWhitespace() {
        var p = pos
        while p < end {
            switch input[p] {
            case 0x20:
                p &+= 1
                // Near the end this loop does not run, and spaces go one per turn of the outer one.
                while p &+ 8 <= end {
                    let others = UnsafeRawPointer(input + p).loadUnaligned(as: UInt64.self) ^ 0x2020_2020_2020_2020
                    if others != 0 {
                        p &+= others.trailingZeroBitCount &>> 3
                        break
                    }
                    p &+= 8
                }
            case 0x0A, 0x09, 0x0D: p &+= 1
            default:
                pos = p
                return
            }
        }
        pos = p
    }

    @inline(__always)
    private mutating func emit(_ byte: UInt8) {
        out[count] = byte
        count += 1
    }

    /// `depth` counts the containers already open around this value, as in `JSONParser`.
    private mutating func value(depth: Int) throws(Bail) {
        guard pos < end else { throw .invalid }
        switch input[pos] {
        case 0x22: _ = try string()
        case 0x7B:
            guard depth < maxDepth else { throw .invalid }
            try object(depth: depth + 1)
        case 0x5B:
            guard depth < maxDepth else { throw .invalid }
            try array(depth: depth + 1)
        case 0x74: try literal(0x74, 0x72, 0x75, 0x65)  // true
        case 0x66: try literalFalse()
        case 0x6E: try literal(0x6E, 0x75, 0x6C, 0x6C)  // null
        case 0x2D, 0x30...0x39: try number()
        default: throw .invalid
        }
    }

    private mutating func literal(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) throws(Bail) {
        guard pos + 4 <= end, input[pos] == a, input[pos + 1] == b, input[pos + 2] == c, input[pos + 3] == d
        else { throw .invalid }
        out[count] = a
        out[count + 1] = b
        out[count + 2] = c
        out[count + 3] = d
        count += 4
        pos += 4
    }

    private mutating func literalFalse() throws(Bail) {
        guard pos + 5 <= end, input[pos + 4] == 0x65 else { throw .invalid }
        try literal(0x66, 0x61, 0x6C, 0x73)
        emit(0x65)
        pos += 1
    }

    private mutating func array(depth: Int) throws(Bail) {
        pos += 1  // [
        emit(0x5B)
        skipWhitespace()
        if pos < end, input[pos] == 0x5D {
            pos += 1
            emit(0x5D)
            return
        }
        while true {
            try value(depth: depth)
            skipWhitespace()
            guard pos < end else { throw .invalid }
            let byte = input[pos]
            pos += 1
            if byte == 0x2C {
                emit(0x2C)
                skipWhitespace()
            } else if byte == 0x5D {
                emit(0x5D)
                return
            } else {
                throw .invalid
            }
        }
    }

    private mutating func object(depth: Int) throws(Bail) {
        pos += 1  // {
        emit(0x7B)
        skipWhitespace()
        if pos < end, input[pos] == 0x7D {
            pos += 1
            emit(0x7D)
            return
        }
        let base = members.count
        let arenaBase = keyArena.count
        var inOrder = true
        while true {
            guard pos < end, input[pos] == 0x22 else { throw .invalid }
            let start = count
            let escaped = try string()
            var member = Member(keyStart: start + 1, keyCount: count - start - 2, keyInArena: false, start: start, end: 0)
            if escaped {
                member.keyStart = keyArena.count
                unescapeCanonical(from: start + 1, to: count - 1)
                member.keyCount = keyArena.count - member.keyStart
                member.keyInArena = true
            }
            skipWhitespace()
            guard pos < end, input[pos] == 0x3A else { throw .invalid }
            pos += 1
            emit(0x3A)
            skipWhitespace()
            try value(depth: depth)
            member.end = count
            if inOrder, members.count > base {
                switch compareKeys(members[members.count - 1], member) {
                case .orderedAscending: break
                case .orderedSame: throw .invalid  // duplicate key: the tree path names it
                case .orderedDescending: inOrder = false
                }
            }
            members.append(member)
            skipWhitespace()
            guard pos < end else { throw .invalid }
            let byte = input[pos]
            pos += 1
            if byte == 0x2C {
                emit(0x2C)
                skipWhitespace()
            } else if byte == 0x7D {
                break
            } else {
                throw .invalid
            }
        }
        if !inOrder { try reorder(from: base) }
        emit(0x7D)
        // This object's keys are no longer needed: both stacks drop back to where it began.
        keyArena.count = arenaBase
        members.count = base
    }

    /// Puts the members `members[base...]` (already in the output, separated by commas) in key
    /// order by permuting the segments that hold them, and refuses a repeated key.
    private mutating func reorder(from base: Int) throws(Bail) {
        try sortMembers(from: base)
        let regionStart = members[base].start
        if flushed <= regionStart, count - regionStart <= inPlaceLimit {
            reorderInPlace(from: base)
            return
        }
        flush()
        // The object's members and commas are the text from the first member's start to the
        // end: the last segments, the first of them perhaps only in part.
        var at = count  // the text position where segments[first] begins
        var first = segments.count
        while at > regionStart {
            first -= 1
            at -= segments[first].end - segments[first].start
        }
        pieces.count = 0
        var current = segments[first]  // the segment being cut
        var next = first + 1  // the one after it
        if at < regionStart {  // the region starts inside this segment: keep what comes before
            segments[first] = Segment(start: current.start, end: current.start + (regionStart - at))
            current.start += regionStart - at
            first += 1
        }
        // Cut the region into pieces at every member's start and end (a comma in between).
        at = regionStart
        var comma = Segment(start: 0, end: 0)
        for index in base..<members.count {
            let member = members[index]
            if index > base {  // the comma before this member: one byte
                if current.start == current.end {
                    current = segments[next]
                    next += 1
                }
                comma = Segment(start: current.start, end: current.start + 1)
                current.start += 1
                at += 1
            }
            members[index].firstPiece = pieces.count
            while at < member.end {
                if current.start == current.end {
                    // Segments that lie wholly inside the member (a nested reorder's) go over in
                    // one copy.
                    var through = next
                    var reach = at
                    while through < segments.count {
                        let length = segments[through].end - segments[through].start
                        if reach + length > member.end { break }
                        reach += length
                        through += 1
                    }
                    if through > next {
                        pieces.append(contentsOf: segments.base.unsafelyUnwrapped + next, count: through - next)
                        at = reach
                        next = through
                        continue
                    }
                    current = segments[next]
                    next += 1
                }
                let take = Swift.min(current.end - current.start, member.end - at)
                pieces.append(Segment(start: current.start, end: current.start + take))
                current.start += take
                at += take
            }
            members[index].endPiece = pieces.count
        }
        segments.count = first
        for n in 0..<order.count {
            let member = members[order[n]]
            if n > 0 { appendSegment(comma) }
            guard member.endPiece > member.firstPiece else { continue }
            appendSegment(pieces[member.firstPiece])
            let rest = member.endPiece - member.firstPiece - 1
            if rest > 0 { segments.append(contentsOf: pieces.base.unsafelyUnwrapped + member.firstPiece + 1, count: rest) }
        }
    }

    /// Fills `order` with the indices of `members[base...]` in key order, and refuses a repeated
    /// key. Keys are compared straight from the output buffer (or the arena); no String is made.
    /// Objects are mostly small: insertion sort, without the closures and the array of
    /// `sorted`, which a large object still gets.
    private mutating func sortMembers(from base: Int) throws(Bail) {
        order.count = 0
        let total = members.count - base
        if total > 24 {
            let sorted = (base..<members.count).sorted { a, b in compareKeys(members[a], members[b]) == .orderedAscending }
            for index in sorted { order.append(index) }
            for n in 1..<total where compareKeys(members[order[n - 1]], members[order[n]]) != .orderedAscending {
                throw .invalid  // a repeated key
            }
            return
        }
        for index in base..<members.count {
            let member = members[index]
            var slot = order.count
            order.append(index)
            while slot > 0 {
                let comparison = compareKeys(members[order[slot - 1]], member)
                if comparison == .orderedAscending { break }
                if comparison == .orderedSame { throw .invalid }  // a repeated key
                order[slot] = order[slot - 1]
                slot -= 1
            }
            order[slot] = index
        }
    }

    /// Rewrites the members `members[base...]`, which are the last `count - members[base].start`
    /// bytes of the buffer, in the order `sortMembers` found, through a scratch copy.
    private mutating func reorderInPlace(from base: Int) {
        let regionStart = members[base].start
        let length = count - regionStart
        moveScratch.count = 0
        moveScratch.append(contentsOf: out + regionStart, count: length)
        let copy = moveScratch.base.unsafelyUnwrapped
        var at = regionStart
        for n in 0..<order.count {
            let member = members[order[n]]
            if n > 0 {
                out[at] = 0x2C
                at += 1
            }
            let size = member.end - member.start
            (out + at).update(from: copy + (member.start - regionStart), count: size)
            at += size
        }
    }

    /// Ends the trailing run of the buffer as a segment.
    private mutating func flush() {
        if flushed < count { appendSegment(Segment(start: flushed, end: count)) }
        flushed = count
    }

    /// Appends a segment, merged into the last one when it continues it in the buffer.
    @inline(__always)
    private mutating func appendSegment(_ segment: Segment) {
        if segments.count > 0, segments[segments.count - 1].end == segment.start {
            segments[segments.count - 1].end = segment.end
        } else {
            segments.append(segment)
        }
    }

    /// The output text: the segments' bytes, in order, then the buffer's trailing run.
    private mutating func gather() -> [UInt8] {
        flush()
        let output = UnsafePointer(out)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let target = buffer.baseAddress else { return }
            var at = 0
            for index in 0..<segments.count {
                let segment = segments[index]
                (target + at).initialize(from: output + segment.start, count: segment.end - segment.start)
                at += segment.end - segment.start
            }
            initialized = at
        }
    }

    private func compareKeys(_ a: Member, _ b: Member) -> ComparisonOrder {
        KeyOrder.compare(keyBytes(a), keyBytes(b))
    }

    @inline(__always)
    private func keyBytes(_ m: Member) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: (m.keyInArena ? keyArena.base.unsafelyUnwrapped : out) + m.keyStart, count: m.keyCount)
    }

    /// Decodes a key we have just written in canonical form (`\"`, `\\`, `\b\f\n\r\t`,
    /// `\u00xx`) into `keyArena`, for ordering.
    private mutating func unescapeCanonical(from start: Int, to stop: Int) {
        var i = start
        while i < stop {
            let byte = out[i]
            guard byte == 0x5C else {
                keyArena.append(byte)
                i += 1
                continue
            }
            switch out[i + 1] {
            case 0x62: keyArena.append(0x08)
            case 0x66: keyArena.append(0x0C)
            case 0x6E: keyArena.append(0x0A)
            case 0x72: keyArena.append(0x0D)
            case 0x74: keyArena.append(0x09)
            case 0x75:
                keyArena.append(Self.hexValue(out[i + 4]) << 4 | Self.hexValue(out[i + 5]))
                i += 4
            case let other: keyArena.append(other)  // \" or \\
            }
            i += 2
        }
    }

    // MARK: Strings

    /// Copies a string starting at its opening quote, checking it and writing escapes in their
    /// canonical form. Returns whether it contained any escape.
    ///
    /// The scanning loop works on locals (not `self.pos`), so the cursor stays in a register.
    private mutating func string() throws(Bail) -> Bool {
        let input = self.input
        let end = self.end
        var p = pos + 1
        emit(0x22)
        // Most strings (keys, short values) are a few plain ASCII bytes: those are found in one or
        // two words here, without the call into C.
        if p &+ 16 <= end, capacity &- count >= 16 {
            let first = UnsafeRawPointer(input + p).loadUnaligned(as: UInt64.self)
            let second = UnsafeRawPointer(input + p + 8).loadUnaligned(as: UInt64.self)
            var stops = Self.stopBytes(first)
            var length = 0
            if stops == 0 {
                stops = Self.stopBytes(second)
                length = 8
            }
            if stops != 0 {
                length &+= stops.trailingZeroBitCount &>> 3
                if input[p &+ length] == 0x22 {
                    let target = UnsafeMutableRawPointer(out + count)
                    target.storeBytes(of: first, as: UInt64.self)
                    target.storeBytes(of: second, toByteOffset: 8, as: UInt64.self)
                    count &+= length
                    emit(0x22)
                    pos = p &+ length &+ 1
                    return false
                }
            }
        }
        var escaped = false
        while true {
            // To the closing quote (or a `\u`, `\/`, control byte or invalid UTF-8), scanned and
            // copied in one call into C: with AVX2 it reads each byte once, 32 at a time, checks
            // UTF-8 with vector compares and steps over the escapes RFC 8785 writes as they are.
            // It may write up to `end - p` bytes: the output always has that room (see `number`).
            guard capacity &- count >= end &- p else { throw .needSpace }
            var flags: Int32 = 0
            let n = flowstore_json_string_copy(input + p, end &- p, out + count, &flags)
            p &+= n
            count &+= n
            if flags & Int32(FLOWSTORE_STRING_INVALID_UTF8) != 0 { throw .invalid }
            if flags & Int32(FLOWSTORE_STRING_ESCAPED) != 0 { escaped = true }
            guard p < end else { throw .invalid }
            let byte = input[p]
            if byte == 0x22 {
                emit(0x22)
                pos = p &+ 1
                return escaped
            } else if byte == 0x5C {
                // \/ and \uXXXX, which canonical form rewrites (or an invalid escape).
                escaped = true
                pos = p
                try escape()
                p = pos
            } else {
                throw .invalid  // an unescaped control character
            }
        }
    }

    /// The high bit of each byte of `word` (eight string bytes, first in the low byte) that stops
    /// a plain ASCII run: `"`, `\`, a control, or non-ASCII. Only the lowest one is exact (the
    /// zero-byte tests can flag a byte above a real hit), which is the one used.
    @inline(__always)
    private static func stopBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let word = UInt64(littleEndian: word)
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        let control = (word &- ones &* 0x20) & ~word
        return (zeroQuote | zeroBackslash | control | word) & high
    }

    /// Copies input bytes to the output; runs of up to 16 bytes (keys, short values) as two
    /// 8-byte moves instead of a `memmove` call, where both buffers have the room.
    @inline(__always)
    private mutating func copy(from start: Int, to stop: Int) {
        let n = stop &- start
        if n <= 16, start &+ 16 <= end, count &+ 16 <= capacity {
            let source = UnsafeRawPointer(input + start)
            let target = UnsafeMutableRawPointer(out + count)
            target.storeBytes(of: source.loadUnaligned(as: UInt64.self), as: UInt64.self)
            target.storeBytes(of: source.loadUnaligned(fromByteOffset: 8, as: UInt64.self), toByteOffset: 8, as: UInt64.self)
        } else {
            (out + count).update(from: input + start, count: n)
        }
        count &+= n
    }

    /// Reads one escape at `pos` (a backslash) and writes the canonical form of the character.
    private mutating func escape() throws(Bail) {
        guard pos + 1 < end else { throw .invalid }
        let letter = input[pos + 1]
        pos += 2
        switch letter {
        case 0x22, 0x5C:  // \" \\ stay
            emit(0x5C)
            emit(letter)
        case 0x2F: emit(0x2F)  // \/ → /
        case 0x62, 0x66, 0x6E, 0x72, 0x74:  // \b \f \n \r \t stay
            emit(0x5C)
            emit(letter)
        case 0x75:
            let unit = try hex4()
            var scalar = UInt32(unit)
            if unit >= 0xD800, unit <= 0xDBFF {
                guard pos + 1 < end, input[pos] == 0x5C, input[pos + 1] == 0x75 else { throw .invalid }
                pos += 2
                let low = try hex4()
                guard low >= 0xDC00, low <= 0xDFFF else { throw .invalid }
                scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            } else if unit >= 0xDC00, unit <= 0xDFFF {
                throw .invalid
            }
            emitScalar(scalar)
        default:
            throw .invalid
        }
    }

    private mutating func hex4() throws(Bail) -> UInt16 {
        guard pos + 4 <= end else { throw .invalid }
        var value: UInt16 = 0
        for i in 0..<4 {
            let byte = input[pos + i]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw .invalid
            }
            value = value << 4 | UInt16(digit)
        }
        pos += 4
        return value
    }

    /// Writes a decoded scalar as RFC 8785 wants it inside a string. Never longer than the
    /// escape it came from, so it needs no capacity check.
    private mutating func emitScalar(_ scalar: UInt32) {
        switch scalar {
        case 0x22, 0x5C:
            emit(0x5C)
            emit(UInt8(scalar))
        case 0x08: emit(0x5C); emit(0x62)
        case 0x09: emit(0x5C); emit(0x74)
        case 0x0A: emit(0x5C); emit(0x6E)
        case 0x0C: emit(0x5C); emit(0x66)
        case 0x0D: emit(0x5C); emit(0x72)
        case 0..<0x20:
            emit(0x5C); emit(0x75); emit(0x30); emit(0x30)
            emit(Self.lowerHex(UInt8(scalar >> 4)))
            emit(Self.lowerHex(UInt8(scalar & 0xF)))
        case 0x20..<0x80:
            emit(UInt8(scalar))
        case 0x80..<0x800:
            emit(UInt8(0xC0 | scalar >> 6))
            emit(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            emit(UInt8(0xE0 | scalar >> 12))
            emit(UInt8(0x80 | scalar >> 6 & 0x3F))
            emit(UInt8(0x80 | scalar & 0x3F))
        default:
            emit(UInt8(0xF0 | scalar >> 18))
            emit(UInt8(0x80 | scalar >> 12 & 0x3F))
            emit(UInt8(0x80 | scalar >> 6 & 0x3F))
            emit(UInt8(0x80 | scalar & 0x3F))
        }
    }

    private static func lowerHex(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10 }

    private static func hexValue(_ byte: UInt8) -> UInt8 { byte <= 0x39 ? byte - 0x30 : byte - 0x61 + 10 }

    // MARK: Numbers

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// Checks the number grammar, then copies the text when it is already canonical, else
    /// converts it to a double and formats it with `CanonicalJSON.appendNumber`.
    private mutating func number() throws(Bail) {
        let start = pos
        let negative = input[pos] == 0x2D
        if negative { pos += 1 }
        guard pos < end, isDigit(input[pos]) else { throw .invalid }
        let intStart = pos
        if input[pos] == 0x30 {
            pos += 1
            if pos < end, isDigit(input[pos]) { throw .invalid }
        } else {
            while pos < end, isDigit(input[pos]) { pos += 1 }
        }
        let intDigits = pos - intStart
        var fracDigits = 0
        var fracStart = 0
        if pos < end, input[pos] == 0x2E {
            pos += 1
            fracStart = pos
            guard pos < end, isDigit(input[pos]) else { throw .invalid }
            while pos < end, isDigit(input[pos]) { pos += 1 }
            fracDigits = pos - fracStart
        }
        var hasExponent = false
        if pos < end, input[pos] == 0x65 || input[pos] == 0x45 {
            hasExponent = true
            pos += 1
            if pos < end, input[pos] == 0x2B || input[pos] == 0x2D { pos += 1 }
            guard pos < end, isDigit(input[pos]) else { throw .invalid }
            while pos < end, isDigit(input[pos]) { pos += 1 }
        }

        if !hasExponent {
            let intIsZero = input[intStart] == 0x30
            if fracDigits == 0 {
                // An integer of up to 15 digits is its own canonical form; "-0" is "0".
                if intIsZero {
                    emit(0x30)
                    return
                }
                if intDigits <= 15 {
                    copy(from: start, to: pos)
                    return
                }
            } else if input[pos - 1] != 0x30 {
                var significant = intDigits + fracDigits
                var leadingZeros = 0
                if intIsZero {
                    while input[fracStart + leadingZeros] == 0x30 { leadingZeros += 1 }
                    significant = fracDigits - leadingZeros
                }
                // Plain ECMAScript layout needs the value ≥ 1e-6: at most five zeros after "0.".
                if significant <= 15, leadingZeros <= 5 {
                    copy(from: start, to: pos)
                    return
                }
            }
        }
        // Everything else: through a double, as the tree path does.
        let value = try Self.convert(UnsafeBufferPointer(start: input + start, count: pos - start))
        guard count + 40 <= capacity - (end - pos) else { throw .needSpace }
        var text: [UInt8] = []
        do { try CanonicalJSON.appendNumber(value, into: &text) } catch { throw .invalid }
        (out + count).update(from: text, count: text.count)
        count += text.count
    }

    /// The correctly rounded double of grammatical number text (standard library conversion,
    /// like `JSONParser`'s; correct rounding makes both give the same double).
    private static func convert(_ text: UnsafeBufferPointer<UInt8>) throws(Bail) -> Double {
        guard let value = Double(String(decoding: text, as: UTF8.self)), value.isFinite else { throw .invalid }
        return value
    }
}

/// A growable stack of trivial values in manually managed memory (the caller deallocates).
struct UnsafeStack<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>?
    private var capacity = 0
    /// Set it lower to pop everything above.
    var count = 0

    @inline(__always)
    mutating func append(_ element: Element) {
        if count == capacity { grow() }
        base.unsafelyUnwrapped[count] = element
        count &+= 1
    }

    @inline(__always)
    subscript(index: Int) -> Element {
        get { base.unsafelyUnwrapped[index] }
        nonmutating set { base.unsafelyUnwrapped[index] = newValue }
    }

    /// Appends `count` elements from `source`, which must not be in this stack's own storage.
    mutating func append(contentsOf source: UnsafePointer<Element>, count added: Int) {
        while count + added > capacity { grow() }
        (base.unsafelyUnwrapped + count).update(from: source, count: added)
        count &+= added
    }

    private mutating func grow() {
        let newCapacity = Swift.max(64, capacity * 2)
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        if let base {
            bigger.update(from: base, count: count)
            base.deallocate()
        }
        base = bigger
        capacity = newCapacity
    }

    mutating func deallocate() {
        base?.deallocate()
        base = nil
        capacity = 0
        count = 0
    }
}
