import FlowStoreCore
import Testing

/// Labels, environments, promotion, compare-and-swap and the audit trail.
@Suite struct RefCommandTests {
    static let path = "Personal Projects/MedQA Flow"

    /// A store holding two versions of the MedQA flow; returns their ids.
    static func twoVersions() async throws -> (Sandbox, v1: String, v2: String) {
        let sandbox = try await Sandbox.withStore()
        let v1 = try await sandbox.expectSuccess("put", "-", "--json", stdin: SeedBodies.humanloopUpsert).json()
        let warmer = SeedBodies.humanloopUpsert.replacingOccurrences(of: "0.8", with: "0.9")
        let v2 = try await sandbox.expectSuccess("put", "-", "--json", stdin: warmer).json()
        return (sandbox, try #require(v1["version_id"]?.stringValue), try #require(v2["version_id"]?.stringValue))
    }

    @Test func labelSetPromoteAndAudit() async throws {
        let (sandbox, v1, v2) = try await Self.twoVersions()
        let set = try await sandbox.expectSuccess("label", "set", Self.path, "production", "1")
        #expect(set.out == "set label production to version 1 (\(v1.prefix(12))) of \"\(Self.path)\"\n")
        let again = try await sandbox.expectSuccess("label", "set", Self.path, "production", "\(Self.path)#1")
        #expect(again.out.hasPrefix("label production already points at version 1"))
        try await sandbox.expectSuccess("label", "set", Self.path, "staging")  // default: the head

        let promoted = try await sandbox.expectSuccess(
            "promote", Self.path, "--from", "staging", "--to", "production", "-m", "ship it")
        #expect(promoted.out.contains("now points at version 2 (\(v2.prefix(12)))"))

        let labels = try await sandbox.expectSuccess("label", "ls", Self.path, "--json").json()
        #expect(labels == [
            ["name": "production", "number": 2, "version_id": .string(v2)],
            ["name": "staging", "number": 2, "version_id": .string(v2)],
        ])
        let resolved = try await sandbox.expectSuccess("show", "\(Self.path)@production", "--json").json()
        #expect(resolved["version_id"]?.stringValue == v2)

        let audit = try await sandbox.expectSuccess("audit", Self.path, "--json").json()
        let events = try #require(audit.arrayValue)
        let promotion = try #require(events.first { $0["message"] == "ship it" })
        #expect(promotion["display"]?.stringValue == "\(Self.path)@production")
        #expect(promotion["action"] == "move")
        #expect(promotion["from"]?.stringValue == v1)
        #expect(promotion["to"]?.stringValue == v2)
        #expect(promotion["author"] == "tester")
        // Newest first.
        let times = events.compactMap { $0["time"]?.stringValue }
        #expect(times == times.sorted(by: >))

