extension VersionStore {
    /// A cheap sign that the set of live paths changed: a file was created, moved or deleted,
    /// by this process or another. Compare two stamps instead of listing; `nil` means the
    /// backend cannot vouch for one just now, and the caller must list (`RefStore.listingStamp`).
    public func pathSetStamp() -> RefListingStamp? {
        refs.listingStamp(prefix: "paths/")
    }
}
