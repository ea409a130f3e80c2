/// Every operation the server implements.
public enum Operation: String, Sendable, CaseIterable {
    // Humanloop v5 Flows
    case upsertFlow, getFlow, listFlows, deleteFlow, moveFlow
    case listFlowVersions, updateFlowVersion, deleteFlowVersion
    case deployFlow, removeDeployment, listFlowEnvironments, updateMonitoring
    case logToFlow, updateFlowLog
    // PromptLayer workflows (agents)
    case createWorkflow, patchWorkflow, getWorkflow, listWorkflowVersions, setWorkflowLabel, deleteWorkflowLabel
    case sdkGetWorkflow
}

/// One route: method and path in OpenAPI form (`{param}`, which Hummingbird's router also
/// understands), and what it does.
public struct Route: Sendable, Hashable {
    public var method: String
    public var path: String
    public var operation: Operation
    public var dialect: APIDialect
    /// Whether the route reads a JSON request body (others ignore any body).
    public var readsBody: Bool
    /// Whether a read-only key may call it.
    public var isRead: Bool { method == "GET" }
}

/// The single list of routes: the router registers exactly these, and the test that checks
/// `spec/openapi.yaml` compares the document with this table, so neither can drift.
public enum RouteTable {
    public static let routes: [Route] = [
        hl("POST", "/v5/flows", .upsertFlow, body: true),
        hl("GET", "/v5/flows", .listFlows),
        hl("POST", "/v5/flows/log", .logToFlow, body: true),
        hl("PATCH", "/v5/flows/logs/{log_id}", .updateFlowLog, body: true),
        hl("GET", "/v5/flows/{id}", .getFlow),
        hl("DELETE", "/v5/flows/{id}", .deleteFlow),
        hl("PATCH", "/v5/flows/{id}", .moveFlow, body: true),
        hl("GET", "/v5/flows/{id}/versions", .listFlowVersions),
        hl("PATCH", "/v5/flows/{id}/versions/{version_id}", .updateFlowVersion, body: true),
        hl("DELETE", "/v5/flows/{id}/versions/{version_id}", .deleteFlowVersion),
        hl("GET", "/v5/flows/{id}/environments", .listFlowEnvironments),
        hl("POST", "/v5/flows/{id}/environments/{environment_id}", .deployFlow),
        hl("DELETE", "/v5/flows/{id}/environments/{environment_id}", .removeDeployment),
        hl("POST", "/v5/flows/{id}/evaluators", .updateMonitoring, body: true),

        pl("POST", "/rest/workflows", .createWorkflow, body: true),
        pl("GET", "/rest/workflows/{workflow_id_or_name}", .getWorkflow),
        pl("PATCH", "/rest/workflows/{workflow_id_or_name}", .patchWorkflow, body: true),
        pl("GET", "/rest/workflows/{workflow_id_or_name}/versions", .listWorkflowVersions),
        pl("PATCH", "/rest/workflows/{workflow_id_or_name}/labels/{label}", .setWorkflowLabel, body: true),
        pl("DELETE", "/rest/workflows/{workflow_id_or_name}/labels/{label}", .deleteWorkflowLabel),
        pl("GET", "/workflows/{workflow_id_or_name}", .sdkGetWorkflow),
    ]

    private static func hl(_ method: String, _ path: String, _ op: Operation, body: Bool = false) -> Route {
        Route(method: method, path: path, operation: op, dialect: .humanloop, readsBody: body)
    }

    private static func pl(_ method: String, _ path: String, _ op: Operation, body: Bool = false) -> Route {
        Route(method: method, path: path, operation: op, dialect: .promptlayer, readsBody: body)
    }

    /// The dialect of an unmatched path, for its 404 body.
    static func dialect(forPath path: String) -> APIDialect {
        path.hasPrefix("/v5/") ? .humanloop : .promptlayer
    }
}
