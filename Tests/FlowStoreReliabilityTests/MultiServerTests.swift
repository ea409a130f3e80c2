import FlowStoreCore
import FlowStoreTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 11, "several servers, one store": two `flowstore serve` processes on one PostgreSQL
/// database behave as one server, and one of them killed with SIGKILL mid-load loses nothing
/// it acknowledged.
extension ReliabilitySuite {
    @Suite("Several servers, one PostgreSQL store", .enabled(if: PostgresTestServer.isTested))
    struct MultiServerTests {
        typealias Crash = ServerCrashTests

        @Test("Two servers: each sees the other's writes at once; one killed mid-load loses no acknowledged write",
              .timeLimit(.minutes(Reliability.minutes(5))))
        func twoServersOneDatabase() async throws {
            let database = try PostgresTestDatabase()
            let sandbox = try StoreSandbox.initialized("multi-server", location: database.url)
            let a = try await onThread { try ServerProcess(sandbox: sandbox) }
            let b = try await onThread { try ServerProcess(sandbox: sandbox) }

            // A version created through one server is visible through the other on the next request.
            let created = try await onThread {
                try httpOnce(port: a.port, "POST", "/v5/flows", key: Keys.writer, json: Bodies.flow(path: Crash.flowPaths[0], seq: 0))
            }
            try #require(created.status == 200, "\(created)")
            let flowID = try #require(created["id"]?.stringValue)
            let seen = try await onThread { try httpOnce(port: b.port, "GET", "/v5/flows/\(flowID)", key: Keys.reader) }
            #expect(seen.status == 200 && seen["version_id"] == created["version_id"], "\(seen)")
            let listed = try await onThread { try httpOnce(port: b.port, "GET", "/v5/flows?size=100", key: Keys.reader) }
            #expect(listed["total"] == 1, "\(listed)")
            let agent = try await onThread {
                try httpOnce(port: b.port, "POST", "/rest/workflows", key: Keys.writer, json: Bodies.agent(name: Crash.agent, seq: 0))
            }
            try #require(agent.status == 201, "\(agent)")
            let agentThere = try await onThread { try httpOnce(port: a.port, "GET", "/rest/workflows/\(Crash.agent)", key: Keys.reader) }
            #expect(agentThere.status == 200, "\(agentThere)")

            // Load spread over both servers, on the same flows, labels and agent; then `a` dies
            // with SIGKILL while `b` goes on, and `b` stops gracefully.
            let clients = 4
            let results = try await withThrowingTaskGroup(of: (acks: [Crash.Ack], requests: Int).self) { group in
                for client in 0..<clients {
                    let port = client % 2 == 0 ? a.port : b.port
                    group.addTask { try await onThread { Crash.client(port: port, seed: UInt64(client + 1), tag: 100 + client) } }
                }
                group.addTask {
                    try await onThread {
                        sleepSeconds(1.5)
                        _ = a.kill9()
                        sleepSeconds(1.0)
                        _ = b.stop()
                        return ([], 0)
                    }
                }
                var all: [(acks: [Crash.Ack], requests: Int)] = []
                for try await result in group { all.append(result) }
                return all
            }
            let acks = results.flatMap(\.acks)
            let requests = results.map(\.requests).reduce(0, +)

            // Every acknowledged write is there, every chain is linear, version numbers are dense
            // and unique (`Invariants.versionLine`), and `flowstore verify` passes.
            let failures = Failures()
            try await onThread { try Crash.check(sandbox, acks: acks, failures) }
            failures.flush()
            report("two servers on one PostgreSQL database: \(requests) requests by \(clients) clients, one server killed with SIGKILL, \(acks.count) acknowledged writes all present, verify clean")
            #expect(acks.count > clients)
        }
    }
}
