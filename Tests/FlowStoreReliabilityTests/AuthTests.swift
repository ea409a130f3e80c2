import FlowStoreCore
@testable import FlowStoreServer
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Authentication on every served route, read-only keys, keys kept out of logs and out of
/// memory, and key comparison that cannot leak through timing.
extension ReliabilitySuite {
    @Suite("Authentication")
    struct AuthTests {
        /// A concrete path for a route template (the ids need not exist: auth comes first).
        static func concrete(_ route: Route) -> String {
            route.path.replacingOccurrences(of: "{id}", with: "fl_000000000000000000000000")
                .replacingOccurrences(of: "{version_id}", with: "flv_000000000000000000000000")
                .replacingOccurrences(of: "{environment_id}", with: "env_000000000000000000000000")
                .replacingOccurrences(of: "{log_id}", with: "log_x")
                .replacingOccurrences(of: "{workflow_id_or_name}", with: "auth-agent")
                .replacingOccurrences(of: "{label}", with: "production")
        }

        @Test("Every route refuses a missing or wrong key with 401, and a read-only key cannot write")
        func everyRoute() async throws {
            let sandbox = try StoreSandbox.initialized("auth")
            let server = try await InProcessServer.start(sandbox)
            let port = server.port
            let failures = Failures()
            let (tried, routes) = try await onThread { () throws -> (Int, Int) in
                let created = try httpOnce(port: port, "POST", "/rest/workflows", key: Keys.writer, json: Bodies.agent(name: "auth-agent", seq: 1))
                try failures.require(created.status == 201, "setup: \(created)")
                let before = sandbox.snapshot()
                var tried = 0
                let wrongKeys: [(String, [(String, String)])] = [
                    ("none", []),
                    ("empty", [("X-API-KEY", "")]),
                    ("wrong", [("X-API-KEY", "wrong-key")]),
                    ("upper-cased", [("X-API-KEY", Keys.writer.uppercased())]),
                    ("truncated", [("X-API-KEY", String(Keys.writer.dropLast()))]),
                    ("extended", [("X-API-KEY", Keys.writer + "x")]),
                    ("bearer", [("Authorization", "Bearer \(Keys.writer)")]),
                    ("other header", [("X-API-KEYS", Keys.writer)]),
                ]
                for route in RouteTable.routes {
                    let body = route.readsBody ? "{}" : nil
                    for (what, headers) in wrongKeys {
                        var all = headers
                        if body != nil { all.append(("Content-Type", "application/json")) }
                        let raw = HTTPConnection.requestBytes(
                            method: route.method, path: Self.concrete(route), headers: all + [("Connection", "close")],
                            body: body.map { Array($0.utf8) })
                        let r = try HTTPConnection(port: port).send(raw: raw)
                        tried += 1
                        failures.check(r.status == 401, "\(route.method) \(route.path) with \(what) key: \(r)")
                        failures.check(!r.text.contains(Keys.writer) && !r.text.contains("wrong-key"), "401 body echoes the key: \(r)")
                    }
                    // The key in the query string is not a credential either.
                    let q = try httpOnce(port: port, route.method, Self.concrete(route) + "?api_key=\(Keys.writer)&X-API-KEY=\(Keys.writer)", json: body)
                    tried += 1
                    failures.check(q.status == 401, "\(route.method) \(route.path) with the key in the query: \(q)")
                    // Read-only keys: reads work (or 404), writes are 403.
                    let ro = try httpOnce(port: port, route.method, Self.concrete(route), key: Keys.reader, json: body)
                    tried += 1
                    if route.isRead {
                        failures.check(ro.status != 401 && ro.status != 403, "read-only key refused on \(route.method) \(route.path): \(ro)")
                    } else {
                        failures.check(ro.status == 403, "read-only key on \(route.method) \(route.path): \(ro)")
                    }
                }
                let after = sandbox.snapshot()
                failures.check(after == before, "refused requests wrote \(after.difference(from: before))")
                return (tried, RouteTable.routes.count)
            }
            await server.stop()
            failures.flush()
            report("auth: \(routes) routes × \(tried / routes) credentials = \(tried) requests; every missing/wrong key 401, every read-only write 403, nothing written")
        }

