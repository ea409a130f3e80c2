import FlowStoreCLI
import FlowStoreCore
import FlowStoreDirectory
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What one in-process run of the CLI did.
struct CLIResult: CustomStringConvertible, Sendable {
    var status: Int32
    var stdout: [UInt8]
    var stderr: [UInt8]

    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }
    var description: String { "status \(status)\n--- stdout\n\(out)--- stderr\n\(err)" }

    /// The way every refused command must look: exit 1, one `error: ` line, nothing on stdout.
    var isCleanFailure: Bool {
        status == 1 && stdout.isEmpty && err.hasPrefix("error: ") && err.split(separator: "\n").count == 1
    }
}

/// A temp directory holding one store (`<dir>/store`, or the database `location` names),
/// driven either in-process through `FlowStoreCommand.run` or through the built `flowstore`
/// binary.
final class StoreSandbox: @unchecked Sendable {
    let dir: TempDirectory
    /// The store's location: `<dir>/store`, or a `postgres://` URL.
    let store: String
    var environment: [String: String]

    init(_ tag: String, location: String? = nil) throws {
        dir = try TempDirectory(tag)
        store = location ?? "\(dir.path)/store"
        environment = [
            "FLOWSTORE_STORE": store, "FLOWSTORE_AUTHOR": "reliability", "NO_COLOR": "1",
            "PATH": "/usr/bin:/bin",
        ]
    }

    /// A sandbox whose store exists.
    static func initialized(_ tag: String, location: String? = nil) throws -> StoreSandbox {
        let sandbox = try StoreSandbox(tag, location: location)
        try StoreLocation(sandbox.store).initialize()
        return sandbox
    }

    func open() throws -> VersionStore { try StoreLocation(store).open() }

    // MARK: In-process

    func cli(_ arguments: [String], stdin: [UInt8] = [], environment extra: [String: String] = [:]) async -> CLIResult {
        let out = Mutex<[UInt8]>([])
        let err = Mutex<[UInt8]>([])
        let console = Console(
            environment: environment.merging(extra) { $1 }, workingDirectory: dir.path,
            stdout: { bytes in out.withLock { $0 += bytes } }, stderr: { bytes in err.withLock { $0 += bytes } },
            stdin: { stdin })
        let status = await FlowStoreCommand.run(arguments: arguments, console: console)
        return CLIResult(status: status, stdout: out.withLock { $0 }, stderr: err.withLock { $0 })
    }

    func cli(_ arguments: String..., stdin: String = "") async -> CLIResult {
        await cli(arguments, stdin: Array(stdin.utf8))
    }

    // MARK: The binary

    /// Starts `flowstore ARGS` against this store. Call `finish` on a thread of its own.
    func spawn(_ arguments: [String], stdinPath: String? = nil, environment extra: [String: String] = [:]) throws
        -> ChildProcess
    {
        try ChildProcess(
            try FlowStoreBinary.path(), arguments, environment: environment.merging(extra) { $1 }, stdinPath: stdinPath,
            scratch: dir.path)
    }

    /// Runs `flowstore ARGS` to completion (blocking: call from `onThread`).
    func runBinary(_ arguments: [String], stdinPath: String? = nil) throws -> ChildResult {
        try spawn(arguments, stdinPath: stdinPath).finish()
    }

    // MARK: Looking at the tree

    /// Every file and directory under the store, with file contents: equal snapshots mean
    /// nothing was written.
    func snapshot() -> [String: [UInt8]] {
        Self.snapshot(of: store)
    }

    static func snapshot(of root: String) -> [String: [UInt8]] {
        var tree: [String: [UInt8]] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return tree }
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: "\(root)/\(relative)", isDirectory: &isDirectory)
            tree[relative] = isDirectory.boolValue ? [] : Array(FileManager.default.contents(atPath: "\(root)/\(relative)") ?? Data([0xFF]))
            if isDirectory.boolValue { tree[relative + "/"] = [] }
        }
        return tree
    }

    /// Leftovers of interrupted writes: files in `tmp/` and ref lock files.
    func leftovers() -> [String] {
        var found: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(store)/tmp")) ?? [] {
            found.append("tmp/\(name)")
        }
        if let walker = FileManager.default.enumerator(atPath: "\(store)/refs") {
            while let relative = walker.nextObject() as? String {
                if relative.hasSuffix(".lock") { found.append("refs/\(relative)") }
            }
        }
        return found.sorted()
    }

    /// The file holding an object.
    func objectFile(_ id: ObjectID) -> String {
        "\(store)/objects/\(id.hex.prefix(2))/\(id.hex.dropFirst(2))"
    }

    func refFile(_ name: String) -> String { "\(store)/refs/\(name).ref" }
}

extension [String: [UInt8]] {
    /// Paths that differ between two snapshots, for readable failures.
    func difference(from other: [String: [UInt8]]) -> [String] {
        Set(keys).union(other.keys).filter { self[$0] != other[$0] }.sorted()
    }
}
