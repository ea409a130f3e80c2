import FlowStoreCore
@testable import FlowStoreServer
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Names and bodies built to escape the store, confuse a terminal or exhaust a parser: every
/// one gets a clear error and writes nothing (the store tree is compared byte for byte).
extension ReliabilitySuite {
    @Suite("Hostile input")
    struct HostileInputTests {
        /// One-segment names (labels, environments, log ids, path segments) that must be refused.
        static let badSegments: [String] = [
            "", ".", "..", ".hidden", "x.ref", "x.lock", " lead", "trail ", "tab\t", "a\\b", "a\u{0}b", "a\nb", "a\rb",
            "\u{1b}[31mred", "del\u{7f}", "c1\u{85}", "c1\u{9f}", String(repeating: "x", count: NameRules.maxSegmentBytes + 1),
            String(repeating: "é", count: NameRules.maxSegmentBytes / 2 + 1),
        ]

        /// Paths that must be refused.
        static let badPaths: [String] = badSegments + [
            "../x", "a/../b", "a/./b", "../../../../tmp/evil", "/abs", "/etc/passwd", "//x", "a//b", "a/", "/",
            "a/\u{0}/b", "C:\\evil", "a/.git/config", "a/b.lock/c",
            (0..<9).map { _ in String(repeating: "p", count: 120) }.joined(separator: "/"),  // > 1020 bytes
            (0..<33).map { "s\($0)" }.joined(separator: "/"),  // 33 segments
        ]

        /// Labels and environments: bad segments, and anything with a slash.
        static let badLabels: [String] = badSegments + ["a/b", "../x", "/x", "labels/x/.."]

        static func fixture() async throws -> StoreSandbox {
            let sandbox = try StoreSandbox.initialized("hostile")
            let put = await sandbox.cli(["put", "-", "--path", "safe/flow"], stdin: Array(Bodies.flow(path: "safe/flow", seq: 1).utf8))
            try #require(put.status == 0, "\(put)")
            try #require(await sandbox.cli("label", "set", "safe/flow", "staging").status == 0)
            return sandbox
        }

        /// Runs a command that must be refused: a clean failure and an unchanged store.
        static func expectRefused(
            _ sandbox: StoreSandbox, _ arguments: [String], stdin: [UInt8] = [], count: inout Int,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async {
            let before = sandbox.snapshot()
            let result = await sandbox.cli(arguments, stdin: stdin)
            count += 1
            #expect(result.isCleanFailure, "flowstore \(arguments.map { TextStyleish.visible($0) }.joined(separator: " ")): \(result)", sourceLocation: sourceLocation)
            // Control characters never reach the terminal raw.
            #expect(!result.err.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || $0.value == 0x1b },
                    "unescaped control character in \(TextStyleish.visible(result.err))", sourceLocation: sourceLocation)
            let after = sandbox.snapshot()
            #expect(after == before, "flowstore \(arguments.map { TextStyleish.visible($0) }.joined(separator: " ")) wrote \(after.difference(from: before))", sourceLocation: sourceLocation)
        }

