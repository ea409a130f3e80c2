import FlowStoreCore

/// Humanloop v5 Flow routes (`/v5/flows…`): files, versions, deployments, monitoring.
/// Logs are in `HumanloopLogs.swift`.
struct HumanloopRoutes {
    let state: ServerState
    var store: VersionStore { state.store }

    /// POST /v5/flows: creates the flow if needed; identical attributes return the existing
    /// version (a Humanloop version *is* its attributes); a duplicate effective version name → 409.
    ///
    /// The checks and the response run on the request's own task, as Get Flow does: they read a
    /// few refs and cached objects, and a hop to a Dispatch thread and back cost more than they
    /// do (measured). The commit joins the group commit (`GroupCommit`), so concurrent upserts
    /// share their fsyncs; only annotating (an fsync of its own) goes to a Dispatch thread.
    func upsert(_ request: APIRequest) async throws(APIError) -> APIResponse {
        var new = try planUpsert(request)
        let author = request.user.author
        var result: CommitResult
        var nameAsAnnotation: String?
        do {
            result = try await state.commits.commit(new, author: author)
        } catch .versionNameTaken {
            // Checked again now: a concurrent upsert may have just taken the name (409, nothing
            // written). Otherwise the name is held only by a stored name that was since renamed
            // or hidden, which the effective-name check allows: record it as an annotation.
            _ = try await state.blocking.run { () throws(APIError) in try planUpsert(request) }
            nameAsAnnotation = new.name
            new.name = nil
            do { result = try await state.commits.commit(new, author: author) } catch { throw APIError(error) }
        } catch {
            throw APIError(error)
        }
        let committed = result
        let path = new.path
        state.fileIndex.note(file: committed.file, at: path)
        let name = nameAsAnnotation
        // A new version whose name needs no annotation has nothing to write (and nothing hidden
        // to restore): no fsync, so no thread hop.
        if committed.created, name == nil {
            return try upserted(committed, at: path, nameAsAnnotation: nil, author: author)
        }
        return try await state.blocking.run { () throws(APIError) in
            try upserted(committed, at: path, nameAsAnnotation: name, author: author)
        }
    }

    /// The answer to an upsert once its version is durable: names it by annotation when its
    /// stored name could not be used, restores it if it was hidden, and renders it.
    private func upserted(
        _ committed: CommitResult, at path: FlowPath, nameAsAnnotation: String?, author: String
    ) throws(APIError) -> APIResponse {
        if let name = nameAsAnnotation {
            try state.run { () throws(StoreError) in
                try store.annotate(committed.versionID, author: author, message: "name version") { $0.name = name }
            }
        }
        var entry = try state.entry(committed.versionID)
        if !committed.created, entry.metadata.hidden {
            try state.run { () throws(StoreError) in
                try store.annotate(committed.versionID, author: author, message: "restore version (upsert)") {
                    $0.hidden = false
                }
            }
            entry = try state.entry(committed.versionID)
        }
        // The flow the version was committed to (not re-read from the path: its object is cached).
        let object = try state.run { () throws(StoreError) in try store.fileObject(committed.file) }
        return try state.encodedFlowResponse(FlowFile(path: path, id: committed.file, object: object), entry)
    }

    /// Validates an upsert and decides what to commit: the flow's path, its definition, and
    /// the version name, refused (409) when a visible version already carries it — unless the
    /// same attributes are already a version, which is then what the upsert returns.
    private func planUpsert(_ request: APIRequest) throws(APIError) -> NewVersion {
        let body = BodyFields(object: try request.bodyObject())
        let checked = try state.run(location: ["body", "attributes"]) { () throws(StoreError) in
            try Definition.checkedFlow(attributes: body.object["attributes"])
        }
        let definition = checked.object
        let pathText = try body.nonEmptyString("path")
        let id = try body.nonEmptyString("id")
        let versionName = try body.nonEmptyString("version_name")
        let description = try body.string("version_description")

        var path: FlowPath
        if let id {
            let flow = try state.flow(id: id)
            if let pathText, pathText != flow.path.rawValue {
                throw .invalid("path \(pathText) does not match the flow with id \(id) (at \(flow.path.rawValue))",
                               at: ["body", "path"])
            }
            path = flow.path
        } else if let pathText {
            path = try state.run(location: ["body", "path"]) { () throws(StoreError) in try FlowPath(pathText) }
        } else {
            throw .invalid("Either path or id is required", at: ["body"], type: "missing")
        }

        if let existing = try state.flow(at: path) {
            if existing.object.kind != .flow { throw .conflict("\(path.rawValue) is an agent, not a flow") }
            if let versionName {
                let contentID = ObjectID(
                    hashing: StoredObject.content(ContentObject(kind: .flow, definition: definition)).canonicalBytes())
                let taken = try state.run { () throws(StoreError) -> Bool in
                    guard let head = try store.target(of: RefNames.head(existing.id)) else { return false }
                    let history = try store.historySummary(of: existing.id, head: head)
                    if history.newestVersion(withContent: contentID) != nil { return false }  // returned as it is
                    return try effectiveNameInUse(versionName, file: existing.id, history: history)
                }
                if taken { throw .conflict("Version name \(versionName) already exists in flow \(path.rawValue)") }
            }
        }
        return NewVersion(path: path, definition: checked, name: versionName, message: description,
                          reuse: .anyVersion, createFile: true)
    }

