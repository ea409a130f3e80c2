import FlowStoreCore
@testable import FlowStoreServer
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Many writers on one flow and one label at once: processes, server connections, both.
extension ReliabilitySuite {
    @Suite("Concurrent writers")
    struct ConcurrencyTests {
        /// What one lane (a sequence of commands in one thread) saw.
        struct LaneLog: Sendable {
            var createdVersions: [(id: ObjectID, number: Int)] = []
            var unchangedPuts = 0
            var killedPuts = 0
            /// Acknowledged moves of `production` (`set label …` / `promoted …`).
            var productionMoves = 0
            /// Killed commands that may have moved `production`.
            var productionMaybe = 0
            /// Successful `--expect FROM` moves: the event must go FROM → TO.
            var expectedMoves: [(from: ObjectID, to: ObjectID)] = []
            var expectConflicts = 0
            var commands = 0
            var kills = 0
        }

        static let path = "race/flow"

        @Test("8 flowstore processes move one label and put one flow at once (some killed)", .timeLimit(.minutes(Reliability.minutes(3))))
        func processes() async throws {
            let lanes = 8
            let commandsPerLane = Reliability.scale(ci: 25, soak: 250)
            let sandbox = try StoreSandbox.initialized("race-cli")
            // Version 1 and both labels exist before the race starts.
            let seed = await sandbox.cli(["put", "-", "--path", Self.path, "--json"], stdin: Array(Bodies.flow(path: Self.path, seq: 0).utf8))
            try #require(seed.status == 0, "\(seed)")
            let first = try #require(ObjectID(hex: try JSONParser.parse(seed.stdout)["version_id"]?.stringValue ?? ""))
            for label in ["staging", "production"] {
                let set = await sandbox.cli("label", "set", Self.path, label, first.hex)
                try #require(set.status == 0, "\(set)")
            }
            var generator = Reliability.generator("race-cli")
            let seeds = (0..<lanes).map { _ in generator.next() }
            let failures = Failures()
            let started = now()
            let logs = try await withThrowingTaskGroup(of: LaneLog.self) { group in
                for lane in 0..<lanes {
                    group.addTask {
                        try await onThread {
                            try Self.lane(lane, sandbox: sandbox, seed: seeds[lane], commands: commandsPerLane, first: first, failures)
                        }
                    }
                }
                var all: [LaneLog] = []
                for try await log in group { all.append(log) }
                return all
            }
            let elapsed = now() - started
            failures.flush()

            let store = try sandbox.open()
            let verify = await sandbox.cli("verify")
            #expect(verify.status == 0, "\(verify)")
            let (chains, problems) = try Invariants.chains(store)
            #expect(problems.isEmpty, "\(problems)")
            let file = try #require(try store.fileID(at: FlowPath(Self.path)))
            let (line, lineProblems) = try Invariants.versionLine(store, file: file, chains: chains)
            #expect(lineProblems.isEmpty, "\(lineProblems)")

            // No lost update: every acknowledged version is in the history at its number,
            // no two acknowledged puts got the same number, and nothing unexplained was added.
            let created = logs.flatMap(\.createdVersions)
            #expect(Set(created.map(\.number)).count == created.count, "two puts were given the same version number")
            for (id, number) in created {
                #expect(line.indices.contains(number - 1) && line[number - 1] == id, "acknowledged version \(number) lost")
            }
            let killedPuts = logs.map(\.killedPuts).reduce(0, +)
            #expect(line.count >= 1 + created.count && line.count <= 1 + created.count + killedPuts,
                    "history has \(line.count) versions for 1 + \(created.count) acknowledged (+ up to \(killedPuts) killed) puts")

