import Foundation
import Testing

/// Bad input is refused with one `error:` line, exit 1, and nothing written.
@Suite struct InputValidationTests {
    static let hostilePaths = [
        "../x", "/etc/passwd", "a//b", "a/./b", "a/../../b", "a\u{0}b", "a\u{1}b", "a\u{1b}[2Jb",
        String(repeating: "x", count: 1021), "ok/" + String(repeating: "y", count: 1021), ".hidden", "a/", "",
        "a\\b", "x.lock",
    ]

    @Test(arguments: hostilePaths)
    func hostilePathsAreRefusedByPut(path: String) async throws {
        let sandbox = try await Sandbox.withStore()
        let before = sandbox.storeTree()
        let result = await sandbox.expectFailure(["put", "-", "--path", path], stdin: Array(SeedBodies.humanloopUpsert.utf8))
        #expect(result.err.hasPrefix("error: invalid path "))
        #expect(!result.err.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })  // escaped, not echoed raw
        #expect(sandbox.storeTree() == before)
    }

    @Test(arguments: hostilePaths)
    func hostilePathsAreRefusedEverywhere(path: String) async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.promptLayerSimple)
        let before = sandbox.storeTree()
        for arguments in [
            ["mv", "greeting-agent", path], ["label", "set", path, "production"], ["deploy", path, "production"],
            ["rm", path], ["audit", path], ["label", "ls", path],
        ] {
            let result = await sandbox.expectFailure(arguments)
            #expect(result.err.hasPrefix("error: invalid path "), "\(arguments)")
        }
        #expect(sandbox.storeTree() == before)
    }

    @Test(arguments: ["../x", "a/b", "", ".x", "x\u{7}"])
    func hostileLabelsAreRefused(label: String) async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.promptLayerSimple)
        let before = sandbox.storeTree()
        for arguments in [
            ["label", "set", "greeting-agent", label], ["deploy", "greeting-agent", label],
            ["put", "-", "--label", label],
        ] {
            let result = await sandbox.expectFailure(arguments, stdin: Array(SeedBodies.promptLayerSimple.utf8))
            #expect(result.err.hasPrefix("error: invalid "), "\(arguments)")
        }
        #expect(sandbox.storeTree() == before)
    }

    static let invalidBodies: [(String, String)] = [
        ("", "unexpected end of input"),
        ("{\"attributes\": {", "unexpected end of input"),
        ("{\"attributes\": {}, \"attributes\": {}}", "duplicate object key"),
        ("{\"attributes\": {}} trailing", "unexpected data after"),
        ("[1, 2]", "must be a JSON object"),
        ("{\"attributes\": 7}", "attributes: must be an object"),
        ("{\"nothing\": true}", "cannot tell flow from agent"),
        ("{\"nodes\": []}", "at least one node"),
        (#"{"nodes": [{"name": "a", "node_type": "NOPE", "configuration": {}, "is_output_node": true}]}"#, "unknown node_type"),
        (#"{"nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true, "dependencies": ["b"]}]}"#, "dependency \"b\""),
        ("{\"attributes\": {\"s\": \"\\ud800\"}}", "surrogate"),
    ]

    @Test(arguments: invalidBodies)
    func invalidBodiesWriteNothing(body: String, message: String) async throws {
        let sandbox = try await Sandbox.withStore()
        let before = sandbox.storeTree()
        let result = await sandbox.expectFailure(["put", "-", "--path", "x"], stdin: Array(body.utf8))
        #expect(result.err.contains(message), "\(result)")
        #expect(sandbox.storeTree() == before)
    }

    @Test func invalidUTF8IsRefused() async throws {
        let sandbox = try await Sandbox.withStore()
        let before = sandbox.storeTree()
        let bytes: [UInt8] = Array("{\"attributes\": {\"s\": \"".utf8) + [0xff, 0xfe] + Array("\"}}".utf8)
        let result = await sandbox.expectFailure(["put", "-", "--path", "x"], stdin: bytes)
        #expect(result.err.contains("UTF-8"))
        #expect(sandbox.storeTree() == before)
        await sandbox.expectFailure(["hash", "-"], stdin: bytes)
    }

    @Test func putNeedsAPath() async throws {
        let sandbox = try await Sandbox.withStore()
        let before = sandbox.storeTree()
        let result = await sandbox.expectFailure(["put", "-"], stdin: Array(#"{"attributes": {"a": 1}}"#.utf8))
        #expect(result.err.hasPrefix("error: no path: pass --path"))
        #expect(sandbox.storeTree() == before)
    }

    @Test func kindMismatchAndDuplicateVersionNameAreRefused() async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", "--path", "thing", "--name", "v1", stdin: #"{"attributes": {"a": 1}}"#)
        let before = sandbox.storeTree()
        let kind = await sandbox.expectFailure(["put", "-", "--path", "thing"], stdin: Array(SeedBodies.promptLayerSimple.utf8))
        #expect(kind.err.contains("\"thing\" is a flow, not an agent"))
        #expect(sandbox.storeTree() == before)
        let forced = await sandbox.expectFailure(
            ["put", "-", "--kind", "agent", "--path", "x"], stdin: Array(#"{"attributes": {"a": 1}}"#.utf8))
        #expect(forced.err.contains("nodes"))
        let name = await sandbox.expectFailure(
            ["put", "-", "--path", "thing", "--name", "v1"], stdin: Array(#"{"attributes": {"a": 2}}"#.utf8))
        #expect(name.err.contains("already used"))
    }

    @Test func missingInputFileIsAClearError() async throws {
        let sandbox = try await Sandbox.withStore()
        let result = await sandbox.expectFailure(["put", "nope.json", "--path", "x"])
        #expect(result.err == "error: cannot read nope.json: No such file or directory\n")
        let directory = await sandbox.expectFailure(["hash", sandbox.root])
        #expect(directory.err.hasSuffix("is a directory\n"))
    }

    @Test func missingStoreIsAClearErrorAndCreatesNothing() async throws {
        let sandbox = try Sandbox()  // no init
        for arguments in [["log", "x"], ["ls"], ["verify"], ["put", "-", "--path", "x"], ["audit"]] {
            let result = await sandbox.expectFailure(arguments, stdin: Array(#"{"attributes": {}}"#.utf8))
            #expect(
                result.err == "error: not a FlowStore store: \(sandbox.store) (run `flowstore init` or pass --store DIR)\n",
                "\(arguments)")
        }
        #expect(!FileManager.default.fileExists(atPath: sandbox.store))
    }

    @Test func unknownRevisionsAreClearErrors() async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.humanloopUpsert)
        let path = "Personal Projects/MedQA Flow"
        #expect(await sandbox.expectFailure(["show", "elsewhere"]).err == "error: no flow or agent at \"elsewhere\"\n")
        #expect(await sandbox.expectFailure(["show", "\(path)#9"]).err.contains("no version matches"))
        #expect(await sandbox.expectFailure(["show", "\(path)~3"]).err.contains("no version matches"))
        #expect(await sandbox.expectFailure(["show", "\(path)@nolabel"]).err.contains("ref not found"))
        #expect(await sandbox.expectFailure(["cat", "ffff"]).err == "error: no object id starts with ffff\n")
    }

    @Test func usageErrorsExitWithTwo() async throws {
        let sandbox = try await Sandbox.withStore()
        let missing = await sandbox.expectFailure(["put"], status: 2)
        #expect(missing.err == "error: missing expected argument '<file>' (see 'flowstore put --help')\n")
        await sandbox.expectFailure(["frobnicate"], status: 2)
        await sandbox.expectFailure(["log", "x", "-n", "0"], status: 2)
        await sandbox.expectFailure(["put", "-", "--kind", "prompt"], status: 2)
        await sandbox.expectFailure(["hash", "-", "--kind", "flow"], status: 2)
    }
}
