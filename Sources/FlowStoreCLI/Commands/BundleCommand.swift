import ArgumentParser
import Foundation
import FlowStoreCore

struct BundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Carry flows and agents in a single file (mail, air-gapped transfer).",
        discussion: """
            A bundle holds ref heads and every object they reach, whole histories included, in \
            one versioned file (format: docs, "Offline sync"). Importing checks every object \
            first and writes nothing if one is corrupt, then applies the same rules as \
            `flowstore sync`: refs fast-forward, or are reported as diverged.

            Examples:
              flowstore bundle create team.flowbundle
              flowstore bundle create medqa.flowbundle "Personal Projects/MedQA Flow"
              flowstore bundle verify medqa.flowbundle
              flowstore bundle import medqa.flowbundle
            """,
        subcommands: [BundleCreateCommand.self, BundleImportCommand.self, BundleVerifyCommand.self])
}

struct BundleCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Write a bundle of some files (all when none is given).",
        discussion: """
            FILE - writes the bundle to standard output. --json prints {file, refs, objects, bytes}.

            Examples:
              flowstore bundle create team.flowbundle
              flowstore bundle create - agents/router | ssh airgap flowstore bundle import -
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The bundle file to write, or - for standard output.", valueName: "file"))
    var file: String

    @Argument(help: ArgumentHelp("The flows and agents to include (default: everything).", valueName: "path"))
    var paths: [String] = []

    func run() async throws {
        let local = try store.open()
        let console = Console.current
        var selected: [FlowPath]?
        if !paths.isEmpty {
            var list: [FlowPath] = []
            for path in paths { list.append(try Arguments.path(path)) }
            selected = list
        }
        let bundle = try local.createBundle(paths: selected)
        let bytes = bundle.encoded()
        if file == "-" { return console.write(bytes) }
        let target = console.absolutePath(file)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: target), options: .atomic)
        } catch {
            throw CLIError("cannot write \(file): \(error.localizedDescription)")
        }
        if json.enabled {
            return console.printJSON([
                "file": .string(target), "refs": .int(bundle.refs.count), "objects": .int(bundle.objects.count),
                "bytes": .int(bytes.count),
            ])
        }
        console.print(
            "wrote \(TextStyle.safe(file)): \(bundle.refs.count) refs, \(bundle.objects.count) objects, \(SyncOutput.bytes(bytes.count))")
    }
}

struct BundleImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a bundle: check every object, then update refs as `sync` does.",
        discussion: """
            FILE - reads the bundle from standard input. --json prints {"bundle": …} in the \
            shape of `flowstore sync --json`.

            Example:
              flowstore bundle import medqa.flowbundle
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The bundle file, or - for standard input.", valueName: "file"))
    var file: String

    func run() async throws {
        let local = try store.open()
        let console = Console.current
        let bytes = try JSONInput.bytes(file, console: console)
        let report = try local.importBundle(bytes, name: file == "-" ? "<stdin>" : file)
        if json.enabled {
            return console.printJSON(["bundle": try SyncOutput.json(report, local: local)])
        }
        try SyncOutput.printReport(report, local: local)
    }
}

struct BundleVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a bundle without importing it, and list its refs.",
        discussion: """
            Checks the format, every object (hash, format) and that every object a ref head \
            reaches is in the bundle; needs no store. Exits 1 naming the problem otherwise.
            --json prints {ok, refs: [{ref, event}], objects, bytes}.

            Example:
              flowstore bundle verify medqa.flowbundle
            """)

    @OptionGroup var json: JSONOption

    @Argument(help: ArgumentHelp("The bundle file, or - for standard input.", valueName: "file"))
    var file: String

    func run() async throws {
        let console = Console.current
        let bytes = try JSONInput.bytes(file, console: console)
        let bundle = try FlowStoreBundle.decode(bytes)
        try bundle.checkComplete()
        if json.enabled {
            return console.printJSON([
                "ok": true, "refs": .array(bundle.refs.map { ["ref": .string($0.name.rawValue), "event": .id($0.head)] }),
                "objects": .int(bundle.objects.count), "bytes": .int(bytes.count),
            ])
        }
        for (name, head) in bundle.refs { console.print("\(head.short)  \(TextStyle.safe(name.rawValue))") }
        console.print("ok: \(bundle.refs.count) refs, \(bundle.objects.count) objects verified (\(SyncOutput.bytes(bytes.count)))")
    }
}
