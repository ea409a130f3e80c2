import FlowStoreCore
@testable import FlowStoreServer
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `flowstore serve` under sustained concurrent load: it keeps answering, without errors,
/// with flat memory, and the store verifies afterwards.
extension ReliabilitySuite {
    @Suite("Load")
    struct LoadTests {
        struct LaneFigures: Sendable {
            var requests = 0
            var writes = 0
            var failures: [String] = []
            var latencies: [Double] = []
        }

        @Test("64 keep-alive connections for a bounded time: no errors, flat memory, a sound store", .timeLimit(.minutes(Reliability.minutes(5))))
        func sustainedLoad() async throws {
            let connections = 64
            let seconds = Reliability.scale(ci: 5.0, soak: 120.0)
            let sandbox = try StoreSandbox.initialized("load")
            let server = try await onThread { try ServerProcess(sandbox: sandbox) }
            let port = server.port
            let flows = (0..<8).map { "load/flow-\($0)" }
            let ids = try await onThread { () throws -> [String] in
                var ids: [String] = []
                for (i, path) in flows.enumerated() {
                    let r = try httpOnce(port: port, "POST", "/v5/flows", key: Keys.writer, json: Bodies.flow(path: path, seq: i))
                    guard r.status == 200, let id = r["id"]?.stringValue else { throw HTTPError(description: "setup: \(r)") }
                    ids.append(id)
                }
                let agent = try httpOnce(port: port, "POST", "/rest/workflows", key: Keys.writer, json: Bodies.agent(name: "load-agent", seq: 0))
                guard agent.status == 201 else { throw HTTPError(description: "setup: \(agent)") }
                return ids
            }

            // Warm up (lazy allocations, caches, thread pools), then measure over the real run.
            let warmup = try await Self.run(port: port, connections: connections, seconds: min(1.5, seconds / 3), flows: flows, ids: ids, seed: 1)
            let rssStart = try #require(server.residentKiB)
            var samples: [Int] = []
            let sampler = Task.detached {
                var out: [Int] = []
                while !Task.isCancelled {
                    if let kib = residentMemoryKiB(pid: server.child.pid) { out.append(kib) }
                    try? await Task.sleep(for: .milliseconds(250))
                }
                return out
            }
            let started = now()
            let lanes = try await Self.run(port: port, connections: connections, seconds: seconds, flows: flows, ids: ids, seed: 2)
            let elapsed = now() - started
            sampler.cancel()
            samples = await sampler.value
            let rssEnd = try #require(server.residentKiB)
            let stopped = try await onThread { server.stop() }
            #expect(stopped.exitCode == 0, "the server did not stop cleanly: \(stopped)")

            let failures = (warmup + lanes).flatMap(\.failures)
            #expect(failures.isEmpty, "\(failures.count) failed requests, e.g. \(failures.prefix(5))")
            let requests = lanes.map(\.requests).reduce(0, +)
            let writes = lanes.map(\.writes).reduce(0, +)
            let latencies = lanes.flatMap(\.latencies).sorted()
            let p50 = latencies.isEmpty ? 0 : latencies[latencies.count / 2]
            let p99 = latencies.isEmpty ? 0 : latencies[latencies.count * 99 / 100]
            #expect(requests > connections * 4, "only \(requests) requests in \(elapsed) s")
            // Flat memory: the run's growth beyond the warmed-up size is bounded, not proportional
            // to the number of requests served.
            let growth = rssEnd - rssStart
            let peak = samples.max() ?? rssEnd
            #expect(growth < 48 * 1024, "RSS grew \(growth) KiB (\(rssStart) → \(rssEnd)) over \(requests) requests")

            let verify = await sandbox.cli("verify")
            #expect(verify.status == 0, "\(verify)")
            let store = try sandbox.open()
            let (chains, problems) = try Invariants.chains(store)
            #expect(problems.isEmpty, "\(problems)")
            for path in flows {
                let file = try #require(try store.fileID(at: FlowPath(path)))
                #expect(try Invariants.versionLine(store, file: file, chains: chains).problems.isEmpty)
            }
            report(String(format: "load: %d connections for %.1f s: %d requests (%.0f/s, %d writes), 0 errors, p50 %.1f ms, p99 %.1f ms; server RSS %d → %d MiB (peak %d), store verifies",
                          connections, elapsed, requests, Double(requests) / elapsed, writes, p50 * 1000, p99 * 1000, rssStart / 1024, rssEnd / 1024, peak / 1024))

            if Reliability.soak { try await Self.wrk(sandbox: sandbox) }
        }