            // Every acknowledged label move is exactly one event of the label's chain.
            let production = chains[RefNames.named(file, .labels, try RefLabel("production")).rawValue] ?? []
            let moves = logs.map(\.productionMoves).reduce(0, +)
            let maybe = logs.map(\.productionMaybe).reduce(0, +)
            #expect(production.count >= 1 + moves && production.count <= 1 + moves + maybe,
                    "production has \(production.count) events for 1 + \(moves) acknowledged (+ up to \(maybe) killed) moves")
            for (from, to) in logs.flatMap(\.expectedMoves) {
                #expect(production.contains { $0.event.from == from && $0.event.to == to },
                        "an acknowledged --expect move \(from.short) → \(to.short) is not in the chain")
            }
            let commands = logs.map(\.commands).reduce(0, +)
            let kills = logs.map(\.kills).reduce(0, +)
            let conflicts = logs.map(\.expectConflicts).reduce(0, +)
            report("CLI concurrency: \(lanes) processes at once, \(commands) commands in \(String(format: "%.1f", elapsed)) s (\(kills) killed), \(created.count) versions numbered 1…\(line.count) densely, \(moves) label moves all chained, \(conflicts) --expect conflicts refused cleanly")
        }

        static func lane(
            _ lane: Int, sandbox: StoreSandbox, seed: UInt64, commands: Int, first: ObjectID, _ f: Failures
        ) throws -> LaneLog {
            var random = SeededGenerator(seed: seed)
            var log = LaneLog()
            var known = [first]
            for i in 0..<commands {
                let seq = lane * 100_000 + i + 1
                let op = Int.random(in: 0..<10, using: &random)
                var arguments: [String]
                var expected: ObjectID?
                var target: ObjectID?
                switch op {
                case 0..<4:
                    let body = try sandbox.dir.write("lane\(lane)-\(i).json", Array(Bodies.flow(path: path, seq: seq).utf8))
                    arguments = ["put", body, "--path", path, "--json"]
                case 4..<6:
                    target = known.randomElement(using: &random)!
                    arguments = ["label", "set", path, "production", target!.hex]
                case 6:
                    target = known.randomElement(using: &random)!
                    expected = known.randomElement(using: &random)!
                    arguments = ["label", "set", path, "production", target!.hex, "--expect", expected!.hex]
                case 7:
                    arguments = ["label", "set", path, "staging", known.randomElement(using: &random)!.hex]
                default:
                    arguments = ["promote", path, "--from", "staging", "--to", "production"]
                }
                // One command in six is killed at a random moment.
                let killAfter = random.chance(1.0 / 6) ? Double.random(in: 0.005...0.04, using: &random) : nil
                let result = try sandbox.spawn(arguments).finish(killAfter: killAfter)
                log.commands += 1
                let movesProduction = op >= 4 && op != 7
                if result.killed {
                    log.kills += 1
                    if op < 4 { log.killedPuts += 1 }
                    if movesProduction { log.productionMaybe += 1 }
                    continue
                }
                if op == 6, result.exitCode == 1, result.err.contains("as --expect requires; nothing changed") {
                    log.expectConflicts += 1
                    continue
                }
                try f.require(result.succeeded, "lane \(lane): flowstore \(arguments.joined(separator: " ")): \(result)")
                switch op {
                case 0..<4:
                    let json = try JSONParser.parse(result.stdout)
                    let id = try f.require(json["version_id"]?.stringValue.flatMap { ObjectID(hex: $0) }, "\(result)")
                    if json["created"] == true {
                        log.createdVersions.append((id, json["number"]?.intValue ?? 0))
                    } else {
                        log.unchangedPuts += 1
                    }
                    known.append(id)
                case 7: break
                default:
                    if result.out.hasPrefix("set label") || result.out.hasPrefix("promoted") {
                        log.productionMoves += 1
                        if let expected, let target { log.expectedMoves.append((expected, target)) }
                    }
                }
            }
            return log
        }

        @Test("Server connections and CLI processes upsert one flow and move one label at once", .timeLimit(.minutes(Reliability.minutes(3))))
        func serverAndProcesses() async throws {
            let sandbox = try StoreSandbox.initialized("race-server")
            let server = try await InProcessServer.start(sandbox)
            let port = server.port
            let flowPath = "race/served-flow"
            let agent = "race-agent"
            let perConnection = Reliability.scale(ci: 12, soak: 200)
            let upserters = 16, labellers = 8, deployers = 8, processes = 4
            let setup = try await onThread { () throws -> (flow: String, envID: String, firstHex24: String) in
                let flow = try httpOnce(port: port, "POST", "/v5/flows", key: Keys.writer, json: Bodies.flow(path: flowPath, seq: 0))
                let agentCreated = try httpOnce(port: port, "POST", "/rest/workflows", key: Keys.writer, json: Bodies.agent(name: agent, seq: 0))
                guard flow.status == 200, agentCreated.status == 201, let id = flow["id"]?.stringValue,
                    let version = flow["version_id"]?.stringValue
                else { throw HTTPError(description: "setup failed: \(flow) / \(agentCreated)") }
                return (id, PublicIDs.environment("production"), String(version.dropFirst(4)))
            }

            let failures = Failures()
            let flowAcks = Locked<[String]>([])       // hex24 of acknowledged upserts
            let agentAcks = Locked<[Int]>([1])        // acknowledged agent version numbers
            let labelAcks = Locked(0)
            let deployAcks = Locked(0)
            let cliLabelAcks = Locked(0)
            let started = now()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for c in 0..<upserters {
                    group.addTask {
                        try await onThread {
                            let connection = try HTTPConnection(port: port)
                            for i in 0..<perConnection {
                                let r = try connection.send("POST", "/v5/flows", key: Keys.writer,
                                                            json: Bodies.flow(path: flowPath, seq: 1 + c * 1000 + i))
                                failures.check(r.status == 200, "upsert: \(r)")
                                if let id = r["version_id"]?.stringValue { flowAcks.withLock { $0.append(String(id.dropFirst(4))) } }
                            }
                        }
                    }
                }
                for c in 0..<labellers {
                    group.addTask {
                        try await onThread {
                            let connection = try HTTPConnection(port: port)
                            for i in 0..<perConnection {
                                if i % 2 == 0 {
                                    let r = try connection.send("POST", "/rest/workflows", key: Keys.writer,
                                                                json: Bodies.agentVersion(workflowName: agent, seq: 1 + c * 1000 + i))
                                    failures.check(r.status == 201, "agent version: \(r)")
                                    if let n = r["version_number"]?.intValue { agentAcks.withLock { $0.append(n) } }
                                } else {
                                    let n = agentAcks.withLock { $0.randomElement()! }
                                    let r = try connection.send("PATCH", "/rest/workflows/\(agent)/labels/production", key: Keys.writer,
                                                                json: "{\"version_number\": \(n)}")
                                    failures.check(r.status == 200, "label: \(r)")
                                    if r.status == 200 { labelAcks.withLock { $0 += 1 } }
                                }
                            }
                        }
                    }
                }
                for _ in 0..<deployers {
                    group.addTask {
                        try await onThread {
                            let connection = try HTTPConnection(port: port)
                            for _ in 0..<perConnection {
                                let hex = flowAcks.withLock { $0.randomElement() } ?? setup.firstHex24
                                let r = try connection.send(
                                    "POST", "/v5/flows/\(setup.flow)/environments/\(setup.envID)?version_id=flv_\(hex)", key: Keys.writer)
                                failures.check(r.status == 200, "deploy: \(r)")
                                if r.status == 200 { deployAcks.withLock { $0 += 1 } }
                            }
                        }
                    }
                }
                for p in 0..<processes {
                    group.addTask {
                        try await onThread {
                            for i in 0..<max(3, perConnection / 3) {
                                let n = agentAcks.withLock { $0[(p + i) % $0.count] }
                                let r = try sandbox.runBinary(["label", "set", agent, "production", "\(n)"])
                                failures.check(r.succeeded, "CLI label set: \(r)")
                                if r.succeeded { cliLabelAcks.withLock { $0 += 1 } }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = now() - started
            await server.stop()
            failures.flush()

            let store = try sandbox.open()
            let verify = await sandbox.cli("verify")
            #expect(verify.status == 0, "\(verify)")
            let (chains, problems) = try Invariants.chains(store)
            #expect(problems.isEmpty, "\(problems)")
            let flowFile = try #require(try store.fileID(at: FlowPath(flowPath)))
            let (flowLine, flowProblems) = try Invariants.versionLine(store, file: flowFile, chains: chains)
            #expect(flowProblems.isEmpty, "\(flowProblems)")
            let acked = flowAcks.withLock { $0 }
            // Each upsert had distinct attributes: one new version each, none lost, none extra.
            #expect(Set(acked).count == acked.count, "two upserts were answered with the same version")
            #expect(flowLine.count == 1 + acked.count, "\(flowLine.count) versions for 1 + \(acked.count) acknowledged upserts")
            for hex in acked { #expect(flowLine.contains { $0.hex.hasPrefix(hex) }, "acknowledged flv_\(hex) lost") }

            let agentFile = try #require(try store.fileID(at: FlowPath(agent)))
            let (agentLine, agentProblems) = try Invariants.versionLine(store, file: agentFile, chains: chains)
            #expect(agentProblems.isEmpty, "\(agentProblems)")
            let numbers = agentAcks.withLock { $0 }
            #expect(Set(numbers).count == numbers.count, "two agent versions got the same number")
            #expect(agentLine.count == numbers.count)
            let labelChain = chains[RefNames.named(agentFile, .labels, try RefLabel("production")).rawValue] ?? []
            let labelMoves = labelAcks.withLock { $0 } + cliLabelAcks.withLock { $0 }
            #expect(labelChain.count >= 1 && labelChain.count <= labelMoves, "\(labelChain.count) events for \(labelMoves) label sets")
            let deployChain = chains[RefNames.named(flowFile, .environments, try RefLabel("production")).rawValue] ?? []
            #expect(deployChain.count >= 1 && deployChain.count <= deployAcks.withLock { $0 })
            let total = acked.count + numbers.count + labelMoves + deployAcks.withLock { $0 }
            report("server concurrency: \(upserters + labellers + deployers) keep-alive connections + \(processes) CLI processes, \(total) acknowledged writes in \(String(format: "%.1f", elapsed)) s; \(flowLine.count) flow versions and \(agentLine.count) agent versions numbered densely; label chain \(labelChain.count) events, deployment chain \(deployChain.count) events, all linear")
        }
    }
}
