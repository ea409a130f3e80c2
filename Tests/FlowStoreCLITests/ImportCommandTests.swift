import FlowStoreCore
import Foundation
import Testing

/// `flowstore import`: bodies from files, directories and .jsonl, recorded as `put` would.
@Suite struct ImportCommandTests {
    static func flowBody(_ n: Int, path: String = "imported/flow") -> String {
        #"{"path": "\#(path)", "attributes": {"prompt": {"template": "Answer {{q}} #\#(n) ✅", "model": "gpt-4o"}}, "version_name": "v\#(n)"}"#
    }

    /// One ref lock per distinct path used to be held through the whole batch: 3,000 new
    /// flows under `ulimit -n 256` failed with "Too many open files" and recorded nothing.
    @Test func importsManyNewPathsWithFewDescriptors() async throws {
        let sandbox = try await Sandbox.withStore()
        let lines = (0..<3000).map { Self.flowBody($0, path: "migrated/flow-\($0)") }
        _ = try sandbox.write("all.jsonl", lines.joined(separator: "\n") + "\n")
        let result = try sandbox.runBinary(["import", "all.jsonl", "--json"], descriptorLimit: 256)
        #expect(result.status == 0, "\(result.err)")
        #expect(try result.json()["files_created"] == 3000)
        let listed = try await sandbox.expectSuccess("ls", "--json").json()
        #expect(listed.arrayValue?.count == 3000)
        #expect(await sandbox.run("verify").status == 0)

        // A refusal part-way keeps what came before it.
        _ = try sandbox.write("bad.jsonl", Self.flowBody(1, path: "kept/one") + "\n{\"path\": \"x\"}\n" + Self.flowBody(2, path: "kept/two") + "\n")
        let refused = await sandbox.run("import", "bad.jsonl")
        #expect(refused.status == 1)
        #expect(refused.err.hasPrefix("error: bad.jsonl:2: "))
        #expect(await sandbox.run("show", "kept/one").status == 0)
        #expect(await sandbox.run("show", "kept/two").status == 1)
    }

    @Test func importsFilesDirectoriesAndJSONLinesLikePut() async throws {
        let sandbox = try await Sandbox.withStore()
        try FileManager.default.createDirectory(atPath: "\(sandbox.root)/dir", withIntermediateDirectories: true)
        _ = try sandbox.write("dir/a.json", Self.flowBody(1))
        _ = try sandbox.write("dir/b.json", Self.flowBody(2))
        _ = try sandbox.write("dir/notes.txt", "ignored")
        _ = try sandbox.write("more.jsonl", Self.flowBody(3) + "\n\n" + Self.flowBody(3) + "\n" + Self.flowBody(4, path: "imported/other") + "\n")
        let agent = try sandbox.write("agent.json", SeedBodies.promptLayerSimple)

        let result = try await sandbox.expectSuccess("import", "dir", "more.jsonl", agent, "--json").json()
        #expect(result["versions"] == 6)
        #expect(result["created"] == 5)  // the repeated body is "unchanged", as with put
        #expect(result["unchanged"] == 1)
        #expect(result["files_created"] == 3)

        let log = try await sandbox.expectSuccess("log", "imported/flow", "--json").json()
        #expect(log.arrayValue?.compactMap { $0["name"]?.stringValue } == ["v3", "v2", "v1"])
        let verify = await sandbox.run("verify")
        #expect(verify.status == 0, "\(verify)")
        // And a put afterwards continues the history.
        let body = try sandbox.write("next.json", Self.flowBody(5))
        let put = try await sandbox.expectSuccess("put", body)
        #expect(put.out.hasPrefix("created version 4 of \"imported/flow\""))
    }

    @Test func aRefusedBodyIsNamedAndEarlierOnesAreKept() async throws {
        let sandbox = try await Sandbox.withStore()
        _ = try sandbox.write("bad.jsonl", Self.flowBody(1) + "\n" + #"{"path": "imported/flow", "attributes": 7}"# + "\n")
        let failure = await sandbox.expectFailure(["import", "bad.jsonl"])
        #expect(failure.err.contains("bad.jsonl:2"), "\(failure)")
        let log = try await sandbox.expectSuccess("log", "imported/flow", "--json").json()
        #expect(log.arrayValue?.count == 1)
        await sandbox.expectFailure(["import", "missing-dir"])
    }
}
