import FlowStoreCore

/// Humanloop's "Log to a Flow" and "Update Flow Log": immutable `log` objects, one ref per log
/// (`files/<file>/logs/<version>/<log id>`, see `VersionStore+Logs`).
extension HumanloopRoutes {
    /// The members of a flow log the server checks the type of; others are kept as sent.
    static let logFieldTypes: [(String, String)] = [
        ("output", "string"), ("error", "string"), ("stdout", "string"), ("source", "string"), ("user", "string"),
        ("environment", "string"), ("trace_parent_id", "string"), ("run_id", "string"),
        ("source_datapoint_id", "string"), ("start_time", "string"), ("end_time", "string"), ("created_at", "string"),
        ("inputs", "object"), ("metadata", "object"), ("provider_request", "object"), ("provider_response", "object"),
        ("output_message", "object"), ("messages", "array"), ("provider_latency", "number"), ("save", "boolean"),
        ("log_status", "string"),
    ]

    /// Members identifying the flow or version rather than describing the log.
    static let logRoutingFields: Set<String> = ["id", "path", "flow", "log_id"]

    static func validateLogFields(_ body: JSONObject) throws(APIError) {
        for (key, type) in logFieldTypes {
            guard let value = body[key], !value.isNull else { continue }
            if value.typeName != type {
                throw .invalid("Input should be a valid \(type)", at: ["body", .string(key)], type: "\(type)_type")
            }
        }
        if let status = body["log_status"]?.stringValue, status != "complete", status != "incomplete" {
            throw .invalid("Input should be 'complete' or 'incomplete'", at: ["body", "log_status"], type: "enum")
        }
    }

    /// POST /v5/flows/log. The flow is `id` or `path`; with `flow.attributes` a missing flow or
    /// version is created first (as Upsert would). The version is the `version_id` query, else
    /// the `environment` query's deployment, else the inline attributes' version, else the
    /// default version.
    func log(_ request: APIRequest) throws(APIError) -> APIResponse {
        let object = try request.bodyObject()
        let body = BodyFields(object: object)
        try Self.validateLogFields(object)
        let flowID = try body.nonEmptyString("id")
        let pathText = try body.nonEmptyString("path")
        let inline = try body.object("flow")
        let definition = try inline.map { f throws(APIError) in
            try state.run(location: ["body", "flow", "attributes"]) { () throws(StoreError) in
                try Definition.checkedFlow(attributes: f["attributes"])
            }
        }
        let requestedLogID = try body.nonEmptyString("log_id")
        if let requestedLogID {
            try state.run(location: ["body", "log_id"]) { () throws(StoreError) in try VersionStore.validateLogID(requestedLogID) }
        }

        var flow: FlowFile?
        var path: FlowPath?
        if let flowID {
            flow = try state.flow(id: flowID)
            path = flow?.path
        } else if let pathText {
            let p = try state.run(location: ["body", "path"]) { () throws(StoreError) in try FlowPath(pathText) }
            path = p
            flow = try state.flow(at: p)
            if let flow, flow.object.kind != .flow { throw .conflict("\(p.rawValue) is an agent, not a flow") }
            if flow == nil, definition == nil { throw .notFound("Flow at \(p.rawValue) not found") }
        } else {
            throw .invalid("Either path or id is required", at: ["body"], type: "missing")
        }

        let author = request.user.author
        let entry: VersionEntry
        if let versionID = request.query["version_id"] {
            guard let flow else { throw .notFound("Flow not found") }
            entry = try state.version(publicID: versionID, of: flow)
        } else if let envName = request.query["environment"] {
            guard let flow else { throw .notFound("Flow not found") }
            let env = try state.environment(named: envName)
            guard let deployed = try state.deployed(to: env.name, of: flow) else {
                throw .notFound("No version of flow \(PublicIDs.flow(flow.id)) is deployed to \(env.name)")
            }
            entry = deployed
        } else if let definition, let path {
            let result = try state.run { () throws(StoreError) in
                try store.commit(NewVersion(path: path, definition: definition, reuse: .anyVersion), author: author)
            }
            state.fileIndex.note(file: result.file, at: path)
            if !result.created, try state.entry(result.versionID).metadata.hidden {
                try state.run { () throws(StoreError) in
                    try store.annotate(result.versionID, author: author, message: "restore version (log)") { $0.hidden = false }
                }
            }
            flow = try state.flow(at: path)
            entry = try state.entry(result.versionID)
        } else {
            guard let flow else { throw .notFound("Flow not found") }
            entry = try state.requireDefaultVersion(of: flow)
        }
        guard let flow else { throw .notFound("Flow not found") }

        var data = JSONObject()
        for member in object where !Self.logRoutingFields.contains(member.key) && !member.value.isNull {
            data[member.key] = member.value
        }
        let logID = requestedLogID ?? PublicIDs.newLog(file: flow.id, version: entry.id)
        let recorded = try state.run(location: ["body", "log_id"]) { () throws(StoreError) in
            do throws(StoreError) {
                return try store.recordLog(
                    file: flow.id, version: entry.id, logID: logID, data: data, author: author,
                    findableByID: requestedLogID != nil)
            } catch .refConflict {
                throw .fileExists("log \(logID)")
            }
        }
        return .ok([
            "id": .string(logID), "flow_id": .string(PublicIDs.flow(flow.id)),
            "version_id": .string(PublicIDs.flowVersion(entry.id)),
            "log_status": recorded.log.data["log_status"] ?? .null,
        ])
    }

