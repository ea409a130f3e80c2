import FlowStoreCore
import FlowStoreDirectory
import FlowStorePostgres
import FlowStoreServer
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `flowstore-bench --serve-child STORE`: the real server (`buildApplication`, every route of
/// `RouteTable`, no extra route) and, beside it in the same process, a one-route Hummingbird app
/// answering `GET /hello` — the ceiling Get Flow is compared with. Prints `ports FLOW HELLO`
/// once both listen, then serves until SIGTERM.
func serveChild(_ args: [String]) async {
    guard let path = args.first else { return }
    do {
        let store = path.hasPrefix("postgres") ? try PostgresBackend.open(url: path).versionStore() : try VersionStore.open(at: path)
        let ports = PortBox()
        let flow = try buildApplication(
            configuration: ServerConfiguration(
                host: "127.0.0.1", port: 0, authentication: .disabled, logLevel: .error,
                onServerRunning: { port in ports.set(flow: port) }),
            store: store)
        let router = Router()
        router.get("/hello") { _, _ in "hello" }
        var logger = Logger(label: "flowstore-bench.hello")
        logger.logLevel = .error
        let hello = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "hello"),
            onServerRunning: { channel in ports.set(hello: channel.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [flow, hello], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    } catch {
        FileHandle.standardError.write(Data("serve-child: \(error)\n".utf8))
    }
}

/// Prints the ports line once both apps are listening.
final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var flow: Int?
    private var hello: Int?

    func set(flow port: Int) { lock.withLock { flow = port }; announce() }
    func set(hello port: Int) { lock.withLock { hello = port }; announce() }

    private func announce() {
        lock.withLock {
            guard let flow, let hello else { return }
            print("ports \(flow) \(hello)")
            fflush(nil)
        }
    }
}

struct WrkResult {
    var requestsPerSecond: Double
    var p99Milliseconds: Double
    var errors: Int
    var requests: Int
}

func runWrk(_ url: String, seconds: Int, connections: Int, script: String? = nil) throws -> WrkResult? {
    let scriptArgument = script.map { "-s \"\($0)\" " } ?? ""
    let result = try shell("wrk -t2 -c\(connections) -d\(seconds)s --latency --timeout 10s \(scriptArgument)\"\(url)\"")
    guard result.status == 0 else { return nil }
    var rps = 0.0, p99 = 0.0, errors = 0, requests = 0
    for line in result.output.split(separator: "\n") {
        let parts = line.split(whereSeparator: \.isWhitespace)
        if line.hasPrefix("Requests/sec:"), let v = parts.last.flatMap({ Double($0) }) { rps = v }
        if parts.first == "99%", let text = parts.last { p99 = milliseconds(String(text)) }
        if line.contains("Non-2xx or 3xx responses:"), let v = parts.last.flatMap({ Int($0) }) { errors += v }
        if line.contains("Socket errors:") { errors += parts.compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }.reduce(0, +) }
        if line.contains("requests in"), let v = parts.first.flatMap({ Int($0) }) { requests = v }
    }
    return WrkResult(requestsPerSecond: rps, p99Milliseconds: p99, errors: errors, requests: requests)
}

/// wrk prints latencies as `812.00us`, `1.23ms` or `1.01s`.
func milliseconds(_ text: String) -> Double {
    if text.hasSuffix("us") { return (Double(text.dropLast(2)) ?? 0) / 1000 }
    if text.hasSuffix("ms") { return Double(text.dropLast(2)) ?? 0 }
    if text.hasSuffix("s") { return (Double(text.dropLast(1)) ?? 0) * 1000 }
    return Double(text) ?? 0
}

/// Get Flow and Upsert Flow over loopback with wrk at 64 connections, beside a hello-world
/// route in the same binary, and the server's peak RSS under that load.
/// What the directory backend's server rows measured, for PostgreSQL's rows to be set beside.
struct ServerFigures {
    var getPerSecond: Double
    var upsertPerSecond: Double?
}

