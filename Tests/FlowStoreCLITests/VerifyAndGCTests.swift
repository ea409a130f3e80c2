import FlowStoreCore
import FlowStoreDirectory
import Foundation
import Synchronization
import Testing

@Suite struct VerifyAndGCTests {
    @Test func cleanStoreVerifies() async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", "--label", "production", stdin: SeedBodies.humanloopUpsert)
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.promptLayerConditionalEdges)
        let verify = try await sandbox.expectSuccess("verify")
        #expect(verify.out.hasPrefix("ok: \(sandbox.objectCount()) objects, 5 refs, "))
        #expect(verify.out.hasSuffix(" events verified\n"))
        let json = try await sandbox.expectSuccess("verify", "--json").json()
        #expect(json["ok"] == true)
        #expect(json["problems"] == [])
        #expect(try sandbox.runBinary(["verify"]).status == 0)
    }

    @Test func flippedByteInAnObjectFails() async throws {
        let sandbox = try await Sandbox.withStore()
        let put = try await sandbox.expectSuccess("put", "-", "--json", stdin: SeedBodies.humanloopUpsert).json()
        let content = try #require(put["content_id"]?.stringValue)
        let file = sandbox.objectFile(content)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        var bytes = try #require(FileManager.default.contents(atPath: file))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: file))

        let verify = await sandbox.run("verify")
        #expect(verify.status == 1)
        #expect(verify.outLines.contains { $0.hasPrefix("problem: \(content): ") })
        #expect(verify.outLines.last?.hasPrefix("1 problem found in ") == true)
        let json = await sandbox.run("verify", "--json")
        #expect(json.status == 1)
        #expect(try json.json()["problems"]?[0]?["subject"]?.stringValue == content)

        let binary = try sandbox.runBinary(["verify"])
        #expect(binary.status == 1)
        #expect(binary.out.contains(content))
    }

    @Test func refToMissingObjectFails() async throws {
        let sandbox = try await Sandbox.withStore()
        let put = try await sandbox.expectSuccess("put", "-", "--json", stdin: SeedBodies.humanloopUpsert).json()
        let file = try #require(put["file_id"]?.stringValue)
        let missing = String(repeating: "ab", count: 32)
        let refDirectory = "\(sandbox.store)/refs/files/\(file)/labels"
        try FileManager.default.createDirectory(atPath: refDirectory, withIntermediateDirectories: true)
        try sandbox.write("store/refs/files/\(file)/labels/production.ref", "\(missing)\n")

        let verify = await sandbox.run("verify")
        #expect(verify.status == 1)
        let problem = try #require(verify.outLines.first { $0.hasPrefix("problem: ") })
        #expect(problem.contains("ref files/\(file)/labels/production"))
        #expect(problem.contains(missing))
        #expect(try sandbox.runBinary(["verify"]).status == 1)
    }

    @Test func gcRemovesOnlyUnreachableObjects() async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.humanloopUpsert)
        // An object nothing refers to, as an interrupted write would leave.
        let store = try VersionStore.open(at: sandbox.store)
        let stray = try store.write(.content(ContentObject(kind: .flow, definition: try #require(
            try JSONParser.parse(#"{"attributes": {"orphan": true}}"#).objectValue))))
        let count = sandbox.objectCount()

        let kept = try await sandbox.expectSuccess("gc", "--json").json()  // within the grace period
        #expect(kept["removed"] == [])
        #expect(kept["kept_recent"] == 1)
        let dryRun = try await sandbox.expectSuccess("gc", "--prune-now", "--dry-run", "--json").json()
        #expect(dryRun["removed"] == [.string(stray.hex)])
        #expect(sandbox.objectCount() == count)

        let pruned = try await sandbox.expectSuccess("gc", "--prune-now")
        #expect(pruned.outLines.first == "removed \(stray.hex)")
        #expect(sandbox.objectCount() == count - 1)
        try await sandbox.expectSuccess("verify")
    }

    /// `gc --prune-now` processes in a loop beside writer processes that re-use each other's
    /// content: every acknowledged `put` is there afterwards and `verify` passes.
    @Test func gcPruneNowBesideWriterProcessesLosesNothing() async throws {
        let sandbox = try await Sandbox.withStore()
        let puts = 10
        let body = SeedBodies.humanloopUpsert
        // `runBinary` only reads the sandbox's paths and environment, which nothing changes here.
        struct Shared: @unchecked Sendable { let sandbox: Sandbox }
        let shared = Shared(sandbox: sandbox)
        let writers = (0..<2).map { writer in
            Task.detached { () throws -> [Int32] in
                try (0..<puts).map { n in
                    // Both writers store the same contents in turn: the second re-uses the first's.
                    let text = body.replacingOccurrences(of: "\"temperature\": 0.8", with: "\"temperature\": \(n)")
                    return try shared.sandbox.runBinary(["put", "-", "--path", "race/w\(writer)"], stdin: Array(text.utf8)).status
                }
            }
        }
        let done = Atomic<Bool>(false)
        let collector = Task.detached { () throws -> [String] in
            var failed: [String] = []
            while !done.load(ordering: .sequentiallyConsistent) {
                let result = try shared.sandbox.runBinary(["gc", "--prune-now"])
                if result.status != 0 { failed.append(result.description) }
            }
            return failed
        }
        for writer in writers { #expect(try await writer.value == Array(repeating: 0, count: puts)) }
        done.store(true, ordering: .sequentiallyConsistent)
        #expect(try await collector.value == [])
        for writer in 0..<2 { try await sandbox.expectSuccess("show", "race/w\(writer)#\(puts)") }
        try await sandbox.expectSuccess("gc", "--prune-now")
        try await sandbox.expectSuccess("verify")
    }
}
