/// The definition a version stores, and the rules it must follow before anything is written.
///
/// A flow is Humanloop's `attributes` object. An agent is PromptLayer's graph: `nodes`,
/// `edges`, `required_input_variables`, checked with the rules of the Create Workflow page so
/// a bad graph is refused with a message naming the node or edge at fault.
public enum Definition {
    /// Node types from PromptLayer's documentation.
    public static let nodeTypes: Set<String> = [
        "VARIABLE", "CODE_EXECUTION", "PROMPT_TEMPLATE", "ENDPOINT", "COMPARE", "CONTAINS", "LLM_ASSERTION",
        "AI_DATA_EXTRACTION", "CODING_AGENT",
    ]

    /// Conditional operators from PromptLayer's documentation.
    public static let operators: Set<String> = ["=", "!=", "<", ">", "<=", ">=", "in", "not_in", "is_null", "is_not_null"]

    /// Builds a flow definition from Humanloop's `attributes`.
    public static func flow(attributes: JSONValue?) throws(StoreError) -> JSONObject {
        guard let attributes else { throw .invalidInput("attributes: field required") }
        guard case .object = attributes else { throw .invalidInput("attributes: must be an object, not \(attributes.typeName)") }
        var d = JSONObject()
        d["attributes"] = attributes
        return d
    }

    /// Builds an agent definition from PromptLayer's body fields; absent `edges` and
    /// `required_input_variables` become `[]` and `{}` so equal graphs hash equally.
    public static func agent(nodes: JSONValue?, edges: JSONValue?, requiredInputVariables: JSONValue?) throws(StoreError)
        -> JSONObject
    {
        guard let nodes, !nodes.isNull else { throw .invalidInput("nodes: field required") }
        var d = JSONObject()
        d["nodes"] = nodes
        d["edges"] = (edges == nil || edges == .null) ? .array([]) : edges
        d["required_input_variables"] =
            (requiredInputVariables == nil || requiredInputVariables == .null) ? .object(JSONObject()) : requiredInputVariables
        try validate(d, kind: .agent)
        return d
    }

    public static func validate(_ definition: JSONObject, kind: FileKind) throws(StoreError) {
        let allowed = ContentObject.fields(for: kind)
        for key in definition.keys where !allowed.contains(key) {
            throw .invalidInput("unexpected field \(quoted(key)) in a \(kind.rawValue) definition")
        }
        switch kind {
        case .flow:
            _ = try flow(attributes: definition["attributes"])
        case .agent:
            try validateAgent(definition)
        }
    }

    private static func validateAgent(_ d: JSONObject) throws(StoreError) {
        guard let nodes = d["nodes"]?.arrayValue else { throw .invalidInput("nodes: must be an array of node objects") }
        guard !nodes.isEmpty else { throw .invalidInput("nodes: at least one node is required") }

        var variables = Set<String>()
        if let riv = d["required_input_variables"] {
            guard let object = riv.objectValue else { throw .invalidInput("required_input_variables: must be an object") }
            for member in object {
                guard member.value.stringValue != nil else {
                    throw .invalidInput("required_input_variables: type of \(quoted(member.key)) must be a string")
                }
                variables.insert(member.key)
            }
        }

        var names: [String] = []
        var dependencies: [String: [String]] = [:]
        var hasOutput = false
        for (index, node) in nodes.enumerated() {
            guard let n = node.objectValue else { throw .invalidInput("nodes[\(index)]: must be an object") }
            guard let name = n["name"]?.stringValue, !name.isEmpty else {
                throw .invalidInput("nodes[\(index)]: name is required and must be a non-empty string")
            }
            guard name.utf8.count <= 255 else { throw .invalidInput("node \(quoted(name)): name longer than 255 bytes") }
            guard dependencies[name] == nil else { throw .invalidInput("node \(quoted(name)): duplicate node name") }
            guard let type = n["node_type"]?.stringValue else {
                throw .invalidInput("node \(quoted(name)): node_type is required and must be a string")
            }
            guard nodeTypes.contains(type) else {
                throw .invalidInput(
                    "node \(quoted(name)): unknown node_type \(quoted(type)) (known: \(nodeTypes.sorted().joined(separator: ", ")))")
            }
            guard case .object = n["configuration"] else {
                throw .invalidInput("node \(quoted(name)): configuration is required and must be an object")
            }
            guard let isOutput = n["is_output_node"]?.boolValue else {
                throw .invalidInput("node \(quoted(name)): is_output_node is required and must be a boolean")
            }
            hasOutput = hasOutput || isOutput
            var deps: [String] = []
            if let raw = n["dependencies"], !raw.isNull {
                guard let list = raw.arrayValue else { throw .invalidInput("node \(quoted(name)): dependencies must be an array") }
                for dep in list {
                    guard let s = dep.stringValue else {
                        throw .invalidInput("node \(quoted(name)): dependencies must be strings")
                    }
                    deps.append(s)
                }
            }
            names.append(name)
            dependencies[name] = deps
        }
        guard hasOutput else { throw .invalidInput("nodes: at least one node must have is_output_node: true") }

        for name in names {
            for dep in dependencies[name] ?? [] {
                if dep == name { throw .invalidInput("node \(quoted(name)): depends on itself") }
                guard dependencies[dep] != nil || variables.contains(dep) else {
                    throw .invalidInput(
                        "node \(quoted(name)): dependency \(quoted(dep)) is neither a node nor a required input variable")
                }
            }
        }
        if let cycle = findCycle(names: names, dependencies: dependencies) {
            throw .invalidInput("node \(quoted(cycle)): dependency cycle")
        }
        try validateEdges(d["edges"], dependencies: dependencies)
    }