        @Test("Keys never appear in the server's output, whatever the requests", .timeLimit(.minutes(Reliability.minutes(1))))
        func keysNotLogged() async throws {
            let sandbox = try StoreSandbox.initialized("auth-logs")
            let envKey = "env-key-5d3f9a1c7e2b4d6f8a0c"
            let wrong = "wrong-key-8c6a4e2f0d9b7a5c3e1f"
            let (output, statuses) = try await onThread { () throws -> (String, [Int]) in
                let server = try ServerProcess(sandbox: sandbox)
                var statuses: [Int] = []
                let port = server.port
                for key in Keys.all + [wrong, "", Keys.writer + "\u{1}"] {
                    statuses.append(try httpOnce(port: port, "GET", "/v5/flows", key: key).status)
                    statuses.append(try httpOnce(port: port, "POST", "/v5/flows", key: key, json: Bodies.flow(path: "logs/flow", seq: statuses.count)).status)
                    statuses.append(try httpOnce(port: port, "GET", "/v5/flows?key=\(key)", key: key).status)
                    statuses.append(try httpOnce(port: port, "POST", "/v5/flows", key: key, json: "{not json").status)
                    statuses.append(try httpOnce(port: port, "GET", "/nowhere", key: key).status)
                }
                let stopped = server.stop()
                // Keys from the environment, and broken key configurations: their errors name no key.
                let fromEnv = try sandbox.spawn(["serve", "--port", "0"], environment: ["FLOWSTORE_API_KEYS": "\(envKey)=Env User"])
                sleepSeconds(0.3)
                let envPort = String(decoding: fromEnv.currentOutput(), as: UTF8.self)
                fromEnv.terminate()
                let envResult = fromEnv.finish()
                var errors = ""
                for bad in [envKey, "\(envKey) x=y", "a=b,\(envKey)", "\(envKey)=x,\(envKey)=y"] {
                    let r = try sandbox.spawn(["serve", "--port", "0"], environment: ["FLOWSTORE_API_KEYS": bad]).finish(killAfter: 5)
                    errors += r.out + r.err
                }
                return (stopped.out + stopped.err + envPort + envResult.out + envResult.err + errors, statuses)
            }
            #expect(statuses.contains(200) && statuses.contains(401) && statuses.contains(403))
            #expect(!output.isEmpty)
            for key in Keys.all + [envKey, wrong] {
                #expect(!output.contains(key), "the key \(key.prefix(8))… appears in the server's output")
                #expect(!output.contains(String(key.prefix(12))), "part of the key \(key.prefix(8))… appears in the server's output")
            }
            report("auth: \(statuses.count) requests with valid, wrong, read-only and malformed keys; \(output.count) bytes of server output contain no key")
        }

        @Test("Bodies from unauthenticated clients are never parsed: 401 with flat server memory", .timeLimit(.minutes(Reliability.minutes(2))))
        func unauthenticatedBodiesNotParsed() async throws {
            let sandbox = try StoreSandbox.initialized("auth-memory")
            // The costliest body to parse: ten million tiny values (a parsed tree is far larger
            // than its text). Sent by 8 clients at once, without a valid key.
            let count = (ServerConfiguration.defaultMaxBodyBytes - 64) / 2
            let body = Array(#"{"path": "m", "attributes": {"x": ["#.utf8) + Array(repeating: Array("1,".utf8), count: count - 1).flatMap { $0 } + Array("1]}}".utf8)
            let (statuses, before, peak) = try await onThread { () throws -> ([Int], Int, Int) in
                let server = try ServerProcess(sandbox: sandbox)
                defer { _ = server.stop() }
                let before = highWaterKiB(pid: server.child.pid) ?? 0
                let statuses = Locked<[Int]>([])
                let threads = (0..<8).map { i in
                    Thread {
                        let key: [(String, String)] = i % 2 == 0 ? [] : [("X-API-KEY", "wrong-key")]
                        let raw = HTTPConnection.requestBytes(
                            method: "POST", path: i % 4 < 2 ? "/v5/flows" : "/rest/workflows",
                            headers: key + [("Content-Type", "application/json"), ("Connection", "close")], body: body)
                        let status = (try? HTTPConnection(port: server.port).send(raw: raw).status) ?? -1
                        statuses.withLock { $0.append(status) }
                    }
                }
                threads.forEach { $0.start() }
                while statuses.withLock({ $0.count }) < threads.count { sleepSeconds(0.01) }
                return (statuses.withLock { $0 }, before, highWaterKiB(pid: server.child.pid) ?? 0)
            }
            #expect(statuses.allSatisfy { $0 == 401 }, "\(statuses)")
            #expect(peak - before < 64 * 1024, "the server's peak memory grew \((peak - before) / 1024) MiB on unauthenticated bodies")
            report("auth: 8 concurrent unauthenticated 10 MiB bodies → 401 each; server peak memory \(before / 1024) → \(peak / 1024) MiB (never parsed)")
        }

        @Test("Only digests of the keys are kept, and every lookup compares whole digests")
        func constantTime() throws {
            let ring = try Keys.keyring()
            // Nothing in the keyring holds a key or its bytes: only 32-byte SHA-256 digests.
            var strings: [String] = []
            var byteArrays: [[UInt8]] = []
            func walk(_ value: Any, depth: Int = 0) {
                guard depth < 12 else { return }
                if let s = value as? String { strings.append(s) }
                if let b = value as? [UInt8] { byteArrays.append(b) }
                for child in Mirror(reflecting: value).children { walk(child.value, depth: depth + 1) }
            }
            walk(ring)
            for key in Keys.all {
                #expect(!strings.contains { $0.contains(key) }, "the keyring keeps a key as text")
                #expect(!byteArrays.contains(Array(key.utf8)), "the keyring keeps a key's bytes")
            }
            #expect(byteArrays.count == Keys.all.count && byteArrays.allSatisfy { $0.count == 32 })
            #expect(Set(byteArrays) == Set(Keys.all.map { SHA256.digest(of: Array($0.utf8)) }))
            // The presented key is hashed first, so what is compared never depends on how much of
            // it matches: keys sharing any prefix with a real one, or any length, behave alike.
            #expect(ring.user(forKey: Keys.writer)?.author == "Writer <writer@example.com>")
            #expect(ring.user(forKey: Keys.reader)?.readOnly == true)
            let writer = Array(Keys.writer.utf8)
            for n in 0..<writer.count {
                let prefix = String(decoding: writer.prefix(n), as: UTF8.self)
                #expect(ring.user(forKey: prefix) == nil)
                #expect(ring.user(forKey: prefix + "!") == nil)
            }
            #expect(ring.user(forKey: String(repeating: "k", count: 1 << 20)) == nil)
            #expect(ring.user(forKey: Keys.writer + "\u{0}") == nil)
        }
    }
}
