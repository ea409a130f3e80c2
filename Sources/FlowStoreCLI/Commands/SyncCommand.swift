import ArgumentParser
import Foundation
import FlowStoreCore
import FlowStoreDirectory

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Exchange work with another store, offline: pull, push, import copied objects.",
        discussion: """
            Objects are immutable and named by their hash, so stores can swap them by any means \
            (a shared folder, a USB stick, rsync, a tarball). Every incoming object is checked \
            (its hash, its format) before it is written, and one bad object, a gap in an event \
            chain or an invalid ref name rejects the whole sync with nothing written.

            Refs follow the incoming event chains: a ref whose incoming chain extends the local \
            one moves forward (fast-forward; no new event); one that is behind is left alone; \
            one both sides moved is left alone too and reported as diverged, with both heads \
            kept (in <store>/sync/diverged.json) until `flowstore resolve` joins them.

            Modes (exactly one):
              sync DIR            pull from the store in DIR (a store directory, or a folder \
            holding .flowstore); --push to write into it instead, --both for both ways
              sync --objects DIR  import a bare objects directory (objects/ copied from a store)
              sync --rescan       objects were copied straight into this store's objects/: \
            rebuild refs from the event chains found there
              sync --status       list diverged refs and how to resolve them

            --json prints {"pull"|"push"|"objects"|"rescan": {source, destination, \
            objects_copied, bytes_copied, events_written, refs: [{ref, display, outcome, \
            local_event, incoming_event, local_target, incoming_target}], warnings, ignored}}; \
            outcome is created, fast_forward, behind, diverged or up_to_date. A progress bar is \
            shown on standard error when it is a terminal.

            Examples:
              flowstore sync /mnt/usb/team-store
              flowstore sync /mnt/usb/team-store --push
              flowstore sync --objects /mnt/usb/objects
              rsync -a laptop:proj/.flowstore/objects/ .flowstore/objects/ && flowstore sync --rescan
              flowstore sync --status
              flowstore resolve "Personal Projects/MedQA Flow" --label production --take incoming
            """,
)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The other store: a directory or a postgres:// URL (pull from it; see --push, --both).", valueName: "store"))
    var directory: String?

    @Flag(help: "Write into the other store instead of reading from it.")
    var push = false

    @Flag(help: "Pull, then push.")
    var both = false

    @Option(help: ArgumentHelp("Import a bare objects directory.", valueName: "dir"))
    var objects: String?

    @Flag(help: "Rebuild refs from objects copied straight into this store's objects/.")
    var rescan = false

    @Flag(help: "List diverged refs and how to resolve them.")
    var status = false

    @Flag(help: "Never show a progress bar.")
    var noProgress = false

    func validate() throws {
        let modes = [directory != nil, objects != nil, rescan, status].filter { $0 }.count
        guard modes == 1 else {
            throw ValidationError("give exactly one of DIR, --objects DIR, --rescan, --status")
        }
        if push && both { throw ValidationError("--push and --both exclude each other") }
        if (push || both) && directory == nil { throw ValidationError("--push and --both need a store DIR") }
    }

    func run() async throws {
        let console = Console.current
        let local = try store.open()
        if status { return try SyncOutput.printStatus(local, json: json.enabled) }
        let progress = ProgressBar(enabled: !noProgress && ProgressBar.isAvailable(console))
        var reports: [SyncReport] = []
        var other: VersionStore?
        if rescan {
            reports.append(try local.rescan(progress: progress.update))
        } else if let objects {
            reports.append(try local.importObjects(from: Self.standardized(objects, console: console), progress: progress.update))
        } else if let directory {
            let remote = try Self.openOther(directory, console: console)
            other = remote
            if !push { reports.append(try local.pull(from: remote, progress: progress.update)) }
            progress.finish()
            if push || both { reports.append(try local.push(to: remote, progress: progress.update)) }
        }
        progress.finish()
        if json.enabled {
            var o = JSONObject()
            for report in reports { o[report.kind.rawValue] = try SyncOutput.json(report, local: local, other: other) }
            return console.printJSON(.object(o))
        }
        for report in reports { try SyncOutput.printReport(report, local: local, other: other) }
    }

    /// The other store: DIR itself, or DIR/.flowstore when DIR is the folder holding one.
    static func openOther(_ directory: String, console: Console) throws -> VersionStore {
        let location = StoreLocation(directory, console: console)
        if case .postgres = location { return try location.open() }
        let path = standardized(directory, console: console)
        let config = VersionStore.configFileName
        if !FileManager.default.fileExists(atPath: "\(path)/\(config)"),
            FileManager.default.fileExists(atPath: "\(path)/\(StoreOptions.defaultDirectory)/\(config)")
        {
            return try VersionStore.open(at: "\(path)/\(StoreOptions.defaultDirectory)")
        }
        do {
            return try VersionStore.open(at: path)
        } catch .notAStore {
            throw CLIError("\(directory) is not a FlowStore store (for a bare objects directory, use `flowstore sync --objects \(directory)`)")
        }
    }

    /// An absolute path without `.` or `..` segments, for opening and for messages.
    static func standardized(_ path: String, console: Console) -> String {
        URL(fileURLWithPath: console.absolutePath(path)).standardizedFileURL.path
    }
}

