/// One ref move of a transaction: from `expected` (nil: the ref must not exist yet) to `new`.
public struct RefMove: Sendable, Equatable {
    public var name: RefName
    public var expected: ObjectID?
    public var new: ObjectID

    public init(name: RefName, expected: ObjectID?, new: ObjectID) {
        self.name = name
        self.expected = expected
        self.new = new
    }
}

/// Many objects and ref moves made durable together: git's ref transaction (prepare, then
/// commit or abort), a database's `BEGIN … COMMIT`. It is the seam between the store's bulk
/// writers (the server's group commit, `flowstore import`, sync) and a backend: they stage and
/// move through it and never reach into the backend's own types.
///
/// 1. `stage` objects, any number, until `commit`.
/// 2. `prepare` takes each ref to move (a lock, a row lock) and checks it still names
///    `expected`; the refs that do not are released at once and returned as conflicts. What is
///    staged so far may be written by then, but nothing is visible to readers.
/// 3. `commit` makes every staged object durable and visible, then moves every prepared ref
///    not in `skipping`, in the order `prepare` was given them, durably before it returns. It
///    throws only when nothing was acknowledged: no ref is known to have moved. Otherwise it
///    returns the refs that did not move and why: a backend that moves refs one at a time
///    stops at the first failure and returns it for that ref and every later one; a backend
///    that commits all at once returns all of them or none.
///
/// `abort` releases what `prepare` took; staged objects are left for `gc`. A transaction is
/// used by one thread at a time (it may be handed from one thread to another between steps);
/// it must run in a write window of the store's `SweepFence`, from its first `stage` to the
/// end of `commit`.
public protocol StoreTransaction: AnyObject {
    /// Stages canonical bytes as an object and returns its id. `isNew` says it cannot be stored
    /// yet (it holds a fresh timestamp or nonce), so the backend need not look for it first.
    func stage(_ canonicalBytes: [UInt8], isNew: Bool) throws(StoreError) -> ObjectID
    /// Objects staged since the last commit, and their bytes.
    var stagedCount: Int { get }
    var stagedBytes: Int { get }
    /// Takes and checks the refs to move; returns those that no longer name their `expected`.
    func prepare(_ moves: [RefMove]) throws(StoreError) -> [RefName]
    /// Objects, then refs, durable; returns the prepared refs that did not move, with why.
    func commit(skipping: Set<RefName>) throws(StoreError) -> [RefName: StoreError]
    /// Releases what `prepare` took, moving nothing.
    func abort()
}

extension StoreTransaction {
    @discardableResult
    public func stage(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID {
        try stage(canonicalBytes, isNew: false)
    }
}

/// Where a store's transactions come from: its backend.
public protocol TransactionSource: Sendable {
    func begin() throws(StoreError) -> any StoreTransaction
}
