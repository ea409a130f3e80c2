import FlowStoreCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's umask, read without changing it for longer than two calls.
enum FlowStoreCLITestsUmask {
    static var current: mode_t {
        let mask = umask(0o022)
        umask(mask)
        return mask
    }
}

/// init → put → show → log for each seed body, dedup of identical puts, and `hash`.
@Suite struct RoundTripTests {
    @Test func initCreatesAndReinitialises() async throws {
        let sandbox = try Sandbox()
        let first = try await sandbox.expectSuccess("init")
        #expect(first.out == "Initialized empty FlowStore in \(sandbox.store)\n")
        let again = try await sandbox.expectSuccess("init")
        #expect(again.out == "Reinitialized existing FlowStore in \(sandbox.store)\n")
        let explicit = try await sandbox.expectSuccess("init", "--store", "other")
        #expect(explicit.out == "Initialized empty FlowStore in \(sandbox.root)/other\n")
    }

    /// A new store is private (0700 directories: nothing inside is reachable by other users,
    /// whatever the files' modes); `--shared` keeps the umask's modes.
    @Test func initCreatesPrivateStoresUnlessShared() async throws {
        let sandbox = try Sandbox()
        try await sandbox.expectSuccess("init")
        let body = try sandbox.write("flow.json", SeedBodies.humanloopUpsert)
        try await sandbox.expectSuccess("put", body)
        func mode(_ path: String) throws -> Int {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            return try #require(attributes[.posixPermissions] as? Int)
        }
        for dir in ["", "/objects", "/refs", "/tmp"] {
            #expect(try mode(sandbox.store + dir) == 0o700, "\(sandbox.store + dir)")
        }
        let umask = Int(FlowStoreCLITestsUmask.current)
        try await sandbox.expectSuccess("init", "--shared", "--store", "shared")
        for dir in ["", "/objects", "/refs", "/tmp"] {
            #expect(try mode("\(sandbox.root)/shared\(dir)") == 0o777 & ~umask, "shared\(dir)")
        }
        // Re-running init on an existing store changes no mode.
        try await sandbox.expectSuccess("init")
        #expect(try mode(sandbox.store) == 0o700)
    }

    @Test func humanloopUpsertBodyRoundTrips() async throws {
        let sandbox = try await Sandbox.withStore()
        let body = try sandbox.write("flow.json", SeedBodies.humanloopUpsert)
        let put = try await sandbox.expectSuccess("put", body)  // the path comes from the body
        #expect(put.out.hasPrefix("created version 1 of \"Personal Projects/MedQA Flow\" "))

        let show = try await sandbox.expectSuccess("show", "Personal Projects/MedQA Flow", "--json").json()
        let sent = try JSONParser.parse(SeedBodies.humanloopUpsert)
        #expect(show["definition"] == ["attributes": sent["attributes"]!])
        #expect(show["path"] == "Personal Projects/MedQA Flow")
        #expect(show["kind"] == "flow")
        #expect(show["number"] == 1)
        #expect(show["author"] == "tester")
        #expect(show["parents"] == [])
        #expect(show["is_head"] == true)
        let versionID = try #require(show["version_id"]?.stringValue)
        #expect(put.out.contains(String(versionID.prefix(12))))

        let text = try await sandbox.expectSuccess("show", "Personal Projects/MedQA Flow")
        #expect(text.outLines.first == "version \(versionID)")
        #expect(text.out.contains("path:         Personal Projects/MedQA Flow\n"))
        #expect(text.out.contains("\"temperature\": 0.8"))

        let log = try await sandbox.expectSuccess("log", "Personal Projects/MedQA Flow", "--json").json()
        #expect(log.arrayValue?.count == 1)
        #expect(log[0]?["version_id"]?.stringValue == versionID)
        let textLog = try await sandbox.expectSuccess("log", "Personal Projects/MedQA Flow")
        #expect(textLog.outLines.first == "version 1 \(versionID.prefix(12)) (head)")
    }

    @Test(arguments: [
        (SeedBodies.promptLayerMultiNode, "classifier-agent"),
        (SeedBodies.promptLayerConditionalEdges, "routing-agent"),
    ])
    func promptLayerCreateBodyRoundTrips(body: String, name: String) async throws {
        let sandbox = try await Sandbox.withStore()
        let put = try await sandbox.expectSuccess("put", "-", stdin: body)
        #expect(put.out.hasPrefix("created version 1 of \"\(name)\" "))

        let sent = try JSONParser.parse(body)
        let show = try await sandbox.expectSuccess("show", name, "--json").json()
        #expect(show["kind"] == "agent")
        #expect(show["definition"]?["nodes"] == sent["nodes"])
        #expect(show["definition"]?["edges"] == (sent["edges"] ?? []))
        #expect(show["definition"]?["required_input_variables"] == sent["required_input_variables"])

        let log = try await sandbox.expectSuccess("log", name, "--oneline")
        #expect(log.outLines.count == 1)
        #expect(log.out.hasPrefix("#1 "))
    }