    private static func validateEdges(_ raw: JSONValue?, dependencies: [String: [String]]) throws(StoreError) {
        guard let raw, !raw.isNull else { return }
        guard let edges = raw.arrayValue else { throw .invalidInput("edges: must be an array") }
        var seen = Set<String>()
        for (index, edge) in edges.enumerated() {
            guard let e = edge.objectValue else { throw .invalidInput("edges[\(index)]: must be an object") }
            guard let source = e["source_node_name"]?.stringValue, let target = e["target_node_name"]?.stringValue else {
                throw .invalidInput("edges[\(index)]: source_node_name and target_node_name are required strings")
            }
            let label = "edge \(quoted(source)) -> \(quoted(target))"
            guard dependencies[source] != nil else { throw .invalidInput("\(label): unknown source node \(quoted(source))") }
            guard let targetDeps = dependencies[target] else {
                throw .invalidInput("\(label): unknown target node \(quoted(target))")
            }
            guard targetDeps.contains(source) else {
                throw .invalidInput("\(label): target node must list \(quoted(source)) in its dependencies")
            }
            guard seen.insert("\(source)\u{0}\(target)").inserted else { throw .invalidInput("\(label): duplicate edge") }
            guard e["is_and"]?.boolValue != nil else { throw .invalidInput("\(label): is_and is required and must be a boolean") }
            guard let conditionals = e["conditionals"]?.arrayValue, !conditionals.isEmpty else {
                throw .invalidInput("\(label): conditionals must be a non-empty array")
            }
            for (ci, conditional) in conditionals.enumerated() {
                let where_ = "\(label), conditionals[\(ci)]"
                guard let c = conditional.objectValue else { throw .invalidInput("\(where_): must be an object") }
                guard c["position"]?.intValue != nil else { throw .invalidInput("\(where_): position must be an integer") }
                guard let op = c["operator"]?.stringValue, operators.contains(op) else {
                    throw .invalidInput(
                        "\(where_): operator must be one of \(operators.sorted().joined(separator: ", "))")
                }
                guard case .object = c["left_config"] else { throw .invalidInput("\(where_): left_config must be an object") }
                let unary = op == "is_null" || op == "is_not_null"
                if let right = c["right_config"] {
                    guard case .object = right else { throw .invalidInput("\(where_): right_config must be an object") }
                } else if !unary {
                    throw .invalidInput("\(where_): right_config is required for operator \(quoted(op))")
                }
            }
        }
    }

    /// A node on a dependency cycle among nodes (input variables end every chain), or nil.
    private static func findCycle(names: [String], dependencies: [String: [String]]) -> String? {
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        // Iterative DFS so a hostile 100,000-node chain cannot overflow the stack.
        for root in names where marks[root] == nil {
            var stack: [(String, Int)] = [(root, 0)]
            marks[root] = .visiting
            while let (node, next) = stack.last {
                let deps = (dependencies[node] ?? []).filter { dependencies[$0] != nil }
                if next < deps.count {
                    stack[stack.count - 1].1 += 1
                    let dep = deps[next]
                    switch marks[dep] {
                    case .visiting: return dep
                    case .done: continue
                    case nil:
                        marks[dep] = .visiting
                        stack.append((dep, 0))
                    }
                } else {
                    marks[node] = .done
                    stack.removeLast()
                }
            }
        }
        return nil
    }
}

/// A request body in either seed API's shape, read into the parts of a version, so
/// `flowstore put` accepts exactly what a client would send to Humanloop or PromptLayer.
public struct SeedBody: Sendable {
    public var kind: FileKind
    public var definition: JSONObject
    /// Humanloop's `path`, or PromptLayer's `name`/`workflow_name`.
    public var path: String?
    public var versionName: String?
    public var message: String?
    public var labels: [String]
    /// PromptLayer fields kept with the version (`folder_id`).
    public var metadata: JSONObject?

    /// Reads a body; `kind` may be given, otherwise `attributes` means a flow and `nodes` an agent.
    public static func parse(_ value: JSONValue, kind: FileKind? = nil) throws(StoreError) -> SeedBody {
        guard let body = value.objectValue else { throw .invalidInput("the request body must be a JSON object") }
        let kind = kind ?? (body["nodes"] != nil ? .agent : body["attributes"] != nil ? .flow : nil)
        guard let kind else {
            throw .invalidInput("cannot tell flow from agent: expected \"attributes\" (a flow) or \"nodes\" (an agent)")
        }
        func string(_ key: String) throws(StoreError) -> String? {
            guard let v = body[key], !v.isNull else { return nil }
            guard let s = v.stringValue else { throw .invalidInput("\(key): must be a string") }
            return s
        }
        switch kind {
        case .flow:
            return SeedBody(
                kind: .flow, definition: try Definition.flow(attributes: body["attributes"]), path: try string("path"),
                versionName: try string("version_name"), message: try string("version_description"), labels: [],
                metadata: nil)
        case .agent:
            var labels: [String] = []
            if let raw = body["release_labels"], !raw.isNull {
                guard let list = raw.arrayValue else { throw .invalidInput("release_labels: must be an array of strings") }
                for item in list {
                    guard let s = item.stringValue else { throw .invalidInput("release_labels: must be an array of strings") }
                    labels.append(s)
                }
            }
            var metadata: JSONObject?
            if let folder = body["folder_id"], !folder.isNull {
                metadata = JSONObject()
                metadata?["folder_id"] = folder
            }
            let workflowName = try string("workflow_name")
            let name = try string("name")
            return SeedBody(
                kind: .agent,
                definition: try Definition.agent(
                    nodes: body["nodes"], edges: body["edges"], requiredInputVariables: body["required_input_variables"]),
                path: workflowName ?? name, versionName: nil,
                message: try string("commit_message"), labels: labels, metadata: metadata)
        }
    }
}
