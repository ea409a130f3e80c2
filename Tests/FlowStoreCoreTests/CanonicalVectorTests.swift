import Foundation
import Testing

@testable import FlowStoreCore

/// Runs the language-neutral vectors in `spec/vectors/canonical-json.json`, which other
/// implementations of FlowStore's canonical form must also pass.
@Suite("CanonicalVectors")
struct CanonicalVectorTests {
    static let vectorURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // FlowStoreCoreTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("spec/vectors/canonical-json.json")

    static func loadVectors() throws -> JSONObject {
        let data = try Data(contentsOf: vectorURL)
        return try #require(try JSONParser.parse([UInt8](data)).objectValue)
    }

    /// The name a vector file uses for an error kind: the case name without its payload.
    static func kindName(_ kind: JSONError.Kind) -> String {
        switch kind {
        case .unexpectedEnd: "unexpectedEnd"
        case .unexpectedByte: "unexpectedByte"
        case .invalidUTF8: "invalidUTF8"
        case .invalidEscape: "invalidEscape"
        case .loneSurrogate: "loneSurrogate"
        case .controlCharacterInString: "controlCharacterInString"
        case .invalidNumber: "invalidNumber"
        case .numberOutOfRange: "numberOutOfRange"
        case .duplicateKey: "duplicateKey"
        case .trailingData: "trailingData"
        case .tooDeep: "tooDeep"
        case .tooManyValues: "tooManyValues"
        case .notFinite: "notFinite"
        }
    }

    @Test func validVectors() throws {
        let valid = try #require(try Self.loadVectors()["valid"]?.arrayValue)
        #expect(valid.count >= 30)
        for vector in valid {
            let name = try #require(vector["name"]?.stringValue)
            let input = try #require(vector["input"]?.stringValue, "\(name)")
            let canonical = try #require(vector["canonical"]?.stringValue, "\(name)")
            let sha256 = try #require(vector["sha256"]?.stringValue, "\(name)")

            let bytes = try CanonicalJSON.canonicalize(Array(input.utf8))
            #expect(bytes == Array(canonical.utf8), "\(name)")
            #expect(SHA256.hex(of: bytes) == sha256, "\(name)")
            // The canonical text is a fixed point.
            #expect(try CanonicalJSON.canonicalize(Array(canonical.utf8)) == Array(canonical.utf8), "\(name)")
        }
    }

    @Test func invalidVectors() throws {
        let invalid = try #require(try Self.loadVectors()["invalid"]?.arrayValue)
        #expect(invalid.count >= 15)
        for vector in invalid {
            let name = try #require(vector["name"]?.stringValue)
            let expected = try #require(vector["error"]?.stringValue, "\(name)")
            let input: [UInt8]
            if let hex = vector["input_hex"]?.stringValue {
                input = try #require(Hex.decode(hex), "\(name)")
            } else {
                input = Array(try #require(vector["input"]?.stringValue, "\(name)").utf8)
            }
            do {
                let bytes = try CanonicalJSON.canonicalize(input)
                Issue.record("\(name): expected \(expected), got \(String(decoding: bytes, as: UTF8.self))")
            } catch {
                #expect(Self.kindName(error.kind) == expected, "\(name): \(error)")
            }
        }
    }
}
