import FlowStoreCore
import Hummingbird
import Logging

/// One route's HTTP handling, the same for every route: authenticate, decode the URL, read
/// and parse the body (size- and type-checked), run the synchronous handler off the event
/// loop, and render the result or error in the route's dialect.
struct Endpoint: Sendable {
    let route: Route
    let state: ServerState

    func respond(to request: Request, context: BasicRequestContext) async -> Response {
        let dialect = route.dialect
        do throws(APIError) {
            let user = try authenticate(request.headers)
            if user.readOnly, !route.isRead { throw APIError(.forbidden, "This API key is read-only") }
            guard let query = URLDecoding.query(request.uri.query) else {
                throw .invalid("Malformed query string", at: ["query"])
            }
            var parameters: [String: String] = [:]
            for (key, value) in context.parameters {
                guard let decoded = URLDecoding.decode(String(value)) else {
                    throw .invalid("Malformed path parameter", at: ["path", .string(String(key))])
                }
                parameters[String(key)] = decoded
            }
            let body = route.readsBody ? try await readJSONBody(request) : nil
            let apiRequest = APIRequest(parameters: parameters, query: query, body: body, user: user)
            let route = self.route
            let state = self.state
            let response = try await Self.dispatch(route.operation, apiRequest, state)
            log(request, status: response.status)
            return Self.render(response)
        } catch {
            if let detail = error.logDetail {
                state.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(detail)"])
            }
            log(request, status: error.status(dialect))
            return Self.render(error, dialect: dialect)
        }
    }

    /// Request line and status only: headers (and so keys) and bodies are never logged.
    private func log(_ request: Request, status: Int) {
        state.logger.info("\(request.method.rawValue) \(request.uri.path) \(status)")
    }

    private func authenticate(_ headers: HTTPFields) throws(APIError) -> APIUser {
        switch state.configuration.authentication {
        case .disabled:
            return .anonymous
        case .keys(let ring):
            // HTTP field names are case-insensitive; `canonicalName` is lowercase.
            guard let key = headers.first(where: { $0.name.canonicalName == "x-api-key" })?.value, !key.isEmpty else {
                throw APIError(.unauthorized, "Missing API key: send it in the X-API-KEY header")
            }
            guard let user = ring.user(forKey: key) else { throw APIError(.unauthorized, "Invalid API key") }
            return user
        }
    }

    /// Reads at most `maxBodyBytes` (413 beyond, before reading when Content-Length says so),
    /// insists on a JSON media type when one is given (415), and parses strictly, at most
    /// `maxBodyValues` values (413 beyond: the tree, not the text, is what costs memory).
    private func readJSONBody(_ request: Request) async throws(APIError) -> JSONValue? {
        let limit = state.configuration.maxBodyBytes
        let tooLarge = APIError(.tooLarge, "Request body larger than \(limit) bytes")
        let length = request.headers[.contentLength].flatMap { Int($0) }
        if let length, length > limit { throw tooLarge }
        var bytes: [UInt8] = []
        // One allocation of the announced size rather than doublings that overshoot it (a
        // 10 MiB body would otherwise end in a 16 MiB buffer, after copies through 8 MiB).
        if let length, length > 0 { bytes.reserveCapacity(length) }
        do {
            for try await chunk in request.body {
                if bytes.count + chunk.readableBytes > limit { throw tooLarge }
                bytes.append(contentsOf: chunk.readableBytesView)
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.badRequest, "Could not read the request body")
        }
        if bytes.isEmpty { return nil }
        if let type = request.headers[.contentType] {
            let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard media == "application/json" || media.hasSuffix("+json") else {
                throw APIError(.unsupportedMediaType, "Content-Type must be application/json, not \(media)")
            }
        }
        let maxValues = state.configuration.maxBodyValues
        do {
            return try JSONParser.parse(bytes, maxValues: maxValues)
        } catch {
            if case .tooManyValues = error.kind {
                throw APIError(.tooLarge, "Request body holds more than \(maxValues) JSON values")
            }
            throw .invalid(error.description, at: ["body", .number(Double(error.offset ?? 0))], type: "json_invalid")
        }
    }

