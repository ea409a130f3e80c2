import FlowStoreCore
import Foundation
import Testing

/// `flowstore sync`, `resolve` and `bundle`: two stores exchanging work offline.
@Suite struct SyncCommandTests {
    static let path = "Personal Projects/MedQA Flow"

    /// Alice's store with two versions of the MedQA flow and `production` on version 1, and
    /// Bob's empty store.
    static func twoStores() async throws -> (alice: Sandbox, bob: Sandbox) {
        let alice = try await Sandbox.withStore()
        try await alice.expectSuccess("put", "-", stdin: SeedBodies.humanloopUpsert)
        try await alice.expectSuccess("put", "-", stdin: SeedBodies.humanloopUpsert.replacingOccurrences(of: "0.8", with: "0.9"))
        try await alice.expectSuccess("label", "set", Self.path, "production", "1")
        return (alice, try await Sandbox.withStore())
    }

    static func refs(_ report: JSONValue?) -> [String: String] {
        var out: [String: String] = [:]
        for item in report?["refs"]?.arrayValue ?? [] {
            if let display = item["display"]?.stringValue, let outcome = item["outcome"]?.stringValue { out[display] = outcome }
        }
        return out
    }

    @Test func pullPushAndANoOpSync() async throws {
        let (alice, bob) = try await Self.twoStores()
        let pulled = try await bob.expectSuccess("sync", alice.store, "--json").json()
        #expect(pulled["pull"]?["objects_copied"] == .number(Double(alice.objectCount())))
        #expect(pulled["pull"]?["events_written"] == 0)
        #expect(Self.refs(pulled["pull"]) == [
            Self.path: "created", "\(Self.path)@production": "created", "path \(Self.path)": "created",
        ])
        #expect(try await bob.expectSuccess("verify").out.hasPrefix("ok: "))

        // A second sync copies nothing and writes nothing.
        let before = bob.storeTree()
        let again = try await bob.expectSuccess("sync", alice.store)
        #expect(again.outLines == ["pull from \(alice.store)", "copied 0 objects (0 B); refs up to date"])
        #expect(bob.storeTree() == before)

        // Bob moves production and pushes; Alice fast-forwards.
        try await bob.expectSuccess("label", "set", Self.path, "production", "2")
        let pushed = try await bob.expectSuccess("sync", alice.store, "--push", "--json").json()
        #expect(Self.refs(pushed["push"]) == ["\(Self.path)@production": "fast_forward"])
        let shown = try await alice.expectSuccess("show", "\(Self.path)@production", "--json").json()
        #expect(shown["number"] == 2)

        // The folder holding .flowstore works as DIR too.
        let parent = try Sandbox()
        try FileManager.default.moveItem(atPath: alice.store, toPath: "\(parent.root)/.flowstore")
        let both = try await bob.expectSuccess("sync", parent.root, "--both", "--json").json()
        #expect(both["pull"] != nil && both["push"] != nil)
    }

    @Test func divergenceIsShownAndResolved() async throws {
        let (alice, bob) = try await Self.twoStores()
        try await bob.expectSuccess("sync", alice.store)
        try await alice.expectSuccess("label", "set", Self.path, "production", "2")
        try await bob.expectSuccess("label", "rm", Self.path, "production")
        let before = bob.storeTree()["refs"]

        let sync = try await bob.expectSuccess("sync", alice.store)
        #expect(sync.out.contains("diverged      \(Self.path)@production  local nothing, incoming version 2"))
        #expect(sync.out.contains("flowstore resolve 'Personal Projects/MedQA Flow' --label production --take local|incoming|REV"))
        #expect(bob.storeTree()["refs"] == before)
        let listed = try await bob.expectSuccess("label", "ls", Self.path)
        #expect(listed.out.contains("note: label production diverged in a sync (1 incoming head(s))"))
        #expect(listed.out.contains("flowstore label resolve 'Personal Projects/MedQA Flow' production --take local|incoming|REV"))

        let status = try await bob.expectSuccess("sync", "--status", "--json").json()
        let entry = try #require(status["diverged"]?.arrayValue?.first)
        #expect(entry["display"]?.stringValue == "\(Self.path)@production")
        #expect(entry["local_target"] == .null)
        #expect(entry["incoming"]?.arrayValue?.count == 1)

        let resolved = try await bob.expectSuccess(
            "resolve", Self.path, "--label", "production", "--take", "incoming", "-m", "keep v2", "--json"
        ).json()
        let shown = try await bob.expectSuccess("show", "\(Self.path)@production", "--json").json()
        #expect(resolved["target"] == shown["version_id"])
        #expect(try await bob.expectSuccess("sync", "--status").out == "nothing diverged\n")
        let audit = try await bob.expectSuccess("audit", Self.path, "--json").json()
        #expect(audit.arrayValue?.first?["action"] == "merge")
        #expect(try await bob.expectSuccess("verify").out.hasPrefix("ok: "))

        // Resolving again is an error that changes nothing.
        let after = bob.storeTree()
        await bob.expectFailure(["resolve", Self.path, "--label", "production", "--take", "local"])
        #expect(bob.storeTree() == after)
    }

    @Test func bundleRoundTripAndACorruptBundle() async throws {
        let (alice, bob) = try await Self.twoStores()
        let created = try await alice.expectSuccess("bundle", "create", "team.flowbundle", Self.path, "--json").json()
        #expect(created["refs"] == 3)
        let file = "\(alice.root)/team.flowbundle"
        #expect(try await alice.expectSuccess("bundle", "verify", file).out.contains("ok: 3 refs"))
        let imported = try await bob.expectSuccess("bundle", "import", file, "--json").json()
        #expect(Self.refs(imported["bundle"]).values.allSatisfy { $0 == "created" })
        #expect(try await bob.expectSuccess("verify").out.hasPrefix("ok: "))

        // One flipped byte in an object: rejected, nothing written.
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count - 40] ^= 0x01
        let bad = try bob.write("bad.flowbundle", String(decoding: bytes, as: UTF8.self))
        let fresh = try await Sandbox.withStore()
        let before = fresh.storeTree()
        let failure = await fresh.expectFailure(["bundle", "import", bad])
        #expect(failure.err.contains("nothing was written"))
        #expect(fresh.storeTree() == before)
        await fresh.expectFailure(["bundle", "verify", bad])
    }

    @Test func aHalfCopiedObjectsDirectoryIsRejected() async throws {
        let (alice, bob) = try await Self.twoStores()
        let usb = "\(bob.root)/usb"
        try FileManager.default.copyItem(atPath: "\(alice.store)/objects", toPath: usb)
        let victim = try #require(FileManager.default.subpathsOfDirectory(atPath: usb).sorted().last { $0.contains("/") })
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: "\(usb)/\(victim)")
        try Data("{".utf8).write(to: URL(fileURLWithPath: "\(usb)/\(victim)"))
        let before = bob.storeTree()
        let failure = await bob.expectFailure(["sync", "--objects", usb])
        #expect(failure.err.contains(victim.replacingOccurrences(of: "/", with: "")))
        #expect(bob.storeTree() == before)
    }

    @Test func rescanAfterCopyingObjectsIn() async throws {
        let (alice, bob) = try await Self.twoStores()
        for name in try FileManager.default.contentsOfDirectory(atPath: "\(alice.store)/objects") {
            try FileManager.default.copyItem(atPath: "\(alice.store)/objects/\(name)", toPath: "\(bob.store)/objects/\(name)")
        }
        let rescan = try await bob.expectSuccess("sync", "--rescan")
        #expect(rescan.outLines.last == "3 created")
        #expect(try await bob.expectSuccess("verify").out.hasPrefix("ok: "))
    }

    @Test func usageErrors() async throws {
        let bob = try await Sandbox.withStore()
        await bob.expectFailure(["sync"], status: 2)
        await bob.expectFailure(["sync", "/tmp", "--rescan"], status: 2)
        await bob.expectFailure(["sync", "--rescan", "--push"], status: 2)
        await bob.expectFailure(["resolve", Self.path, "--label", "production"], status: 2)
        await bob.expectFailure(["resolve", "--ref", "paths/x", "--label", "y", "--take", "local"], status: 2)
        await bob.expectFailure(["sync", bob.store])  // a store cannot sync with itself
        let notAStore = await bob.expectFailure(["sync", "\(bob.store)/objects"])
        #expect(notAStore.err.contains("sync --objects"))
    }
}
