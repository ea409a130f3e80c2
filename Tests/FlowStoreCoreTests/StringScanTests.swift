import CFlowStoreSys
import Testing

@testable import FlowStoreCore

/// `flowstore_json_string_copy` has two implementations (AVX2, chosen at run time, and the
/// portable SSE2 scan); canonical JSON is only right if they agree on every input: the length
/// they stop at, the bytes they copy, and whether they saw an escape or invalid UTF-8.
@Suite("StringScan")
struct StringScanTests {
    struct Outcome: Equatable {
        var length: Int
        var escaped: Bool
        var invalid: Bool
        var copied: [UInt8]
    }

    /// Runs one implementation on `bytes`, held in an allocation of exactly their size so the
    /// scan's handling of the buffer's end is what is tested.
    static func run(_ bytes: [UInt8], avx2: Bool) -> Outcome {
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        defer { input.deallocate() }
        input.initialize(from: bytes, count: bytes.count)
        var out = [UInt8](repeating: 0xEE, count: bytes.count + 1)
        var flags: Int32 = 0
        let length = out.withUnsafeMutableBufferPointer { out in
            avx2
                ? flowstore_json_string_copy_avx2(input, bytes.count, out.baseAddress!, &flags)
                : flowstore_json_string_copy_portable(input, bytes.count, out.baseAddress!, &flags)
        }
        let invalid = flags & Int32(FLOWSTORE_STRING_INVALID_UTF8) != 0
        // Where invalid UTF-8 stops the scan, only that verdict matters (the caller gives up).
        if invalid { return Outcome(length: 0, escaped: false, invalid: true, copied: []) }
        return Outcome(length: length, escaped: flags & Int32(FLOWSTORE_STRING_ESCAPED) != 0, invalid: false,
                       copied: Array(out[0..<length]))
    }

    static func expectAgree(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let portable = run(bytes, avx2: false)
        #expect(portable.copied == Array(bytes.prefix(portable.length)), sourceLocation: sourceLocation)
        guard flowstore_has_avx2() != 0 else { return }
        #expect(run(bytes, avx2: true) == portable, "\(bytes.map { String($0, radix: 16) })", sourceLocation: sourceLocation)
    }

    /// Bytes that matter to the scan: quote, backslash, escape letters, controls, every kind of
    /// UTF-8 lead and continuation, and the edges of the valid ranges.
    static let interesting: [UInt8] = [
        0x61, 0x20, 0x22, 0x5C, 0x6E, 0x74, 0x72, 0x62, 0x66, 0x75, 0x2F, 0x00, 0x01, 0x09, 0x0A, 0x1F, 0x7F,
        0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFF,
        0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
    ]

    /// Runs of backslashes of every length, against every kind of letter after them.
    static let backslashHeavy: [UInt8] = [0x5C, 0x5C, 0x5C, 0x22, 0x6E, 0x75, 0x2F, 0x61, 0xC3, 0xA9, 0x0A]

    /// Well-formed pieces of string content, escapes included.
    static let pieces: [[UInt8]] = ["x", "é", "中", "😀", "\u{10FFFF}", "\u{FFFD}", "\\n", "\\\"", "\\\\", "\\t", "\\u00e9",
                                    "\\/", " ", "\\b", "\\f", "\\r"].map { Array($0.utf8) }

    @Test func agreesOnSeededRandomBytes() {
        var random = JCSTestRandom(seed: 0x5CA7_0001)
        for round in 0..<60_000 {
            let count = random.int(in: 0...140)
            var bytes: [UInt8] = []
            switch round % 5 {
            case 0: bytes = (0..<count).map { _ in random.pick(Self.interesting) }
            case 1: bytes = (0..<count).map { _ in random.int(in: 0...9) < 9 ? UInt8(random.int(in: 0x61...0x7A)) : random.pick(Self.interesting) }
            case 2: bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            case 3: bytes = (0..<count).map { _ in random.pick(Self.backslashHeavy) }
            default:
                while bytes.count < count { bytes += random.pick(Self.pieces) }
                if random.bool(), !bytes.isEmpty { bytes[random.int(in: 0...bytes.count - 1)] = random.pick(Self.interesting) }
            }
            Self.expectAgree(bytes)
        }
    }

    /// Every character kind, escape, control and ill-formed sequence, ending 0 to 3 bytes before
    /// each 16/32-byte boundary and the buffer's end, with and without a closing quote.
    @Test func agreesAtBlockAndBufferBoundaries() {
        var specimens: [[UInt8]] = Self.pieces + (0..<0x20).map { [UInt8($0)] } + [
            [0xC3], [0xE4, 0xB8], [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xE0, 0x9F, 0xBF],
            [0xE0, 0xA0, 0x80], [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
            [0xF4, 0x90, 0x80, 0x80], [0xC1, 0xBF], [0xC2, 0x80], [0x80], [0xBF, 0xBF], [0xF5, 0x80, 0x80, 0x80],
            [0x5C], [0x5C, 0x75], [0x5C, 0x78], [0x22], [0x7F],
        ]
        specimens.append(Array("\\ud83d\\ude00".utf8))
        for specimen in specimens {
            for length in [15, 16, 17, 30, 31, 32, 33, 34, 47, 48, 63, 64, 65, 66, 95, 96, 97] {
                for tail in [[], [0x22], [0x22, 0x2C, 0x20, 0x22]] as [[UInt8]] {
                    for gap in 0...3 {
                        let fill = length - specimen.count - gap
                        guard fill >= 0 else { continue }
                        var bytes = [UInt8](repeating: 0x61, count: fill) + specimen + [UInt8](repeating: 0x62, count: gap)
                        Self.expectAgree(bytes + tail)
                        bytes = [UInt8](repeating: 0xC3, count: 0) + Array(String(repeating: "é", count: fill / 2).utf8)
                            + specimen + [UInt8](repeating: 0x62, count: gap)
                        Self.expectAgree(bytes + tail)
                    }
                }
            }
        }
    }
}
