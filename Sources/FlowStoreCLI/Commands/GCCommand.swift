import ArgumentParser
import FlowStoreCore

struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove objects nothing refers to, and stale temporary files.",
        discussion: """
            Every version that was ever a head or labelled stays; gc only reclaims what an \
            interrupted write left behind. Objects younger than an hour are kept; \
            --prune-now removes them too. Either is safe beside live writers (the CLI, a \
            server, a sync): gc marks beside them, then waits for the writes in progress to \
            finish (up to FLOWSTORE_LOCK_TIMEOUT, 10 s by default), holds new ones back \
            while it marks again and removes, and lets them go on.

            --json prints {dry_run, reachable, removed: [ids], kept_recent, temp_files_removed}.

            Examples:
              flowstore gc --dry-run
              flowstore gc --prune-now
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Flag(help: "Report what would be removed; remove nothing.")
    var dryRun = false

    @Flag(help: "No grace period: also remove unreferenced objects written in the last hour.")
    var pruneNow = false

    func run() async throws {
        let store = try store.open()
        let report = try store.gc(graceSeconds: pruneNow ? 0 : 3600, dryRun: dryRun)
        let console = Console.current
        if json.enabled {
            return console.printJSON([
                "dry_run": .bool(dryRun), "reachable": .int(report.reachable), "removed": .ids(report.removed),
                "kept_recent": .int(report.keptRecent), "temp_files_removed": .int(report.tempFilesRemoved),
            ])
        }
        let verb = dryRun ? "would remove" : "removed"
        for id in report.removed { console.print("\(verb) \(id.hex)") }
        var summary = "\(verb) \(report.removed.count) unreachable objects and \(report.tempFilesRemoved) temporary files; "
            + "\(report.reachable) objects reachable"
        if report.keptRecent > 0 {
            summary += "; kept \(report.keptRecent) recent unreachable objects (--prune-now removes them)"
        }
        console.print(summary)
    }
}
