import FlowStoreCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Command-line options. Defaults keep a whole run to a few minutes on 2 cores; the flags
/// raise the sizes the issue names (`--lookup-versions 1000000`, `--verify-objects 1000000`).
struct Options {
    var seed: UInt64 = 0x5EED_F10E
    var sections: Set<String> = ["canon", "ingest", "lookup", "server", "postgres", "sync", "memory"]
    /// Canonicalise+hash corpus: documents, sizes log-uniform in 1 KB–1 MB.
    var canonDocuments = 200
    var canonSeconds = 2.0
    /// Bulk ingest: versions, sizes log-uniform in 1–16 KB, over `ingestFiles` flows and agents.
    var ingestVersions = 100_000
    var ingestFiles = 2_000
    /// Sequential (fsync per write) commits measured for reference.
    var sequentialVersions = 200
    /// Lookups: the small store and the large one, 50 versions per file in both.
    var lookupSmall = 1_000
    var lookupLarge = 100_000
    /// verify's peak memory over a store of at least this many objects.
    var verifyObjects = 300_000
    /// Sync: objects pulled into an empty store (the issue's size is 100,000: `--sync-objects`).
    var syncObjects = 10_000
    var wrkSeconds = 8
    var wrkConnections = 64
    var python: String?
    var workDirectory: String?
    var keep = false
    var markdown: String?

    static let usage = """
        usage: flowstore-bench [options]
          --only LIST            sections to run, comma-separated: canon,ingest,lookup,server,postgres,sync,memory
                                 (postgres needs FLOWSTORE_BENCH_POSTGRES, an admin URL: compare.sh starts one)
          --skip LIST            sections to leave out
          --seed N               corpus seed (default 0x5EEDF10E); the corpus is a pure function of it
          --canon-docs N         canonicalise+hash corpus size in documents (default 200, 1 KB–1 MB each)
          --ingest N             bulk-ingest versions (default 100000)
          --ingest-files N       flows and agents those versions belong to (default 2000)
          --lookup-small N       versions in the small lookup store (default 1000)
          --lookup-large N       versions in the large lookup store (default 100000; the issue's size is 1000000)
          --verify-objects N     objects in the store verify's memory is measured on (default 300000)
          --sync-objects N       objects pulled by the sync benchmark (default 10000; the issue's size is 100000)
          --wrk-seconds N        duration of each wrk run (default 8)
          --python PATH          a Python with rfc8785 and canonicaljson (scripts/bench/compare.sh makes one)
          --work DIR             where corpora and stores go (default: a new directory in /tmp)
          --keep                 keep the work directory
          --markdown FILE        also write the results as a Markdown table
        """

    init(_ args: [String]) {
        var it = args.makeIterator()
        func int(_ name: String) -> Int {
            guard let text = it.next(), let n = Int(text.replacingOccurrences(of: "_", with: "")), n >= 0 else {
                fail("\(name) needs a non-negative integer")
            }
            return n
        }
        func list(_ text: String?) -> Set<String> { Set((text ?? "").split(separator: ",").map(String.init)) }
        while let arg = it.next() {
            switch arg {
            case "--only": sections = list(it.next())
            case "--skip": sections.subtract(list(it.next()))
            case "--seed":
                guard let text = it.next(), let n = UInt64(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text,
                                                          radix: text.hasPrefix("0x") ? 16 : 10)
                else { fail("--seed needs an integer") }
                seed = n
            case "--canon-docs": canonDocuments = max(1, int(arg))
            case "--ingest": ingestVersions = int(arg)
            case "--ingest-files": ingestFiles = max(1, int(arg))
            case "--lookup-small": lookupSmall = max(100, int(arg))
            case "--lookup-large": lookupLarge = max(100, int(arg))
            case "--verify-objects": verifyObjects = int(arg)
            case "--sync-objects": syncObjects = int(arg)
            case "--wrk-seconds": wrkSeconds = max(1, int(arg))
            case "--python": python = it.next()
            case "--work": workDirectory = it.next()
            case "--keep": keep = true
            case "--markdown": markdown = it.next()
            case "-h", "--help":
                print(Self.usage)
                exit(0)
            default: fail("unknown option \(arg)\n\(Self.usage)")
            }
        }
    }

    func runs(_ section: String) -> Bool { sections.contains(section) }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("flowstore-bench: \(message)\n".utf8))
    exit(2)
}

func note(_ message: String) {
    FileHandle.standardError.write(Data("  · \(message)\n".utf8))
}

/// Monotonic seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func measure(_ body: () throws -> Void) rethrows -> Double {
    let start = now()
    try body()
    return now() - start
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func fmt(_ value: Double, _ decimals: Int = 1) -> String { String(format: "%.\(decimals)f", value) }

func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out += "," }
        out.append(c)
    }
    return out
}

func megabytes(_ bytes: Int) -> String { fmt(Double(bytes) / 1e6, 1) + " MB" }

/// One line of the results table.
struct Row {
    var section: String
    var name: String
    var value: String
    var note: String
}

/// A target from the issue, judged in this run.
struct Target {
    var name: String
    var goal: String
    var measured: String
    var met: Bool?
}

/// Collects rows and targets; prints each row as it comes and the whole table at the end.
final class Report {
    var rows: [Row] = []
    var targets: [Target] = []
    var machine: [String] = []

    func section(_ title: String) {
        print("\n\(title)")
        print(String(repeating: "─", count: 100))
    }

