
/// The mutable half of the store: names that point at event objects (the head of each ref's
/// audit chain). Everything a ref "means" is read from that event, so the ref itself is only
/// a cache of the chain head and can be rebuilt from objects.
///
/// The contract every backend keeps: `compareAndSwap` is atomic (two writers racing on one ref:
/// exactly one wins, the other gets `refConflict`) and durable when it returns; a reader sees
/// each ref old or new, never torn; listings are in byte order of the UTF-8 names, so every
/// backend lists alike.
public protocol RefStore: Sendable {
    /// The event the ref points at, or `nil` if the ref was never written.
    func read(_ name: RefName) throws(StoreError) -> ObjectID?
    /// Moves the ref from `expected` to `new` atomically, or throws `refConflict` when someone
    /// else moved it first. `expected == nil` means "the ref must not exist yet".
    func compareAndSwap(_ name: RefName, expected: ObjectID?, new: ObjectID) throws(StoreError)
    /// Every ref whose name starts with `prefix` (a whole segment prefix such as `files/abc…/`),
    /// sorted by name.
    func list(prefix: String) throws(StoreError) -> [(name: RefName, event: ObjectID)]
    /// How many refs `list(prefix:)` would return, without reading them if the backend can
    /// count cheaper (a directory listing, a `COUNT(*)`): a version's log count is asked on
    /// every read of it, and popular versions have many logs.
    func count(prefix: String) throws(StoreError) -> Int
    /// The names one level below `prefix` (which ends with `/`, or is empty for the top):
    /// each child ref's last segment, and each folder that holds refs. Byte-exact; for the
    /// case check of new names (`CaseFoldIndex`).
    func children(of prefix: String) throws(StoreError) -> [RefChild]
    /// A value that differs from every earlier one once a ref whose name starts with `prefix`
    /// has been created or moved, by this process or any other; `nil` when the backend cannot
    /// vouch for one (that prefix is not tracked, or a change may be too recent to tell). A
    /// server keeps what it derives from a listing (the files and their paths) while the stamp
    /// is unchanged, so a read costs what it asks for, not a walk over every ref.
    func listingStamp(prefix: String) -> RefListingStamp?
    /// `list`, but a ref the backend holds in an unreadable form (a torn or garbage ref file) is
    /// passed to `unreadable` and skipped instead of failing the whole listing: how `verify`
    /// names every damaged ref and still checks the others. (`gc` must not skip: it uses `list`.)
    func list(
        prefix: String, unreadable: ((_ ref: String, _ error: StoreError) -> Void)?
    ) throws(StoreError) -> [(name: RefName, event: ObjectID)]
}

/// What `RefStore.listingStamp` returns: opaque, compared for equality only.
public struct RefListingStamp: Sendable, Hashable {
    let parts: [Int64]
    public init(_ parts: [Int64]) { self.parts = parts }
}

/// One entry below a ref folder: a ref (`paths/Team/x` below `paths/Team/`) or a folder of refs
/// (`Team` below `paths/`).
public struct RefChild: Sendable, Equatable {
    public var name: String
    public var isFolder: Bool

    public init(name: String, isFolder: Bool) {
        self.name = name
        self.isFolder = isFolder
    }
}

extension RefStore {
    public func count(prefix: String) throws(StoreError) -> Int { try list(prefix: prefix).count }
    /// A backend whose refs are always readable lists them all.
    public func list(
        prefix: String, unreadable: ((_ ref: String, _ error: StoreError) -> Void)?
    ) throws(StoreError) -> [(name: RefName, event: ObjectID)] {
        try list(prefix: prefix)
    }

    /// No stamp: every caller lists.
    public func listingStamp(prefix: String) -> RefListingStamp? { nil }

    /// From a full listing: right for any backend, and what a backend without folders does.
    public func children(of prefix: String) throws(StoreError) -> [RefChild] {
        var refs: Set<String> = []
        var folders: Set<String> = []
        for (name, _) in try list(prefix: prefix) {
            let pieces = name.dropping(prefix: prefix).splitBytes(on: UInt8(ascii: "/"))
            // A folder may share its name with a ref (`paths/a` and `paths/a/b`): both are children.
            if pieces.count > 1 { folders.insert(String(pieces[0])) } else { refs.insert(String(pieces[0])) }
        }
        return refs.map { RefChild(name: $0, isFolder: false) } + folders.map { RefChild(name: $0, isFolder: true) }
    }
}
