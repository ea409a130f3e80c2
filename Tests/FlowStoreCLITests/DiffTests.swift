import FlowStoreCore
import Testing

@Suite struct DiffTests {
    @Test func flowDiffShowsChangedAttributes() async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.humanloopUpsert)
        let warmer = SeedBodies.humanloopUpsert
            .replacingOccurrences(of: "\"temperature\": 0.8", with: "\"temperature\": 0.9, \"top_p\": 1")
        try await sandbox.expectSuccess("put", "-", "-m", "Warmer sampling", stdin: warmer)

        let path = "Personal Projects/MedQA Flow"
        let diff = try await sandbox.expectSuccess("diff", "\(path)#1", path)
        #expect(diff.outLines == [
            "+ message: \"Warmer sampling\"",
            "~ attributes.prompt.temperature: 0.8 → 0.9",
            "+ attributes.prompt.top_p: 1",
        ])
        #expect(!diff.out.contains("\u{1b}["))

        let json = try await sandbox.expectSuccess("diff", "\(path)~1", path, "--json").json()
        #expect(json["changes"]?[1] == [
            "location": "attributes.prompt.temperature", "change": "changed", "from": 0.8, "to": 0.9,
        ])
        #expect(json["changes"]?[2]?["from"] == .null)

        let same = try await sandbox.expectSuccess("diff", path, path)
        #expect(same.out == "no differences\n")
    }

    @Test func agentDiffShowsNodesAndEdges() async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.promptLayerConditionalEdges)
        var body = try #require(try JSONParser.parse(SeedBodies.promptLayerConditionalEdges).objectValue)
        // v2: a new node, the support edge gone, the sales edge's condition changed.
        var nodes = try #require(body["nodes"]?.arrayValue)
        nodes.append([
            "name": "audit_log", "node_type": "VARIABLE", "is_output_node": false,
            "configuration": ["value": ["type": "string", "value": "logged"]], "dependencies": ["router"],
        ])
        body["nodes"] = .array(nodes)
        var sales = try #require(body["edges"]?[0]?.objectValue)
        sales["is_and"] = false
        body["edges"] = [.object(sales)]
        try await sandbox.expectSuccess("put", "-", stdin: JSONValue.object(body).prettyPrinted())

        let diff = try await sandbox.expectSuccess("diff", "routing-agent#1", "routing-agent")
        #expect(diff.outLines == [
            "- edges[\"router\" -> \"support_handler\"]",
            "~ edges[\"router\" -> \"sales_handler\"].is_and: true → false",
            "+ nodes[\"audit_log\"]",
        ])
        let json = try await sandbox.expectSuccess("diff", "routing-agent#1", "routing-agent", "--json").json()
        #expect(json["changes"]?[2]?["location"] == "nodes[\"audit_log\"]")
        #expect(json["changes"]?[2]?["to"]?["node_type"] == "VARIABLE")
    }

    @Test func colourOnlyOnATerminalWithoutNoColor() async throws {
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", stdin: SeedBodies.humanloopUpsert)
        let warmer = SeedBodies.humanloopUpsert.replacingOccurrences(of: "0.8", with: "0.9")
        try await sandbox.expectSuccess("put", "-", stdin: warmer)
        let arguments = ["diff", "Personal Projects/MedQA Flow~1", "Personal Projects/MedQA Flow"]

        let tty = await sandbox.run(arguments, terminal: true)
        #expect(tty.out == "\u{1b}[33m~ attributes.prompt.temperature: 0.8 → 0.9\u{1b}[0m\n")
        let noColor = await sandbox.run(arguments, environment: ["NO_COLOR": "1"], terminal: true)
        #expect(noColor.out == "~ attributes.prompt.temperature: 0.8 → 0.9\n")
    }

    @Test func diffOfNonVersionsIsAnError() async throws {
        let sandbox = try await Sandbox.withStore()
        let put = try await sandbox.expectSuccess("put", "-", "--json", stdin: SeedBodies.humanloopUpsert).json()
        let content = try #require(put["content_id"]?.stringValue)
        let failure = await sandbox.expectFailure(["diff", content, "Personal Projects/MedQA Flow"])
        #expect(failure.err.contains("not a version"))
    }
}
