/// What a decoded value costs in memory, for caches that must be bounded by memory.
///
/// The encoded size is a poor proxy: `[0,0,0,…]` is 2 bytes per element as text but a
/// `JSONValue` slot (16 bytes or more) per element once parsed, and every string longer than
/// Swift's 15-byte inline form, every array and every object member list is a heap allocation
/// with its own header. A cache that counts encoded bytes can hold ten times its budget.
///
/// These are estimates from the types' real layouts (`MemoryLayout`) plus a fixed overhead per
/// heap allocation; they err on the high side, never the low one. One walk over the value: the
/// same order of work as decoding it, which every cached value has just had.
public enum MemoryCost {
    /// Header of a Swift array or string buffer (object header, count, capacity) plus the
    /// allocator's own bookkeeping and rounding, per heap allocation.
    static let allocation = 48
    /// Strings of up to this many UTF-8 bytes are stored inline, without an allocation.
    static let inlineString = 15

    /// Heap bytes a string holds beyond its inline slot.
    @inline(__always)
    static func heap(_ string: String) -> Int {
        let count = string.utf8.count
        return count > inlineString ? allocation + count : 0
    }

    static func heap(_ string: String?) -> Int { string.map(heap) ?? 0 }

    /// An `ObjectID` is its 64 hex characters: one heap string each.
    static let objectID = allocation + 64

    static func heap(_ ids: [ObjectID]) -> Int {
        ids.isEmpty ? 0 : allocation + ids.count * (MemoryLayout<ObjectID>.stride + objectID)
    }

    static func heap(_ id: ObjectID?) -> Int { id == nil ? 0 : objectID }

    /// Heap bytes a JSON value holds beyond its own slot.
    public static func heap(_ value: JSONValue) -> Int {
        switch value {
        case .null, .bool, .number: 0
        case .string(let s): heap(s)
        case .array(let items): heap(items)
        case .object(let object): heap(object)
        }
    }

    static func heap(_ items: [JSONValue]) -> Int {
        var total = allocation + items.count * MemoryLayout<JSONValue>.stride
        for item in items { total += heap(item) }
        return total
    }

    public static func heap(_ object: JSONObject) -> Int {
        guard !object.isEmpty else { return 0 }
        var total = allocation + object.count * MemoryLayout<JSONObject.Member>.stride
        for member in object { total += heap(member.key) + heap(member.value) }
        return total
    }

    static func heap(_ object: JSONObject?) -> Int { object.map(heap) ?? 0 }

    /// Everything a decoded object holds: its own slot and every allocation below it.
    public static func of(_ object: StoredObject) -> Int {
        let slot = MemoryLayout<StoredObject>.stride
        switch object {
        case .file(let f):
            return slot + heap(f.path.rawValue) + heap(f.author) + heap(f.createdAt) + heap(f.nonce)
        case .content(let c):
            return slot + heap(c.definition)
        case .version(let v):
            return slot + 2 * objectID + heap(v.parents) + heap(v.path.rawValue) + heap(v.name) + heap(v.message)
                + heap(v.author) + heap(v.createdAt) + heap(v.metadata)
        case .event(let e):
            return slot + heap(e.from) + heap(e.to) + heap(e.prev) + heap(e.merged) + heap(e.ref.rawValue)
                + heap(e.author) + heap(e.time) + heap(e.message)
        case .log(let l):
            return slot + 2 * objectID + heap(l.previous) + heap(l.logID) + heap(l.createdAt) + heap(l.author)
                + heap(l.data)
        case .annotation(let a):
            return slot + 2 * objectID + heap(a.name) + heap(a.description) + heap(a.author) + heap(a.createdAt)
                + (a.evaluators.map(heap) ?? 0)
        }
    }
}