/// How sync results look, shared by `sync`, `bundle import` and `resolve`.
enum SyncOutput {
    /// `other`: the store pulled from or pushed to, if any.
    static func printReport(_ report: SyncReport, local: VersionStore, other: VersionStore? = nil) throws {
        let console = Console.current
        // Names are shown as the store that now holds the refs knows them.
        let holder = report.kind == .push ? other ?? local : local
        var display = try RefDisplay(store: holder)
        switch report.kind {
        case .pull: console.print("pull from \(TextStyle.safe(report.source))")
        case .push: console.print("push to \(TextStyle.safe(report.destination))")
        case .objects: console.print("import objects from \(TextStyle.safe(report.source))")
        case .bundle: console.print("import bundle \(TextStyle.safe(report.source))")
        case .rescan: console.print("rescan of \(TextStyle.safe(report.source))")
        }
        let shown = report.refs.filter { $0.outcome != .upToDate }.sorted { display.name($0.name) < display.name($1.name) }
        let width = shown.map { display.name($0.name).count }.max() ?? 0
        for decision in shown {
            let local = try target(decision.local, in: holder)
            let incoming = try target(decision.incoming, in: holder)
            let change: String = switch decision.outcome {
            case .created: "→ \(describe(incoming, in: holder))"
            case .fastForward where local == incoming: "stays at \(describe(local, in: holder)) (history joined)"
            case .fastForward: "\(describe(local, in: holder)) → \(describe(incoming, in: holder))"
            case .behind: "stays at \(describe(local, in: holder)) (incoming is older)"
            case .diverged: "local \(describe(local, in: holder)), incoming \(describe(incoming, in: holder))"
            case .upToDate: ""
            }
            let label = decision.outcome == .diverged ? TextStyle.paint(outcomeName(decision.outcome), .red)
                : outcomeName(decision.outcome)
            console.print("  \(TextStyle.pad(label, 12))  \(TextStyle.pad(TextStyle.safe(display.name(decision.name)), width))  \(change)")
        }
        for warning in report.warnings { console.print("  \(TextStyle.paint("warning", .yellow)): \(TextStyle.safe(warning))") }
        if !report.ignored.isEmpty {
            let noun = report.ignored.count == 1 ? "entry that is not an object" : "entries that are not objects"
            console.print("  ignored \(report.ignored.count) \(noun): \(report.ignored.prefix(5).map(TextStyle.safe).joined(separator: ", "))")
        }
        var summary = report.kind == .rescan ? [] : ["copied \(report.objectsCopied) objects (\(bytes(report.bytesCopied)))"]
        for outcome in [RefOutcome.created, .fastForward, .behind, .diverged] where report.count(outcome) > 0 {
            summary.append("\(report.count(outcome)) \(outcomeName(outcome))")
        }
        if shown.isEmpty { summary.append("refs up to date") }
        console.print(summary.joined(separator: "; "))
        let diverged = shown.filter { $0.outcome == .diverged }
        if !diverged.isEmpty {
            let whereText = report.kind == .push ? " in \(TextStyle.safe(report.destination))" : ""
            console.print("\(diverged.count) diverged: nothing was overwritten\(whereText); see `flowstore sync --status`, then:")
            for decision in diverged { console.print("  \(try resolveCommand(decision.name, in: holder))") }
        }
    }

    static func json(_ report: SyncReport, local: VersionStore, other: VersionStore? = nil) throws -> JSONValue {
        let holder = report.kind == .push ? other ?? local : local
        var display = try RefDisplay(store: holder)
        var refs: [JSONValue] = []
        for decision in report.refs {
            var o = JSONObject()
            o["ref"] = .string(decision.name.rawValue)
            o["display"] = .string(display.name(decision.name))
            o["outcome"] = .string(decision.outcome.rawValue)
            o["local_event"] = .id(decision.local)
            o["incoming_event"] = .id(decision.incoming)
            o["local_target"] = .id(try target(decision.local, in: holder))
            o["incoming_target"] = .id(try target(decision.incoming, in: holder))
            refs.append(.object(o))
        }
        return [
            "source": .string(report.source), "destination": .string(report.destination),
            "objects_copied": .int(report.objectsCopied), "bytes_copied": .int(report.bytesCopied),
            "events_written": .int(report.eventsWritten), "refs": .array(refs),
            "warnings": .strings(report.warnings), "ignored": .strings(report.ignored),
        ]
    }

