import FlowStoreCore
import NIOCore

/// Object ids travel as their 32 raw bytes (`bytea`): half the size of the hex, and `bytea`
/// order is the hex order, so keyset pages and prefix ranges work on the index as they are.
enum ObjectIDBytes {
    private static let digits = Array("0123456789abcdef".utf8)

    static func buffer(_ id: ObjectID) -> ByteBuffer {
        buffer(hex: id.hex)
    }

    /// The bytes of 64 hex digits (or fewer, for a range bound already padded by the caller).
    static func buffer(hex: String) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(hex.utf8.count / 2)
        var high: UInt8?
        for c in hex.utf8 {
            let value = nibble(c)
            if let h = high {
                out.writeInteger(h << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return out
    }

    /// The id these bytes spell, or nil when they are not 32 bytes.
    static func id(_ buffer: ByteBuffer) -> ObjectID? {
        guard buffer.readableBytes == 32 else { return nil }
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        buffer.withUnsafeReadableBytes { raw in
            for byte in raw {
                hex.append(digits[Int(byte >> 4)])
                hex.append(digits[Int(byte & 0x0f)])
            }
        }
        return ObjectID(hexBytes: hex)
    }

    private static func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: 0
        }
    }
}
