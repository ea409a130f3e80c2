import Foundation
import Testing
@testable import FlowStoreCore
@testable import FlowStoreDirectory

/// Issue 15, item 7: caches are bounded by the memory decoded values take, and the parser can
/// be told how many values a document may hold.
@Suite struct MemoryBoundsTests {
    /// A content object of `count` zeros: a few bytes of text per value, a slot per value decoded.
    static func zeros(_ count: Int, tag: Int) throws -> StoredObject {
        let definition = try Definition.flow(attributes: [
            "tag": .number(Double(tag)), "a": .array(Array(repeating: .number(0), count: count)),
        ])
        return .content(ContentObject(kind: .flow, definition: definition))
    }

    @Test func costCountsTheDecodedTreeNotTheText() throws {
        let object = try Self.zeros(5_000, tag: 0)
        let encoded = object.canonicalBytes().count
        let cost = MemoryCost.of(object)
        #expect(cost >= 5_000 * MemoryLayout<JSONValue>.stride)
        #expect(cost > 5 * encoded, "cost \(cost) for \(encoded) encoded bytes")
        // Long strings are charged their bytes and an allocation; short ones live inline.
        #expect(MemoryCost.heap(.string(String(repeating: "x", count: 1000))) >= 1000)
        #expect(MemoryCost.heap(.string("short")) == 0)
    }

    @Test func objectCacheHoldsNoMoreThanItsCapacityInDecodedMemory() throws {
        let t = try TestStore()
        let capacity = 1 << 20
        let store = t.store.cachingObjects(upTo: capacity)
        var ids: [ObjectID] = []
        for tag in 0..<40 { ids.append(try t.store.write(try Self.zeros(5_000, tag: tag))) }
        for id in ids { _ = try store.object(id) }
        let cache = try #require(store.objectCache)
        let each = MemoryCost.of(try Self.zeros(5_000, tag: 0))
        // Two generations of at most `capacity` each, plus the entry that turned one over.
        // Counting encoded bytes (about 10 KB each) kept all 40, some 4 MB decoded.
        #expect(cache.count * each <= 2 * capacity + each, "\(cache.count) entries of \(each) bytes")
        #expect(cache.count >= 1)
    }

    @Test func oneHugeValueIsNotCachedAndEvictsNothing() throws {
        let cache = BoundedCache<Int, Int>(capacity: 1000, maxEntryCost: 100)
        for i in 0..<5 { cache.set(i, forKey: i, cost: 50) }
        cache.set(99, forKey: 99, cost: 500)
        #expect(cache.value(forKey: 99) == nil)
        #expect((0..<5).allSatisfy { cache.value(forKey: $0) == $0 })
    }

    @Test func parserStopsAtTheValueLimit() throws {
        let text = "[" + Array(repeating: "0", count: 100).joined(separator: ",") + "]"
        #expect(try JSONParser.parse(text).arrayValue?.count == 100)
        // 101 values: the array and its 100 elements.
        #expect(try JSONParser.parse(Array(text.utf8), maxValues: 101).arrayValue?.count == 100)
        #expect(throws: JSONError(.tooManyValues(limit: 100), offset: 199)) {
            try JSONParser.parse(Array(text.utf8), maxValues: 100)
        }
        // Keys are not values; members' values are.
        #expect(throws: JSONError(.tooManyValues(limit: 2), offset: 11)) {
            try JSONParser.parse(Array(#"{"a":1,"b":2}"#.utf8), maxValues: 2)
        }
    }

    @Test func newStoresArePrivate() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-private-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try VersionStore.initialize(at: root)
        for dir in ["", "/objects", "/refs", "/tmp"] {
            let mode = try FileManager.default.attributesOfItem(atPath: root + dir)[.posixPermissions] as? Int
            #expect(mode == 0o700, "\(dir)")
        }
        // tmp/ removed by hand comes back private.
        try FileManager.default.removeItem(atPath: root + "/tmp")
        _ = try VersionStore.open(at: root)
        #expect(try FileManager.default.attributesOfItem(atPath: root + "/tmp")[.posixPermissions] as? Int == 0o700)
        _ = store
    }
}
