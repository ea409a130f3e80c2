import FlowStoreCore

/// A flow as the Humanloop routes find it: its current path, its file id and file object.
struct FlowFile: Sendable {
    var path: FlowPath
    var id: ObjectID
    var object: FileObject
}

/// A version with its effective (annotated) metadata.
struct VersionEntry: Sendable {
    var id: ObjectID
    var version: VersionObject
    var metadata: VersionMetadata
}

/// Finding flows and versions by their public ids, and rendering Humanloop's FlowResponse.
extension ServerState {
    /// The live flow whose `fl_` id this is. Agents are not flows: their ids are 404 here.
    func flow(id publicID: String) throws(APIError) -> FlowFile {
        let files = try run { () throws(StoreError) in try store.files() }
        for (path, file) in files where PublicIDs.flow(file) == publicID {
            let object = try run { () throws(StoreError) in try store.fileObject(file) }
            if object.kind == .flow { return FlowFile(path: path, id: file, object: object) }
        }
        throw .notFound("Flow with id \(publicID) not found")
    }

    func flow(at path: FlowPath) throws(APIError) -> FlowFile? {
        guard let file = try run({ () throws(StoreError) in try store.fileID(at: path) }) else { return nil }
        let object = try run { () throws(StoreError) in try store.fileObject(file) }
        return FlowFile(path: path, id: file, object: object)
    }

    /// Every version of a file, newest first, hidden ones included.
    func allVersions(of file: ObjectID) throws(APIError) -> [VersionEntry] {
        try run { () throws(StoreError) in
            guard let head = try store.target(of: RefNames.head(file)) else { return [] }
            var out: [VersionEntry] = []
            for (id, v) in try store.history(from: head) {
                out.append(VersionEntry(id: id, version: v, metadata: try store.metadata(of: id, v)))
            }
            return out
        }
    }

    func visibleVersions(of file: ObjectID) throws(APIError) -> [VersionEntry] {
        try allVersions(of: file).filter { !$0.metadata.hidden }
    }

    /// A visible version of the flow by its `flv_` id.
    func version(publicID: String, of flow: FlowFile) throws(APIError) -> VersionEntry {
        guard let entry = try visibleVersions(of: flow.id).first(where: { PublicIDs.flowVersion($0.id) == publicID })
        else { throw .notFound("Flow version with id \(publicID) not found") }
        return entry
    }

    func entry(_ id: ObjectID) throws(APIError) -> VersionEntry {
        try run { () throws(StoreError) in
            let v = try store.version(id)
            return VersionEntry(id: id, version: v, metadata: try store.metadata(of: id, v))
        }
    }

    /// The environments a file has deployments in: environment name → version.
    func deployments(of file: ObjectID) throws(APIError) -> [String: ObjectID] {
        var out: [String: ObjectID] = [:]
        for (label, version) in try run({ () throws(StoreError) in try store.namedRefs(.environments, of: file) }) {
            out[label.rawValue] = version
        }
        return out
    }

    /// The version deployed to `environment`, if it is visible.
    func deployed(to environment: String, of flow: FlowFile) throws(APIError) -> VersionEntry? {
        guard let id = try deployments(of: flow.id)[environment] else { return nil }
        let e = try entry(id)
        return e.metadata.hidden ? nil : e
    }

    /// Humanloop's default: the version deployed to the default environment, else the newest
    /// visible version.
    func defaultVersion(of flow: FlowFile) throws(APIError) -> VersionEntry? {
        if let deployed = try deployed(to: defaultEnvironment.name, of: flow) { return deployed }
        return try visibleVersions(of: flow.id).first
    }

    func requireDefaultVersion(of flow: FlowFile) throws(APIError) -> VersionEntry {
        guard let v = try defaultVersion(of: flow) else {
            throw .notFound("Flow \(PublicIDs.flow(flow.id)) has no versions")
        }
        return v
    }

    func environment(id: String) throws(APIError) -> EnvironmentSpec {
        guard let env = environments.first(where: { $0.id == id }) else {
            throw .notFound("Environment with id \(id) not found")
        }
        return env
    }

    func environment(named name: String) throws(APIError) -> EnvironmentSpec {
        guard let env = environments.first(where: { $0.name == name }) else {
            throw .notFound("Environment \(name) not found")
        }
        return env
    }

    /// An environment entry: `id`, `created_at`, `name`, `tag`. Environments are
    /// configuration, so `created_at` is the file's creation time (when the flow got them).
    func environmentJSON(_ env: EnvironmentSpec, flow: FlowFile) -> JSONObject {
        var o = JSONObject()
        o["id"] = .string(env.id)
        o["created_at"] = .string(flow.object.createdAt)
        o["name"] = .string(env.name)
        o["tag"] = .string(env.tag.rawValue)
        return o
    }

    /// Humanloop's FlowResponse for one version of a flow.
    ///
    /// `created_at` is the version's creation; `updated_at` the latest of that and its last
    /// metadata change; `last_used_at` equals `updated_at` (finding the newest log would cost
    /// a read per log); `version_logs_count` is one directory listing.
    func flowResponse(_ flow: FlowFile, _ entry: VersionEntry, deployments known: [String: ObjectID]? = nil)
        throws(APIError) -> JSONValue
    {
        let v = entry.version
        let content = try run { () throws(StoreError) in try store.content(v.content) }
        let logs = try run { () throws(StoreError) in try store.logCount(file: flow.id, version: entry.id) }
        let deployments: [String: ObjectID]
        if let known { deployments = known } else { deployments = try self.deployments(of: flow.id) }
        let updated = max(v.createdAt, entry.metadata.updatedAt ?? v.createdAt)

        var o = JSONObject()
        o["path"] = .string(flow.path.rawValue)
        o["id"] = .string(PublicIDs.flow(flow.id))
        if !flow.path.directory.isEmpty { o["directory_id"] = .string(PublicIDs.directory(flow.path.directory)) }
        o["attributes"] = content.definition["attributes"] ?? .object(JSONObject())
        o["name"] = .string(flow.path.name)
        o["version_id"] = .string(PublicIDs.flowVersion(entry.id))
        o["version_name"] = entry.metadata.name.map(JSONValue.string) ?? .null
        o["version_description"] = entry.metadata.description.map(JSONValue.string) ?? .null
        o["type"] = "flow"
        o["environments"] = .array(
            environments.filter { deployments[$0.name] == entry.id }.map { .object(environmentJSON($0, flow: flow)) })
        o["created_at"] = .string(v.createdAt)
        o["updated_at"] = .string(updated)
        o["last_used_at"] = .string(updated)
        o["version_logs_count"] = .number(Double(logs))
        o["created_by"] = APIUser.from(author: v.author, keyring: keyring).json
        o["evaluator_aggregates"] = .null
        return .object(o)
    }
}