    /// Whether a visible version of the file is called `name` now: its stored name unless an
    /// annotation renamed (or hid) it.
    private func effectiveNameInUse(_ name: String, file: ObjectID, history: HistorySummary) throws(StoreError) -> Bool {
        let annotated = try store.annotatedVersions(of: file)
        if annotated.values.contains(where: { !$0.hidden && $0.name == name }) { return true }
        return history.versions(named: name).contains { annotated[$0] == nil }
    }

    /// GET /v5/flows/{id}: `version_id`, else `environment`, else the default version.
    func get(_ request: APIRequest) throws(APIError) -> APIResponse {
        let flow = try state.flow(id: request.parameter("id"))
        let deployments = try state.deployments(of: flow.id)
        let entry: VersionEntry
        if let versionID = request.query["version_id"] {
            entry = try state.version(publicID: versionID, of: flow)
        } else if let name = request.query["environment"] {
            let env = try state.environment(named: name)
            guard let deployed = try state.deployed(to: env.name, of: flow, deployments: deployments) else {
                throw .notFound("No version of flow \(PublicIDs.flow(flow.id)) is deployed to \(env.name)")
            }
            entry = deployed
        } else {
            entry = try state.requireDefaultVersion(of: flow, deployments: deployments)
        }
        return try state.encodedFlowResponse(flow, entry, deployments: deployments)
    }