        @Test("Every place the CLI takes a path or name refuses traversal, control characters and oversize names")
        func cliNames() async throws {
            let sandbox = try await Self.fixture()
            let body = Array(Bodies.flow(path: "ignored", seq: 2).utf8)
            var count = 0
            for path in Self.badPaths {
                await Self.expectRefused(sandbox, ["put", "-", "--path", path], stdin: body, count: &count)
                // In the body: Humanloop's `path` and PromptLayer's `name`.
                let hl = Array(#"{"path": \#(Bodies.quote(path)), "attributes": {"x": 1}}"#.utf8)
                await Self.expectRefused(sandbox, ["put", "-"], stdin: hl, count: &count)
                let pl = Array("{\"name\": \(Bodies.quote(path)), \(Bodies.agentNodes(1))}".utf8)
                await Self.expectRefused(sandbox, ["put", "-"], stdin: pl, count: &count)
                await Self.expectRefused(sandbox, ["mv", "safe/flow", path], count: &count)
                if !path.isEmpty {
                    await Self.expectRefused(sandbox, ["rm", path], count: &count)
                    await Self.expectRefused(sandbox, ["label", "set", path, "staging"], count: &count)
                }
            }
            for label in Self.badLabels {
                await Self.expectRefused(sandbox, ["label", "set", "safe/flow", label], count: &count)
                await Self.expectRefused(sandbox, ["label", "rm", "safe/flow", label], count: &count)
                await Self.expectRefused(sandbox, ["deploy", "safe/flow", label], count: &count)
                await Self.expectRefused(sandbox, ["undeploy", "safe/flow", label], count: &count)
                await Self.expectRefused(sandbox, ["promote", "safe/flow", "--from", "staging", "--to", label], count: &count)
                await Self.expectRefused(sandbox, ["promote", "safe/flow", "--from", label, "--to", "production"], count: &count)
                await Self.expectRefused(sandbox, ["put", "-", "--path", "safe/flow", "--label", label], stdin: body, count: &count)
                let labelled = Array("{\"name\": \"safe/agent\", \"release_labels\": [\(Bodies.quote(label))], \(Bodies.agentNodes(5))}".utf8)
                await Self.expectRefused(sandbox, ["put", "-"], stdin: labelled, count: &count)
            }
            // Revisions that try to walk out of the ref namespace: errors, never a read outside.
            for revision in ["../../../etc/passwd", "safe/flow@../../x", "safe/flow@labels/../../x", "safe/flow@environments/..",
                             "/etc/passwd", "safe/flow#99999999999999999999999", "safe/flow~99999999999", "safe/flow@\u{0}",
                             "safe/flow@" + String(repeating: "x", count: 5000)] {
                await Self.expectRefused(sandbox, ["show", revision], count: &count)
                await Self.expectRefused(sandbox, ["log", revision], count: &count)
                await Self.expectRefused(sandbox, ["cat", revision], count: &count)
                await Self.expectRefused(sandbox, ["label", "set", "safe/flow", "production", revision], count: &count)
            }
            // Authors with control characters would forge audit output.
            for author in ["a\nb", "\u{1b}[2J", "x\u{0}"] {
                await Self.expectRefused(sandbox, ["label", "set", "safe/flow", "production", "--author", author], count: &count)
            }
            report("hostile CLI names: \(count) commands refused cleanly with the store unchanged")
        }

        @Test("--store that is not a store creates nothing")
        func storeOption() async throws {
            let sandbox = try await Self.fixture()
            let elsewhere = sandbox.dir.file("not-a-store")
            let aFile = try sandbox.dir.write("plain-file", Array("x".utf8))
            for store in [elsewhere, "\(elsewhere)/../../x", aFile, "\(aFile)/sub", "", "/proc/self"] {
                let result = await sandbox.cli(["log", "safe/flow", "--store", store])
                #expect(result.isCleanFailure, "--store \(store): \(result)")
                let put = await sandbox.cli(["put", "-", "--path", "x", "--store", store], stdin: Array(Bodies.flow(path: "x", seq: 1).utf8))
                #expect(put.isCleanFailure, "--store \(store): \(put)")
            }
            #expect(!FileManager.default.fileExists(atPath: elsewhere))
            #expect(try String(contentsOfFile: aFile, encoding: .utf8) == "x")
        }

        @Test("Hostile request bodies on the CLI: refused, nothing written")
        func cliBodies() async throws {
            let sandbox = try await Self.fixture()
            var count = 0
            let bodies: [(String, [UInt8])] = [
                ("invalid UTF-8", Array(#"{"path": "b", "attributes": {"x": ""#.utf8) + [0xC3, 0x28] + Array(#""}}"#.utf8)),
                ("duplicate keys", Array(#"{"path": "b", "attributes": {"x": 1, "x": 2}}"#.utf8)),
                ("duplicate top-level keys", Array(#"{"path": "b", "path": "c", "attributes": {}}"#.utf8)),
                ("huge number", Array(#"{"path": "b", "attributes": {"x": 1e999}}"#.utf8)),
                ("deep nesting", Array(("{\"path\": \"b\", \"attributes\": " + String(repeating: "[", count: 100_000)).utf8)),
                ("lone surrogate", Array(#"{"path": "b", "attributes": {"x": "\udead"}}"#.utf8)),
                ("not an object", Array("[1, 2, 3]".utf8)),
                ("attributes not an object", Array(#"{"path": "b", "attributes": [1]}"#.utf8)),
                ("empty", []),
                ("NUL byte", Array(#"{"path": "b", "attributes": {}}"#.utf8) + [0]),
                ("byte-order mark", [0xEF, 0xBB, 0xBF] + Array(#"{"path": "b", "attributes": {}}"#.utf8)),
                ("agent with a cycle", Array(#"{"name": "b", "nodes": [{"name": "a", "node_type": "VARIABLE", "is_output_node": true, "configuration": {}, "dependencies": ["a"]}]}"#.utf8)),
            ]
            for (what, body) in bodies {
                await Self.expectRefused(sandbox, ["put", "-"], stdin: body, count: &count)
                _ = what
            }
            report("hostile CLI bodies: \(count) refused cleanly")
        }

        @Test("100 MB bodies through the flowstore binary: work or fail cleanly, never crash", .timeLimit(.minutes(Reliability.minutes(3))))
        func hundredMegabytes() async throws {
            let sandbox = try await Self.fixture()
            let size = 100 << 20
            // A valid 100 MB document (mostly white space): stored, read back, verified.
            var padded = Array(#"{"path": "big/padded", "attributes": {"note": "padded"}"#.utf8)
            padded += [UInt8](repeating: 0x20, count: size - padded.count - 1) + [UInt8(ascii: "}")]
            let paddedFile = try sandbox.dir.write("padded.json", padded)
            padded = []
            var results: [(String, ChildResult)] = []
            results.append(("padded", try await onThread { try sandbox.runBinary(["put", paddedFile, "--json"]) }))
            #expect(results[0].1.succeeded, "100 MB padded document: \(results[0].1)")
            try FileManager.default.removeItem(atPath: paddedFile)

            // Garbage and a string that never ends: refused, quickly, without writing.
            let before = sandbox.snapshot()
            var random = Reliability.generator("100mb")
            let garbageFile = try sandbox.dir.write("garbage.json", random.bytes(1 << 20) + [UInt8](repeating: 0xFF, count: size - (1 << 20)))
            let open = Array(#"{"path": "big/open", "attributes": {"x": ""#.utf8)
            let openFile = try sandbox.dir.write("open.json", open + [UInt8](repeating: UInt8(ascii: "a"), count: size - open.count))
            for (name, file) in [("garbage", garbageFile), ("unterminated string", openFile)] {
                let result = try await onThread { try sandbox.runBinary(["put", file]) }
                #expect(result.exitCode == 1 && result.err.hasPrefix("error: ") && result.stdout.isEmpty, "100 MB \(name): \(result)")
                results.append((name, result))
                try FileManager.default.removeItem(atPath: file)
            }
            #expect(sandbox.snapshot() == before)

            // Under soak: a single 100 MB string, stored and read back byte for byte.
            if Reliability.soak {
                let head = Array(#"{"path": "big/string", "attributes": {"text": ""#.utf8)
                let tail = Array(#""}}"#.utf8)
                let stringFile = try sandbox.dir.write("string.json", head + [UInt8](repeating: UInt8(ascii: "s"), count: size - head.count - tail.count) + tail)
                let put = try await onThread { try sandbox.runBinary(["put", stringFile, "--json"]) }
                #expect(put.succeeded, "100 MB string: \(put)")
                results.append(("one 100 MB string", put))
                try FileManager.default.removeItem(atPath: stringFile)
            }
            let verify = try await onThread { try sandbox.runBinary(["verify"]) }
            #expect(verify.succeeded, "\(verify)")
            report("100 MB CLI bodies: " + results.map { "\($0.0) \($0.1.succeeded ? "stored" : "refused") in \(String(format: "%.1f", $0.1.elapsed)) s" }.joined(separator: ", "))
        }

        // MARK: The server

        @Test("Every place the server takes a path, name, label, environment or log id refuses hostile values")
        func serverNames() async throws {
            let sandbox = try await Self.fixture()
            let server = try await InProcessServer.start(sandbox)
            let port = server.port
            let setup = try await onThread { () throws -> (flow: String, version: String) in
                let flow = try httpOnce(port: port, "POST", "/v5/flows", key: Keys.writer, json: Bodies.flow(path: "served/flow", seq: 1))
                let agent = try httpOnce(port: port, "POST", "/rest/workflows", key: Keys.writer, json: Bodies.agent(name: "served-agent", seq: 1))
                guard flow.status == 200, agent.status == 201, let id = flow["id"]?.stringValue, let v = flow["version_id"]?.stringValue
                else { throw HTTPError(description: "setup: \(flow) / \(agent)") }
                return (id, v)
            }
            let failures = Failures()
            let tried = try await onThread { () throws -> Int in
                var tried = 0
                func refused(_ method: String, _ path: String, json: String? = nil, headers: [(String, String)] = []) throws {
                    let before = sandbox.snapshot()
                    let r = try httpOnce(port: port, method, path, key: Keys.writer, json: json, headers: headers)
                    tried += 1
                    failures.check((400..<500).contains(r.status) && r.headers["content-type"] == "application/json" && r.json != nil,
                                   "\(method) \(TextStyleish.visible(path)) \(TextStyleish.visible(json ?? "")): \(r)")
                    let after = sandbox.snapshot()
                    failures.check(after == before, "\(method) \(TextStyleish.visible(path)) wrote \(after.difference(from: before))")
                }
                for path in Self.badPaths {
                    try refused("POST", "/v5/flows", json: #"{"path": \#(Bodies.quote(path)), "attributes": {"x": 1}}"#)
                    try refused("PATCH", "/v5/flows/\(setup.flow)", json: #"{"path": \#(Bodies.quote(path))}"#)
                    try refused("PATCH", "/v5/flows/\(setup.flow)", json: #"{"name": \#(Bodies.quote(path))}"#)
                    try refused("POST", "/v5/flows/log", json: #"{"path": \#(Bodies.quote(path)), "output": "x"}"#)
                    try refused("POST", "/rest/workflows", json: "{\"name\": \(Bodies.quote(path)), \(Bodies.agentNodes(2))}")
                    try refused("POST", "/rest/workflows", json: "{\"workflow_name\": \(Bodies.quote(path)), \(Bodies.agentNodes(2))}")
                    if !path.isEmpty {
                        try refused("GET", "/rest/workflows/\(segment(path))")
                        try refused("GET", "/workflows/\(segment(path))")
                        try refused("PATCH", "/rest/workflows/\(segment(path))", json: "{\(Bodies.agentNodes(3))}")
                    }
                }
                for label in Self.badLabels {
                    try refused("PATCH", "/rest/workflows/served-agent/labels/\(segment(label))", json: #"{"version_number": 1}"#)
                    try refused("DELETE", "/rest/workflows/served-agent/labels/\(segment(label))")
                    try refused("GET", "/rest/workflows/served-agent?label=\(segment(label))")
                    try refused("POST", "/rest/workflows", json: "{\"workflow_name\": \"served-agent\", \"release_labels\": [\(Bodies.quote(label))], \(Bodies.agentNodes(4))}")
                    try refused("POST", "/v5/flows/\(setup.flow)/environments/\(segment(label))?version_id=\(setup.version)")
                    try refused("DELETE", "/v5/flows/\(setup.flow)/environments/\(segment(label))")
                    try refused("GET", "/v5/flows/\(setup.flow)?environment=\(segment(label))")
                    try refused("PATCH", "/v5/flows/logs/\(segment(label))", json: #"{"output": "x"}"#)
                    try refused("POST", "/v5/flows/log", json: #"{"path": "served/flow", "log_id": \#(Bodies.quote(label)), "output": "x"}"#)
                    if !label.isEmpty { try refused("GET", "/v5/flows/\(segment(label))") }
                }
                // Raw bytes in the URL: invalid UTF-8 and NUL after percent-decoding.
                for raw in ["%ff%fe", "%c3%28", "%00", "%2e%2e%2f%2e%2e", "..%2f..%2fetc%2fpasswd", "%"] {
                    try refused("GET", "/rest/workflows/\(raw)")
                    try refused("PATCH", "/rest/workflows/served-agent/labels/\(raw)", json: #"{"version_number": 1}"#)
                }
                // Hostile bodies.
                let bodies: [String] = [
                    #"{"path": "b", "attributes": {"x": 1, "x": 2}}"#, #"{"path": "b", "attributes": {"x": 1e999}}"#,
                    "{\"path\": \"b\", \"attributes\": " + String(repeating: "[", count: 100_000),
                    #"{"path": "b", "attributes": {"x": "\udead"}}"#, "[1]", "{", "null",
                ]
                for body in bodies {
                    try refused("POST", "/v5/flows", json: body)
                    try refused("POST", "/rest/workflows", json: body)
                }
                let invalidUTF8 = HTTPConnection.requestBytes(
                    method: "POST", path: "/v5/flows",
                    headers: [("X-API-KEY", Keys.writer), ("Content-Type", "application/json"), ("Connection", "close")],
                    body: Array(#"{"path": "b", "attributes": {"x": ""#.utf8) + [0xC3, 0x28] + Array(#""}}"#.utf8))
                let r = try HTTPConnection(port: port).send(raw: invalidUTF8)
                failures.check(r.status == 422, "invalid UTF-8 body: \(r)")
                return tried + 1
            }
            // Still serving.
            let alive = try await onThread { try httpOnce(port: port, "GET", "/v5/flows", key: Keys.writer) }
            #expect(alive.status == 200)
            await server.stop()
            failures.flush()
            #expect(await sandbox.cli("verify").status == 0)
            report("hostile server input: \(tried) requests refused with a 4xx JSON error and the store unchanged")
        }

        @Test("A 100 MB request body gets 413 at once; stalled and idle connections are closed", .timeLimit(.minutes(Reliability.minutes(2))))
        func serverHundredMegabytes() async throws {
            let sandbox = try await Self.fixture()
            let server = try await InProcessServer.start(sandbox, idleTimeout: .seconds(1))
            let port = server.port
            let before = sandbox.snapshot()
            let failures = Failures()
            let (declared, chunked, elapsed, rss) = try await onThread { () throws -> (HTTPResponse, HTTPResponse, Double, Int) in
                let rssBefore = residentMemoryKiB() ?? 0
                let started = now()
                let megabyte = [UInt8](repeating: UInt8(ascii: " "), count: 1 << 20)
                // Declared: Content-Length says 100 MB, and the client keeps sending.
                let first = try HTTPConnection(port: port)
                let head = Array("POST /v5/flows HTTP/1.1\r\nHost: x\r\nX-API-KEY: \(Keys.writer)\r\nContent-Type: application/json\r\nContent-Length: \(100 << 20)\r\n\r\n".utf8)
                let declared = try first.send(raw: head, more: Array(repeating: megabyte, count: 100))
                // Chunked: no length, 100 chunks of 1 MB.
                let second = try HTTPConnection(port: port)
                let chunkedHead = Array("POST /rest/workflows HTTP/1.1\r\nHost: x\r\nX-API-KEY: \(Keys.writer)\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                let chunk = Array("100000\r\n".utf8) + megabyte + Array("\r\n".utf8)
                let chunked = try second.send(raw: chunkedHead, more: Array(repeating: chunk, count: 100) + [Array("0\r\n\r\n".utf8)])
                let elapsed = now() - started
                // Clients that stall (never finish the refused body) and clients that connect
                // and say nothing are disconnected after the idle timeout.
                let silent = try (0..<20).map { _ in try HTTPConnection(port: port) }
                sleepSeconds(2.5)
                failures.check(first.serverHasClosed(), "a client stalled after a 413 still holds its connection")
                failures.check(second.serverHasClosed(), "a chunked client stalled after a 413 still holds its connection")
                let open = silent.filter { !$0.serverHasClosed() }.count
                failures.check(open == 0, "\(open) of 20 silent connections still open after the idle timeout")
                return (declared, chunked, elapsed, (residentMemoryKiB() ?? 0) - rssBefore)
            }
            failures.flush()
            #expect(declared.status == 413, "\(declared)")
            #expect(declared["detail"] != nil)
            #expect(chunked.status == 413, "\(chunked)")
            #expect(chunked["message"] != nil)
            #expect(elapsed < 10, "the 413s took \(elapsed) s")
            #expect(rss < 64 * 1024, "the test process grew by \(rss) KiB")
            await server.stop()
            #expect(sandbox.snapshot() == before)
            report("100 MB HTTP bodies: 413 for a declared length and for a chunked stream in \(String(format: "%.2f", elapsed)) s; stalled and 20 silent connections closed by the idle timeout")
        }

        // MARK: Sync input

        @Test("Hostile bundles and object directories: rejected whole, nothing written")
        func syncInput() async throws {
            let sandbox = try await Self.fixture()
            let store = try sandbox.open()
            // A genuine event to carry under false names.
            let (name, event) = try #require(try store.refs.list(prefix: "paths/").first)
            let eventBytes = try store.objects.get(event)
            func bundle(ref: String, head: ObjectID = event, objects: [(String, [UInt8])]? = nil, end: String? = nil) -> [UInt8] {
                var out = Array("flowstore-bundle 1\nref \(head.hex) \(ref)\n\n".utf8)
                let objects = objects ?? [(event.hex, eventBytes)]
                for (id, bytes) in objects { out += Array("\(id) \(bytes.count)\n".utf8) + bytes + [0x0a] }
                out += Array((end ?? "end \(objects.count)\n").utf8)
                return out
            }
            let wrongHash = ObjectID(hashing: Array("other".utf8)).hex
            let cases: [(String, [UInt8])] = [
                ("traversal ref", bundle(ref: "paths/../../../tmp/evil")),
                ("absolute ref", bundle(ref: "/etc/passwd")),
                ("control character in ref", bundle(ref: "paths/a\u{1b}b")),
                ("NUL in ref", bundle(ref: "paths/a\u{0}b")),
                ("lock-file ref", bundle(ref: "paths/x.lock")),
                ("event of another ref", bundle(ref: "paths/other")),
                ("object under the wrong hash", bundle(ref: name.rawValue, objects: [(wrongHash, eventBytes)])),
                ("truncated", Array(bundle(ref: name.rawValue).dropLast(10))),
                ("huge length", Array("flowstore-bundle 1\n\n\(event.hex) 999999999999\n".utf8)),
                ("garbage", Array("flowstore-bundle 1\n\u{0}\u{ff}".utf8)),
                ("wrong end count", bundle(ref: name.rawValue, end: "end 7\n")),
            ]
            var count = 0
            for (what, bytes) in cases {
                let file = try sandbox.dir.write("hostile.bundle", bytes)
                await Self.expectRefused(sandbox, ["bundle", "import", file], count: &count)
                _ = what
            }
            // A bare objects directory with a file that does not hash to its name.
            let objects = sandbox.dir.file("incoming-objects")
            try FileManager.default.createDirectory(atPath: "\(objects)/\(wrongHash.prefix(2))", withIntermediateDirectories: true)
            try Data(eventBytes).write(to: URL(fileURLWithPath: "\(objects)/\(wrongHash.prefix(2))/\(wrongHash.dropFirst(2))"))
            await Self.expectRefused(sandbox, ["sync", "--objects", objects], count: &count)
            // Another store whose ref files name refs outside the rules (a control character, a
            // lock-file name): those refs are not taken; the valid one is.
            let other = try StoreSandbox.initialized("hostile-other")
            for dir in ["objects", "refs"] {
                try FileManager.default.removeItem(atPath: "\(other.store)/\(dir)")
                try FileManager.default.copyItem(atPath: "\(sandbox.store)/\(dir)", toPath: "\(other.store)/\(dir)")
            }
            for evil in ["paths/evil\u{1b}[2J", "paths/x.lock", "paths/..hidden"] {
                try Data("\(event.hex)\n".utf8).write(to: URL(fileURLWithPath: other.refFile(evil)))
            }
            let local = try StoreSandbox.initialized("hostile-local")
            let pulled = await local.cli("sync", other.store)
            #expect(pulled.status == 0, "\(pulled)")
            #expect(!pulled.out.unicodeScalars.contains { $0.value == 0x1b }, "a hostile ref name reached the terminal raw")
            let names = try local.open().refs.list(prefix: "").map(\.name.rawValue)
            #expect(names.contains(name.rawValue) && !names.contains { $0.contains("evil") || $0.contains(".lock") || $0.contains("..") }, "\(names)")
            let localVerify = await local.cli("verify")
            #expect(local.leftovers().isEmpty && localVerify.status == 0, "\(localVerify)")
            // A ref file whose chain belongs to another ref: the whole pull is refused.
            try FileManager.default.moveItem(atPath: other.refFile(name.rawValue), toPath: other.refFile("paths/impostor"))
            let fresh = try StoreSandbox.initialized("hostile-fresh")
            await Self.expectRefused(fresh, ["sync", other.store], count: &count)
            report("hostile sync input: \(count) bundles and object directories rejected whole with the store unchanged")
        }
    }
}

/// Makes control characters visible in test messages.
enum TextStyleish {
    static func visible(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out.count > 300 ? String(out.prefix(300)) + "…" : out
    }
}
