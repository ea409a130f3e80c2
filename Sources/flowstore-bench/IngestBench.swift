import FlowStoreCore
import FlowStoreDirectory
import Foundation

/// Reads one body file the way `flowstore put` does and makes the version it would commit.
func newVersion(fromBody bytes: [UInt8]) throws -> NewVersion {
    let body = try SeedBody.parse(try JSONParser.parse(bytes))
    guard let pathText = body.path else { fail("corpus body without a path") }
    var labels: [RefLabel] = []
    for text in body.labels { labels.append(try RefLabel(text)) }
    return NewVersion(
        path: try FlowPath(pathText), kind: body.kind, definition: body.definition, name: body.versionName,
        message: body.message, metadata: body.metadata, labels: labels, reuse: .head)
}

/// Bulk ingest: N versions into an empty store with `VersionStore.batch` (durable: syncfs
/// barriers), beside `git hash-object -w --stdin-paths` writing the same canonical bytes into a
/// fresh repository, and beside FlowStore's one-commit-at-a-time path. Returns the store.
func ingestBench(_ options: Options, work: String, report: Report) throws -> String? {
    let n = options.ingestVersions
    guard n > 0 else { return nil }
    report.section("Bulk ingest: \(grouped(n)) versions (canonical bodies of 1–16 KB) over \(grouped(options.ingestFiles)) flows and agents")
    let corpus = work + "/ingest-corpus"
    try makeDirectory(corpus)
    let names = (0..<n).map { String(format: "%07d.json", $0) }
    // Setup, not measured: both cores write the corpus (each document is a function of its
    // index and the seed, so the files are the same however the work is split).
    let sizes = SizeTable(count: n)
    let generation = measure {
        let parts = 2
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            for i in stride(from: part, to: n, by: parts) {
                let pretty = Corpus.document(i, paths: options.ingestFiles, minSize: 1_000, maxSize: 16_000, seed: options.seed &+ 1)
                guard let canonical = try? CanonicalJSON.canonicalize(pretty), (try? writeFile("\(corpus)/\(names[i])", canonical)) != nil
                else { fail("cannot write the ingest corpus") }
                sizes.set(i, canonical.count)
            }
        }
    }
    let totalBytes = sizes.total
    try writeFile(work + "/ingest-list.txt", Array(names.map { "\(corpus)/\($0)" }.joined(separator: "\n").utf8))
    try writeFile(work + "/ingest-relative.txt", Array(names.joined(separator: "\n").utf8))
    note("corpus: \(grouped(n)) files, \(megabytes(totalBytes)), generated in \(fmt(generation)) s")
    syncAll()

    // FlowStore, batched and durable: read, parse, validate, canonicalise, hash, write.
    let storePath = work + "/ingest-store"
    let store = try VersionStore.initialize(at: storePath)
    let probeFlowStore = settleFileSystem(work, before: "FlowStore import")
    var flowstoreSeconds = 0.0
    flowstoreSeconds = try measure {
        let batch = try store.batch(author: "bench", keepResults: false)
        for name in names {
            guard let bytes = readFile("\(corpus)/\(name)") else { fail("cannot read \(name)") }
            try batch.add(try newVersion(fromBody: bytes))
        }
        try batch.finish()
    }
    let flowstoreRate = Double(n) / flowstoreSeconds
    report.add("ingest", "FlowStore import (batch, durable: syncfs barriers)", "\(fmt(flowstoreRate, 0)) versions/s",
               "\(fmt(flowstoreSeconds)) s, \(fmt(Double(totalBytes) / 1e6 / flowstoreSeconds)) MB/s; 3 objects per version; fs probe \(fmt(probeFlowStore, 0)) µs/create")
    syncAll()

    // FlowStore, one durable commit at a time (about ten fsyncs each), on a sample.
    let sample = min(n, options.sequentialVersions)
    let sequentialStore = try VersionStore.initialize(at: work + "/ingest-sequential")
    let sequentialSeconds = try measure {
        for name in names.prefix(sample) {
            guard let bytes = readFile("\(corpus)/\(name)") else { fail("cannot read \(name)") }
            _ = try sequentialStore.commit(try newVersion(fromBody: bytes), author: "bench")
        }
    }
    report.add("ingest", "FlowStore commit, one at a time (durable)", "\(fmt(Double(sample) / sequentialSeconds, 0)) versions/s",
               "\(grouped(sample)) versions, \(fmt(1000 * sequentialSeconds / Double(sample), 2)) ms each")

    guard which("git") != nil else {
        note("git comparison skipped: git not found")
        report.target("bulk ingest vs git hash-object", goal: "≥ 1×", measured: "not run (no git)", met: nil)
        return storePath
    }
    let version = (try? shell("git --version").output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? "git"
    // git as installed: loose objects are zlib-compressed and, by default, not fsynced.
    let gitDefault = work + "/git-default"
    try shell("git init -q \"\(gitDefault)\"")
    let probeGit = settleFileSystem(work, before: "git hash-object")
    let plain = try shell("git -C \"\(gitDefault)\" hash-object -w --stdin-paths < \"\(work)/ingest-list.txt\" > /dev/null")
    guard plain.status == 0 else { fail("git hash-object failed") }
    let gitRate = Double(n) / plain.seconds
    report.add("ingest", "\(version) hash-object -w --stdin-paths (default: no fsync)", "\(fmt(gitRate, 0)) objects/s",
               "\(fmt(plain.seconds)) s; fs probe \(fmt(probeGit, 0)) µs/create; FlowStore is \(fmt(flowstoreRate / gitRate, 2))×")
    syncAll()

    // git durable, its batch mode: update-index --add (an ODB transaction) with core.fsyncMethod=batch.
    let gitBatch = work + "/git-batch"
    try shell("git init -q --bare \"\(gitBatch)\"")
    let probeGitBatch = settleFileSystem(work, before: "git update-index")
    let batched = try shell(
        "git --git-dir=\"\(gitBatch)\" --work-tree=\"\(corpus)\" -c core.fsync=loose-object -c core.fsyncMethod=batch "
            + "update-index --add --stdin < \"\(work)/ingest-relative.txt\"")
    let gitBatchRate = Double(n) / batched.seconds
    if batched.status == 0 {
        report.add("ingest", "git update-index --add, core.fsyncMethod=batch (durable)", "\(fmt(gitBatchRate, 0)) objects/s",
                   "\(fmt(batched.seconds)) s; fs probe \(fmt(probeGitBatch, 0)) µs/create; FlowStore is \(fmt(flowstoreRate / gitBatchRate, 2))×")
    }

    // git durable without a transaction: hash-object fsyncs every loose object.
    let gitSync = work + "/git-fsync"
    try shell("git init -q \"\(gitSync)\"")
    try shell("head -n \(sample) \"\(work)/ingest-list.txt\" > \"\(work)/ingest-sample.txt\"")
    let synced = try shell(
        "git -C \"\(gitSync)\" -c core.fsync=loose-object hash-object -w --stdin-paths < \"\(work)/ingest-sample.txt\" > /dev/null")
    report.add("ingest", "git hash-object -w, core.fsync=loose-object (durable)", "\(fmt(Double(sample) / synced.seconds, 0)) objects/s",
               "\(grouped(sample)) objects, \(fmt(1000 * synced.seconds / Double(sample), 2)) ms each")

    let ratio = flowstoreRate / gitRate
    report.target("bulk ingest vs git hash-object (default)", goal: "≥ 1×", measured: "\(fmt(ratio, 2))×", met: ratio >= 1)
    if batched.status == 0 {
        let r = flowstoreRate / gitBatchRate
        report.target("bulk ingest vs git batch fsync (durable)", goal: "≥ 1×", measured: "\(fmt(r, 2))×", met: r >= 1)
    }
    return storePath
}

/// Per-document sizes written from both generator threads (each index by one thread only).
final class SizeTable: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<Int>
    init(count: Int) { storage = .allocate(capacity: count); storage.initialize(repeating: 0) }
    deinit { storage.deallocate() }
    func set(_ index: Int, _ value: Int) { storage[index] = value }
    var total: Int { storage.reduce(0, +) }
}