    /// GET /v5/flows: paged from 1; `name` filters (case-insensitive substring), `user_filter`
    /// matches the version author, `sort_by` created_at | updated_at | name, `order` asc | desc.
    func list(_ request: APIRequest) throws(APIError) -> APIResponse {
        let page = try Self.int(request, "page", default: 1, range: 1...1_000_000)
        let size = try Self.int(request, "size", default: 10, range: 0...1000)
        let sortBy = request.query["sort_by"]
        guard sortBy == nil || ["created_at", "updated_at", "name"].contains(sortBy ?? "") else {
            throw .invalid("Input should be 'created_at', 'updated_at' or 'name'", at: ["query", "sort_by"], type: "enum")
        }
        let order = request.query["order"] ?? "asc"
        guard order == "asc" || order == "desc" else {
            throw .invalid("Input should be 'asc' or 'desc'", at: ["query", "order"], type: "enum")
        }
        let nameFilter = request.query["name"]?.lowercased()
        let userFilter = request.query["user_filter"]?.lowercased()

        // Only the page's flows are rendered (a FlowResponse reads content, deployments and a
        // log count). Ordering by path or name needs nothing but the refs' names; ordering by
        // time or filtering by author needs each flow's default version, still not its response.
        // The files come from the server's listing (`FileIndex`): no ref is read while no file
        // was created, moved or deleted since the last listing.
        var flows: [FlowFile] = []
        for listed in try state.run({ () throws(StoreError) in try state.fileIndex.listing(in: store) }) {
            guard listed.kind == .flow else { continue }
            flows.append(FlowFile(path: listed.path, id: listed.file, object: listed.object))
        }
        /// `order` by key, ties in byte order of the paths: every sorted listing's order.
        func precedes(_ aKey: String, _ aPath: FlowPath, _ bKey: String, _ bPath: FlowPath) -> Bool {
            if aKey != bKey { return order == "asc" ? aKey < bKey : aKey > bKey }
            return aPath.rawValue < bPath.rawValue
        }
        let byTime = sortBy == "created_at" || sortBy == "updated_at"
        let needsVersions = byTime || !(userFilter ?? "").isEmpty
        var defaults: [ObjectID: VersionEntry?] = [:]
        if needsVersions {
            // Every flow's, whatever the filters, kept while no ref of any file moved
            // (`DefaultVersionIndex`): a repeated sorted listing reads no ref, and its order is
            // sorted once per change too.
            let kept = try state.defaultVersions.entries(of: flows, in: store) {
                (flow) throws(APIError) in try state.defaultVersion(of: flow)
            }
            defaults = kept.entries
            if let sortBy, byTime {
                flows = state.defaultVersions.order("\(sortBy) \(order)", of: kept) {
                    var keyed: [(key: String, flow: FlowFile)] = []
                    for flow in flows {
                        guard let found = kept.entries[flow.id], let entry = found else { continue }
                        let created = entry.version.createdAt
                        keyed.append((sortBy == "created_at" ? created : max(created, entry.metadata.updatedAt ?? created), flow))
                    }
                    keyed.sort { a, b in precedes(a.key, a.flow.path, b.key, b.flow.path) }
                    return keyed.map(\.flow)
                }
            }
        }
        var candidates: [(key: String, path: FlowPath, flow: FlowFile, entry: VersionEntry?)] = []
        for flow in flows {
            let path = flow.path
            if let nameFilter, !nameFilter.isEmpty, !path.name.lowercased().contains(nameFilter) { continue }
            var entry: VersionEntry?
            if needsVersions {
                guard let found = defaults[flow.id], let known = found else { continue }
                if let userFilter, !userFilter.isEmpty, !known.version.author.lowercased().contains(userFilter) { continue }
                entry = known
            }
            candidates.append((sortBy == "name" ? path.name : path.rawValue, path, flow, entry))
        }
        if sortBy == "name" {
            candidates.sort { a, b in precedes(a.key, a.path, b.key, b.path) }
        } else if sortBy == nil, order == "desc" {
            // The listing is in byte order of the paths already: the default order reversed.
            candidates.reverse()
        }
        // A flow without a visible version is not listed. Without `needsVersions` that is only
        // known once its default version is read, so the page is filled from the sorted list
        // and `total` counts the flows that have one (read for the page, assumed for the rest:
        // a flow whose every version is hidden is rare, and finding it would read them all).
        let start = (page - 1) * size
        var records: [JSONValue] = []
        var skipped = 0
        var index = start
        while records.count < size, index < candidates.count {
            let candidate = candidates[index]
            index += 1
            let entry: VersionEntry
            if let known = candidate.entry {
                entry = known
            } else if let found = try state.defaultVersion(of: candidate.flow) {
                entry = found
            } else {
                skipped += 1
                continue
            }
            records.append(try state.flowResponse(candidate.flow, entry))
        }
        return .ok([
            "records": .array(records), "page": .number(Double(page)), "size": .number(Double(size)),
            "total": .number(Double(candidates.count - skipped)),
        ])
    }

    /// An integer query parameter within `range` (422 otherwise).
    static func int(_ request: APIRequest, _ key: String, default value: Int, range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let raw = request.query[key] else { return value }
        guard let n = Int(raw), range.contains(n) else {
            throw .invalid("Input should be an integer in \(range.lowerBound)...\(range.upperBound)",
                           at: ["query", .string(key)], type: "int_parsing")
        }
        return n
    }

    /// DELETE /v5/flows/{id}: removes the path (an event); every version and log stays in the store.
    func delete(_ request: APIRequest) throws(APIError) -> APIResponse {
        let flow = try state.flow(id: request.parameter("id"))
        try state.run { () throws(StoreError) in
            try store.deleteFile(at: flow.path, author: request.user.author, message: "delete flow")
        }
        return .empty
    }

    /// PATCH /v5/flows/{id}: move or rename (`path`, or `name` and/or `directory_id`).
    func move(_ request: APIRequest) throws(APIError) -> APIResponse {
        let flow = try state.flow(id: request.parameter("id"))
        let body = BodyFields(object: try request.bodyObject(allowEmpty: true))
        let newPath = try body.nonEmptyString("path")
        let newName = try body.nonEmptyString("name")
        let directoryID = try body.nonEmptyString("directory_id")
        var target: String
        if let newPath {
            target = newPath
        } else if newName != nil || directoryID != nil {
            var directory = flow.path.directory
            if let directoryID { directory = try self.directory(id: directoryID) }
            let name = newName ?? flow.path.name
            target = directory.isEmpty ? name : "\(directory)/\(name)"
        } else {
            throw .invalid("Provide path, name or directory_id", at: ["body"], type: "missing")
        }
        let path = try state.run(location: ["body", newPath != nil ? "path" : "name"]) { () throws(StoreError) in
            try FlowPath(target)
        }
        try state.run { () throws(StoreError) in try store.moveFile(from: flow.path, to: path, author: request.user.author) }
        state.fileIndex.note(file: flow.id, at: path)
        let moved = FlowFile(path: path, id: flow.id, object: flow.object)
        return .ok(try state.flowResponse(moved, try state.requireDefaultVersion(of: moved)))
    }

