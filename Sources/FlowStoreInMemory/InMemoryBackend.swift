#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowStoreCore
import Synchronization

/// A whole store in memory: objects, refs, transactions and a sweep fence, with the contract of
/// the directory and database backends except that nothing survives the process. For tests of
/// code above the store, and as the reference the backend conformance suite holds every
/// backend to.
///
/// ```swift
/// let store = InMemoryBackend().versionStore()
/// try store.commit(NewVersion(path: try FlowPath("Team/flow"), kind: .flow, definition: body), author: "ada")
/// ```
public final class InMemoryBackend: Sendable {
    public let objects: InMemoryObjectStore
    public let refs: InMemoryRefStore
    public let sweepFence: InMemorySweepFence
    /// How long a writer waits for a ref another transaction holds before `lockTimeout`.
    public let lockTimeout: Duration
    public let divergences: InMemoryDivergenceRecords

    public init(lockTimeout: Duration = .seconds(10)) {
        self.lockTimeout = lockTimeout
        objects = InMemoryObjectStore()
        refs = InMemoryRefStore(lockTimeout: lockTimeout)
        sweepFence = InMemorySweepFence(timeout: lockTimeout)
        divergences = InMemoryDivergenceRecords()
    }

    /// A version store over this backend.
    public func versionStore(clock: @escaping @Sendable () -> String = Timestamp.now) -> VersionStore {
        VersionStore(
            objects: objects, refs: refs, root: nil, clock: clock, sweepFence: sweepFence,
            transactions: InMemoryTransactions(objects: objects, refs: refs), divergences: divergences)
    }
}

/// Diverged refs in memory; `update`s exclude each other under one lock.
public final class InMemoryDivergenceRecords: DivergenceRecords {
    private let entries = Mutex<[DivergedRef]>([])
    /// Held by one `update` at a time, for its whole read-modify-write (`change` may read the
    /// store, so the entries' own lock is not held meanwhile).
    private let updating = Mutex(())

    public func load() throws(StoreError) -> [DivergedRef] { entries.withLock { $0 } }

    public func update<T>(_ change: (inout [DivergedRef]) throws(StoreError) -> T) throws(StoreError) -> T {
        try updating.withLock { _ throws(StoreError) -> T in
            var current = entries.withLock { $0 }
            let result = try change(&current)
            let kept = Self.normalized(current)
            entries.withLock { $0 = kept }
            return result
        }
    }
}

/// Waits, bounded, polling from 50 µs between tries doubling to 20 ms, as the directory
/// backend's lock waits do: true once `ready` returned true, false at the deadline.
func poll(until deadline: ContinuousClock.Instant, _ ready: () -> Bool) -> Bool {
    var pause: UInt32 = 50
    while !ready() {
        guard ContinuousClock.now < deadline else { return false }
        usleep(pause)
        pause = min(pause * 2, 20_000)
    }
    return true
}

// MARK: - Objects

public struct InMemoryObjectStore: ObjectStore {
    struct Entry {
        var bytes: [UInt8]
        var storedAt: Int
    }

    final class Storage: Sendable {
        let entries = Mutex<[ObjectID: Entry]>([:])
    }

    let storage = Storage()

    public func get(_ id: ObjectID) throws(StoreError) -> [UInt8] {
        guard let bytes = storage.entries.withLock({ $0[id]?.bytes }) else { throw .objectNotFound(id) }
        // Re-verified like every backend's reads, so the suite's corruption checks mean the same here.
        return try id.verified(bytes)
    }

