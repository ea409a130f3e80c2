import Foundation
import Synchronization
import Testing
import FlowStoreCore
import FlowStoreDirectory
@testable import FlowStoreServer

/// A ref store that counts what requests cost: listings of every path, and the per-flow reads a
/// FlowResponse makes (its log count). Everything else is the on-disk store's.
final class CountingRefs: RefStore, Sendable {
    let base: FileRefStore
    private let pathListings = Atomic<Int>(0)
    private let logCounts = Atomic<Int>(0)
    private let headReadCount = Atomic<Int>(0)
    private let logListingCount = Atomic<Int>(0)

    init(_ base: FileRefStore) { self.base = base }

    var pathWalks: Int { pathListings.load(ordering: .relaxed) }
    var responsesRendered: Int { logCounts.load(ordering: .relaxed) }
    /// Reads of a file's head: what finding a default version costs.
    var headReads: Int { headReadCount.load(ordering: .relaxed) }
    /// Listings of a file's logs: what a walk for a log id costs.
    var logListings: Int { logListingCount.load(ordering: .relaxed) }

    func read(_ name: RefName) throws(StoreError) -> ObjectID? {
        if name.rawValue.hasSuffix("/head") { headReadCount.add(1, ordering: .relaxed) }
        return try base.read(name)
    }
    func compareAndSwap(_ name: RefName, expected: ObjectID?, new: ObjectID) throws(StoreError) {
        try base.compareAndSwap(name, expected: expected, new: new)
    }
    func list(prefix: String) throws(StoreError) -> [(name: RefName, event: ObjectID)] {
        if prefix == "paths/" { pathListings.add(1, ordering: .relaxed) }
        if prefix.hasSuffix("/logs/") { logListingCount.add(1, ordering: .relaxed) }
        return try base.list(prefix: prefix)
    }
    /// The case check of new names lists one folder, not every path: not a walk.
    func children(of prefix: String) throws(StoreError) -> [RefChild] { try base.children(of: prefix) }
    func count(prefix: String) throws(StoreError) -> Int {
        if prefix.contains("/logs/") { logCounts.add(1, ordering: .relaxed) }
        return try base.count(prefix: prefix)
    }
    func listingStamp(prefix: String) -> RefListingStamp? { base.listingStamp(prefix: prefix) }
}

