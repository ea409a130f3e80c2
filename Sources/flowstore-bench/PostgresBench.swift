import Dispatch
import FlowStoreCore
import FlowStoreDirectory
import FlowStorePostgres
import Foundation
import Synchronization

/// The PostgreSQL backend beside the directory one, in the same run: a bulk import of the same
/// versions into each, then two servers on one database (issue 11's targets: Upsert Flow over
/// two servers ≥ 3,000 durable/s; Get Flow ≥ 50% of the directory backend's figure).
///
/// Needs `FLOWSTORE_BENCH_POSTGRES`, an admin URL of a server with `fsync` on (compare.sh starts
/// a durable throwaway cluster); a database of its own is made and dropped.
func postgresBench(_ options: Options, work: String, directory: ServerFigures?, report: Report) throws {
    report.section("PostgreSQL backend (a local server, fsync on; two flowstore servers on one database)")
    guard let admin = ProcessInfo.processInfo.environment["FLOWSTORE_BENCH_POSTGRES"], !admin.isEmpty else {
        note("postgres section skipped: FLOWSTORE_BENCH_POSTGRES is unset (compare.sh starts a server)")
        report.target("PostgreSQL Upsert Flow over two servers", goal: "≥ 3,000/s", measured: "not run (no server)", met: nil)
        return
    }
    guard let slash = admin.range(of: "/", options: .backwards), admin[..<slash.lowerBound].contains("@") else {
        fail("FLOWSTORE_BENCH_POSTGRES must be a URL ending in /DATABASE")
    }
    let name = "flowstore_bench_\(getpid())"
    let url = admin[..<slash.lowerBound] + "/" + name
    _ = try shell("psql \"\(admin)\" -qc 'DROP DATABASE IF EXISTS \(name)' -c \"CREATE DATABASE \(name) TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'\"")
    defer { _ = try? shell("psql \"\(admin)\" -qc 'DROP DATABASE IF EXISTS \(name) WITH (FORCE)'") }

    // Bulk import: the same versions, as one `flowstore import` batch, into each backend.
    let count = 5_000
    let versions = try (0..<count).map { i in
        try newVersion(fromBody: Corpus.document(i, paths: 1_000, minSize: 1_000, maxSize: 8_000, seed: options.seed &+ 7))
    }
    let directoryStore = try VersionStore.initialize(at: work + "/pg-compare-store")
    let postgresStore = try PostgresBackend.initialize(url: String(url)).versionStore()
    func importRate(_ store: VersionStore) throws -> Double {
        let start = now()
        let batch = try store.batch(author: "bench")
        for version in versions { try batch.add(version) }
        _ = try batch.finish()
        return Double(count) / (now() - start)
    }
    let directoryRate = try importRate(directoryStore)
    let postgresRate = try importRate(postgresStore)
    report.add("postgres", "bulk import, \(count) versions, one batch (durable)", "\(fmt(postgresRate, 0)) versions/s",
               "directory backend, same versions: \(fmt(directoryRate, 0)) versions/s (\(fmt(postgresRate / directoryRate, 2))×)")

    guard which("wrk") != nil else {
        note("postgres server rows skipped: wrk not found")
        return
    }
    guard let flow = versions.first(where: { $0.kind == .flow }) else { fail("no flow in the corpus") }
    let flowID = "fl_" + (try postgresStore.fileID(at: flow.path).map { String($0.hex.prefix(24)) } ?? "")
    guard let a = try ServeChild(store: String(url)), let b = try ServeChild(store: String(url)) else { return }
    defer {
        a.stop()
        b.stop()
    }
    let base = "http://127.0.0.1"
    let seconds = options.wrkSeconds, connections = options.wrkConnections
    _ = try runWrk("\(base):\(a.flowPort)/v5/flows/\(flowID)", seconds: 1, connections: connections)
    guard let get = try runWrk("\(base):\(a.flowPort)/v5/flows/\(flowID)", seconds: seconds, connections: connections) else {
        note("wrk failed")
        return
    }
    let getNote = directory.map { "\(fmt(100 * get.requestsPerSecond / max(1, $0.getPerSecond)))% of the directory backend's \(fmt($0.getPerSecond, 0)) req/s in this run" } ?? "directory server rows not run"
    report.add("postgres", "Get Flow GET /v5/flows/{id}, one server", "\(fmt(get.requestsPerSecond, 0)) req/s",
               "p99 \(fmt(get.p99Milliseconds, 2)) ms, \(get.errors) errors; \(getNote)")
    if let directory {
        let ratio = get.requestsPerSecond / max(1, directory.getPerSecond)
        report.target("PostgreSQL Get Flow vs directory backend", goal: "≥ 50%", measured: "\(fmt(100 * ratio))%", met: ratio >= 0.5 && get.errors == 0)
    }

    // Upserts: half the connections on each server, on the same flows, at once.
    let script = try writeUpsertScript(work)
    let half = max(1, connections / 2)
    let results = Mutex<[WrkResult?]>([])
    let ports = [a.flowPort, b.flowPort]
    DispatchQueue.concurrentPerform(iterations: 2) { i in
        let port = ports[i]
        let result = try? runWrk("\(base):\(port)/v5/flows", seconds: seconds, connections: half, script: script)
        results.withLock { $0.append(result ?? nil) }
    }
    let both = results.withLock { $0 }.compactMap { $0 }
    guard both.count == 2 else {
        note("wrk failed on the upserts")
        return
    }
    let total = both.map(\.requestsPerSecond).reduce(0, +)
    let errors = both.map(\.errors).reduce(0, +)
    let upsertNote = directory?.upsertPerSecond.map { "directory backend, one server, \(connections) connections: \(fmt($0, 0)) req/s" } ?? ""
    report.add("postgres", "Upsert Flow POST /v5/flows, \(half)+\(half) connections on two servers", "\(fmt(total, 0)) req/s",
               "p99 \(fmt(both.map(\.p99Milliseconds).max() ?? 0, 2)) ms, \(errors) errors; each a durable commit; \(upsertNote)")
    report.target("PostgreSQL Upsert Flow over two servers", goal: "≥ 3,000/s", measured: "\(fmt(total, 0))/s", met: total >= 3000 && errors == 0)
    let verify = try postgresStore.verify()
    report.add("postgres", "verify after the runs", verify.problems.isEmpty ? "ok" : "\(verify.problems.count) problems",
               "\(verify.refsChecked) refs")
}