    static func printStatus(_ store: VersionStore, json: Bool) throws {
        let console = Console.current
        let diverged = try store.divergedRefs()
        var display = try RefDisplay(store: store)
        if json {
            var items: [JSONValue] = []
            for entry in diverged {
                var incoming: [JSONValue] = []
                for head in entry.incoming {
                    let event = try store.event(head)
                    incoming.append(["event": .id(head), "target": .id(event.to), "author": .string(event.author), "time": .string(event.time)])
                }
                items.append([
                    "ref": .string(entry.name.rawValue), "display": .string(display.name(entry.name)),
                    "local_event": .id(entry.local), "local_target": .id(try target(entry.local, in: store)),
                    "incoming": .array(incoming), "resolve": .string(try resolveCommand(entry.name, in: store)),
                ])
            }
            return console.printJSON(["diverged": .array(items)])
        }
        guard !diverged.isEmpty else { return console.print("nothing diverged") }
        for entry in diverged {
            console.print("\(TextStyle.paint("diverged", .red))  \(TextStyle.safe(display.name(entry.name)))")
            if let local = entry.local {
                let event = try store.event(local)
                console.print("  local     \(describe(event.to, in: store))  by \(TextStyle.safe(event.author)) at \(event.time)  (event \(local.short))")
            }
            for head in entry.incoming {
                let event = try store.event(head)
                console.print("  incoming  \(describe(event.to, in: store))  by \(TextStyle.safe(event.author)) at \(event.time)  (event \(head.short))")
            }
            console.print("  resolve:  \(try resolveCommand(entry.name, in: store))")
        }
    }

    // MARK: Pieces

    static func outcomeName(_ outcome: RefOutcome) -> String {
        switch outcome {
        case .created: "created"
        case .fastForward: "fast-forward"
        case .behind: "behind"
        case .diverged: "diverged"
        case .upToDate: "up to date"
        }
    }

    /// The target an event left its ref at.
    static func target(_ event: ObjectID?, in store: VersionStore) throws -> ObjectID? {
        guard let event else { return nil }
        return try store.event(event).to
    }

    /// `version 3 (1a2b3c4d5e6f)`, `file 1a2b…`, or `nothing` for a deleted ref.
    static func describe(_ target: ObjectID?, in store: VersionStore) -> String {
        guard let target else { return "nothing" }
        guard let object = try? store.object(target) else { return target.short }
        if case .version(let v) = object { return "version \(v.number) (\(target.short))" }
        return "\(object.typeName) \(target.short)"
    }

    static func bytes(_ count: Int) -> String {
        if count < 1024 { return "\(count) B" }
        if count < 1024 * 1024 { return String(format: "%.1f KB", Double(count) / 1024) }
        return String(format: "%.1f MB", Double(count) / (1024 * 1024))
    }

    /// The command that resolves a diverged ref, ready to paste.
    static func resolveCommand(_ name: RefName, in store: VersionStore) throws -> String {
        let take = "--take local|incoming|REV"
        let parts = name.segments.map(String.init)
        if parts.first == "paths", parts.count > 1 {
            return "flowstore resolve \(shellQuoted(name.dropping(prefix: "paths/"))) --path \(take)"
        }
        if parts.count >= 3, parts[0] == "files", let file = ObjectID(hex: parts[1]),
            let path = try store.files().first(where: { $0.file == file })?.path
        {
            let p = shellQuoted(path.rawValue)
            switch (parts[2], parts.count) {
            case ("head", 3): return "flowstore resolve \(p) \(take)"
            case ("labels", 4): return "flowstore resolve \(p) --label \(shellQuoted(parts[3])) \(take)"
            case ("environments", 4): return "flowstore resolve \(p) --env \(shellQuoted(parts[3])) \(take)"
            default: break
            }
        }
        return "flowstore resolve --ref \(shellQuoted(name.rawValue)) \(take)"
    }

    /// A shell word: as it is when it is plainly safe, else in single quotes.
    static func shellQuoted(_ text: String) -> String {
        let safe = text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_./@:+,=".unicodeScalars.contains(scalar))
        }
        if safe && !text.isEmpty { return text }
        return "'" + TextStyle.safe(text).replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
