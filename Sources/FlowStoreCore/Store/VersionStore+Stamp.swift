extension VersionStore {
    /// A cheap sign that the set of live paths changed: a file was created, moved or deleted,
    /// by this process or another. Compare two stamps instead of listing; `nil` means the
    /// backend cannot vouch for one just now, and the caller must list (`RefStore.listingStamp`).
    public func pathSetStamp() -> RefListingStamp? {
        refs.listingStamp(prefix: "paths/")
    }

    /// A cheap sign that some file's own refs moved (a commit, a label or environment move, an
    /// annotation, a log), by this process or another; `nil` as for `pathSetStamp`. What a
    /// caller derives from every file's head and labels stays right while both stamps hold.
    public func fileRefsStamp() -> RefListingStamp? {
        refs.listingStamp(prefix: "files/")
    }
}