        /// `connections` client threads, each on one keep-alive connection, for `seconds`.
        static func run(port: Int, connections: Int, seconds: Double, flows: [String], ids: [String], seed: UInt64) async throws -> [LaneFigures] {
            let deadline = now() + seconds
            return try await withThrowingTaskGroup(of: LaneFigures.self) { group in
                for lane in 0..<connections {
                    group.addTask {
                        try await onThread {
                            var random = SeededGenerator(seed: seed &* 1000 &+ UInt64(lane))
                            var figures = LaneFigures()
                            var connection = try HTTPConnection(port: port)
                            var seq = Int(seed) * 10_000_000 + lane * 100_000
                            while now() < deadline {
                                seq += 1
                                let pick = Int.random(in: 0..<10, using: &random)
                                let started = now()
                                do {
                                    let r: HTTPResponse
                                    let expected: Int
                                    switch pick {
                                    case 0..<4:
                                        r = try connection.send("GET", "/v5/flows/\(ids.randomElement(using: &random)!)", key: Keys.reader)
                                        expected = 200
                                    case 4:
                                        r = try connection.send("GET", "/v5/flows?size=5", key: Keys.reader)
                                        expected = 200
                                    case 5:
                                        r = try connection.send("GET", "/rest/workflows/load-agent", key: Keys.reader)
                                        expected = 200
                                    case 6, 7:
                                        r = try connection.send("POST", "/v5/flows", key: Keys.writer,
                                                                json: Bodies.flow(path: flows.randomElement(using: &random)!, seq: seq))
                                        expected = 200
                                        figures.writes += 1
                                    case 8:
                                        r = try connection.send("POST", "/rest/workflows", key: Keys.writer,
                                                                json: Bodies.agentVersion(workflowName: "load-agent", seq: seq))
                                        expected = 201
                                        figures.writes += 1
                                    default:
                                        r = try connection.send("PATCH", "/rest/workflows/load-agent/labels/production", key: Keys.writer,
                                                                json: "{\"version_number\": 1}")
                                        expected = 200
                                        figures.writes += 1
                                    }
                                    figures.requests += 1
                                    figures.latencies.append(now() - started)
                                    if r.status != expected { figures.failures.append("lane \(lane): \(r)") }
                                } catch {
                                    figures.failures.append("lane \(lane): \(error)")
                                    connection = try HTTPConnection(port: port)
                                }
                            }
                            connection.close()
                            return figures
                        }
                    }
                }
                var all: [LaneFigures] = []
                for try await lane in group { all.append(lane) }
                return all
            }
        }

        /// Soak only: Debian's `wrk` against the read routes, if it is installed.
        static func wrk(sandbox: StoreSandbox) async throws {
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") else {
                report("load (soak): wrk not installed, skipped (apt-get install wrk)")
                return
            }
            let result = try await onThread { () throws -> (ChildResult, Int, Int?) in
                let server = try ServerProcess(sandbox: sandbox)
                let before = server.residentKiB ?? 0
                let wrk = try ChildProcess(
                    "/usr/bin/wrk", ["-t2", "-c64", "-d60s", "-H", "X-API-KEY: \(Keys.reader)", "http://127.0.0.1:\(server.port)/rest/workflows/load-agent"],
                    environment: ["PATH": "/usr/bin:/bin"], scratch: sandbox.dir.path).finish()
                let after = server.residentKiB
                _ = server.stop()
                return (wrk, before, after)
            }
            #expect(result.0.succeeded, "\(result.0)")
            #expect(!result.0.out.contains("Non-2xx"), "wrk saw errors: \(result.0.out)")
            report("load (soak, wrk -c64 -d60s): server RSS \(result.1 / 1024) → \((result.2 ?? 0) / 1024) MiB\n\(result.0.out)")
        }
    }
}
