import FlowStoreCLI
import FlowStoreCore
import Foundation
import Testing

/// What one run of the CLI did.
struct CLIResult: CustomStringConvertible {
    var status: Int32
    var stdout: [UInt8]
    var stderr: [UInt8]

    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }
    var outLines: [String] { out.split(separator: "\n").map(String.init) }
    var errLines: [String] { err.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }

    /// Standard output parsed as JSON (FlowStore's own strict parser).
    func json() throws -> JSONValue { try JSONParser.parse(stdout) }

    var description: String { "status \(status)\n--- stdout\n\(out)--- stderr\n\(err)" }
}

/// Output buffers a test console writes into (the CLI may write from any task).
final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []

    func append(_ more: [UInt8]) { lock.withLock { bytes += more } }
    var contents: [UInt8] { lock.withLock { bytes } }
}

/// A temporary directory with a store in it, removed when the test is done. Commands run
/// in-process (`run`) or as the built `flowstore` binary (`runBinary`), both with
/// `FLOWSTORE_DIR` pointing at this sandbox's store and a fixed author.
final class Sandbox {
    let root: String
    var store: String { "\(root)/store" }
    var environment: [String: String]

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        environment = ["FLOWSTORE_DIR": "\(root)/store", "FLOWSTORE_AUTHOR": "tester", "USER": "ignored-user"]
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// A sandbox with an initialised store.
    static func withStore() async throws -> Sandbox {
        let sandbox = try Sandbox()
        try await sandbox.expectSuccess("init")
        return sandbox
    }

    // MARK: Running

    func run(
        _ arguments: [String], stdin: [UInt8] = [], environment extra: [String: String] = [:], terminal: Bool = false
    ) async -> CLIResult {
        let out = OutputBuffer()
        let err = OutputBuffer()
        let console = Console(
            environment: environment.merging(extra) { $1 }, workingDirectory: root, stdoutIsTerminal: terminal,
            stdout: { out.append($0) }, stderr: { err.append($0) }, stdin: { stdin })
        let status = await FlowStoreCommand.run(arguments: arguments, console: console)
        return CLIResult(status: status, stdout: out.contents, stderr: err.contents)
    }

    func run(_ arguments: String..., stdin: String = "") async -> CLIResult {
        await run(arguments, stdin: Array(stdin.utf8))
    }

    /// Runs and records an issue unless the command succeeded with nothing on standard error.
    @discardableResult
    func expectSuccess(_ arguments: String..., stdin: String = "", sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> CLIResult
    {
        let result = await run(arguments, stdin: Array(stdin.utf8))
        #expect(result.status == 0, "flowstore \(arguments.joined(separator: " ")): \(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.isEmpty, "\(result)", sourceLocation: sourceLocation)
        return result
    }

    /// Runs and checks the command failed the way every failure must: the given status and
    /// exactly one line on standard error, starting `error: `.
    @discardableResult
    func expectFailure(
        _ arguments: [String], stdin: [UInt8] = [], status: Int32 = 1, sourceLocation: SourceLocation = #_sourceLocation
    ) async -> CLIResult {
        let result = await run(arguments, stdin: stdin)
        #expect(result.status == status, "\(result)", sourceLocation: sourceLocation)
        #expect(result.errLines.count == 1, "expected one error line: \(result)", sourceLocation: sourceLocation)
        #expect(result.err.hasPrefix("error: "), "\(result)", sourceLocation: sourceLocation)
        return result
    }

    /// Runs the built `flowstore` executable as a child process.
    /// `descriptorLimit` runs it under `ulimit -n` (through `/bin/sh`).
    func runBinary(
        _ arguments: [String], stdin: [UInt8] = [], environment extra: [String: String] = [:], descriptorLimit: Int? = nil
    ) throws -> CLIResult {
        let process = Process()
        if let descriptorLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(descriptorLimit) && exec \"$0\" \"$@\"", try FlowStoreBinary.path()] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: try FlowStoreBinary.path())
            process.arguments = arguments
        }
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        process.environment = environment.merging(["PATH": "/usr/bin:/bin", "NO_COLOR": "1"]) { $1 }.merging(extra) { $1 }
        // Files rather than pipes: no deadlock however much the child writes.
        let id = UUID().uuidString
        let inPath = "\(root)/.stdin-\(id)"
        let outPath = "\(root)/.stdout-\(id)"
        let errPath = "\(root)/.stderr-\(id)"
        _ = FileManager.default.createFile(atPath: inPath, contents: Data(stdin))
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { for path in [inPath, outPath, errPath] { try? FileManager.default.removeItem(atPath: path) } }
        process.standardInput = FileHandle(forReadingAtPath: inPath)
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        try process.run()
        process.waitUntilExit()
        return CLIResult(
            status: process.terminationStatus,
            stdout: Array(FileManager.default.contents(atPath: outPath) ?? Data()),
            stderr: Array(FileManager.default.contents(atPath: errPath) ?? Data()))
    }

    // MARK: Files

    /// Writes a file in the sandbox and returns its absolute path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = "\(root)/\(name)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Every file and directory under the store, with file contents: equal snapshots mean
    /// nothing was written.
    func storeTree() -> [String: [UInt8]?] {
        var tree: [String: [UInt8]?] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: store) else { return tree }
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: "\(store)/\(relative)", isDirectory: &isDirectory)
            tree[relative] = isDirectory.boolValue ? nil : Array(FileManager.default.contents(atPath: "\(store)/\(relative)") ?? Data())
        }
        return tree
    }

    /// How many objects the store holds.
    func objectCount() -> Int {
        storeTree().keys.filter { $0.hasPrefix("objects/") && $0.split(separator: "/").count == 3 }.count
    }

    /// The file holding an object.
    func objectFile(_ hex: String) -> String {
        "\(store)/objects/\(hex.prefix(2))/\(hex.dropFirst(2))"
    }
}

/// Where the built `flowstore` executable is: next to the test bundle (the products
/// directory), else `.build/debug` under the package root.
enum FlowStoreBinary {
    struct Missing: Error, CustomStringConvertible {
        var candidates: [String]
        var description: String {
            "the flowstore executable was not found (looked at \(candidates.joined(separator: ", "))); "
                + "run `swift build` before `swift test`"
        }
    }

    static func path() throws -> String {
        var candidates: [String] = []
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("flowstore").path)
        }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("flowstore").path)
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/flowstore").path)
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Missing(candidates: candidates)
        }
        return found
    }
}

extension JSONValue {
    /// Member or element lookup for tests: `value["nodes"]?[0]`.
    subscript(index: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(index) else { return nil }
        return items[index]
    }
}