@discardableResult
func serverBench(_ options: Options, work: String, report: Report) async throws -> ServerFigures? {
    report.section("Server: wrk, \(options.wrkConnections) connections, \(options.wrkSeconds) s per run, loopback (wrk shares the 2 cores)")
    guard which("wrk") != nil else {
        note("server benchmark skipped: wrk not found (apt-get install wrk; compare.sh does it)")
        report.target("Get Flow vs hello-world ceiling", goal: "≥ 50%", measured: "not run (no wrk)", met: nil)
        return nil
    }
    // A store with 50 flows of realistic size, 5 versions each.
    let storePath = work + "/server-store"
    let store = try VersionStore.initialize(at: storePath)
    var flowFile: ObjectID?
    let batch = try store.batch(author: "bench", keepResults: true)
    for i in 0..<250 {
        let body = Corpus.document(i * 5 % 250, paths: 50, minSize: 2_000, maxSize: 8_000, seed: options.seed &+ UInt64(i))
        let version = try newVersion(fromBody: body)
        guard version.kind == .flow else { continue }
        try batch.add(version)
    }
    let results = try batch.finish()
    flowFile = results.first?.file
    guard let flowFile else { fail("no flow in the server store") }
    let flowID = "fl_" + flowFile.hex.prefix(24)

    guard let server = try ServeChild(store: storePath) else { return nil }
    let child = server.process
    defer { server.stop() }
    let flowPort = server.flowPort, helloPort = server.helloPort
    let luaPath = try writeUpsertScript(work)

    let base = "http://127.0.0.1"
    let seconds = options.wrkSeconds, connections = options.wrkConnections
    // Warm-up, then hello and Get Flow back to back.
    _ = try runWrk("\(base):\(helloPort)/hello", seconds: 1, connections: connections)
    _ = try runWrk("\(base):\(flowPort)/v5/flows/\(flowID)", seconds: 1, connections: connections)
    guard let hello = try runWrk("\(base):\(helloPort)/hello", seconds: seconds, connections: connections),
        let get = try runWrk("\(base):\(flowPort)/v5/flows/\(flowID)", seconds: seconds, connections: connections)
    else {
        note("wrk failed")
        return nil
    }
    // Upserts create files (objects, ref temps, lock files): measured, like the ingest rows,
    // once file creation costs what it normally does (see `settleFileSystem`).
    let probe = settleFileSystem(work, before: "Upsert Flow")
    let upsert = try runWrk("\(base):\(flowPort)/v5/flows", seconds: seconds, connections: connections, script: luaPath)
    let rss = peakRSS(pid: child.processIdentifier) ?? 0

    report.add("server", "hello-world route, same binary (ceiling)", "\(fmt(hello.requestsPerSecond, 0)) req/s",
               "p99 \(fmt(hello.p99Milliseconds, 2)) ms, \(hello.errors) errors")
    let ratio = get.requestsPerSecond / max(1, hello.requestsPerSecond)
    report.add("server", "Get Flow GET /v5/flows/{id}", "\(fmt(get.requestsPerSecond, 0)) req/s",
               "p99 \(fmt(get.p99Milliseconds, 2)) ms, \(get.errors) errors; \(fmt(100 * ratio))% of the ceiling")
    report.target("Get Flow vs hello-world ceiling", goal: "≥ 50%", measured: "\(fmt(100 * ratio))%", met: ratio >= 0.5 && get.errors == 0)
    if let upsert {
        report.add("server", "Upsert Flow POST /v5/flows (new version each)", "\(fmt(upsert.requestsPerSecond, 0)) req/s",
                   "p99 \(fmt(upsert.p99Milliseconds, 2)) ms, \(upsert.errors) errors; each a durable commit; fs probe \(fmt(probe, 0)) µs/create")
        report.target("Upsert Flow durable writes/s", goal: "≥ 5,000/s", measured: "\(fmt(upsert.requestsPerSecond, 0))/s",
                      met: upsert.requestsPerSecond >= 5000 && upsert.errors == 0)
    }
    report.add("server", "server peak RSS (VmHWM) after the runs above", megabytes(rss), "")
    return ServerFigures(getPerSecond: get.requestsPerSecond, upsertPerSecond: upsert?.requestsPerSecond)
}

/// `flowstore-bench --serve-child STORE` as a child process, once it has said its ports.
struct ServeChild {
    let process: Process
    let flowPort: Int
    let helloPort: Int

    /// Nil (with a note) when the child did not start within 30 s.
    init?(store: String) throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["--serve-child", store]
        let pipe = Pipe()
        child.standardOutput = pipe
        try child.run()
        var buffer = ""
        let deadline = now() + 30
        while !buffer.contains("\n"), now() < deadline {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { break }
            buffer += String(decoding: data, as: UTF8.self)
        }
        let parts = buffer.split(whereSeparator: \.isWhitespace)
        guard parts.count >= 3, parts[0] == "ports", let flowPort = Int(parts[1]), let helloPort = Int(parts[2]) else {
            note("server child did not start: \(buffer)")
            if child.isRunning { child.terminate() }
            return nil
        }
        process = child
        self.flowPort = flowPort
        self.helloPort = helloPort
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

/// The wrk script of the Upsert Flow rows.
func writeUpsertScript(_ work: String) throws -> String {
    let luaPath = work + "/upsert.lua"
    try writeFile(luaPath, Array("""
        -- Each request upserts a new version (a unique template) of one of 256 flows.
        local counter = 0
        local id = 0
        local threads = 0
        setup = function(thread)
          thread:set("id", threads)
          threads = threads + 1
        end
        request = function()
          counter = counter + 1
          local path = "bench/upsert/flow-" .. id .. "-" .. (counter % 128)
          local body = '{"path":"' .. path .. '","attributes":{"prompt":{"model":"gpt-4o","temperature":0.4,'
            .. '"template":"Réponds à {{question}} — variante ' .. counter .. ' ✅"}}}'
          return wrk.format("POST", "/v5/flows", {["Content-Type"] = "application/json"}, body)
        end
        """.utf8))
    return luaPath
}
