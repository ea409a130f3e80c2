import FlowStoreCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Damage done to the files of a store behind its back: `verify` finds and names each
/// problem, and reads fail loudly rather than return damaged data.
extension ReliabilitySuite {
    @Suite("Corruption")
    struct CorruptionTests {
        static let path = "corrupt/flow"

        /// A store with three versions of a flow, a label moved three times, a deployment and an agent.
        struct Fixture {
            let sandbox: StoreSandbox
            let file: ObjectID
            let versions: [ObjectID]  // v1, v2, v3 (head)
            let productionChain: [ObjectID]  // oldest first
            let staging: ObjectID  // the staging label's head event

            init() async throws {
                sandbox = try StoreSandbox.initialized("corrupt")
                var ids: [ObjectID] = []
                for n in 1...3 {
                    let put = await sandbox.cli(["put", "-", "--path", CorruptionTests.path, "--json"],
                                                stdin: Array(Bodies.flow(path: CorruptionTests.path, seq: n).utf8))
                    try #require(put.status == 0, "\(put)")
                    ids.append(try #require(ObjectID(hex: try JSONParser.parse(put.stdout)["version_id"]?.stringValue ?? "")))
                }
                versions = ids
                for id in ids { try #require(await sandbox.cli("label", "set", CorruptionTests.path, "production", id.hex).status == 0) }
                try #require(await sandbox.cli("label", "set", CorruptionTests.path, "staging", ids[0].hex).status == 0)
                try #require(await sandbox.cli("deploy", CorruptionTests.path, "development", ids[1].hex).status == 0)
                try #require(await sandbox.cli(["put", "-", "--path", "corrupt/agent"], stdin: Array(Bodies.agent(name: "corrupt/agent", seq: 1).utf8)).status == 0)
                let store = try sandbox.open()
                file = try #require(try store.fileID(at: FlowPath(CorruptionTests.path)))
                let chains = try Invariants.chains(store).chains
                productionChain = (chains[RefNames.named(file, .labels, try RefLabel("production")).rawValue] ?? []).map(\.id)
                staging = try #require(try store.refs.read(RefNames.named(file, .labels, try RefLabel("staging"))))
                try #require(await sandbox.cli("verify").status == 0)
            }

            var production: String { RefNames.named(file, .labels, try! RefLabel("production")).rawValue }
            var stagingRef: String { RefNames.named(file, .labels, try! RefLabel("staging")).rawValue }
        }

        /// `verify` exits 1 and its output names every subject given.
        static func expectVerifyNames(_ fixture: Fixture, _ subjects: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) async {
            let verify = await fixture.sandbox.cli("verify")
            #expect(verify.status == 1, "\(what): \(verify)", sourceLocation: sourceLocation)
            for subject in subjects {
                #expect(verify.out.contains(subject) || verify.err.contains(subject), "\(what): verify does not name \(subject): \(verify)", sourceLocation: sourceLocation)
            }
            let json = await fixture.sandbox.cli("verify", "--json")
            #expect(json.status == 1, sourceLocation: sourceLocation)
        }

        /// Each read fails with exit 1, one `error:` line, and nothing on standard output.
        static func expectReadsFail(_ fixture: Fixture, _ commands: [[String]], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) async {
            for command in commands {
                let result = await fixture.sandbox.cli(command)
                #expect(result.isCleanFailure, "\(what): flowstore \(command.joined(separator: " ")) should fail loudly: \(result)", sourceLocation: sourceLocation)
            }
        }

        static func rewrite(_ path: String, _ change: (inout [UInt8]) -> Void) throws {
            chmod(path, 0o644)
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            change(&bytes)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }

        @Test("Bit flips anywhere in an object are found and never served")
        func bitFlips() async throws {
            var random = Reliability.generator("bit-flips")
            let flips = Reliability.scale(ci: 24, soak: 400)
            for round in 0..<flips {
                let fixture = try await Fixture()
                let victim = fixture.versions[round % 3]
                try Self.rewrite(fixture.sandbox.objectFile(victim)) { bytes in
                    let i = Int.random(in: 0..<bytes.count, using: &random)
                    bytes[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
                }
                await Self.expectVerifyNames(fixture, [victim.hex], "bit flip in version \(round % 3 + 1)")
                await Self.expectReadsFail(
                    fixture, [["show", victim.hex], ["cat", victim.hex], ["log", Self.path], ["show", "\(Self.path)#\(round % 3 + 1)"]],
                    "bit flip")
            }
            report("corruption: \(flips) random bit flips found by verify and refused by show/cat/log")
        }

        @Test("A truncated object is found and never served")
        func truncated() async throws {
            let fixture = try await Fixture()
            let store = try fixture.sandbox.open()
            let content = try store.version(fixture.versions[2]).content
            try Self.rewrite(fixture.sandbox.objectFile(content)) { $0.removeLast($0.count / 2) }
            await Self.expectVerifyNames(fixture, [content.hex], "truncated content")
            await Self.expectReadsFail(fixture, [["show", Self.path], ["cat", content.hex], ["diff", "\(Self.path)#2", Self.path]], "truncated content")
            // Emptied entirely (a crash of a non-atomic copy): the same.
            try Self.rewrite(fixture.sandbox.objectFile(fixture.versions[0])) { $0 = [] }
            await Self.expectVerifyNames(fixture, [fixture.versions[0].hex], "empty version file")
            await Self.expectReadsFail(fixture, [["show", fixture.versions[0].hex], ["log", Self.path]], "empty version file")
        }

        @Test("An object renamed to the wrong hash is found: the name and the missing object")
        func renamed() async throws {
            let fixture = try await Fixture()
            let victim = fixture.versions[0]
            let wrong = ObjectID(hashing: Array("not the object".utf8))
            try FileManager.default.createDirectory(atPath: POSIXParent(fixture.sandbox.objectFile(wrong)), withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: fixture.sandbox.objectFile(victim), toPath: fixture.sandbox.objectFile(wrong))
            await Self.expectVerifyNames(fixture, [wrong.hex, victim.hex], "renamed object")
            await Self.expectReadsFail(fixture, [["show", wrong.hex], ["cat", wrong.hex], ["log", Self.path], ["show", victim.hex]], "renamed object")
        }

        @Test("A ref pointing nowhere is found and named")
        func danglingRef() async throws {
            let fixture = try await Fixture()
            let nowhere = ObjectID(hashing: Array("nowhere".utf8))
            try Data("\(nowhere.hex)\n".utf8).write(to: URL(fileURLWithPath: fixture.sandbox.refFile("paths/\(Self.path)")))
            await Self.expectVerifyNames(fixture, ["paths/\(Self.path)", nowhere.hex], "dangling path ref")
            await Self.expectReadsFail(fixture, [["show", Self.path], ["log", Self.path], ["cat", Self.path], ["ls"]], "dangling path ref")
        }

        @Test("A torn or garbage ref file is found and named")
        func tornRef() async throws {
            let fixture = try await Fixture()
            let ref = fixture.production
            try Data(String(fixture.productionChain.last!.hex.prefix(30)).utf8).write(to: URL(fileURLWithPath: fixture.sandbox.refFile(ref)))
            await Self.expectVerifyNames(fixture, [ref], "torn ref")
            await Self.expectReadsFail(fixture, [["show", "\(Self.path)@production"], ["label", "ls", Self.path]], "torn ref")
        }

        @Test("Several problems at once are all named: one damaged ref does not end the check")
        func severalAtOnce() async throws {
            let fixture = try await Fixture()
            try Data("garbage".utf8).write(to: URL(fileURLWithPath: fixture.sandbox.refFile(fixture.stagingRef)))
            try Self.rewrite(fixture.sandbox.objectFile(fixture.versions[1])) { $0[$0.count / 2] ^= 0x20 }
            try FileManager.default.removeItem(atPath: fixture.sandbox.objectFile(fixture.productionChain[0]))
            await Self.expectVerifyNames(
                fixture, [fixture.stagingRef, fixture.versions[1].hex, fixture.production, fixture.productionChain[0].hex],
                "three problems")
            let verify = await fixture.sandbox.cli("verify")
            #expect(verify.stderr.isEmpty, "problems are reported, not an error: \(verify)")
        }

        @Test("An event chain with a removed link is found and named")
        func removedLink() async throws {
            let fixture = try await Fixture()
            #expect(fixture.productionChain.count == 3)
            let middle = fixture.productionChain[1]
            try FileManager.default.removeItem(atPath: fixture.sandbox.objectFile(middle))
            await Self.expectVerifyNames(fixture, [fixture.production, middle.hex], "removed chain link")
            await Self.expectReadsFail(fixture, [["audit"], ["audit", Self.path]], "removed chain link")
        }

        @Test("An event of another ref spliced in, and a stray file in objects/, are found and named")
        func forgedEventAndStray() async throws {
            let fixture = try await Fixture()
            // Point staging at production's head event: a valid object, of the wrong ref.
            try Data("\(fixture.productionChain.last!.hex)\n".utf8).write(to: URL(fileURLWithPath: fixture.sandbox.refFile(fixture.stagingRef)))
            try Data("junk".utf8).write(to: URL(fileURLWithPath: "\(fixture.sandbox.store)/objects/zz-stray"))
            await Self.expectVerifyNames(fixture, [fixture.stagingRef, "objects/zz-stray"], "forged event")
            await Self.expectReadsFail(fixture, [["show", "\(Self.path)@staging"]], "forged event")
        }

        @Test("A well-hashed object that is not canonical, or not a valid object, is named")
        func nonCanonical() async throws {
            let fixture = try await Fixture()
            for text in [#"{"type": "file", "kind": "flow"}"#, #"{"zzz":1}"#, "[1,2,3]", "not json"] {
                let bytes = Array(text.utf8)
                let id = ObjectID(hashing: bytes)
                let target = fixture.sandbox.objectFile(id)
                try FileManager.default.createDirectory(atPath: POSIXParent(target), withIntermediateDirectories: true)
                try Data(bytes).write(to: URL(fileURLWithPath: target))
                await Self.expectVerifyNames(fixture, [id.hex], "invalid object \(text)")
                await Self.expectReadsFail(fixture, [["show", id.hex]], "invalid object \(text)")
                try FileManager.default.removeItem(atPath: target)
            }
            #expect(await fixture.sandbox.cli("verify").status == 0)
        }
    }
}

func POSIXParent(_ path: String) -> String {
    (path as NSString).deletingLastPathComponent
}
