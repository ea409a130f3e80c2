import FlowStoreCore
import FlowStoreDirectory
import Foundation

/// Sync: pulling ~N missing objects from another store, beside `rsync -a` of the same objects
/// directory; and a no-op sync of identical stores, which must cost in proportion to refs.
func syncBench(_ options: Options, work: String, ingestStore: String?, report: Report) throws {
    report.section("Sync: pull of about \(grouped(options.syncObjects)) missing objects vs rsync -a")
    // Source: ~3 objects per version, 50 versions per file.
    let versions = max(100, options.syncObjects / 3)
    let source = try buildLookupStore(at: work + "/sync-source", versions: versions, seed: options.seed &+ 4)
    let sourceObjects = objectCount(work + "/sync-source")
    let sourceBytes = treeBytes(work + "/sync-source/objects")
    syncAll()

    let destination = try VersionStore.initialize(at: work + "/sync-destination")
    var pulled: SyncReport?
    let pullSeconds = try measure { pulled = try destination.pull(from: source.store) }
    let copied = pulled?.objectsCopied ?? 0
    report.add("sync", "FlowStore pull into an empty store", "\(fmt(Double(copied) / pullSeconds, 0)) objects/s",
               "\(grouped(copied)) objects in \(fmt(pullSeconds)) s (each hash-checked and decoded; durable)")
    syncAll()

    if which("rsync") != nil {
        try makeDirectory(work + "/rsync-destination")
        let rsync = try shell("rsync -a \"\(work)/sync-source/objects/\" \"\(work)/rsync-destination/\"")
        // rsync does not fsync; `sync` afterwards is what makes it durable, timed separately.
        let flush = measure { syncAll() }
        let rate = Double(sourceObjects) / rsync.seconds
        report.add("sync", "rsync -a of objects/ (no fsync)", "\(fmt(rate, 0)) objects/s",
                   "\(grouped(sourceObjects)) files, \(megabytes(sourceBytes)) in \(fmt(rsync.seconds)) s (+ \(fmt(flush, 2)) s sync); FlowStore is \(fmt((Double(copied) / pullSeconds) / rate, 2))×")
        report.target("sync pull vs rsync -a", goal: "report", measured: "\(fmt((Double(copied) / pullSeconds) / rate, 2))×", met: nil)
    } else {
        note("rsync comparison skipped: rsync not found")
    }

    // No-op sync of identical stores: the same refs over 10× the objects must cost the same.

    // The same files and refs as the source store (same seed, same paths, labels and
    // deployments), with 5 versions per file instead of 50.
    let fewFiles = max(1, versions / 50)
    let smallSource = try buildLookupStore(at: work + "/noop-source", versions: fewFiles * 5, perFile: 5, seed: options.seed &+ 4).store
    let smallDestination = try VersionStore.initialize(at: work + "/noop-destination")
    _ = try smallDestination.pull(from: smallSource)
    // Interleaved, best of 25 each: a no-op pull takes milliseconds, so this isolates its cost
    // from the machine's noise.
    var noopLarge = Double.infinity, noopSmall = Double.infinity
    for _ in 0..<25 {
        noopLarge = min(noopLarge, try measure { _ = try destination.pull(from: source.store) })
        noopSmall = min(noopSmall, try measure { _ = try smallDestination.pull(from: smallSource) })
    }
    let refs = try source.store.refs.list(prefix: "").count
    let smallRefs = try smallSource.refs.list(prefix: "").count
    guard refs == smallRefs else { fail("no-op sync stores differ in refs: \(refs) vs \(smallRefs)") }
    let smallObjects = objectCount(work + "/noop-source")
    report.add("sync", "no-op pull, identical stores (ms, best of 25)", "\(fmt(noopSmall * 1000)) / \(fmt(noopLarge * 1000))",
               "\(grouped(refs)) refs each; \(grouped(smallObjects)) vs \(grouped(sourceObjects)) objects; ratio \(fmt(noopLarge / noopSmall, 2))")
    report.target("no-op sync ∝ refs, not objects", goal: "ratio ≤ 1.3",
                  measured: "\(fmt(noopLarge / noopSmall, 2)) for \(fmt(Double(sourceObjects) / Double(max(1, smallObjects)), 1))× objects",
                  met: noopLarge / noopSmall <= 1.3)
}
