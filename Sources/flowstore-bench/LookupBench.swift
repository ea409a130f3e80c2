import FlowStoreCore
import FlowStoreDirectory
import Foundation

/// A store of `versions` versions, `perFile` per file, built with the batch path: each file's
/// middle version is labelled `production`, its head `staging`, and `development` is deployed
/// to the version at four fifths (for the first 400 files). Files live in 100 folders, so the
/// ref directories grow with the store as a real one's would.
func buildLookupStore(
    at path: String, versions: Int, perFile: Int = 50, seed: UInt64
) throws -> (store: VersionStore, files: [FlowPath], seconds: Double) {
    let fileCount = max(1, versions / perFile)
    let store = try VersionStore.initialize(at: path)
    var files: [FlowPath] = []
    for f in 0..<fileCount { files.append(try FlowPath("lookup/team-\(f % 100)/flow-\(f)")) }
    let production = try RefLabel("production"), staging = try RefLabel("staging")
    var rng = SeededRandom(seed: seed)
    let seconds = try measure {
        let batch = try store.batch(author: "bench", keepResults: false)
        for f in 0..<fileCount {
            for v in 1...perFile {
                var prompt = JSONObject()
                prompt["model"] = .string(rng.pick(Corpus.models))
                prompt["template"] = .string("You are assistant \(f). Answer {{question}} — version \(v) ✅")
                prompt["temperature"] = .number(Double(rng.int(0...10)) / 10)
                var attributes = JSONObject()
                attributes["prompt"] = .object(prompt)
                var definition = JSONObject()
                definition["attributes"] = .object(attributes)
                let labels = v == max(1, perFile / 2) ? [production] : v == perFile ? [staging] : []
                try batch.add(NewVersion(path: files[f], kind: .flow, definition: definition, name: "v\(v)",
                                         message: "change \(v)", labels: labels, reuse: .never))
            }
        }
        try batch.finish()
    }
    let development = try RefLabel("development")
    for file in files.prefix(400) {
        try store.setRef(.environments, development, of: file, to: try store.version(numbered: max(1, perFile * 4 / 5), of: file),
                         author: "bench")
    }
    return (store, files, seconds)
}

struct LookupTimes {
    var resolve: Double
    var show: Double
    var log: Double
}

/// Per-operation times in µs (median of passes) over a seeded sample of files, caches warm.
func lookupTimes(_ store: VersionStore, files: [FlowPath], seed: UInt64) throws -> LookupTimes {
    var rng = SeededRandom(seed: seed)
    let sample = (0..<min(300, files.count)).map { _ in files[rng.int(0...(files.count - 1))] }
    var sink = 0
    func resolve() throws {
        for path in sample { sink &+= try store.resolveVersion("\(path.rawValue)@production").hex.utf8.count }
    }
    // What `flowstore show PATH@production` reads: the version, its file's head, labels and
    // environments (to decorate the header), and the definition.
    func show() throws {
        for path in sample {
            let id = try store.resolve("\(path.rawValue)@production")
            guard case .version(let v) = try store.object(id) else { fail("not a version") }
            sink &+= try store.target(of: RefNames.head(v.file)) == id ? 1 : 0
            sink &+= try store.namedRefs(.labels, of: v.file).count + store.namedRefs(.environments, of: v.file).count
            sink &+= try store.content(v.content).definition.count
        }
    }
    // What `flowstore log -n 50 PATH` reads.
    func log() throws {
        for path in sample {
            let start = try store.resolveVersion(path.rawValue)
            sink &+= try store.history(from: start, limit: 50).count
            sink &+= try store.namedRefs(.labels, of: try store.version(start).file).count
        }
    }
    try resolve(); try show(); try log()  // warm-up
    var r: [Double] = [], s: [Double] = [], l: [Double] = []
    for _ in 0..<3 {
        r.append(try measure(resolve))
        s.append(try measure(show))
        l.append(try measure(log))
    }
    if sink == 42 { note("") }
    let n = Double(sample.count)
    return LookupTimes(resolve: median(r) / n * 1e6, show: median(s) / n * 1e6, log: median(l) / n * 1e6)
}

/// Lookups at two store sizes: resolving `path@label`, `show`, and `log -n 50`.
func lookupBench(_ options: Options, work: String, report: Report) throws -> String {
    report.section("Lookups: \(grouped(options.lookupSmall)) vs \(grouped(options.lookupLarge)) versions in the store (50 per file)")
    let small = try buildLookupStore(at: work + "/lookup-small", versions: options.lookupSmall, seed: options.seed &+ 2)
    note("building the large store (\(grouped(options.lookupLarge)) versions)…")
    let large = try buildLookupStore(at: work + "/lookup-large", versions: options.lookupLarge, seed: options.seed &+ 3)
    report.add("lookup", "batch commit, small definitions (building the store)", "\(fmt(Double(options.lookupLarge) / large.seconds, 0)) versions/s",
               "\(grouped(options.lookupLarge)) versions in \(fmt(large.seconds)) s")
    syncAll()
    // Interleaved, twice, so both sizes see the same machine.
    var a = try lookupTimes(small.store, files: small.files, seed: options.seed)
    var b = try lookupTimes(large.store, files: large.files, seed: options.seed)
    let a2 = try lookupTimes(small.store, files: small.files, seed: options.seed)
    let b2 = try lookupTimes(large.store, files: large.files, seed: options.seed)
    a = LookupTimes(resolve: min(a.resolve, a2.resolve), show: min(a.show, a2.show), log: min(a.log, a2.log))
    b = LookupTimes(resolve: min(b.resolve, b2.resolve), show: min(b.show, b2.show), log: min(b.log, b2.log))
    let label = "\(grouped(options.lookupSmall)) / \(grouped(options.lookupLarge))"
    for (name, x, y) in [("resolve path@label", a.resolve, b.resolve), ("show path@label", a.show, b.show), ("log -n 50", a.log, b.log)] {
        let ratio = y / x
        report.add("lookup", "\(name) (µs, \(label) versions)", "\(fmt(x)) / \(fmt(y))", "ratio \(fmt(ratio, 2)) (target ≤ 1.3)")
        report.target("\(name) at \(grouped(options.lookupLarge)) vs \(grouped(options.lookupSmall))", goal: "ratio ≤ 1.3",
                      measured: fmt(ratio, 2), met: ratio <= 1.3)
    }
    return work + "/lookup-large"
}