    @discardableResult
    public func put(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID {
        let id = ObjectID(hashing: canonicalBytes)
        insert([(id, canonicalBytes)])
        return id
    }

    /// Stores objects (or freshens them when stored already), all at once.
    func insert(_ objects: [(ObjectID, [UInt8])]) {
        let now = Int(time(nil))
        storage.entries.withLock { entries in
            for (id, bytes) in objects {
                if entries[id] != nil {
                    entries[id]?.storedAt = now
                } else {
                    entries[id] = Entry(bytes: bytes, storedAt: now)
                }
            }
        }
    }

    public func has(_ id: ObjectID) throws(StoreError) -> Bool {
        storage.entries.withLock { $0[id] != nil }
    }

    public func list(_ body: (ObjectID) throws(StoreError) -> Void) throws(StoreError) {
        // A snapshot, so `body` may read and write the store.
        for id in storage.entries.withLock({ Array($0.keys) }) { try body(id) }
    }

    public func ids(withPrefix prefix: String) throws(StoreError) -> [ObjectID] {
        guard ObjectID.isPrefix(prefix) else { return [] }
        return storage.entries.withLock { entries in entries.keys.filter { $0.hex.hasPrefix(prefix) } }.sorted()
    }

    public func strayEntries() throws(StoreError) -> [String] { [] }

    public func storedAt(_ id: ObjectID) throws(StoreError) -> Int? {
        storage.entries.withLock { $0[id]?.storedAt }
    }

    public func remove(_ id: ObjectID) throws(StoreError) {
        _ = storage.entries.withLock { $0.removeValue(forKey: id) }
    }

    /// Test seam: replaces an object's bytes, as a flipped bit on a disk would.
    public func damage(_ id: ObjectID, with bytes: [UInt8]) {
        storage.entries.withLock { $0[id]?.bytes = bytes }
    }
}

// MARK: - Refs

public struct InMemoryRefStore: RefStore {
    struct State {
        var refs: [RefName: ObjectID] = [:]
        /// Refs a transaction has prepared: other writers of them wait.
        var held: Set<RefName> = []
        /// Moves so far per top segment (`paths`, `files`): the listing stamps.
        var moves: [Substring: Int64] = [:]

        mutating func set(_ name: RefName, to event: ObjectID) {
            refs[name] = event
            moves[Self.topSegment(of: name.rawValue), default: 0] += 1
        }

        /// A name without `/` counts as its own segment.
        static func topSegment(of name: String) -> Substring {
            RefNames.topSegment(of: name) ?? Substring(name)
        }
    }

    final class Storage: Sendable {
        let state = Mutex(State())
    }

    let storage = Storage()
    let lockTimeout: Duration

    init(lockTimeout: Duration) {
        self.lockTimeout = lockTimeout
    }

    public func read(_ name: RefName) throws(StoreError) -> ObjectID? {
        storage.state.withLock { $0.refs[name] }
    }

    public func compareAndSwap(_ name: RefName, expected: ObjectID?, new: ObjectID) throws(StoreError) {
        var conflict: StoreError?
        let done = poll(until: .now + lockTimeout) {
            storage.state.withLock { state in
                if state.held.contains(name) { return false }
                let current = state.refs[name]
                if current == expected {
                    state.set(name, to: new)
                } else {
                    conflict = .refConflict(ref: name.rawValue, expected: expected, actual: current)
                }
                return true
            }
        }
        guard done else { throw .lockTimeout(name.rawValue) }
        if let conflict { throw conflict }
    }

    public func list(prefix: String) throws(StoreError) -> [(name: RefName, event: ObjectID)] {
        storage.state.withLock { state in
            state.refs.filter { $0.key.rawValue.hasBytePrefix(prefix) }.map { (name: $0.key, event: $0.value) }
        }
        .sorted { $0.name < $1.name }
    }

    /// Changes with every move of a ref in the prefix's top segment: exact, as nothing else
    /// writes these refs.
    public func listingStamp(prefix: String) -> RefListingStamp? {
        let top = State.topSegment(of: prefix)
        return RefListingStamp([storage.state.withLock { $0.moves[top] ?? 0 }])
    }

    /// Takes `name` for a transaction, waiting (bounded) while another holds it; returns its
    /// current event, or throws `lockTimeout`.
    func hold(_ name: RefName) throws(StoreError) -> ObjectID? {
        var current: ObjectID?
        let taken = poll(until: .now + lockTimeout) {
            storage.state.withLock { state in
                guard state.held.insert(name).inserted else { return false }
                current = state.refs[name]
                return true
            }
        }
        guard taken else { throw .lockTimeout(name.rawValue) }
        return current
    }

    func release(_ names: [RefName]) {
        storage.state.withLock { state in
            for name in names { state.held.remove(name) }
        }
    }

    /// Moves every ref of `moves` and releases them, in one step: readers see all or none.
    func apply(_ moves: [RefMove]) {
        storage.state.withLock { state in
            for move in moves {
                state.set(move.name, to: move.new)
                state.held.remove(move.name)
            }
        }
    }
}

// MARK: - Transactions

public struct InMemoryTransactions: TransactionSource {
    let objects: InMemoryObjectStore
    let refs: InMemoryRefStore

