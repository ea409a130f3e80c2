extension JSONObject {
    /// This object with `patch` deep-merged into it: a key in both whose values are both
    /// objects is merged the same way; any other value in `patch` replaces (or adds) the key,
    /// JSON null included. How PromptLayer's Patch Workflow merges a node's `configuration`.
    ///
    /// One pass over both member lists, which are already in canonical order: linear, where
    /// assigning `patch`'s members one by one would insert into a sorted array each time.
    public func deepMerged(with patch: JSONObject) -> JSONObject {
        var out: [Member] = []
        out.reserveCapacity(members.count + patch.members.count)
        var i = members.startIndex
        var j = patch.members.startIndex
        while i < members.endIndex || j < patch.members.endIndex {
            guard j < patch.members.endIndex else {
                out.append(members[i])
                i += 1
                continue
            }
            guard i < members.endIndex else {
                out.append(patch.members[j])
                j += 1
                continue
            }
            switch JSONObject.compareKeys(members[i].key, patch.members[j].key) {
            case .orderedAscending:
                out.append(members[i])
                i += 1
            case .orderedDescending:
                out.append(patch.members[j])
                j += 1
            case .orderedSame:
                var member = patch.members[j]
                if case .object(let old) = members[i].value, case .object(let new) = member.value {
                    member.value = .object(old.deepMerged(with: new))
                }
                out.append(member)
                i += 1
                j += 1
            }
        }
        return JSONObject(sortedUniqueMembers: out)
    }
}