    @Test func bodyFieldsBecomeVersionFieldsAndFlagsOverrideThem() async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.promptLayerSimple)
        let simple = try await sandbox.expectSuccess("show", "greeting-agent", "--json").json()
        #expect(simple["message"] == "Initial version")
        #expect(simple["labels"] == ["production"])

        try await sandbox.expectSuccess(
            "put", "-", "--path", "team/greeter", "--name", "v-one", "-m", "from flags", "--label", "staging",
            stdin: SeedBodies.promptLayerSimple)
        let flagged = try await sandbox.expectSuccess("show", "team/greeter", "--json").json()
        #expect(flagged["name"] == "v-one")
        #expect(flagged["message"] == "from flags")
        #expect(flagged["labels"] == ["staging"])  // --label replaces release_labels
        #expect(flagged["path"] == "team/greeter")
    }

    @Test func identicalPutIsUnchangedAndStoresNothing() async throws {
        let sandbox = try await Sandbox.withStore()
        let first = try await sandbox.expectSuccess("put", "-", "--json", stdin: SeedBodies.humanloopUpsert).json()
        #expect(first["created"] == true)
        let objects = sandbox.objectCount()
        let tree = sandbox.storeTree()

        // Same definition, different formatting and key order: same content, same version.
        let reformatted = try JSONParser.parse(SeedBodies.humanloopUpsert).prettyPrinted(indent: 7)
        let second = try await sandbox.expectSuccess("put", "-", "--json", stdin: reformatted).json()
        #expect(second["created"] == false)
        #expect(second["version_id"] == first["version_id"])
        #expect(second["content_id"] == first["content_id"])
        #expect(second["number"] == 1)
        #expect(sandbox.objectCount() == objects)
        #expect(sandbox.storeTree() == tree)

        let text = try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.humanloopUpsert)
        #expect(text.out.hasPrefix("unchanged: version 1 of \"Personal Projects/MedQA Flow\" "))
        #expect(text.out.hasSuffix(" is identical\n"))
    }

    @Test func changedPutCreatesTheNextVersion() async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.humanloopUpsert)
        let warmer = SeedBodies.humanloopUpsert.replacingOccurrences(of: "0.8", with: "0.9")
        let put = try await sandbox.expectSuccess("put", "-", "--json", stdin: warmer).json()
        #expect(put["number"] == 2)
        #expect(put["created"] == true)
        let log = try await sandbox.expectSuccess("log", "Personal Projects/MedQA Flow", "--json").json()
        #expect(log.arrayValue?.map { $0["number"] } == [2, 1])
        #expect(log[0]?["parents"] == [log[1]!["version_id"]!])
        let limited = try await sandbox.expectSuccess("log", "Personal Projects/MedQA Flow", "-n", "1", "--json").json()
        #expect(limited.arrayValue?.count == 1)
    }

    /// Ids computed outside FlowStore: the RFC 8785 example's SHA-256 from spec/vectors, and
    /// for the seed body, Python's `hashlib.sha256(json.dumps(body, sort_keys=True,
    /// separators=(",", ":"), ensure_ascii=False).encode())` (valid JCS for this body).
    @Test func hashMatchesIndependentlyComputedIds() async throws {
        let sandbox = try Sandbox()  // no store: hash must not need one
        let rfcExample = #"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}"#
        let rfc = try await sandbox.expectSuccess("hash", "-", stdin: rfcExample)
        #expect(rfc.out == "2d5e01a318d0f0879ab568c4be289c8b1f64ef8921a53c6277d5e069978baacb\n")

        let file = try sandbox.write("flow.json", SeedBodies.humanloopUpsert)
        let seed = try await sandbox.expectSuccess("hash", file)
        #expect(seed.out == "5f5e4c0fbdabed1ca9c3fa0cc2b653f1faf777492cae50c2b81f0bcd884af70a\n")
        // The content object: {"type":"content","kind":"flow","attributes":…}, hashed the same way.
        let content = try await sandbox.expectSuccess("hash", "--content", file)
        #expect(content.out == "2fa5de40dd26824835a57611ea6fb4df18b3c36cb8e5543711e22fdc4fc59692\n")
        #expect(sandbox.storeTree().isEmpty)

        // …and it is the id `put` stores, whose bytes hash to it.
        try await sandbox.expectSuccess("init")
        let put = try await sandbox.expectSuccess("put", file, "--json").json()
        #expect(put["content_id"] == "2fa5de40dd26824835a57611ea6fb4df18b3c36cb8e5543711e22fdc4fc59692")
        let raw = try await sandbox.expectSuccess("cat", "2fa5de40")
        #expect(ObjectID(hashing: raw.stdout).hex == "2fa5de40dd26824835a57611ea6fb4df18b3c36cb8e5543711e22fdc4fc59692")
    }

    @Test func hashContentOfAnAgentMatchesWhatPutStores() async throws {
        let sandbox = try await Sandbox.withStore()
        let hashed = try await sandbox.expectSuccess("hash", "--content", "-", stdin: SeedBodies.promptLayerConditionalEdges)
        let put = try await sandbox.expectSuccess("put", "-", "--json", stdin: SeedBodies.promptLayerConditionalEdges).json()
        #expect(put["content_id"]?.stringValue.map { $0 + "\n" } == hashed.out)
    }

    @Test func catPrintsCanonicalBytesOfRevisionsAndIds() async throws {
        let sandbox = try await Sandbox.withStore()
        let put = try await sandbox.expectSuccess("put", "-", "--json", stdin: SeedBodies.humanloopUpsert).json()
        let versionID = try #require(put["version_id"]?.stringValue)
        let byPath = try await sandbox.expectSuccess("cat", "Personal Projects/MedQA Flow")
        let byID = try await sandbox.expectSuccess("cat", String(versionID.prefix(8)))
        #expect(byPath.stdout == byID.stdout)
        #expect(ObjectID(hashing: byID.stdout).hex == versionID)
        #expect(byID.stdout.last == UInt8(ascii: "}"))  // raw: no newline added
    }

    @Test func showPrintsOtherObjectsAsJSON() async throws {
        let sandbox = try await Sandbox.withStore()
        let put = try await sandbox.expectSuccess("put", "-", "--json", stdin: SeedBodies.humanloopUpsert).json()
        let contentID = try #require(put["content_id"]?.stringValue)
        let shown = try await sandbox.expectSuccess("show", contentID, "--json").json()
        #expect(shown["type"] == "content")
        #expect(shown["id"]?.stringValue == contentID)
        let text = try await sandbox.expectSuccess("show", String(contentID.prefix(10)))
        #expect(text.out.contains("\"type\": \"content\""))
    }

    @Test func listShowsFilesWithHeadsAndLabels() async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.humanloopUpsert)
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.promptLayerSimple)
        let list = try await sandbox.expectSuccess("ls")
        #expect(list.outLines == [
            "flow   #1  Personal Projects/MedQA Flow",
            "agent  #1  greeting-agent  (production=#1)",
        ])
        let json = try await sandbox.expectSuccess("ls", "--json").json()
        #expect(json.arrayValue?.map { $0["path"] } == ["Personal Projects/MedQA Flow", "greeting-agent"])
        #expect(json[1]?["labels"]?[0]?["name"] == "production")
        #expect(json[1]?["head_number"] == 1)
    }

    @Test func moveAndRemoveKeepHistory() async throws {
        let sandbox = try await Sandbox.withStore()
        let put = try await sandbox.expectSuccess("put", "-", "--json", stdin: SeedBodies.promptLayerConditionalEdges).json()
        let versionID = try #require(put["version_id"]?.stringValue)
        try await sandbox.expectSuccess("mv", "routing-agent", "agents/router")
        let moved = try await sandbox.expectSuccess("show", "agents/router", "--json").json()
        #expect(moved["version_id"]?.stringValue == versionID)
        await sandbox.expectFailure(["show", "routing-agent"])

        let removed = try await sandbox.expectSuccess("rm", "agents/router", "-m", "retired")
        #expect(removed.out.hasPrefix("removed \"agents/router\""))
        #expect(try await sandbox.expectSuccess("ls").out.isEmpty)
        let byID = try await sandbox.expectSuccess("show", versionID, "--json").json()
        #expect(byID["path"] == "routing-agent")
        let audit = try await sandbox.expectSuccess("audit", "--json").json()
        #expect(audit[0]?["display"] == "path agents/router")
        #expect(audit[0]?["action"] == "delete")
        #expect(audit[0]?["message"] == "retired")
    }
}
