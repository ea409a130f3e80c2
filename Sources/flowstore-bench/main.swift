import FlowStoreCore
import Foundation

// `swift run -c release flowstore-bench [options]` (or `make bench`, which also installs the
// external tools: scripts/bench/compare.sh). Every FlowStore figure is printed beside the
// external one it is compared with, measured in the same run, so ratios hold on a noisy machine.

// Nothing is deleted until the run is over: on ext4 without a journal (this project's VMs), the
// inode allocator skips, one by one, every inode freed in the last ~30 s, so mass deletions
// would slow down every file creation measured after them (FlowStore's and git's alike).

let arguments = Array(CommandLine.arguments.dropFirst())

// Child modes: processes whose peak memory is measured on their own.
if arguments.first == "--verify-child" {
    exit(verifyChild(Array(arguments.dropFirst())))
}
if arguments.first == "--serve-child" {
    await serveChild(Array(arguments.dropFirst()))
    exit(0)
}

let options = Options(arguments)
let report = Report()
// Default under /var/tmp rather than /tmp: ext4 places new files near their directory, and /tmp
// is where test suites create and delete stores all day (see the note above).
let work = options.workDirectory
    ?? ((ProcessInfo.processInfo.environment["FLOWSTORE_BENCH_DIR"] ?? "/var/tmp") + "/flowstore-bench-\(ProcessInfo.processInfo.processIdentifier)")
try makeDirectory(work)

report.machine = machineDescription(work: work)
print("FlowStore benchmark · seed \(options.seed) · work directory \(work)")
for line in report.machine { print("  " + line) }

let started = now()
var largestStore: String?
do {
    if options.runs("canon") { try canonicalBench(options, work: work, report: report) }
    if options.runs("ingest") { largestStore = try ingestBench(options, work: work, report: report) }
    if options.runs("sync") { try syncBench(options, work: work, ingestStore: largestStore, report: report) }
    if options.runs("memory") { try memoryBench(options, work: work, candidate: largestStore, report: report) }
    if options.runs("lookup") { _ = try lookupBench(options, work: work, report: report) }
    var directoryServer: ServerFigures?
    if options.runs("server") { directoryServer = try await serverBench(options, work: work, report: report) }
    if options.runs("postgres") { try postgresBench(options, work: work, directory: directoryServer, report: report) }
} catch {
    print("flowstore-bench: \(error)")
    if !options.keep { removeTree(work) }
    exit(1)
}

report.printTargets()
print("\nwhole run: \(fmt(now() - started, 0)) s")
if let path = options.markdown {
    var text = "Machine: " + report.machine.joined(separator: "; ") + "\n\n" + report.markdown()
    text += "\nSeed \(options.seed); whole run \(fmt(now() - started, 0)) s.\n"
    try writeFile(path, Array(text.utf8))
}
if !options.keep { removeTree(work) }
