import Synchronization

/// A thread-safe map that forgets old entries once it holds more than `capacity` cost units.
///
/// Two generations instead of an LRU list: lookups hit `current`, then `previous` (promoting
/// the entry); when `current` fills up it becomes `previous` and the old `previous` is dropped
/// whole. Recently used entries survive, memory stays under about twice `capacity`, and
/// every operation is one dictionary access under the lock: cheap enough for a request path.
///
/// Only for values that are facts about their key (an immutable object by its id, a response
/// by everything it was computed from), so a hit is never stale; eviction only costs a re-read.
public final class BoundedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Generations: ~Copyable {
        var current: [Key: (value: Value, cost: Int)] = [:]
        var previous: [Key: (value: Value, cost: Int)] = [:]
        var currentCost = 0
    }

    /// Total cost `current` may hold before it is retired (units are the caller's: bytes, entries).
    public let capacity: Int
    /// Entries costing more are not kept: one huge value (a 10 MiB definition decodes to far
    /// more) would otherwise turn a generation over by itself, evicting everything else, and
    /// stay resident in `previous` until the next turn.
    public let maxEntryCost: Int
    private let state = Mutex(Generations())

    public init(capacity: Int, maxEntryCost: Int? = nil) {
        self.capacity = max(1, capacity)
        self.maxEntryCost = maxEntryCost ?? self.capacity
    }

    public func value(forKey key: Key) -> Value? {
        state.withLock { s in
            if let hit = s.current[key] { return hit.value }
            guard let old = s.previous.removeValue(forKey: key) else { return nil }
            Self.insert(key, old, into: &s, capacity: capacity)
            return old.value
        }
    }

    public func set(_ value: Value, forKey key: Key, cost: Int = 1) {
        state.withLock { s in
            s.previous[key] = nil
            if cost > maxEntryCost {
                if let old = s.current.removeValue(forKey: key) { s.currentCost -= old.cost }
                return
            }
            Self.insert(key, (value, max(1, cost)), into: &s, capacity: capacity)
        }
    }

    public func removeValue(forKey key: Key) {
        state.withLock { s in
            if let old = s.current.removeValue(forKey: key) { s.currentCost -= old.cost }
            s.previous[key] = nil
        }
    }

    /// Entries held now (both generations), for tests and diagnostics.
    public var count: Int { state.withLock { $0.current.count + $0.previous.count } }

    private static func insert(
        _ key: Key, _ entry: (value: Value, cost: Int), into s: inout Generations, capacity: Int
    ) {
        if let old = s.current.updateValue(entry, forKey: key) { s.currentCost -= old.cost }
        s.currentCost += entry.cost
        if s.currentCost > capacity {
            s.previous = s.current
            s.current = [:]
            s.currentCost = 0
        }
    }
}
