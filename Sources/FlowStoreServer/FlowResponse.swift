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
    /// A lookup in `fileIndex` and a read of the path's ref: an unknown id costs no walk.
    func flow(id publicID: String) throws(APIError) -> FlowFile {
        let notFound = APIError.notFound("Flow with id \(publicID) not found")
        guard let entry = try run({ () throws(StoreError) in try fileIndex.file(flowID: publicID, in: store) }) else {
            throw notFound
        }
        let object = try run { () throws(StoreError) in try store.fileObject(entry.file) }
        guard object.kind == .flow else { throw notFound }
        return FlowFile(path: entry.path, id: entry.file, object: object)
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
    ///
    /// The id is 24 hex digits of the version's object id, so the candidates are the objects
    /// with that prefix (one fan-out directory's listing), each checked to be a version of this
    /// flow in its history (`historySummary`, kept up to date by commits) and not hidden. An
    /// unknown id never walks the flow's history.
    func version(publicID: String, of flow: FlowFile) throws(APIError) -> VersionEntry {
        let notFound = APIError.notFound("Flow version with id \(publicID) not found")
        let hex = publicID.dropFirst(4)
        guard publicID.hasPrefix("flv_"), hex.utf8.count == PublicIDs.hexLength, ObjectID.isPrefix(hex) else {
            throw notFound
        }
        let found = try run { () throws(StoreError) -> VersionEntry? in
            guard let head = try store.target(of: RefNames.head(flow.id)) else { return nil }
            for id in try store.objects.ids(withPrefix: String(hex)) {
                guard case .version(let v)? = try? store.object(id), v.file == flow.id else { continue }
                guard try store.historySummary(of: flow.id, head: head).contains(id) else { continue }
                let entry = VersionEntry(id: id, version: v, metadata: try store.metadataState(of: id, v))
                if !entry.metadata.hidden { return entry }
            }
            return nil
        }
        guard let found else { throw notFound }
        return found
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
        // The head is hidden: the newest visible version is within the next `hidden` versions
        // of the history (each hidden one pushes it back by one), so no more are read.
        return try run { () throws(StoreError) -> VersionEntry? in
            let hidden = Set(try store.annotatedVersions(of: file).filter { $0.value.hidden }.keys)
            for (id, v) in try store.history(from: head, limit: hidden.count + 1) where !hidden.contains(id) {
                return VersionEntry(id: id, version: v, metadata: try store.metadataState(of: id, v))
            }
            return nil
        }
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
