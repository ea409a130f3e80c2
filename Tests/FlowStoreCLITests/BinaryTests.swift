import FlowStoreCore
import Foundation
import Testing

/// The built `flowstore` executable: exit codes, standard error, standard input.
@Suite struct BinaryTests {
    @Test func exitCodesAndErrorLines() async throws {
        let sandbox = try Sandbox()
        let missingStore = try sandbox.runBinary(["log", "x"])
        #expect(missingStore.status == 1)
        #expect(missingStore.err == "error: not a FlowStore store: \(sandbox.store) (run `flowstore init` or pass --store DIR)\n")
        #expect(!FileManager.default.fileExists(atPath: sandbox.store))

        let initialised = try sandbox.runBinary(["init"])
        #expect(initialised.status == 0)
        #expect(initialised.out == "Initialized empty FlowStore in \(sandbox.store)\n")

        let before = sandbox.storeTree()
        let traversal = try sandbox.runBinary(["put", "-", "--path", "../x"], stdin: Array(SeedBodies.humanloopUpsert.utf8))
        #expect(traversal.status == 1)
        #expect(traversal.err == "error: invalid path \"../x\": '.' and '..' are not allowed\n")
        #expect(traversal.stdout.isEmpty)
        let badJSON = try sandbox.runBinary(["put", "-", "--path", "x"], stdin: Array("{\"attributes\":".utf8))
        #expect(badJSON.status == 1)
        #expect(badJSON.err == "error: <stdin>: invalid JSON at byte 14: unexpected end of input\n")
        #expect(sandbox.storeTree() == before)

        let usage = try sandbox.runBinary(["put", "--bogus"])
        #expect(usage.status == 2)
        #expect(usage.err.hasPrefix("error: "))
        #expect(usage.err.split(separator: "\n").count == 1)

        let help = try sandbox.runBinary(["put", "--help"])
        #expect(help.status == 0)
        #expect(help.out.contains("USAGE: flowstore put"))
        #expect(help.stderr.isEmpty)
    }

    @Test func storeOptionAndEnvironment() async throws {
        let sandbox = try Sandbox()
        #expect(try sandbox.runBinary(["init", "--store", "elsewhere"]).status == 0)
        let put = try sandbox.runBinary(
            ["put", "-", "--store", "\(sandbox.root)/elsewhere", "--json"], stdin: Array(SeedBodies.promptLayerSimple.utf8),
            environment: ["FLOWSTORE_AUTHOR": "", "USER": "carol"])
        #expect(put.status == 0, "\(put)")
        let shown = try sandbox.runBinary(["show", "greeting-agent", "--json"], environment: ["FLOWSTORE_DIR": "elsewhere"])
        #expect(try shown.json()["author"] == "carol")
        let flagged = try sandbox.runBinary(
            ["label", "set", "greeting-agent", "staging", "--author", "dave", "--store", "elsewhere"])
        #expect(flagged.status == 0, "\(flagged)")
        let audit = try sandbox.runBinary(["audit", "--json", "-n", "1", "--store", "elsewhere"])
        #expect(try audit.json()[0]?["author"] == "dave")
    }

    /// A body of several megabytes through a pipe: stdin is read to the end, not one buffer.
    @Test func largeInputOnStandardInput() async throws {
        let sandbox = try Sandbox()
        #expect(try sandbox.runBinary(["init"]).status == 0)
        let big = String(repeating: "All work and no play. ", count: 200_000)
        let body = Array("{\"attributes\": {\"prompt\": {\"template\": \"\(big)\"}}}".utf8)
        #expect(body.count > 4_000_000)
        let hashed = try sandbox.runBinary(["hash", "--content", "-"], stdin: body)
        #expect(hashed.status == 0)
        let put = try sandbox.runBinary(["put", "-", "--path", "big", "--json"], stdin: body)
        #expect(put.status == 0)
        #expect(try put.json()["content_id"]?.stringValue.map { $0 + "\n" } == hashed.out)
        let raw = try sandbox.runBinary(["cat", "big"])
        #expect(raw.status == 0)
        #expect(ObjectID(hashing: raw.stdout).hex == (try put.json()["version_id"]?.stringValue))
    }
}

/// Every command teaches: an abstract and, for leaf commands, examples.
@Suite struct HelpTests {
    static let commands: [[String]] = [
        ["init"], ["hash"], ["put"], ["show"], ["cat"], ["log"], ["diff"], ["ls"], ["mv"], ["rm"], ["label", "set"],
        ["label", "rm"], ["label", "ls"], ["deploy"], ["undeploy"], ["env", "ls"], ["deployments"], ["promote"],
        ["audit"], ["verify"], ["gc"],
    ]

    @Test(arguments: commands)
    func helpHasUsageAndExamples(command: [String]) async throws {
        let sandbox = try Sandbox()
        let help = await sandbox.run(command + ["--help"])
        #expect(help.status == 0)
        #expect(help.out.contains("OVERVIEW: "))
        #expect(help.out.contains("USAGE: flowstore \(command.joined(separator: " "))"))
        #expect(help.out.contains("Example"), "\(command)")
        #expect(help.out.contains("--store <location>"), "\(command)")
    }

    @Test func rootHelpListsEveryCommand() async throws {
        let sandbox = try Sandbox()
        let help = await sandbox.run("--help")
        #expect(help.status == 0)
        for command in Self.commands.map(\.[0]) + ["serve"] {
            #expect(help.out.contains("\n  \(command) "), "\(command)")
        }
    }
}