    /// PATCH /v5/flows/logs/{log_id}: a new log object superseding the old one.
    func updateLog(_ request: APIRequest) throws(APIError) -> APIResponse {
        let object = try request.bodyObject(allowEmpty: true)
        try Self.validateLogFields(object)
        let updatable: Set<String> = ["messages", "output_message", "inputs", "output", "error", "log_status"]
        let current = try findLog(request.parameter("log_id"))
        let updated = try state.run { () throws(StoreError) in
            try store.updateLog(current, author: request.user.author) { data in
                for member in object where updatable.contains(member.key) && !member.value.isNull {
                    data[member.key] = member.value
                }
            }
        }
        return .ok(try flowLogResponse(updated))
    }

    /// Finds a log by id: ids this server made name their file and version, ids a client chose
    /// have a `logids/` ref (`VersionStore.log(id:)`); either is a few ref reads. Only a log
    /// recorded without that ref (by an older FlowStore) needs a walk over every flow's logs,
    /// and that walk is shared and rationed (`UnindexedLogs`).
    func findLog(_ logID: String) throws(APIError) -> LogState {
        if let parts = PublicIDs.logParts(logID) {
            let files = try state.run { () throws(StoreError) in try state.fileIndex.listing(in: store) }.map(\.file)
            for file in files where file.hex.hasPrefix(parts.file) {
                if let version = try? store.expand(prefix: String(parts.version)),
                    let ref = try? RefNames.log(file, version, logID),
                    let found = try state.run({ () throws(StoreError) in try store.logState(ref) })
                {
                    return found
                }
            }
        }
        if let found = try state.run({ () throws(StoreError) in try store.log(id: logID) }) { return found }
        if let found = try state.run({ () throws(StoreError) in try state.unindexedLogs.find(logID, in: store) }) {
            return found
        }
        throw .notFound("Log with id \(logID) not found")
    }

    /// FlowLogResponse: the log's fields, `id`, `evaluator_logs: []`, and the full `flow`.
    func flowLogResponse(_ log: LogState) throws(APIError) -> JSONValue {
        var o = log.log.data
        let original = try state.run { () throws(StoreError) in try store.originalLog(log) }
        if o["created_at"] == nil { o["created_at"] = .string(original.createdAt) }
        o["id"] = .string(log.log.logID)
        o["evaluator_logs"] = .array([])
        o["version_id"] = .string(PublicIDs.flowVersion(log.log.version))
        let flow = try flowFile(log.log.file)
        o["flow"] = try state.flowResponse(flow, try state.entry(log.log.version))
        return .object(o)
    }

    /// A file by its object id, at its current path (or where it was created, if deleted).
    private func flowFile(_ file: ObjectID) throws(APIError) -> FlowFile {
        let object = try state.run { () throws(StoreError) in try store.fileObject(file) }
        let path = try state.run { () throws(StoreError) in try state.fileIndex.path(of: file, in: store) }
        return FlowFile(path: path ?? object.path, id: file, object: object)
    }
}