/// Issue 15, item 7: what a read request costs is bounded by what it asks for, not by the
/// store's size.
@Suite("Request cost and memory bounds")
struct RequestBoundsTests {
    /// A store on disk whose refs are counted, with `flows` flows and `agents` agents.
    static func makeStore(flows: Int, agents: Int) throws -> (root: String, store: VersionStore, refs: CountingRefs) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-bounds-\(UUID().uuidString)").path
        let plain = try VersionStore.initialize(at: root)
        let refs = CountingRefs(FileRefStore(directory: "\(root)/refs", tempDirectory: "\(root)/tmp"))
        let store = VersionStore(objects: plain.objects, refs: refs, root: root)
        for i in 0..<flows {
            try store.commit(
                NewVersion(path: try FlowPath(String(format: "flows/f%03d", i)), kind: .flow,
                           definition: try Definition.flow(attributes: ["n": .number(Double(i))])),
                author: "setup")
        }
        for i in 0..<agents {
            let body = try JSONParser.parse("{\"name\": \"agent\(i)\", \(Bodies.greetingNodes)}")
            try store.commit(
                NewVersion(path: try FlowPath("agents/a\(i)"), kind: .agent,
                           definition: try Definition.agent(
                               nodes: body["nodes"], edges: body["edges"],
                               requiredInputVariables: body["required_input_variables"])),
                author: "setup")
        }
        return (root, store, refs)
    }

    static func element(_ value: JSONValue?, _ index: Int) -> JSONValue? {
        guard let items = value?.arrayValue, items.indices.contains(index) else { return nil }
        return items[index]
    }

    static func get(_ port: Int, _ path: String) async throws -> HTTPResult {
        try await RawHTTPClient.send(
            port: port, request: RawHTTPClient.requestBytes(method: "GET", path: path, headers: [], body: nil))
    }

    /// Waits out the racy window: a listing stamp younger than it vouches for nothing.
    static func settle() async throws {
        try await Task.sleep(for: .milliseconds(Int(FileRefStore.racyWindowNanoseconds / 1_000_000) + 50))
    }

    static func serve(_ store: VersionStore) async throws -> RunningServer {
        try await startServer(
            configuration: ServerConfiguration(port: 0, authentication: .disabled, logLevel: .warning), store: store)
    }

    @Test("An unknown fl_ id or workflow number is a lookup, not a walk over every path")
    func unknownIDsDoNotScan() async throws {
        let (root, store, refs) = try Self.makeStore(flows: 30, agents: 3)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let server = try await Self.serve(store)
        defer { Task { await server.stop() } }
        let port = server.port
        // A stamp younger than the racy window vouches for nothing, and under load the misses
        // below could outlast `minInterval` and walk again: wait until it settles.
        try await Self.settle()

        let known = try #require(try store.fileID(at: FlowPath("flows/f007")))
        #expect(try await Self.get(port, "/v5/flows/\(PublicIDs.flow(known))").status == 200)
        let afterFirst = refs.pathWalks
        #expect(afterFirst <= 1)
        for i in 0..<50 {
            let made = "fl_" + String(format: "%024x", 0xdead_0000 + i)
            #expect(try await Self.get(port, "/v5/flows/\(made)").status == 404)
            #expect(try await Self.get(port, "/v5/flows/\(made)/versions").status == 404)
            #expect(try await Self.get(port, "/rest/workflows/\(123_456_789 + i)").status == 404)
            #expect(try await Self.get(port, "/v5/flows/not-an-id-\(i)").status == 404)
        }
        #expect(refs.pathWalks == afterFirst, "made-up ids walked the paths \(refs.pathWalks - afterFirst) times")

        // Another process's changes are seen: a new flow, a moved one, a deleted one.
        let added = try store.commit(
            NewVersion(path: try FlowPath("flows/new"), kind: .flow, definition: try Definition.flow(attributes: ["x": 1])),
            author: "cli")
        #expect(try await Self.get(port, "/v5/flows/\(PublicIDs.flow(added.file))").status == 200)
        try store.moveFile(from: FlowPath("flows/f007"), to: FlowPath("flows/moved"), author: "cli")
        let moved = try await Self.get(port, "/v5/flows/\(PublicIDs.flow(known))")
        #expect(moved.status == 200)
        #expect(moved["path"] == "flows/moved")
        try store.deleteFile(at: FlowPath("flows/moved"), author: "cli")
        #expect(try await Self.get(port, "/v5/flows/\(PublicIDs.flow(known))").status == 404)
        let agent = try #require(try store.fileID(at: FlowPath("agents/a1")))
        #expect(try await Self.get(port, "/rest/workflows/\(PublicIDs.integer(agent))").status == 200)
        // A deleted flow's id, asked again and again, is unknown at no cost once seen deleted.
        let settled = refs.pathWalks
        for _ in 0..<20 { #expect(try await Self.get(port, "/v5/flows/\(PublicIDs.flow(known))").status == 404) }
        #expect(refs.pathWalks == settled)
        // An unknown version id of a known flow does not walk its history either.
        let other = try #require(try store.fileID(at: FlowPath("flows/f001")))
        #expect(try await Self.get(port, "/v5/flows/\(PublicIDs.flow(other))?version_id=flv_\(String(repeating: "0", count: 24))").status == 404)
    }

    @Test("List Flows renders only the page's flows; List Versions is paged")
    func listingsCostThePage() async throws {
        let (root, store, refs) = try Self.makeStore(flows: 40, agents: 4)
        defer { try? FileManager.default.removeItem(atPath: root) }
        for n in 2...25 {
            try store.commit(
                NewVersion(path: try FlowPath("flows/f000"), kind: .flow,
                           definition: try Definition.flow(attributes: ["n": .number(Double(1000 + n))])),
                author: "setup")
        }
        let server = try await Self.serve(store)
        defer { Task { await server.stop() } }
        let port = server.port

        for query in ["?size=5&page=2", "?size=5&page=3&sort_by=created_at&order=desc", "?size=5&sort_by=name"] {
            let before = refs.responsesRendered
            let page = try await Self.get(port, "/v5/flows\(query)")
            #expect(page.status == 200)
            #expect(page["records"]?.arrayValue?.count == 5, "\(query)")
            #expect(page["total"] == 40, "\(query)")
            #expect(refs.responsesRendered - before <= 5, "\(query): rendered \(refs.responsesRendered - before) flows")
        }
        let second = try await Self.get(port, "/v5/flows?size=5&page=2")
        #expect(Self.element(second["records"], 0)?["path"] == "flows/f005")

        let flow = try #require(try store.fileID(at: FlowPath("flows/f000")))
        let all = try await Self.get(port, "/v5/flows/\(PublicIDs.flow(flow))/versions")
        #expect(all["records"]?.arrayValue?.count == 25)
        #expect(all["total"] == nil)  // the documented shape when no paging is asked for
        let before = refs.responsesRendered
        let paged = try await Self.get(port, "/v5/flows/\(PublicIDs.flow(flow))/versions?page=2&size=10")
        #expect(paged.status == 200)
        #expect(refs.responsesRendered - before == 10)
        #expect(paged["records"]?.arrayValue?.count == 10)
        #expect(paged["total"] == 25)
        #expect(Self.element(paged["records"], 0)?["version_id"] == Self.element(all["records"], 10)?["version_id"])
        #expect(try await Self.get(port, "/v5/flows/\(PublicIDs.flow(flow))/versions?size=1001").status == 422)
    }

    @Test("List Flows walks the paths once per change of the set of files, not once per request")
    func listingsReadNoRefsWhileFilesStayPut() async throws {
        let (root, store, refs) = try Self.makeStore(flows: 30, agents: 3)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let server = try await Self.serve(store)
        defer { Task { await server.stop() } }
        let port = server.port
        // A stamp younger than the racy window vouches for nothing: wait until it settles.
        try await Self.settle()

        #expect(try await Self.get(port, "/v5/flows?size=5")["total"] == 30)
        let afterFirst = refs.pathWalks
        for query in ["?size=5&page=3", "?size=5&sort_by=name&order=desc", "?name=f01", "?size=100"] {
            #expect(try await Self.get(port, "/v5/flows\(query)").status == 200)
        }
        #expect(refs.pathWalks == afterFirst, "listings walked the paths \(refs.pathWalks - afterFirst) times")

        // Another process's create, move and delete are each seen by the next listing.
        try store.commit(
            NewVersion(path: try FlowPath("flows/zz"), kind: .flow, definition: try Definition.flow(attributes: ["x": 1])),
            author: "cli")
        #expect(try await Self.get(port, "/v5/flows?size=100")["total"] == 31)
        try store.moveFile(from: FlowPath("flows/zz"), to: FlowPath("flows/zy"), author: "cli")
        let moved = try await Self.get(port, "/v5/flows?size=100")
        #expect(moved["records"]?.arrayValue?.compactMap { $0["path"]?.stringValue }.filter { $0.hasPrefix("flows/z") } == ["flows/zy"])
        try store.deleteFile(at: FlowPath("flows/zy"), author: "cli")
        #expect(try await Self.get(port, "/v5/flows?size=100")["total"] == 30)

        // Settled again: no more walks.
        try await Self.settle()
        _ = try await Self.get(port, "/v5/flows")
        let settled = refs.pathWalks
        for _ in 0..<10 { _ = try await Self.get(port, "/v5/flows?page=2&size=3") }
        #expect(refs.pathWalks == settled)
    }

    @Test("List Flows sorted by time or filtered by author reads the flows' heads once per write, not once per request")
    func sortedListingsReadNoHeadsWhileNothingMoves() async throws {
        let (root, store, refs) = try Self.makeStore(flows: 30, agents: 0)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let server = try await Self.serve(store)
        defer { Task { await server.stop() } }
        let port = server.port
        try await Self.settle()

        let first = try await Self.get(port, "/v5/flows?size=3&sort_by=created_at&order=desc")
        #expect(first["records"]?.arrayValue?.compactMap { $0["path"]?.stringValue } == ["flows/f029", "flows/f028", "flows/f027"])
        let afterFirst = refs.headReads
        #expect(afterFirst >= 30)
        for query in ["sort_by=updated_at&page=2&size=5", "sort_by=created_at&name=f01", "user_filter=setup&size=100"] {
            #expect(try await Self.get(port, "/v5/flows?\(query)").status == 200)
        }
        #expect(refs.headReads == afterFirst, "sorted listings read \(refs.headReads - afterFirst) heads")

        // Another process's commit to an old flow is seen by the next listing.
        try store.commit(
            NewVersion(path: try FlowPath("flows/f003"), kind: .flow, definition: try Definition.flow(attributes: ["n": 99])),
            author: "cli")
        let moved = try await Self.get(port, "/v5/flows?size=1&sort_by=updated_at&order=desc")
        #expect(moved["records"]?.arrayValue?.first?["path"]?.stringValue == "flows/f003")
        #expect(try await Self.get(port, "/v5/flows?user_filter=cli")["total"] == 1)
    }

    @Test("A log id a client chose is found by its ref, not by walking every flow's logs")
    func clientChosenLogIDsAreLookups() async throws {
        let (root, store, refs) = try Self.makeStore(flows: 20, agents: 0)
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A log recorded without a `logids/` ref, as an older FlowStore did.
        let old = try store.requireFile(at: FlowPath("flows/f007"))
        try store.recordLog(file: old, version: try store.head(of: FlowPath("flows/f007")), logID: "old-log",
                            data: JSONObject(), author: "setup")
        let server = try await Self.serve(store)
        defer { Task { await server.stop() } }
        let port = server.port
        func send(_ method: String, _ path: String, _ body: String) async throws -> HTTPResult {
            try await RawHTTPClient.send(port: port, request: RawHTTPClient.requestBytes(
                method: method, path: path, headers: [("Content-Type", "application/json")], body: Array(body.utf8)))
        }

        #expect(try await send("POST", "/v5/flows/log", #"{"path": "flows/f012", "log_id": "Client-1", "output": "a"}"#).status == 200)
        #expect(try await send("POST", "/v5/flows/log", #"{"path": "flows/f013", "log_id": "client-1", "output": "b"}"#).status == 200)
        let before = refs.logListings
        let patched = try await send("PATCH", "/v5/flows/logs/Client-1", #"{"output": "a2"}"#)
        #expect(patched.status == 200)
        #expect(patched["output"] == "a2")
        #expect(patched["flow"]?["path"]?.stringValue == "flows/f012")
        #expect(try await send("PATCH", "/v5/flows/logs/client-1", #"{"output": "b2"}"#)["flow"]?["path"]?.stringValue == "flows/f013")
        #expect(refs.logListings == before, "a chosen id walked \(refs.logListings - before) log listings")

        // Unknown ids: the first miss walks once (finding logs recorded without the ref); the
        // misses after it, within the interval, walk nothing.
        #expect(try await send("PATCH", "/v5/flows/logs/old-log", #"{"output": "after"}"#)["output"] == "after")
        let walked = refs.logListings
        #expect(walked - before >= 20)
        for i in 0..<5 {
            #expect(try await send("PATCH", "/v5/flows/logs/made-up-\(i)", #"{"output": "x"}"#).status == 404)
        }
        #expect(refs.logListings == walked)
        // The id refs are store data like any other: verify checks them, gc keeps their logs.
        #expect(try store.refs.list(prefix: "logids/").count == 2)
        #expect(try store.verify().problems.isEmpty)
    }

    @Test("A body of millions of tiny values is refused with 413 naming the limit, as it is parsed")
    func bodyValueLimit() async throws {
        try await TestServer.with { s in
            let count = ServerConfiguration.defaultMaxBodyValues + 10
            let body = "{\"path\": \"x\", \"attributes\": {\"a\": [" + Array(repeating: "0", count: count).joined(separator: ",") + "]}}"
            let r = try await s.request("POST", "/v5/flows", json: body)
            #expect(r.status == 413)
            #expect(r.text.contains("\(ServerConfiguration.defaultMaxBodyValues) JSON values"))
            let pl = try await s.request("POST", "/rest/workflows", json: body)
            #expect(pl.status == 413)
            // Below the limit the same shape is accepted.
            let small = "{\"path\": \"x\", \"attributes\": {\"a\": [" + Array(repeating: "0", count: 1000).joined(separator: ",") + "]}}"
            #expect(try await s.request("POST", "/v5/flows", json: small).status == 200)
        }
    }
}