    /// Runs the operation's handler. Handlers that only read a few refs on local disk run right
    /// here; those that commit versions await the group commit (`GroupCommit`); the rest —
    /// scans, fsyncs of single ref moves, any read of a store behind a network — run on a
    /// blocking thread (`BlockingWork`).
    static func dispatch(_ operation: Operation, _ request: APIRequest, _ state: ServerState) async throws(APIError)
        -> APIResponse
    {
        let hl = HumanloopRoutes(state: state)
        let pl = PromptLayerRoutes(state: state)
        func blocking(_ work: @escaping @Sendable () throws(APIError) -> APIResponse) async throws(APIError) -> APIResponse {
            try await state.blocking.run(work)
        }
        switch operation {
        case .getFlow:
            // A few ref reads: on local disk cheaper inline than a thread hop, but a database
            // round trip must not hold this thread.
            if state.readsWait { return try await blocking { () throws(APIError) in try hl.get(request) } }
            return try hl.get(request)
        case .upsertFlow: return try await hl.upsert(request)
        case .createWorkflow: return try await pl.create(request)
        case .patchWorkflow: return try await pl.patch(request)
        case .listFlows: return try await blocking { () throws(APIError) in try hl.list(request) }
        case .deleteFlow: return try await blocking { () throws(APIError) in try hl.delete(request) }
        case .moveFlow: return try await blocking { () throws(APIError) in try hl.move(request) }
        case .listFlowVersions: return try await blocking { () throws(APIError) in try hl.listVersions(request) }
        case .updateFlowVersion: return try await blocking { () throws(APIError) in try hl.updateVersion(request) }
        case .deleteFlowVersion: return try await blocking { () throws(APIError) in try hl.deleteVersion(request) }
        case .deployFlow: return try await blocking { () throws(APIError) in try hl.deploy(request) }
        case .removeDeployment: return try await blocking { () throws(APIError) in try hl.removeDeployment(request) }
        case .listFlowEnvironments: return try await blocking { () throws(APIError) in try hl.listEnvironments(request) }
        case .updateMonitoring: return try await blocking { () throws(APIError) in try hl.updateMonitoring(request) }
        case .logToFlow: return try await blocking { () throws(APIError) in try hl.log(request) }
        case .updateFlowLog: return try await blocking { () throws(APIError) in try hl.updateLog(request) }
        case .getWorkflow, .sdkGetWorkflow: return try await blocking { () throws(APIError) in try pl.get(request) }
        case .listWorkflowVersions: return try await blocking { () throws(APIError) in try pl.listVersions(request) }
        case .setWorkflowLabel: return try await blocking { () throws(APIError) in try pl.setLabel(request) }
        case .deleteWorkflowLabel: return try await blocking { () throws(APIError) in try pl.deleteLabel(request) }
        }
    }

    static func render(_ response: APIResponse) -> Response {
        var headers = HTTPFields()
        if let encoded = response.encodedBody {
            headers[.contentType] = "application/json"
            return Response(
                status: .init(code: response.status), headers: headers,
                body: ResponseBody(byteBuffer: encoded))
        }
        guard let body = response.body else {
            headers[.contentLength] = "0"
            return Response(status: .init(code: response.status), headers: headers)
        }
        // Response values are built from parsed JSON and integers: always encodable.
        let bytes = (try? CanonicalJSON.encode(body)) ?? Array("null".utf8)
        headers[.contentType] = "application/json"
        return Response(
            status: .init(code: response.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func render(_ error: APIError, dialect: APIDialect, status: Int? = nil) -> Response {
        let status = status ?? error.status(dialect)
        var response = render(APIResponse(status: status, body: error.body(dialect)))
        // 503 is a busy store (a ref lock held past the lock timeout): worth retrying soon.
        if status == 503 { response.headers[.retryAfter] = "1" }
        return response
    }
}
