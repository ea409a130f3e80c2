import COpenSSL

/// SHA-256 through OpenSSL's libcrypto.
///
/// Object names are SHA-256 digests, so this is the root of every integrity guarantee the
/// store makes; it goes through a vetted, hardware-accelerated implementation, never our own.
public enum SHA256 {
    public static let byteCount = 32

    /// The 32-byte digest of `bytes`.
    public static func digest(of bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount)
        out.withUnsafeMutableBufferPointer { dst in
            var size: UInt32 = 0
            // EVP_Digest only fails on allocation failure inside OpenSSL; that is not recoverable.
            let ok = EVP_Digest(bytes.baseAddress, bytes.count, dst.baseAddress, &size, EVP_sha256(), nil)
            precondition(ok == 1 && size == UInt32(byteCount), "OpenSSL EVP_Digest(SHA-256) failed")
        }
        return out
    }

    public static func digest(of bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { digest(of: $0) }
    }

    /// An incremental SHA-256 (`EVP_DigestInit_ex` / `EVP_DigestUpdate` / `EVP_DigestFinal_ex`),
    /// for bytes that arrive in pieces: a file read in chunks, a stream being written.
    /// Gives the same digest as `digest(of:)` over the concatenation of everything fed to it.
    public struct Hasher: ~Copyable {
        private let context: OpaquePointer

        public init() {
            // Like EVP_Digest above, these only fail when OpenSSL cannot allocate: not recoverable.
            guard let context = EVP_MD_CTX_new() else { preconditionFailure("OpenSSL EVP_MD_CTX_new failed") }
            precondition(EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1, "OpenSSL EVP_DigestInit_ex failed")
            self.context = context
        }

        deinit { EVP_MD_CTX_free(context) }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            guard bytes.count > 0 else { return }
            precondition(EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1, "OpenSSL EVP_DigestUpdate failed")
        }

        public mutating func update(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { update($0) }
        }

        /// The 32-byte digest of everything fed so far; the hasher is used up.
        public consuming func finalize() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: SHA256.byteCount)
            out.withUnsafeMutableBufferPointer { dst in
                var size: UInt32 = 0
                let ok = EVP_DigestFinal_ex(context, dst.baseAddress, &size)
                precondition(ok == 1 && size == UInt32(SHA256.byteCount), "OpenSSL EVP_DigestFinal_ex failed")
            }
            return out
        }
    }

    /// Lowercase hex of the digest: the form object ids take.
    public static func hex(of bytes: [UInt8]) -> String {
        Hex.encode(digest(of: bytes))
    }
}

/// Lowercase hexadecimal, the only encoding object ids use.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// The value of one hexadecimal digit, either case (for percent-decoding, not for ids,
    /// which are lowercase only).
    public static func value(ofDigit c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes lowercase or uppercase hex; `nil` for odd length or a non-hex character.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = value(utf8[i]), let lo = value(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