    /// A `dir_` id back to its directory: directories are not objects, only prefixes of live
    /// paths, so the known ones are those of live files (and their ancestors).
    private func directory(id: String) throws(APIError) -> String {
        for listed in try state.run({ () throws(StoreError) in try state.fileIndex.listing(in: store) }) {
            var dir = listed.path.directory
            while !dir.isEmpty {
                if PublicIDs.directory(dir) == id { return dir }
                dir = dir.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(Substring(dir.utf8[..<$0])) } ?? ""
            }
        }
        throw .notFound("Directory with id \(id) not found")
    }

    /// Most versions one List Versions answer holds (and its default page size).
    static let maxVersionsPage = 1000

    /// GET /v5/flows/{id}/versions: visible versions, newest first, a page at a time.
    ///
    /// Humanloop documents no paging here (every version in `records`). So that one request
    /// never renders a flow's whole history, FlowStore answers at most `maxVersionsPage`
    /// versions, and takes `page` (from 1) and `size` (1…1000, default 1000) like List Flows;
    /// with either given, the answer also carries `page`, `size` and `total`. Only the versions
    /// up to the page's end are read, and only the page's are rendered.
    func listVersions(_ request: APIRequest) throws(APIError) -> APIResponse {
        let paged = request.query["page"] != nil || request.query["size"] != nil
        let page = try Self.int(request, "page", default: 1, range: 1...1_000_000)
        let size = try Self.int(request, "size", default: Self.maxVersionsPage, range: 1...Self.maxVersionsPage)
        let flow = try state.flow(id: request.parameter("id"))
        let deployments = try state.deployments(of: flow.id)
        let (window, total) = try state.run { () throws(StoreError) -> ([(ObjectID, VersionObject)], Int) in
            guard let head = try store.target(of: RefNames.head(flow.id)) else { return ([], 0) }
            // Hidden versions are the annotated ones that say so: one listing of the flow's
            // annotation refs, not one read per version.
            let hidden = Set(try store.annotatedVersions(of: flow.id).filter { $0.value.hidden }.keys)
            let end = page * size
            let walked = try store.history(from: head, limit: end + hidden.count)
            let visible = walked.filter { !hidden.contains($0.0) }
            let window = Array(visible.dropFirst((page - 1) * size).prefix(size))
            let count = paged ? try store.historySummary(of: flow.id, head: head).count - hidden.count : 0
            return (window, count)
        }
        var records: [JSONValue] = []
        for (id, version) in window {
            let entry = VersionEntry(
                id: id, version: version,
                metadata: try state.run { () throws(StoreError) in try store.metadataState(of: id, version) })
            records.append(try state.flowResponse(flow, entry, deployments: deployments))
        }
        guard paged else { return .ok(["records": .array(records)]) }
        return .ok([
            "records": .array(records), "page": .number(Double(page)), "size": .number(Double(size)),
            "total": .number(Double(max(0, total))),
        ])
    }

    /// PATCH /v5/flows/{id}/versions/{version_id}: rename or redescribe, as an annotation.
    func updateVersion(_ request: APIRequest) throws(APIError) -> APIResponse {
        let flow = try state.flow(id: request.parameter("id"))
        let entry = try state.version(publicID: request.parameter("version_id"), of: flow)
        let body = BodyFields(object: try request.bodyObject(allowEmpty: true))
        let name = try body.nonEmptyString("name")
        let description = try body.string("description")
        let others = try state.visibleVersions(of: flow.id).filter { $0.id != entry.id }
        if let name, others.contains(where: { $0.metadata.name == name }) {
            throw .conflict("Version name \(name) already exists in flow \(flow.path.rawValue)")
        }
        try state.run { () throws(StoreError) in
            try store.annotate(entry.id, author: request.user.author, message: "update version") { m in
                if let name { m.name = name }
                if let description { m.description = description }
            }
        }
        return .ok(try state.flowResponse(flow, try state.entry(entry.id)))
    }

    /// DELETE /v5/flows/{id}/versions/{version_id}: hides the version (an annotation); a
    /// version still deployed somewhere must be undeployed first (409).
    func deleteVersion(_ request: APIRequest) throws(APIError) -> APIResponse {
        let flow = try state.flow(id: request.parameter("id"))
        let entry = try state.version(publicID: request.parameter("version_id"), of: flow)
        let deployedTo = try state.deployments(of: flow.id).filter { $0.value == entry.id }.keys.sorted()
        if !deployedTo.isEmpty {
            throw .conflict("Version is deployed to \(deployedTo.joined(separator: ", ")); remove the deployment first")
        }
        try state.run { () throws(StoreError) in
            try store.annotate(entry.id, author: request.user.author, message: "delete version") { $0.hidden = true }
        }
        return .empty
    }

    /// POST /v5/flows/{id}/environments/{environment_id}?version_id=…
    func deploy(_ request: APIRequest) throws(APIError) -> APIResponse {
        let flow = try state.flow(id: request.parameter("id"))
        let env = try state.environment(id: request.parameter("environment_id"))
        guard let versionID = request.query["version_id"] else {
            throw .invalid("Field required", at: ["query", "version_id"], type: "missing")
        }
        let entry = try state.version(publicID: versionID, of: flow)
        try state.run { () throws(StoreError) in
            try store.setRef(.environments, try RefLabel(env.name, kind: "environment"), of: flow.path, to: entry.id,
                             author: request.user.author, message: "deploy to \(env.name)")
        }
        return .ok(try state.flowResponse(flow, entry))
    }

    /// DELETE /v5/flows/{id}/environments/{environment_id}: 404 when nothing is deployed there.
    func removeDeployment(_ request: APIRequest) throws(APIError) -> APIResponse {
        let flow = try state.flow(id: request.parameter("id"))
        let env = try state.environment(id: request.parameter("environment_id"))
        try state.run { () throws(StoreError) in
            try store.removeRef(.environments, try RefLabel(env.name, kind: "environment"), of: flow.path,
                                author: request.user.author, message: "remove deployment from \(env.name)")
        }
        return .empty
    }

    /// GET /v5/flows/{id}/environments: every configured environment, with `file` the
    /// deployed FlowResponse or null.
    func listEnvironments(_ request: APIRequest) throws(APIError) -> APIResponse {
        let flow = try state.flow(id: request.parameter("id"))
        let deployments = try state.deployments(of: flow.id)
        var out: [JSONValue] = []
        for env in state.environments {
            var o = state.environmentJSON(env, flow: flow)
            if let id = deployments[env.name] {
                o["file"] = try state.flowResponse(flow, try state.entry(id), deployments: deployments)
            } else {
                o["file"] = .null
            }
            out.append(.object(o))
        }
        return .ok(.array(out))
    }

    /// POST /v5/flows/{id}/evaluators: records `activate`/`deactivate` in the annotation of the
    /// flow's default version. FlowStore runs no evaluators; it keeps the request for audit.
    func updateMonitoring(_ request: APIRequest) throws(APIError) -> APIResponse {
        let flow = try state.flow(id: request.parameter("id"))
        let body = BodyFields(object: try request.bodyObject(allowEmpty: true))
        func items(_ key: String) throws(APIError) -> [JSONValue] {
            let list = try body.array(key) ?? []
            for (i, item) in list.enumerated() where item.objectValue == nil {
                throw .invalid("Input should be a valid dictionary", at: ["body", .string(key), .number(Double(i))],
                               type: "dict_type")
            }
            return list
        }
        let activate = try items("activate")
        let deactivate = try items("deactivate")
        let entry = try state.requireDefaultVersion(of: flow)
        try state.run { () throws(StoreError) in
            try store.annotate(entry.id, author: request.user.author, message: "update monitoring") { m in
                m.evaluators = Self.monitoring(m.evaluators ?? [], activate: activate, deactivate: deactivate)
            }
        }
        return .ok(try state.flowResponse(flow, try state.entry(entry.id)))
    }

    /// The evaluator list after `activate` (appended unless present) and `deactivate`
    /// (removed), `nil` when empty. Items are compared by their canonical JSON, kept in sets:
    /// linear in the lists, where `contains` per item was quadratic in a body of thousands.
    static func monitoring(_ current: [JSONValue], activate: [JSONValue], deactivate: [JSONValue]) -> [JSONValue]? {
        // Parsed JSON has no non-finite numbers, so encoding cannot fail; "" never equals an encoding.
        func key(_ item: JSONValue) -> [UInt8] { (try? CanonicalJSON.encode(item)) ?? [] }
        var list: [JSONValue] = []
        var present = Set<[UInt8]>()
        for item in current + activate where present.insert(key(item)).inserted { list.append(item) }
        let removed = Set(deactivate.map(key))
        if !removed.isEmpty { list.removeAll { removed.contains(key($0)) } }
        return list.isEmpty ? nil : list
    }
}
