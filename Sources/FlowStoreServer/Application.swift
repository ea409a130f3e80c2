import FlowStoreCore
import Hummingbird
import Logging
import ServiceLifecycle

/// Builds the HTTP application: every route in `RouteTable`, served over `store`.
///
/// Returned unstarted: `flowstore serve` runs it with `runService()` (graceful shutdown on
/// SIGINT/SIGTERM); tests run it in a task on port 0 and cancel the task to stop it.
public func buildApplication(
    configuration: ServerConfiguration, store: VersionStore
) throws(ServerConfigurationError) -> some ApplicationProtocol {
    try configuration.validate()
    var logger = Logger(label: "flowstore.server")
    logger.logLevel = configuration.logLevel
    let state = ServerState(store: store, configuration: configuration, logger: logger)
    let (router, _) = buildRouter(state: state)
    let port = configuration.port
    return Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [EarlyResponseCloseHandler()], idleTimeout: .init(configuration.idleTimeout))),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "FlowStore"),
        onServerRunning: { channel in
            await configuration.onServerRunning(channel.localAddress?.port ?? port)
        },
        logger: logger)
}

/// The (method, path) pairs the router registers, exactly as passed to it: what the OpenAPI
/// test compares with `spec/openapi.yaml`.
public func registeredRoutes(store: VersionStore) -> [(method: String, path: String)] {
    let configuration = ServerConfiguration(authentication: .disabled)
    let state = ServerState(store: store, configuration: configuration, logger: Logger(label: "flowstore.routes"))
    return buildRouter(state: state).registered
}

func buildRouter(state: ServerState) -> (Router<BasicRequestContext>, registered: [(method: String, path: String)]) {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: FallbackMiddleware(logger: state.logger))
    var registered: [(method: String, path: String)] = []
    for route in RouteTable.routes {
        guard let method = HTTPRequest.Method(route.method) else { continue }
        let endpoint = Endpoint(route: route, state: state)
        router.on(RouterPath(route.path), method: method) { request, context in
            await endpoint.respond(to: request, context: context)
        }
        registered.append((route.method, route.path))
    }
    return (router, registered)
}

/// Turns what the router itself answers (unknown paths, wrong methods) and anything
/// unexpected into JSON in the dialect of the path, so clients never get an HTML or empty error.
struct FallbackMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let dialect = RouteTable.dialect(forPath: request.uri.path)
            let kind: APIError.Kind = error.status == .notFound ? .notFound : .badRequest
            return Endpoint.render(APIError(kind, error.status == .notFound ? "Not Found" : error.status.reasonPhrase),
                                   dialect: dialect, status: error.status.code)
        } catch {
            logger.error("unhandled error", metadata: ["error": "\(error)"])
            return Endpoint.render(APIError(.internal, "internal error"), dialect: RouteTable.dialect(forPath: request.uri.path))
        }
    }
}

/// Builds the application and runs it until SIGINT or SIGTERM, then shuts down gracefully
/// (in-flight requests finish; Hummingbird's ServiceGroup handles the signals).
public func serve(configuration: ServerConfiguration, store: VersionStore) async throws {
    let app = try buildApplication(configuration: configuration, store: store)
    try await app.runService()
}

/// A server running in-process (tests, embedding), stopped with `stop()`.
public struct RunningServer: Sendable {
    /// The bound port (the configured one, or the one picked for port 0).
    public let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>

    /// Shuts down gracefully (the listener closes, in-flight requests finish) and waits.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}

/// Starts the server in a task and returns once it is listening.
public func startServer(configuration: ServerConfiguration, store: VersionStore) async throws -> RunningServer {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    var configuration = configuration
    let report = configuration.onServerRunning
    configuration.onServerRunning = { port in
        continuation.yield(port)
        continuation.finish()
        await report(port)
    }
    let app = try buildApplication(configuration: configuration, store: store)
    let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: app.logger))
    let task = Task {
        defer { continuation.finish() }
        try await group.run()
    }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else {
        let result = await task.result
        if case .failure(let error) = result { throw error }
        throw ServerConfigurationError("the server stopped before it started listening")
    }
    return RunningServer(port: port, group: group, task: task)
}
