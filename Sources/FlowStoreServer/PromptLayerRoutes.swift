import FlowStoreCore

/// An agent (PromptLayer workflow) as the routes find it.
struct AgentFile: Sendable {
    var path: FlowPath
    var id: ObjectID
    var object: FileObject
}

/// PromptLayer workflow routes (`/rest/workflows…` and the SDK's `/workflows/{id_or_name}`).
/// Integer ids are the first 48 bits of the file or version object id (`PublicIDs.integer`).
struct PromptLayerRoutes {
    let state: ServerState
    var store: VersionStore { state.store }

    /// POST /rest/workflows: a new agent (`name`, auto-generated when absent) or a new version
    /// of an existing one (`workflow_id` or `workflow_name`). Every version is new (no reuse).
    func create(_ request: APIRequest) async throws(APIError) -> APIResponse {
        let planned = try await state.blocking.run { () throws(APIError) in try planCreate(request) }
        let result = try await state.commit(planned.version, author: request.user.author)
        var response = try createdResponse(path: planned.version.path, result: result, labels: planned.labels, baseVersion: nil)
        response["message"] = .string(
            planned.version.createFile ? "Workflow created successfully" : "Workflow version created successfully")
        return .created(.object(response))
    }

    /// Validates a create and decides what to commit: a new agent, or a version of one.
    private func planCreate(_ request: APIRequest) throws(APIError) -> (version: NewVersion, labels: [String]) {
        let object = try request.bodyObject()
        let body = BodyFields(object: object)
        let name = try body.string("name")
        let workflowID = try body.int("workflow_id")
        let workflowName = try body.string("workflow_name")
        _ = try body.int("folder_id")
        if name != nil, workflowID != nil || workflowName != nil {
            throw APIError(.badRequest, "name cannot be combined with workflow_id or workflow_name")
        }
        var seedObject = object
        seedObject["name"] = nil
        seedObject["workflow_name"] = nil
        let seed = try state.run { () throws(StoreError) in try SeedBody.parse(.object(seedObject), kind: .agent) }
        let labels = try self.labels(seed.labels)

        let path: FlowPath
        let isNew: Bool
        if workflowID != nil || workflowName != nil {
            var found: AgentFile?
            if let workflowID { found = try agent(integer: workflowID) }
            if let workflowName {
                let byName = try agent(named: workflowName)
                if let f = found, f.id != byName.id {
                    throw APIError(.badRequest, "workflow_id and workflow_name name different workflows")
                }
                found = byName
            }
            guard let found else { throw .notFound("Workflow not found") }
            path = found.path
            isNew = false
        } else {
            let chosen = name ?? "agent-" + PublicIDs.randomHex(bytes: 4)
            guard (1...255).contains(chosen.count) else {
                throw .invalid("name: must be 1 to 255 characters")
            }
            path = try state.run { () throws(StoreError) in try FlowPath(chosen) }
            if let existing = try state.run({ () throws(StoreError) in try store.fileID(at: path) }) {
                let kind = try state.run { () throws(StoreError) in try store.fileObject(existing).kind }
                throw .conflict(kind == .agent
                    ? "A workflow named \(chosen) already exists; use workflow_name to add a version"
                    : "\(chosen) is a flow, not a workflow")
            }
            isNew = true
        }

        let new = NewVersion(
            path: path, definition: seed.checked, message: seed.message, metadata: seed.metadata,
            labels: labels, reuse: .never, createFile: isNew)
        return (new, seed.labels)
    }

    /// PATCH /rest/workflows/{id_or_name}: a new version from `base_version` (a number; the
    /// latest when absent) where only the given fields (`nodes`, `edges`,
    /// `required_input_variables`, `folder_id`) replace the base's. The new version's parents
    /// are the head and, when different, the base.
    func patch(_ request: APIRequest) async throws(APIError) -> APIResponse {
        let planned = try await state.blocking.run { () throws(APIError) in try planPatch(request) }
        let result = try await state.commit(planned.version, author: request.user.author)
        var response = try createdResponse(
            path: planned.version.path, result: result, labels: planned.labels, baseVersion: planned.baseNumber)
        response["message"] = "Workflow version created successfully"
        // Patch Workflow's reference answers 201 ("Workflow version created successfully").
        return .created(.object(response))
    }

