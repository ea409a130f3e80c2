import Foundation
import Testing
@testable import FlowStoreCore
@testable import FlowStoreDirectory

/// Runs `spec/vectors/objects.json`: every object type decodes, re-encodes to exactly the
/// canonical bytes the spec gives, and hashes (through OpenSSL) to the id the spec gives.
@Suite("Object vectors")
struct ObjectVectorTests {
    static let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("spec/vectors/objects.json")

    static func vectors() throws -> [JSONObject] {
        let root = try JSONParser.parse([UInt8](try Data(contentsOf: url)))
        return (root["objects"]?.arrayValue ?? []).compactMap(\.objectValue)
    }

    @Test func everyObjectTypeHasAVector() throws {
        let types = Set(try Self.vectors().compactMap { $0["type"]?.stringValue })
        #expect(types == ["file", "content", "version", "event", "log"])
    }

    @Test func vectorsDecodeEncodeAndHashExactly() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count >= 8)
        for vector in vectors {
            let name = vector["name"]?.stringValue ?? "?"
            let canonical = Array(try #require(vector["canonical"]?.stringValue).utf8)
            let hex = try #require(vector["sha256"]?.stringValue)
            let expected = try #require(ObjectID(hex: hex))
            let object = try #require(vector["object"])
            #expect(try CanonicalJSON.encode(object) == canonical, "\(name): canonical bytes")
            #expect(ObjectID(hashing: canonical) == expected, "\(name): SHA-256")
            let decoded = try StoredObject.decode(id: expected, bytes: canonical)
            #expect(decoded.typeName == vector["type"]?.stringValue, "\(name): type")
            #expect(decoded.canonicalBytes() == canonical, "\(name): re-encoding is byte-exact")
        }
    }

    @Test func aStoreWritesTheSameBytesAsTheSpec() throws {
        let t = try TestStore()
        for vector in try Self.vectors() {
            let canonical = Array(try #require(vector["canonical"]?.stringValue).utf8)
            let decoded = try StoredObject.decode(id: ObjectID(hashing: canonical), bytes: canonical)
            let id = try t.store.write(decoded)
            #expect(id.hex == vector["sha256"]?.stringValue)
            #expect(try Data(contentsOf: URL(fileURLWithPath: t.objectPath(id))) == Data(canonical))
        }
    }

    @Test func malformedObjectsAreCorruptNotCrashes() throws {
        let bad = [
            #"{"type":"version"}"#, #"{"type":"nope"}"#, #"[]"#, #"{"type":"file","kind":"flow","path":"../x","author":"a","created_at":"2026-11-23T10:00:00.000Z","nonce":"n"}"#,
            #"{"type":"event","ref":"files/x/head","action":"teleport","author":"a","time":"2026-11-23T10:00:00.000Z"}"#,
            #"{"type":"file","kind":"flow","path":"p","author":"a","created_at":"yesterday","nonce":"n"}"#,
            #"{"type":"content","kind":"flow","attributes":{},"extra":1}"#,
        ]
        for text in bad {
            let bytes = Array(text.utf8)
            #expect(throws: StoreError.self, "\(text)") { try StoredObject.decode(id: ObjectID(hashing: bytes), bytes: bytes) }
        }
    }
}