    func add(_ section: String, _ name: String, _ value: String, _ note: String = "") {
        rows.append(Row(section: section, name: name, value: value, note: note))
        print(name.padding(toLength: 52, withPad: " ", startingAt: 0) + " " + value.padding(toLength: 20, withPad: " ", startingAt: 0)
              + " " + note)
        fflush(nil)
    }

    func target(_ name: String, goal: String, measured: String, met: Bool?) {
        targets.append(Target(name: name, goal: goal, measured: measured, met: met))
    }

    func printTargets() {
        section("Targets (issue 5), judged on this run")
        for t in targets {
            let verdict = t.met.map { $0 ? "MET    " : "NOT MET" } ?? "n/a    "
            print("\(verdict)  \(t.name.padding(toLength: 44, withPad: " ", startingAt: 0)) goal \(t.goal.padding(toLength: 22, withPad: " ", startingAt: 0)) measured \(t.measured)")
        }
    }

    func markdown() -> String {
        var out = "| section | measurement | result | notes |\n|---|---|---|---|\n"
        for r in rows { out += "| \(r.section) | \(r.name) | \(r.value) | \(r.note) |\n" }
        out += "\n| target | goal | measured | met |\n|---|---|---|---|\n"
        for t in targets { out += "| \(t.name) | \(t.goal) | \(t.measured) | \(t.met.map { $0 ? "yes" : "**no**" } ?? "n/a") |\n" }
        return out
    }
}

/// The machine, as the table in docs/performance.md states it.
func machineDescription(work: String) -> [String] {
    var lines: [String] = []
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
        .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown"
    lines.append("cpu: \(model), \(ProcessInfo.processInfo.activeProcessorCount) cores (nproc)")
    lines.append("memory: \(ProcessInfo.processInfo.physicalMemory / (1 << 30)) GiB")
    if let out = try? shell("df -hT \"\(work)\" | tail -1").output {
        let fields = out.split(whereSeparator: \.isWhitespace)
        var disk = "disk (work directory \(work)): " + fields.prefix(3).joined(separator: " ")
        if let options = try? String(contentsOfFile: "/proc/fs/ext4/\(fields.first.map { String($0.split(separator: "/").last ?? "") } ?? "")/options", encoding: .utf8) {
            disk += options.contains("journal_checksum") || options.contains("data=") ? "" : ""
        }
        if let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8),
            let line = mounts.split(separator: "\n").first(where: { $0.hasPrefix(String(fields.first ?? "")) })
        {
            disk += " (" + line.split(separator: " ").dropFirst(3).first.map(String.init).map { String($0.prefix(60)) }! + ")"
        }
        lines.append(disk)
    }
    if let out = try? shell("uname -sr").output { lines.append("kernel: " + out.trimmingCharacters(in: .whitespacesAndNewlines)) }
    return lines
}

struct ShellResult {
    var status: Int32
    var output: String
    var seconds: Double
}

/// Runs `command` with `/bin/sh -c`, capturing standard output (standard error passes through).
@discardableResult
func shell(_ command: String, directory: String? = nil) throws -> ShellResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let pipe = Pipe()
    process.standardOutput = pipe
    let start = now()
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ShellResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self), seconds: now() - start)
}

func which(_ tool: String) -> String? {
    guard let result = try? shell("command -v \(tool)"), result.status == 0 else { return nil }
    let path = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    return path.isEmpty ? nil : path
}

/// Peak resident set size of a process, from `/proc/<pid>/status` (VmHWM), in bytes.
func peakRSS(pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap { Int($0) }
        return kb.map { $0 * 1024 }
    }
    return nil
}

/// Reads a whole file with plain POSIX calls (what the CLI's input path costs, no Foundation).
func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { return nil }
    var out = [UInt8](repeating: 0, count: Int(st.st_size))
    var done = 0
    while done < out.count {
        let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
        if n <= 0 { break }
        done += n
    }
    return done == out.count ? out : nil
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func makeDirectory(_ path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
}

func removeTree(_ path: String) {
    _ = try? shell("rm -rf \"\(path)\"")  // much faster than FileManager on a million files
}

/// Size of a directory tree on disk (`du -sb`), for the sync rows.
func treeBytes(_ path: String) -> Int {
    guard let out = try? shell("du -sb \"\(path)\" | cut -f1").output else { return 0 }
    return Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
}

/// Flushes everything dirty, so one measurement's write-back is not billed to the next.
func syncAll() { sync() }

/// Waits until creating a file costs what it normally does, and returns that cost (µs).
///
/// On ext4 without a journal (this project's VMs) the inode allocator skips, one bit at a time,
/// every inode freed in the last ~30 s (longer while their blocks are dirty): after anything
/// deletes many files — a previous run's cleanup, another test suite — each creation can cost
/// 30× more for a minute or two, whoever creates. Every ingest row is measured after this
/// probe settles (or gives up after 90 s), and shows the probe's figure. Probe files are kept
/// until the end of the run, so probing frees nothing.
func settleFileSystem(_ work: String, before label: String) -> Double {
    let directory = work + "/fs-probe"
    try? makeDirectory(directory)
    var perCreate = 0.0
    let deadline = now() + 90
    var round = 0
    repeat {
        round += 1
        let start = now()
        for i in 0..<500 {
            let fd = open("\(directory)/\(label.hashValue & 0xFFFF)-\(round)-\(i)", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 {
                _ = write(fd, "x", 1)
                close(fd)
            }
        }
        perCreate = (now() - start) / 500 * 1e6
        if perCreate <= 60 { break }
        sleep(3)
    } while now() < deadline
    if perCreate > 60 { note("file system still slow (\(fmt(perCreate)) µs per file creation) before \(label)") }
    return perCreate
}