    /// Validates a patch and builds the new version from its base.
    private func planPatch(_ request: APIRequest) throws(APIError) -> (version: NewVersion, labels: [String], baseNumber: Int) {
        let agent = try agent(request.parameter("workflow_id_or_name"))
        let object = try request.bodyObject()
        let body = BodyFields(object: object)
        let baseNumber = try body.int("base_version")
        let message = try body.string("commit_message")
        let folder = try body.int("folder_id")
        var labelNames: [String] = []
        for item in try body.array("release_labels") ?? [] {
            guard let s = item.stringValue else { throw .invalid("release_labels: must be an array of strings") }
            labelNames.append(s)
        }
        let labels = try self.labels(labelNames)

        let baseID = try state.run { () throws(StoreError) in
            if let baseNumber { return try store.version(numbered: baseNumber, of: agent.path) }
            return try store.head(of: agent.path)
        }
        let base = try state.run { () throws(StoreError) in try store.version(baseID) }
        let baseContent = try state.run { () throws(StoreError) in try store.content(base.content) }.definition
        var nodes = body.value("nodes") ?? baseContent["nodes"]
        var edges = body.value("edges") ?? baseContent["edges"]
        if let updates = body.value("nodes")?.objectValue {
            let merged = try Self.mergeNodes(baseContent["nodes"]?.arrayValue ?? [], updates)
            nodes = .array(merged.nodes)
            // Omitted edges are the base's, less those that touch a removed node (the reference).
            if body.value("edges") == nil, !merged.removed.isEmpty, let base = baseContent["edges"]?.arrayValue {
                edges = .array(base.filter { edge in
                    !merged.removed.contains(edge["source_node_name"]?.stringValue ?? "")
                        && !merged.removed.contains(edge["target_node_name"]?.stringValue ?? "")
                })
            }
        }
        let definition = try state.run { () throws(StoreError) in
            try Definition.checkedAgent(
                nodes: nodes, edges: edges,
                requiredInputVariables: body.value("required_input_variables") ?? baseContent["required_input_variables"])
        }
        var metadata = base.metadata ?? JSONObject()
        if let folder { metadata["folder_id"] = .number(Double(folder)) }
        metadata["base_version"] = .number(Double(base.number))
        let new = NewVersion(
            path: agent.path, definition: definition, message: message, metadata: metadata,
            labels: labels, base: baseID, reuse: .never, createFile: false)
        return (new, labelNames, base.number)
    }

    /// Patch Workflow's documented form of `nodes`: an object keyed by node name. A name mapped
    /// to null removes the node; to an object, updates the node of that name (its
    /// `configuration` deep-merged, other fields replaced) or adds it (name from the key).
    /// Unmentioned nodes are kept, in their order; added ones follow in key order. Linear in
    /// the nodes: names are looked up in a dictionary.
    static func mergeNodes(_ base: [JSONValue], _ updates: JSONObject) throws(APIError)
        -> (nodes: [JSONValue], removed: Set<String>)
    {
        var update: [String: JSONValue] = [:]
        for member in updates { update[member.key] = member.value }
        var removed = Set<String>()
        var seen = Set<String>()
        var out: [JSONValue] = []
        func merged(_ name: String, _ node: JSONObject?, _ change: JSONValue) throws(APIError) -> JSONValue {
            guard let fields = change.objectValue else {
                throw .invalid("nodes.\(name): must be an object (or null to remove the node)", at: ["body", "nodes", .string(name)])
            }
            var result = node ?? JSONObject()
            for member in fields {
                if member.key == "configuration", let old = result["configuration"]?.objectValue,
                    let new = member.value.objectValue
                {
                    result["configuration"] = .object(old.deepMerged(with: new))
                } else {
                    result[member.key] = member.value
                }
            }
            result["name"] = .string(name)
            return .object(result)
        }
        for node in base {
            guard let name = node["name"]?.stringValue, let change = update[name] else {
                out.append(node)
                continue
            }
            seen.insert(name)
            if change.isNull { removed.insert(name) } else { out.append(try merged(name, node.objectValue, change)) }
        }
        for member in updates where !seen.contains(member.key) && !member.value.isNull {
            out.append(try merged(member.key, nil, member.value))
        }
        return (out, removed)
    }

