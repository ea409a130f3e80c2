/// What a backend leaves behind besides objects and refs and cleans up in `gc`'s sweep: the
/// directory store's temp files of writers killed mid-write and lock files nobody holds. A
/// backend with nothing of the kind (a database rolls back what a dead client left) has none.
public protocol StoreHousekeeping: Sendable {
    /// Removes leftovers no live writer can be using: temp files older than `graceSeconds` at
    /// `now` (seconds since the epoch), locks nobody holds. Returns how many were (with
    /// `dryRun`, would be) removed. Runs inside the sweep fence.
    func removeLeftovers(now: Int, graceSeconds: Int, dryRun: Bool) throws(StoreError) -> Int
}
