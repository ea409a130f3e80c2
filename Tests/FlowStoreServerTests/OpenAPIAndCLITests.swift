import Foundation
import Synchronization
import Testing
import FlowStoreCLI
import FlowStoreCore
@testable import FlowStoreServer

@Suite("spec/openapi.yaml and the CLI's view of what the server wrote")
struct OpenAPIAndCLITests {
    static let specPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("spec/openapi.yaml").path

    /// The (METHOD, path) pairs under `paths:`: a path is `  /…:` at two spaces, a method
    /// `    get:` at four (the document's header says to keep this shape).
    static func documentedRoutes() throws -> Set<String> {
        let text = try String(contentsOfFile: specPath, encoding: .utf8)
        var routes = Set<String>()
        var inPaths = false
        var currentPath: String?
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" "), !line.isEmpty, !line.hasPrefix("#") {
                inPaths = line == "paths:"
                currentPath = nil
                continue
            }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                currentPath = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"), let currentPath {
                let method = String(line.dropFirst(4).dropLast())
                if methods.contains(method) { routes.insert("\(method.uppercased()) \(currentPath)") }
            }
        }
        return routes
    }

    @Test("The OpenAPI document lists exactly the routes the router registers")
    func openAPIMatchesRouter() throws {
        let store = VersionStore(objects: NoObjects(), refs: NoRefs())
        let registered = registeredRoutes(store: store).map { "\($0.method) \($0.path)" }
        #expect(registered.count == Set(registered).count, "no route is registered twice")
        #expect(registered.count == RouteTable.routes.count)
        let documented = try Self.documentedRoutes()
        #expect(!documented.isEmpty)
        #expect(Set(registered).subtracting(documented).isEmpty, "served but undocumented")
        #expect(documented.subtracting(Set(registered)).isEmpty, "documented but not served")
        let text = try String(contentsOfFile: Self.specPath, encoding: .utf8)
        #expect(text.hasPrefix("openapi: 3.1"))
        for route in RouteTable.routes {
            #expect(text.contains("operationId: \(route.operation.rawValue)\n"), "operationId for \(route.operation)")
        }
    }

    @Test("Versions, labels and deployments written over HTTP show in `flowstore log`, `audit` and `verify`")
    func cliSeesServerWrites() async throws {
        try await TestServer.with { s in
            let v1 = try await s.request("POST", "/v5/flows", json: Bodies.flow(path: "Shared/Flow", versionName: "first", description: "Initial"))
            let flowID = try #require(v1["id"]?.stringValue)
            let v1ID = try #require(v1["version_id"]?.stringValue)
            let envs = try await s.request("GET", "/v5/flows/\(flowID)/environments")
            let staging = try #require(envs.json?.arrayValue?.first { $0["name"] == "staging" }?["id"]?.stringValue)
            #expect(try await s.request("POST", "/v5/flows/\(flowID)/environments/\(staging)?version_id=\(v1ID)").status == 200)
            #expect(try await s.request("POST", "/rest/workflows", json: Bodies.routingAgent(extra: #", "release_labels": ["production"], "commit_message": "hello""#)).status == 201)

            let log = try await runCLI(["log", "Shared/Flow", "--json", "--store", s.root])
            #expect(log.status == 0, "\(log.stderr)")
            let versions = try #require(try JSONParser.parse(log.stdout).arrayValue, "\(log)")
            #expect(versions.count == 1)
            #expect(versions.first?["name"] == "first")
            #expect(versions.first?["message"] == "Initial")
            #expect(versions.first?["author"] == "Ada Lovelace <ada@example.com>")
            #expect(versions.first?["version_id"]?.stringValue?.hasPrefix(String(v1ID.dropFirst(4))) == true)

            let agent = try await runCLI(["log", "routing-agent", "--json", "--store", s.root])
            #expect(try JSONParser.parse(agent.stdout).arrayValue?.first?["message"] == "hello")

            let audit = try await runCLI(["audit", "--store", s.root])
            #expect(audit.status == 0, "\(audit.stderr)")
            #expect(audit.stdout.contains("Ada Lovelace"))
            let verify = try await runCLI(["verify", "--store", s.root])
            #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        }
    }

    struct CLIRun {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func runCLI(_ arguments: [String]) async throws -> CLIRun {
        let out = Mutex<[UInt8]>([])
        let err = Mutex<[UInt8]>([])
        let console = Console(
            environment: ["FLOWSTORE_AUTHOR": "cli-test"], workingDirectory: FileManager.default.currentDirectoryPath,
            stdout: { bytes in out.withLock { $0 += bytes } }, stderr: { bytes in err.withLock { $0 += bytes } })
        let status = await FlowStoreCommand.run(arguments: arguments, console: console)
        return CLIRun(
            status: status, stdout: String(decoding: out.withLock { $0 }, as: UTF8.self),
            stderr: String(decoding: err.withLock { $0 }, as: UTF8.self))
    }
}

/// Backends that are never touched: `registeredRoutes` only builds the router.
struct NoObjects: ObjectStore {
    func get(_ id: ObjectID) throws(StoreError) -> [UInt8] { throw .objectNotFound(id) }
    func put(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID { ObjectID(hashing: canonicalBytes) }
    func has(_ id: ObjectID) throws(StoreError) -> Bool { false }
    func list(_ body: (ObjectID) throws(StoreError) -> Void) throws(StoreError) {}
    func ids(withPrefix prefix: String) throws(StoreError) -> [ObjectID] { [] }
    func strayEntries() throws(StoreError) -> [String] { [] }
    func storedAt(_ id: ObjectID) throws(StoreError) -> Int? { nil }
    func remove(_ id: ObjectID) throws(StoreError) {}
}

struct NoRefs: RefStore {
    func read(_ name: RefName) throws(StoreError) -> ObjectID? { nil }
    func compareAndSwap(_ name: RefName, expected: ObjectID?, new: ObjectID) throws(StoreError) {}
    func list(prefix: String) throws(StoreError) -> [(name: RefName, event: ObjectID)] { [] }
}