    /// GET /rest/workflows/{id_or_name} and the SDK's GET /workflows/{id_or_name}: the
    /// workflow and one version (latest, `?label=`, or `?version=N`).
    func get(_ request: APIRequest) throws(APIError) -> APIResponse {
        let agent = try agent(request.parameter("workflow_id_or_name"))
        let label = request.query["label"]
        let number = request.query["version"]
        if label != nil, number != nil { throw APIError(.badRequest, "give label or version, not both") }
        let versionID: ObjectID
        if let label {
            let refLabel = try state.run { () throws(StoreError) in try RefLabel(label) }
            guard let id = try state.run({ () throws(StoreError) in
                try store.target(of: RefNames.named(agent.id, .labels, refLabel))
            }) else { throw .notFound("Release label \(label) not found") }
            versionID = id
        } else if let number {
            guard let n = Int(number), n >= 1 else { throw .invalid("version: must be a positive integer") }
            versionID = try state.run { () throws(StoreError) in try store.version(numbered: n, of: agent.path) }
        } else {
            versionID = try state.run { () throws(StoreError) in try store.head(of: agent.path) }
        }
        let labels = try labelMap(agent)
        let version = try versionJSON(versionID, labels: labels, full: true)
        var o = JSONObject()
        o["success"] = true
        o["workflow"] = .object(try workflowJSON(agent, labels: labels))
        o["version"] = .object(version)
        // Get Workflow's reference lists flat fields too; `version` stays the object the SDK reads.
        o["workflow_id"] = .number(Double(PublicIDs.integer(agent.id)))
        o["workflow_name"] = .string(agent.path.rawValue)
        o["workflow_version_id"] = version["id"] ?? .null
        o["version_number"] = version["version_number"] ?? .null
        o["nodes"] = version["nodes"] ?? .array([])
        o["edges"] = version["edges"] ?? .array([])
        o["required_input_variables"] = version["required_input_variables"] ?? .object(JSONObject())
        o["commit_message"] = version["commit_message"] ?? .null
        o["release_labels"] = version["release_labels"] ?? .array([])
        o["created_at"] = version["created_at"] ?? .null
        return .ok(.object(o))
    }

    /// GET /rest/workflows/{id_or_name}/versions: every version, newest first.
    func listVersions(_ request: APIRequest) throws(APIError) -> APIResponse {
        let agent = try agent(request.parameter("workflow_id_or_name"))
        let labels = try labelMap(agent)
        let head = try state.run { () throws(StoreError) in try store.head(of: agent.path) }
        var versions: [JSONValue] = []
        for (id, _) in try state.run({ () throws(StoreError) in try store.history(from: head) }) {
            versions.append(.object(try versionJSON(id, labels: labels, full: false)))
        }
        return .ok(["success": true, "workflow": .object(try workflowJSON(agent, labels: labels)), "versions": .array(versions)])
    }

    /// PATCH /rest/workflows/{id_or_name}/labels/{label} with `{"version_number": N}`: moves
    /// (or creates) a release label.
    func setLabel(_ request: APIRequest) throws(APIError) -> APIResponse {
        let agent = try agent(request.parameter("workflow_id_or_name"))
        let label = try labels([request.parameter("label")])[0]
        let body = BodyFields(object: try request.bodyObject())
        guard let number = try body.int("version_number") else { throw .invalid("version_number: field required") }
        let versionID = try state.run { () throws(StoreError) in try store.version(numbered: number, of: agent.path) }
        try state.run { () throws(StoreError) in
            try store.setRef(.labels, label, of: agent.path, to: versionID, author: request.user.author,
                             message: "label \(label.rawValue)")
        }
        return .ok([
            "success": true, "workflow_id": .number(Double(PublicIDs.integer(agent.id))),
            "label": .string(label.rawValue), "version_number": .number(Double(number)),
            "workflow_version_id": .number(Double(PublicIDs.integer(versionID))),
        ])
    }

    /// DELETE /rest/workflows/{id_or_name}/labels/{label}: removes a release label (404 if unset).
    func deleteLabel(_ request: APIRequest) throws(APIError) -> APIResponse {
        let agent = try agent(request.parameter("workflow_id_or_name"))
        let label = try labels([request.parameter("label")])[0]
        try state.run { () throws(StoreError) in
            try store.removeRef(.labels, label, of: agent.path, author: request.user.author,
                                message: "remove label \(label.rawValue)")
        }
        return .ok(["success": true, "label": .string(label.rawValue)])
    }

    // MARK: Lookups

    /// An agent by integer id (all digits) or by name (its path).
    func agent(_ idOrName: String) throws(APIError) -> AgentFile {
        if !idOrName.isEmpty, idOrName.utf8.allSatisfy({ (48...57).contains($0) }), let n = Int(idOrName) {
            return try agent(integer: n)
        }
        return try agent(named: idOrName)
    }

    /// A lookup in `fileIndex`: an unknown number costs no walk over the paths.
    func agent(integer: Int) throws(APIError) -> AgentFile {
        let entries = try state.run { () throws(StoreError) in try state.fileIndex.files(integer: integer, in: store) }
        for entry in entries.sorted(by: { $0.path < $1.path }) {
            let object = try state.run { () throws(StoreError) in try store.fileObject(entry.file) }
            if object.kind == .agent { return AgentFile(path: entry.path, id: entry.file, object: object) }
        }
        throw .notFound("Workflow with id \(integer) not found")
    }

