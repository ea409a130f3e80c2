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

    // MARK: Limits

    /// Most nodes in one agent. PromptLayer documents no limit; these bound what one request
    /// can cost (validation is linear in nodes + dependencies + edges + conditionals) at
    /// hundreds of times any agent built by hand, so a hostile body is refused after one pass
    /// over array lengths instead of holding a CPU (issue 15, item 1).
    public static let maxNodes = 10_000
    /// Most `dependencies` entries over all nodes of one agent, repeats included.
    public static let maxDependencies = 100_000
    /// Most edges in one agent.
    public static let maxEdges = 10_000
    /// Most `conditionals` over all edges of one agent.
    public static let maxConditionals = 100_000

    /// A definition that passed `validate`, with the kind it was checked as. Only validation
    /// makes one, so a `NewVersion` built from it is not checked again on its way to disk: the
    /// server checks a request where it parses it, and its group commit, which stages every
    /// upsert on one preparer thread, does not repeat the work.
    public struct Checked: Sendable {
        public let kind: FileKind
        public let object: JSONObject

        fileprivate init(kind: FileKind, object: JSONObject) {
            self.kind = kind
            self.object = object
        }
    }

    /// Validates `definition` as `kind` (see `validate`) and returns it as checked.
    public static func checked(_ definition: JSONObject, kind: FileKind) throws(StoreError) -> Checked {
        try validate(definition, kind: kind)
        return Checked(kind: kind, object: definition)
    }

    /// Builds a flow definition from Humanloop's `attributes`.
    public static func flow(attributes: JSONValue?) throws(StoreError) -> JSONObject {
        try checkedFlow(attributes: attributes).object
    }

    /// `flow(attributes:)`, checked.
    public static func checkedFlow(attributes: JSONValue?) throws(StoreError) -> Checked {
        guard let attributes else { throw .invalidInput("attributes: field required") }
        guard case .object = attributes else { throw .invalidInput("attributes: must be an object, not \(attributes.typeName)") }
        var d = JSONObject()
        d["attributes"] = attributes
        return Checked(kind: .flow, object: d)
    }

    /// Builds an agent definition from PromptLayer's body fields; absent `edges` and
    /// `required_input_variables` become `[]` and `{}` so equal graphs hash equally.
    public static func agent(nodes: JSONValue?, edges: JSONValue?, requiredInputVariables: JSONValue?) throws(StoreError)
        -> JSONObject
    {
        try checkedAgent(nodes: nodes, edges: edges, requiredInputVariables: requiredInputVariables).object
    }

    /// `agent(nodes:edges:requiredInputVariables:)`, checked.
    public static func checkedAgent(nodes: JSONValue?, edges: JSONValue?, requiredInputVariables: JSONValue?)
        throws(StoreError) -> Checked
    {
        guard let nodes, !nodes.isNull else { throw .invalidInput("nodes: field required") }
        var d = JSONObject()
        d["nodes"] = nodes
        d["edges"] = (edges == nil || edges == .null) ? .array([]) : edges
        d["required_input_variables"] =
            (requiredInputVariables == nil || requiredInputVariables == .null) ? .object(JSONObject()) : requiredInputVariables
        return try checked(d, kind: .agent)
    }

    public static func validate(_ definition: JSONObject, kind: FileKind) throws(StoreError) {
        let allowed = ContentObject.fields(for: kind)
        for key in definition.keys where !allowed.contains(key) {
            throw .invalidInput("unexpected field \(quoted(key)) in a \(kind.rawValue) definition")
        }
        switch kind {
        case .flow:
            _ = try checkedFlow(attributes: definition["attributes"])
        case .agent:
            try validateAgent(definition)
        }
    }

    /// The refusal for a count over one of the limits above, naming it.
    private static func overLimit(_ what: String, count: Int, limit: Int, name: String) -> StoreError {
        .invalidInput("\(what): \(count) is more than the limit of \(limit) (Definition.\(name))")
    }

    /// Checks an agent graph in time linear in its size: every node, dependency, edge and
    /// conditional is looked at a bounded number of times, with hashed lookups, and the counts
    /// are checked against the limits before the entries they count are read.
    private static func validateAgent(_ d: JSONObject) throws(StoreError) {
        guard let nodes = d["nodes"]?.arrayValue else { throw .invalidInput("nodes: must be an array of node objects") }
        guard !nodes.isEmpty else { throw .invalidInput("nodes: at least one node is required") }
        guard nodes.count <= maxNodes else {
            throw overLimit("nodes", count: nodes.count, limit: maxNodes, name: "maxNodes")
        }

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

        // Pass 1: the nodes, their names (name → index) and raw dependency lists.
        var names: [String] = []
        names.reserveCapacity(nodes.count)
        var index: [String: Int] = [:]
        index.reserveCapacity(nodes.count)
        var rawDependencies: [[String]] = []
        rawDependencies.reserveCapacity(nodes.count)
        var dependencyCount = 0
        var hasOutput = false
        for (position, node) in nodes.enumerated() {
            guard let n = node.objectValue else { throw .invalidInput("nodes[\(position)]: must be an object") }
            guard let name = n["name"]?.stringValue, !name.isEmpty else {
                throw .invalidInput("nodes[\(position)]: name is required and must be a non-empty string")
            }
            guard name.utf8.count <= 255 else { throw .invalidInput("node \(short(name)): name longer than 255 bytes") }
            guard index[name] == nil else { throw .invalidInput("node \(quoted(name)): duplicate node name") }
            guard let type = n["node_type"]?.stringValue else {
                throw .invalidInput("node \(quoted(name)): node_type is required and must be a string")
            }
            guard nodeTypes.contains(type) else {
                throw .invalidInput(
                    "node \(quoted(name)): unknown node_type \(short(type)) (known: \(nodeTypes.sorted().joined(separator: ", ")))")
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
                dependencyCount += list.count
                guard dependencyCount <= maxDependencies else {
                    throw overLimit(
                        "dependencies", count: dependencyCount, limit: maxDependencies, name: "maxDependencies")
                }
                deps.reserveCapacity(list.count)
                for dep in list {
                    guard let s = dep.stringValue else {
                        throw .invalidInput("node \(quoted(name)): dependencies must be strings")
                    }
                    deps.append(s)
                }
            }
            index[name] = names.count
            names.append(name)
            rawDependencies.append(deps)
        }
        guard hasOutput else { throw .invalidInput("nodes: at least one node must have is_output_node: true") }

        // Pass 2: each dependency resolved once. `graph[i]` lists the nodes node i depends on,
        // each once, in first-mention order (input variables end every chain, so they are not
        // in it); `dependsOn[i]` is the same as a set, for the edges' membership checks.
        var graph: [[Int]] = []
        graph.reserveCapacity(names.count)
        var dependsOn: [Set<Int>] = []
        dependsOn.reserveCapacity(names.count)
        for (i, name) in names.enumerated() {
            var list: [Int] = []
            var set = Set<Int>()
            for dep in rawDependencies[i] {
                if let j = index[dep] {
                    if j == i { throw .invalidInput("node \(quoted(name)): depends on itself") }
                    if set.insert(j).inserted { list.append(j) }
                } else if !variables.contains(dep) {
                    throw .invalidInput(
                        "node \(quoted(name)): dependency \(short(dep)) is neither a node nor a required input variable")
                }
            }
            graph.append(list)
            dependsOn.append(set)
        }
        rawDependencies = []
        if let cycle = findCycle(graph) {
            throw .invalidInput("node \(quoted(names[cycle])): dependency cycle")
        }
        try validateEdges(d["edges"], index: index, dependsOn: dependsOn)
    }

    private static func validateEdges(_ raw: JSONValue?, index: [String: Int], dependsOn: [Set<Int>]) throws(StoreError) {
        guard let raw, !raw.isNull else { return }
        guard let edges = raw.arrayValue else { throw .invalidInput("edges: must be an array") }
        guard edges.count <= maxEdges else {
            throw overLimit("edges", count: edges.count, limit: maxEdges, name: "maxEdges")
        }
        struct Pair: Hashable {
            var source: Int
            var target: Int
        }
        var seen = Set<Pair>()
        seen.reserveCapacity(edges.count)
        var conditionalCount = 0
        for (position, edge) in edges.enumerated() {
            guard let e = edge.objectValue else { throw .invalidInput("edges[\(position)]: must be an object") }
            guard let source = e["source_node_name"]?.stringValue, let target = e["target_node_name"]?.stringValue else {
                throw .invalidInput("edges[\(position)]: source_node_name and target_node_name are required strings")
            }
            let label = "edge \(short(source)) -> \(short(target))"
            guard let s = index[source] else { throw .invalidInput("\(label): unknown source node \(short(source))") }
            guard let t = index[target] else { throw .invalidInput("\(label): unknown target node \(short(target))") }
            guard dependsOn[t].contains(s) else {
                throw .invalidInput("\(label): target node must list \(quoted(source)) in its dependencies")
            }
            guard seen.insert(Pair(source: s, target: t)).inserted else { throw .invalidInput("\(label): duplicate edge") }
            guard e["is_and"]?.boolValue != nil else { throw .invalidInput("\(label): is_and is required and must be a boolean") }
            guard let conditionals = e["conditionals"]?.arrayValue, !conditionals.isEmpty else {
                throw .invalidInput("\(label): conditionals must be a non-empty array")
            }
            conditionalCount += conditionals.count
            guard conditionalCount <= maxConditionals else {
                throw overLimit("conditionals", count: conditionalCount, limit: maxConditionals, name: "maxConditionals")
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

    /// A node (index) on a dependency cycle, or nil. `graph[i]` lists node i's dependencies
    /// among nodes, each once: every node is pushed once and every dependency followed once,
    /// so this is linear in the graph (the old version filtered each node's list again on
    /// every visit, quadratic in a list that repeats one name).
    private static func findCycle(_ graph: [[Int]]) -> Int? {
        enum Mark { case unvisited, visiting, done }
        var marks = [Mark](repeating: .unvisited, count: graph.count)
        // Iterative DFS so a hostile 10,000-node chain cannot overflow the stack.
        var stack: [(node: Int, next: Int)] = []
        for root in graph.indices where marks[root] == .unvisited {
            stack.append((root, 0))
            marks[root] = .visiting
            while let (node, next) = stack.last {
                let deps = graph[node]
                if next < deps.count {
                    stack[stack.count - 1].next += 1
                    let dep = deps[next]
                    switch marks[dep] {
                    case .visiting: return dep
                    case .done: continue
                    case .unvisited:
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

    /// A user-supplied name for a message, cut to 80 characters' worth of scalars: a
    /// dependency or edge end may be megabytes long, and the message should not be.
    private static func short(_ s: String) -> String {
        let scalars = s.unicodeScalars
        guard let cut = scalars.index(scalars.startIndex, offsetBy: 80, limitedBy: scalars.endIndex),
            cut != scalars.endIndex
        else { return quoted(s) }
        return quoted(String(scalars[..<cut])) + "…"
    }
}

/// A request body in either seed API's shape, read into the parts of a version, so
/// `flowstore put` accepts exactly what a client would send to Humanloop or PromptLayer.
public struct SeedBody: Sendable {
    /// The definition, validated as the body was read.
    public let checked: Definition.Checked
    public var kind: FileKind { checked.kind }
    public var definition: JSONObject { checked.object }
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
                checked: try Definition.checkedFlow(attributes: body["attributes"]), path: try string("path"),
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
                checked: try Definition.checkedAgent(
                    nodes: body["nodes"], edges: body["edges"], requiredInputVariables: body["required_input_variables"]),
                path: workflowName ?? name, versionName: nil,
                message: try string("commit_message"), labels: labels, metadata: metadata)
        }
    }
}