    public func begin() throws(StoreError) -> any StoreTransaction {
        InMemoryTransaction(objects: objects, refs: refs)
    }
}

/// All or nothing: staged objects and every prepared ref become visible in one step at commit.
final class InMemoryTransaction: StoreTransaction {
    private let objects: InMemoryObjectStore
    private let refs: InMemoryRefStore
    private var staged: [(ObjectID, [UInt8])] = []
    private var stagedIDs: Set<ObjectID> = []
    private(set) var stagedBytes = 0
    private var prepared: [RefMove] = []

    init(objects: InMemoryObjectStore, refs: InMemoryRefStore) {
        self.objects = objects
        self.refs = refs
    }

    deinit { abort() }

    var stagedCount: Int { staged.count }

    func stage(_ canonicalBytes: [UInt8], isNew: Bool) throws(StoreError) -> ObjectID {
        let id = ObjectID(hashing: canonicalBytes)
        if stagedIDs.insert(id).inserted {
            staged.append((id, canonicalBytes))
            stagedBytes += canonicalBytes.count
        }
        return id
    }

    func prepare(_ moves: [RefMove]) throws(StoreError) -> [RefName] {
        var conflicts: [RefName] = []
        // In name order, so two transactions never wait for each other.
        let order = moves.sorted { $0.name < $1.name }
        var held: [RefName: RefMove] = [:]
        do throws(StoreError) {
            for move in order {
                let current = try refs.hold(move.name)
                if current == move.expected {
                    held[move.name] = move
                } else {
                    refs.release([move.name])
                    conflicts.append(move.name)
                }
            }
        } catch {
            refs.release(Array(held.keys))
            throw error
        }
        prepared = moves.filter { held[$0.name] != nil }
        return conflicts
    }

    func commit(skipping: Set<RefName>) throws(StoreError) -> [RefName: StoreError] {
        objects.insert(staged)
        staged.removeAll()
        stagedIDs.removeAll()
        stagedBytes = 0
        let moves = prepared.filter { !skipping.contains($0.name) }
        refs.release(prepared.filter { skipping.contains($0.name) }.map(\.name))
        prepared = []
        refs.apply(moves)
        return [:]
    }

    func abort() {
        refs.release(prepared.map(\.name))
        prepared = []
    }
}

// MARK: - Sweep fence

/// The in-memory `SweepFence`: a count of open windows and a flag for a sweep that runs or
/// waits (new windows wait behind it, so it cannot be starved).
public final class InMemorySweepFence: SweepFence {
    struct State {
        var windows = 0
        var sweepWaiting = false
        var sweeping = false
    }

    final class Storage: Sendable {
        let state = Mutex(State())
    }

    private let storage = Storage()
    let timeout: Duration

    init(timeout: Duration) {
        self.timeout = timeout
    }

    public func acquireWindow() throws(StoreError) -> WriteWindow {
        let opened = poll(until: .now + timeout) {
            storage.state.withLock { state in
                guard !state.sweeping, !state.sweepWaiting else { return false }
                state.windows += 1
                return true
            }
        }
        guard opened else { throw .lockTimeout("the store (a gc was sweeping it)") }
        return WriteWindow { [storage] in storage.state.withLock { $0.windows -= 1 } }
    }

    public func whileSweeping<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        let deadline = ContinuousClock.now + timeout
        let turn = poll(until: deadline) {
            storage.state.withLock { state in
                guard !state.sweepWaiting, !state.sweeping else { return false }
                state.sweepWaiting = true
                return true
            }
        }
        guard turn else { throw .lockTimeout("the store (another gc was sweeping it)") }
        let clear = poll(until: deadline) {
            storage.state.withLock { state in
                guard state.windows == 0 else { return false }
                state.sweepWaiting = false
                state.sweeping = true
                return true
            }
        }
        guard clear else {
            storage.state.withLock { $0.sweepWaiting = false }
            throw .lockTimeout("the store's writers (they kept it busy; nothing was removed: run gc again)")
        }
        defer { storage.state.withLock { $0.sweeping = false } }
        return try body()
    }
}