    /// By name: a flow at that path is a 400 (kinds do not mix), nothing there a 404.
    func agent(named name: String) throws(APIError) -> AgentFile {
        guard let path = try? FlowPath(name),
            let file = try state.run({ () throws(StoreError) in try store.fileID(at: path) })
        else { throw .notFound("Workflow \(name) not found") }
        let object = try state.run { () throws(StoreError) in try store.fileObject(file) }
        guard object.kind == .agent else { throw APIError(.badRequest, "\(name) is a flow, not a workflow") }
        return AgentFile(path: path, id: file, object: object)
    }

    private func labels(_ names: [String]) throws(APIError) -> [RefLabel] {
        var out: [RefLabel] = []
        for name in names {
            out.append(try state.run(location: ["body", "release_labels"]) { () throws(StoreError) in try RefLabel(name) })
        }
        return out
    }

    /// Release label → version id.
    private func labelMap(_ agent: AgentFile) throws(APIError) -> [(label: String, version: ObjectID)] {
        try state.run { () throws(StoreError) in try store.namedRefs(.labels, of: agent.id) }
            .map { ($0.label.rawValue, $0.version) }
    }

    // MARK: Responses

    private func createdResponse(path: FlowPath, result: CommitResult, labels: [String], baseVersion: Int?)
        throws(APIError) -> JSONObject
    {
        let definition = try state.run { () throws(StoreError) in try store.content(result.version.content) }.definition
        var o = JSONObject()
        o["success"] = true
        o["workflow_id"] = .number(Double(PublicIDs.integer(result.file)))
        o["workflow_name"] = .string(path.rawValue)
        o["workflow_version_id"] = .number(Double(PublicIDs.integer(result.versionID)))
        o["version_number"] = .number(Double(result.version.number))
        o["base_version"] = baseVersion.map { .number(Double($0)) } ?? .null
        o["release_labels"] = .array(labels.map(JSONValue.string))
        o["nodes"] = .array(nodes(definition, version: result.versionID, full: false))
        o["required_input_variables"] = definition["required_input_variables"] ?? .object(JSONObject())
        return o
    }

    private func nodes(_ definition: JSONObject, version: ObjectID, full: Bool) -> [JSONValue] {
        (definition["nodes"]?.arrayValue ?? []).map { node in
            let name = node["name"]?.stringValue ?? ""
            var o = full ? (node.objectValue ?? JSONObject()) : JSONObject()
            o["id"] = .string(PublicIDs.node(version: version, name: name))
            o["name"] = .string(name)
            o["node_type"] = node["node_type"] ?? .null
            o["is_output_node"] = node["is_output_node"] ?? false
            return .object(o)
        }
    }

    private func workflowJSON(_ agent: AgentFile, labels: [(label: String, version: ObjectID)]) throws(APIError)
        -> JSONObject
    {
        let head = try state.run { () throws(StoreError) in try store.version(try store.head(of: agent.path)) }
        var labelNumbers = JSONObject()
        for (label, id) in labels {
            labelNumbers[label] = .number(Double(try state.run { () throws(StoreError) in try store.version(id) }.number))
        }
        var o = JSONObject()
        o["id"] = .number(Double(PublicIDs.integer(agent.id)))
        o["name"] = .string(agent.path.rawValue)
        o["created_at"] = .string(agent.object.createdAt)
        o["created_by"] = .string(agent.object.author)
        o["latest_version_number"] = .number(Double(head.number))
        o["release_labels"] = .object(labelNumbers)
        return o
    }

    private func versionJSON(_ id: ObjectID, labels: [(label: String, version: ObjectID)], full: Bool)
        throws(APIError) -> JSONObject
    {
        let v = try state.run { () throws(StoreError) in try store.version(id) }
        var o = JSONObject()
        o["id"] = .number(Double(PublicIDs.integer(id)))
        o["version_number"] = .number(Double(v.number))
        o["commit_message"] = v.message.map(JSONValue.string) ?? .null
        o["release_labels"] = .array(labels.filter { $0.version == id }.map { .string($0.label) })
        o["created_at"] = .string(v.createdAt)
        o["created_by"] = .string(v.author)
        o["base_version"] = v.metadata?["base_version"] ?? .null
        o["folder_id"] = v.metadata?["folder_id"] ?? .null
        if full {
            let definition = try state.run { () throws(StoreError) in try store.content(v.content) }.definition
            o["nodes"] = .array(nodes(definition, version: id, full: true))
            o["edges"] = definition["edges"] ?? .array([])
            o["required_input_variables"] = definition["required_input_variables"] ?? .object(JSONObject())
        }
        return o
    }
}
