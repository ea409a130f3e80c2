import FlowStoreCore
import FlowStoreDirectory
import Foundation

/// `flowstore-bench --verify-child STORE`: runs `verify` on its own and prints
/// `objects peak_rss_bytes seconds problems`, so the parent reads a clean peak RSS.
func verifyChild(_ args: [String]) -> Int32 {
    guard let path = args.first else { return 2 }
    do {
        let store = try VersionStore.open(at: path)
        let start = now()
        let report = try store.verify()
        let seconds = now() - start
        print("\(report.objectsChecked) \(peakRSS(pid: getpid()) ?? 0) \(seconds) \(report.problems.count)")
        return 0
    } catch {
        FileHandle.standardError.write(Data("verify: \(error)\n".utf8))
        return 1
    }
}

func objectCount(_ store: String) -> Int {
    guard let out = try? shell("find \"\(store)/objects\" -type f | wc -l").output else { return 0 }
    return Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
}

/// Peak RSS of `verify` over a store of at least `--verify-objects` objects (the ingest store
/// when it is big enough, else one built for it), in a child process.
func memoryBench(_ options: Options, work: String, candidate: String?, report: Report) throws {
    report.section("Memory: peak RSS of verify")
    var store = candidate
    var objects = store.map(objectCount) ?? 0
    if objects < options.verifyObjects {
        // About three objects per version (content, version, head event).
        let versions = max(100, options.verifyObjects / 3 + 50)
        note("building a store of about \(grouped(options.verifyObjects)) objects for verify…")
        let built = try buildLookupStore(at: work + "/verify-store", versions: versions, seed: options.seed &+ 9)
        store = built.store.root
        objects = objectCount(work + "/verify-store")
    }
    guard let store else { return }
    syncAll()
    let me = CommandLine.arguments[0]
    let result = try shell("\"\(me)\" --verify-child \"\(store)\"")
    let parts = result.output.split(whereSeparator: \.isWhitespace)
    guard result.status == 0, parts.count == 4, let checked = Int(parts[0]), let rss = Int(parts[1]),
        let seconds = Double(parts[2])
    else {
        note("verify child failed: \(result.output)")
        return
    }
    report.add("memory", "verify: peak RSS over \(grouped(checked)) objects", megabytes(rss),
               "\(fmt(Double(checked) / seconds, 0)) objects/s, \(parts[3]) problems")
    // Bounded means it does not grow with the store: compare with a store a tenth the size.
    let smallVersions = max(100, checked / 30)
    let small = try buildLookupStore(at: work + "/verify-small", versions: smallVersions, seed: options.seed &+ 10)
    let smallResult = try shell("\"\(me)\" --verify-child \"\(small.store.root ?? "")\"")
    let smallParts = smallResult.output.split(whereSeparator: \.isWhitespace)
    if smallParts.count == 4, let smallChecked = Int(smallParts[0]), let smallRSS = Int(smallParts[1]) {
        report.add("memory", "verify: peak RSS over \(grouped(smallChecked)) objects", megabytes(smallRSS),
                   "growth \(fmt(Double(rss - smallRSS) / 1e6)) MB for \(fmt(Double(checked) / Double(max(1, smallChecked)), 0))× the objects")
        // Streaming: well under 1 KB per object beyond a fixed base (refs are listed in memory).
        let perObject = Double(rss - smallRSS) / Double(max(1, checked - smallChecked))
        report.target("verify memory bounded (streams)", goal: "< 100 B/object growth",
                      measured: "\(fmt(perObject, 0)) B/object, \(megabytes(rss)) at \(grouped(checked))", met: perObject < 100)
    }
}