        let text = try await sandbox.expectSuccess("audit", Self.path, "-n", "1")
        #expect(text.outLines.count == 1)
        #expect(text.out.contains("\(Self.path)@production  \(v1.prefix(12)) → \(v2.prefix(12))  ship it"))
    }

    @Test func expectMismatchIsAnErrorAndChangesNothing() async throws {
        let (sandbox, v1, _) = try await Self.twoVersions()
        try await sandbox.expectSuccess("label", "set", Self.path, "production", "1", "--expect", "none")
        let before = sandbox.storeTree()

        let unset = await sandbox.expectFailure(["label", "set", Self.path, "production", "2", "--expect", "none"])
        #expect(unset.err == "error: label production of \"\(Self.path)\" is at \(v1.prefix(12)), not unset as --expect requires; nothing changed\n")
        let wrong = await sandbox.expectFailure(["label", "set", Self.path, "production", "1", "--expect", "2"])
        #expect(wrong.err.contains("--expect"))
        #expect(sandbox.storeTree() == before)

        try await sandbox.expectSuccess("label", "set", Self.path, "production", "2", "--expect", "1")
        let now = try await sandbox.expectSuccess("show", "\(Self.path)@production", "--json").json()
        #expect(now["number"] == 2)
    }

    @Test func labelRemove() async throws {
        let (sandbox, v1, _) = try await Self.twoVersions()
        try await sandbox.expectSuccess("label", "set", Self.path, "staging", "1")
        let removed = try await sandbox.expectSuccess("label", "rm", Self.path, "staging")
        #expect(removed.out == "removed label staging from \"\(Self.path)\" (was \(v1.prefix(12)))\n")
        #expect(try await sandbox.expectSuccess("label", "ls", Self.path, "--json").json() == [])
        await sandbox.expectFailure(["label", "rm", Self.path, "staging"])
        await sandbox.expectFailure(["show", "\(Self.path)@staging"])
    }

    @Test func deployAndUndeploy() async throws {
        let (sandbox, v1, _) = try await Self.twoVersions()
        let deployed = try await sandbox.expectSuccess("deploy", Self.path, "production", "1")
        #expect(deployed.out == "deployed version 1 (\(v1.prefix(12))) of \"\(Self.path)\" to production\n")
        try await sandbox.expectSuccess("deploy", Self.path, "development")

        let list = try await sandbox.expectSuccess("env", "ls", Self.path, "--json").json()
        #expect(list.arrayValue?.map { $0["name"] } == ["development", "production"])
        #expect(list[1]?["version_id"]?.stringValue == v1)
        let alias = try await sandbox.expectSuccess("deployments", Self.path, "--json").json()
        #expect(alias == list)

        let shown = try await sandbox.expectSuccess("show", "\(Self.path)@environments/production", "--json").json()
        #expect(shown["environments"] == ["production"])
        #expect(shown["labels"] == [])

        let undeployed = try await sandbox.expectSuccess("undeploy", Self.path, "production")
        #expect(undeployed.out == "undeployed \"\(Self.path)\" from production (was \(v1.prefix(12)))\n")
        let after = try await sandbox.expectSuccess("deployments", Self.path)
        #expect(after.outLines.count == 1)
        #expect(after.out.hasPrefix("development  version 2  "))
        await sandbox.expectFailure(["undeploy", Self.path, "production"])
    }

    @Test func promoteBetweenEnvironments() async throws {
        let (sandbox, _, v2) = try await Self.twoVersions()
        try await sandbox.expectSuccess("deploy", Self.path, "staging")
        try await sandbox.expectSuccess("promote", Self.path, "--from", "staging", "--to", "production", "--environments")
        let production = try await sandbox.expectSuccess("show", "\(Self.path)@environments/production", "--json").json()
        #expect(production["version_id"]?.stringValue == v2)
        await sandbox.expectFailure(["promote", Self.path, "--from", "nowhere", "--to", "production"])
    }

    @Test func labelsOfAnotherFileAreRefused() async throws {
        let (sandbox, _, _) = try await Self.twoVersions()
        let agent = try await sandbox.expectSuccess("put", "-", "--json", stdin: SeedBodies.promptLayerSimple).json()
        let before = sandbox.storeTree()
        let agentVersion = try #require(agent["version_id"]?.stringValue)
        let refused = await sandbox.expectFailure(["label", "set", Self.path, "production", agentVersion])
        #expect(refused.err.contains("belongs to another file"))
        #expect(sandbox.storeTree() == before)
    }

    /// Names with 255-byte segments (spelled over several levels under `refs/`) through every
    /// command that lists, checks or copies refs.
    @Test(arguments: [String(repeating: "n", count: 255), String(repeating: "é", count: 127) + "n"])
    func longNames(_ name: String) async throws {
        let path = "Team/\(name)"
        let label = String(repeating: "L", count: 255)
        let environment = String(repeating: "ê", count: 127) + "e"
        let sandbox = try await Sandbox.withStore()
        try await sandbox.expectSuccess("put", "-", "--path", path, stdin: SeedBodies.humanloopUpsert)
        try await sandbox.expectSuccess("label", "set", path, label, "1")
        try await sandbox.expectSuccess("deploy", path, environment, "1")
        let listed = try await sandbox.expectSuccess("ls", "--json").json()
        #expect(listed.arrayValue?.map { $0["path"]?.stringValue } == [path])
        #expect(try await sandbox.expectSuccess("label", "ls", path, "--json").json()[0]?["name"]?.stringValue == label)
        #expect(try await sandbox.expectSuccess("show", "\(path)@environments/\(environment)", "--json").json()["number"] == 1)
        let audited = try await sandbox.expectSuccess("audit", path, "--json").json().arrayValue ?? []
        let refs = audited.compactMap { $0["ref"]?.stringValue }
        #expect(refs.count == 4)  // the path, the head, the label, the deployment
        #expect(refs.contains("paths/\(path)"))
        #expect(refs.contains { $0.hasByteSuffix("/labels/\(label)") } && refs.contains { $0.hasByteSuffix("/environments/\(environment)") })
        #expect(try await sandbox.expectSuccess("verify").out.hasPrefix("ok: "))
        try await sandbox.expectSuccess("gc", "--prune-now")
        #expect(try await sandbox.expectSuccess("show", "\(path)@\(label)", "--json").json()["number"] == 1)

        let other = try await Sandbox.withStore()
        try await other.expectSuccess("sync", sandbox.store)
        #expect(try await other.expectSuccess("ls", "--json").json() == listed)
        #expect(try await other.expectSuccess("show", "\(path)@\(label)", "--json").json()["number"] == 1)
        #expect(try await other.expectSuccess("verify").out.hasPrefix("ok: "))
    }
}
