import FlowStoreCore
import NIOCore

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
    /// The annotation event `metadata` was read from (`nil`: never annotated).
    var metadataEvent: ObjectID?

    init(id: ObjectID, version: VersionObject, metadata: (metadata: VersionMetadata, event: ObjectID?)) {
        self.id = id
        self.version = version
        self.metadata = metadata.metadata
        metadataEvent = metadata.event
    }
}

/// Finding flows and versions by their public ids, and rendering Humanloop's FlowResponse.
extension ServerState {
    /// The live flow whose `fl_` id this is. Agents are not flows: their ids are 404 here.
    func flow(id publicID: String) throws(APIError) -> FlowFile {
        // Where it was last seen, if its path still names it: one ref read instead of a scan.
        if let hint = flowLocations.value(forKey: publicID),
            try run({ () throws(StoreError) in try store.fileID(at: hint.path) }) == hint.file
        {
            let object = try run { () throws(StoreError) in try store.fileObject(hint.file) }
            if object.kind == .flow { return FlowFile(path: hint.path, id: hint.file, object: object) }
        }
        let files = try run { () throws(StoreError) in try store.files() }
        var found: FlowFile?
        for (path, file) in files {
            let id = PublicIDs.flow(file)
            let sought = id == publicID
            // Flows already remembered are skipped; the sought one's hint may be stale.
            guard sought ? found == nil : flowLocations.value(forKey: id) == nil else { continue }
            let object = try run { () throws(StoreError) in try store.fileObject(file) }
            guard object.kind == .flow else { continue }
            // Every flow met on the way is remembered, so a scan is paid about once per flow.
            flowLocations.set(FlowLocation(file: file, path: path), forKey: id)
            if sought { found = FlowFile(path: path, id: file, object: object) }
        }
        guard let found else { throw .notFound("Flow with id \(publicID) not found") }
        return found
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
                out.append(VersionEntry(id: id, version: v, metadata: try store.metadataState(of: id, v)))
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
            return VersionEntry(id: id, version: v, metadata: try store.metadataState(of: id, v))
        }
    }

    /// `known` when the caller has already read them, else `deployments(of:)`.
    func deployments(of file: ObjectID, known: [String: ObjectID]?) throws(APIError) -> [String: ObjectID] {
        if let known { return known }
        return try deployments(of: file)
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
    func deployed(
        to environment: String, of flow: FlowFile, deployments known: [String: ObjectID]? = nil
    ) throws(APIError) -> VersionEntry? {
        guard let id = try deployments(of: flow.id, known: known)[environment] else { return nil }
        let e = try entry(id)
        return e.metadata.hidden ? nil : e
    }

    /// Humanloop's default: the version deployed to the default environment, else the newest
    /// visible version.
    func defaultVersion(of flow: FlowFile, deployments: [String: ObjectID]? = nil) throws(APIError) -> VersionEntry? {
        if let deployed = try deployed(to: defaultEnvironment.name, of: flow, deployments: deployments) { return deployed }
        return try newestVisibleVersion(of: flow.id)
    }

    /// The newest version that is not hidden: usually the head, so one read, not a walk.
    func newestVisibleVersion(of file: ObjectID) throws(APIError) -> VersionEntry? {
        guard let head = try run({ () throws(StoreError) in try store.target(of: RefNames.head(file)) }) else {
            return nil
        }
        let entry = try entry(head)
        if !entry.metadata.hidden { return entry }
        return try visibleVersions(of: file).first
    }

    func requireDefaultVersion(of flow: FlowFile, deployments: [String: ObjectID]? = nil) throws(APIError) -> VersionEntry {
        guard let v = try defaultVersion(of: flow, deployments: deployments) else {
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

    /// `flowResponse` as a 200 with its body encoded, from `flowResponses` when nothing it is
    /// computed from has changed: what Get Flow and Upsert Flow answer.
    func encodedFlowResponse(
        _ flow: FlowFile, _ entry: VersionEntry, deployments known: [String: ObjectID]? = nil
    ) throws(APIError) -> APIResponse {
        let deployments = try self.deployments(of: flow.id, known: known)
        let logs = try run { () throws(StoreError) in try store.logCount(file: flow.id, version: entry.id) }
        let key = FlowResponseKey(
            file: flow.id, path: flow.path.rawValue, version: entry.id, metadataEvent: entry.metadataEvent,
            environments: environments.filter { deployments[$0.name] == entry.id }.map(\.name), logs: logs)
        if let cached = flowResponses.value(forKey: key) { return .ok(encoded: cached) }
        let body = try flowResponse(flow, entry, deployments: deployments, logCount: logs)
        // Response values are built from parsed JSON and integers: always encodable.
        let encoded = ByteBuffer(bytes: (try? CanonicalJSON.encode(body)) ?? Array("null".utf8))
        flowResponses.set(encoded, forKey: key, cost: encoded.readableBytes)
        return .ok(encoded: encoded)
    }

    /// Humanloop's FlowResponse for one version of a flow.
    ///
    /// `created_at` is the version's creation; `updated_at` the latest of that and its last
    /// metadata change; `last_used_at` equals `updated_at` (finding the newest log would cost
    /// a read per log); `version_logs_count` is one directory listing.
    func flowResponse(
        _ flow: FlowFile, _ entry: VersionEntry, deployments known: [String: ObjectID]? = nil, logCount: Int? = nil
    ) throws(APIError) -> JSONValue {
        let v = entry.version
        let content = try run { () throws(StoreError) in try store.content(v.content) }
        let logs: Int
        if let logCount { logs = logCount } else {
            logs = try run { () throws(StoreError) in try store.logCount(file: flow.id, version: entry.id) }
        }
        let deployments = try self.deployments(of: flow.id, known: known)
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
