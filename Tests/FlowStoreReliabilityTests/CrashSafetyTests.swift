import FlowStoreCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` at random moments: every acknowledged write survives, the store verifies, and
/// what an interrupted write left behind is cleaned by `gc --prune-now`.
extension ReliabilitySuite {
    @Suite("Crash safety: the CLI under kill -9")
    struct CLICrashTests {
        /// One labelled ref's history as the driver saw it.
        enum LabelOp {
            /// Exit 0 observed: the label pointed at `target` (`moved`: an event was recorded; nil: not reported).
            case acked(target: ObjectID, moved: Bool?)
            /// Killed (or failed): may or may not have happened; nil target = unknown.
            case unacked(target: ObjectID?)
            /// An acknowledged promotion, which names its target by a 12-hex short id.
            case promoted(short: String, moved: Bool)
        }

        struct Model {
            var ackedVersions: [String: [(id: ObjectID, number: Int)]] = [:]
            var labels: [String: [LabelOp]] = [:]  // "path\tlabel"
        }

        static let paths = ["crash/alpha", "crash/beta", "crash/deep/nested/gamma"]
        static let labels = ["staging", "production"]

        @Test("put, label set and promote survive kill -9 at random moments", .timeLimit(.minutes(Reliability.minutes(5))))
        func killedCLIWriters() async throws {
            let runs = Reliability.scale(ci: 10, soak: 60)
            let killsPerRun = Reliability.scale(ci: 20, soak: 40)
            var totals = (kills: 0, acked: 0, iterations: 0, leftovers: 0)
            var generator = Reliability.generator("cli-crash")
            let failures = Failures()
            defer { failures.flush() }
            for run in 0..<runs {
                let seed = generator.next()
                let figures = try await onThread { try Self.crashRun(seed: seed, kills: killsPerRun, run: run, failures) }
                totals.kills += figures.kills
                totals.acked += figures.acked
                totals.iterations += figures.iterations
                totals.leftovers += figures.leftovers
            }
            report("CLI crash: \(totals.kills) kill -9s over \(runs) runs, \(totals.iterations) commands, \(totals.acked) acknowledged writes all present, verify clean after every run; \(totals.leftovers) temp/lock files of interrupted writes, all removed by gc --prune-now")
            #expect(totals.kills >= runs * killsPerRun)
        }

        /// One run: a fresh store, commands one after another, each killed after a random
        /// delay (or finishing first), until `kills` of them were killed; then the checks.
        static func crashRun(seed: UInt64, kills: Int, run: Int, _ f: Failures) throws -> (kills: Int, acked: Int, iterations: Int, leftovers: Int) {
            var random = SeededGenerator(seed: seed)
            let sandbox = try StoreSandbox.initialized("crash")
            var model = Model()
            var sequence = 0

            // Calibrate: how long does a write take here? Kill delays are drawn around it.
            var durations: [Double] = []
            for path in paths {
                sequence += 1
                let body = try sandbox.dir.write("body-\(sequence).json", body(sequence))
                let result = try sandbox.runBinary(["put", body, "--path", path, "--json"])
                try f.require(result.succeeded, "\(result)")
                try record(put: result, path: path, labels: [], model: &model, f)
                durations.append(result.elapsed)
            }
            let typical = durations.sorted()[durations.count / 2]

            var scale = 1.0
            var killed = 0
            var iterations = 0
            var acked = 0
            while killed < kills {
                iterations += 1
                let path = paths.randomElement(using: &random)!
                let label = labels.randomElement(using: &random)!
                let key = "\(path)\t\(label)"
                var arguments: [String]
                enum Kind { case put([String]), set(ObjectID), promote }
                let kind: Kind
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<5:
                    sequence += 1
                    // Sometimes the same definition again ("unchanged"), usually a new one.
                    let n = random.chance(0.15) ? max(1, sequence - 1) : sequence
                    let file = try sandbox.dir.write("body-\(sequence).json", body(n))
                    let withLabel = random.chance(0.3) ? [label] : []
                    arguments = ["put", file, "--path", path, "--json"] + withLabel.flatMap { ["--label", $0] }
                    kind = .put(withLabel)
                case 5..<8:
                    guard let target = model.ackedVersions[path]?.randomElement(using: &random)?.id else { continue }
                    arguments = ["label", "set", path, label, target.hex]
                    kind = .set(target)
                default:
                    arguments = ["promote", path, "--from", "staging", "--to", "production"]
                    kind = .promote
                }
                // Delays drawn around a write's duration, adapted so about half the commands
                // are killed (and so kills land anywhere from start-up to the last fsync).
                let delay = typical * scale * Double.random(in: 0.2...1.2, using: &random)
                let result = try sandbox.spawn(arguments).finish(killAfter: delay)
                scale *= result.killed ? 1.04 : 0.96
                if result.killed {
                    killed += 1
                    switch kind {
                    case .put(let withLabels):
                        for l in withLabels { model.labels["\(path)\t\(l)", default: []].append(.unacked(target: nil)) }
                    case .set(let target): model.labels[key, default: []].append(.unacked(target: target))
                    case .promote: model.labels["\(path)\tproduction", default: []].append(.unacked(target: nil))
                    }
                    continue
                }
                // Not killed: the command must have worked, after any number of crashes before it.
                if case .promote = kind, result.exitCode == 1, result.err.hasPrefix("error: ref not found") {
                    continue  // staging was never set: a clean refusal
                }
                try f.require(result.succeeded, "run \(run), after \(killed) kills: flowstore \(arguments.joined(separator: " ")): \(result)")
                acked += 1
                switch kind {
                case .put(let withLabels):
                    try record(put: result, path: path, labels: withLabels, model: &model, f)
                case .set(let target):
                    model.labels[key, default: []].append(.acked(target: target, moved: result.out.hasPrefix("set label")))
                case .promote:
                    let short = try f.require(shortID(in: result.out), "\(result)")
                    model.labels["\(path)\tproduction", default: []].append(.promoted(short: short, moved: result.out.hasPrefix("promoted")))
                }
            }
            var leftovers = 0
            try check(sandbox, model: model, run: run, f, leftoverCount: &leftovers)
            return (killed, acked, iterations, leftovers)
        }

        static func body(_ n: Int) -> [UInt8] {
            Array(#"{"attributes": {"prompt": {"template": "Answer {{question}} (variant \#(n))", "model": "gpt-4o"}, "seq": \#(n)}}"#.utf8)
        }

        static func record(put result: ChildResult, path: String, labels: [String], model: inout Model, _ f: Failures) throws {
            let json = try JSONParser.parse(result.stdout)
            let id = try f.require(json["version_id"]?.stringValue.flatMap { ObjectID(hex: $0) }, "\(result)")
            let number = try f.require(json["number"]?.intValue, "\(result)")
            model.ackedVersions[path, default: []].append((id, number))
            for label in labels { model.labels["\(path)\t\(label)", default: []].append(.acked(target: id, moved: nil)) }
        }

        static func shortID(in text: String) -> String? {
            guard let close = text.lastIndex(of: ")"), let open = text[..<close].lastIndex(of: "(") else { return nil }
            let inner = text[text.index(after: open)..<close]
            return inner.utf8.count == 12 && ObjectID.isPrefix(inner) ? String(inner) : nil
        }

        /// After a run: verify (the binary), chains linear, numbering dense, every acknowledged
        /// version and label present, reads work; then `gc --prune-now` leaves no leftovers and
        /// removes nothing reachable.
        static func check(_ sandbox: StoreSandbox, model incoming: Model, run: Int, _ f: Failures, leftoverCount: inout Int) throws {
            let verify = try sandbox.runBinary(["verify"])
            f.check(verify.succeeded && verify.out.hasPrefix("ok: "), "run \(run): \(verify)")

            let store = try sandbox.open()
            var model = incoming
            // Acknowledged promotions named their target by a short id: expand it now.
            for (key, ops) in model.labels {
                model.labels[key] = try ops.map { op throws -> LabelOp in
                    guard case .promoted(let short, let moved) = op else { return op }
                    return .acked(target: try store.expand(prefix: short), moved: moved)
                }
            }
            let (chains, chainProblems) = try Invariants.chains(store)
            f.check(chainProblems.isEmpty, "run \(run): \(chainProblems)")

            for (path, versions) in model.ackedVersions {
                let file = try f.require(try store.fileID(at: FlowPath(path)), "run \(run): \(path) lost")
                let (line, problems) = try Invariants.versionLine(store, file: file, chains: chains)
                f.check(problems.isEmpty, "run \(run) \(path): \(problems)")
                for (id, number) in versions {
                    f.check(line.indices.contains(number - 1) && line[number - 1] == id,
                            "run \(run): acknowledged version \(number) \(id.short) of \(path) is not in its history")
                }
            }
            for (key, ops) in model.labels {
                let parts = key.split(separator: "\t").map(String.init)
                guard let file = try store.fileID(at: FlowPath(parts[0])) else { continue }
                let name = RefNames.named(file, .labels, try RefLabel(parts[1])).rawValue
                let chain = (chains[name] ?? []).compactMap(\.event.to)
                let mustAppear = ops.compactMap { op -> ObjectID? in
                    if case .acked(let target, true) = op { target } else { nil }
                }
                f.check(Invariants.isSubsequence(mustAppear, of: chain),
                        "run \(run): an acknowledged move of \(key) is missing from its audit chain")
                guard let lastAcked = ops.lastIndex(where: { if case .acked = $0 { true } else { false } }),
                    case .acked(let ackedTarget, _) = ops[lastAcked]
                else { continue }
                let later = ops[(lastAcked + 1)...]
                let final = try store.target(of: RefName(name))
                if later.isEmpty {
                    f.check(final == ackedTarget, "run \(run): \(key) is \(final?.short ?? "unset"), its last acknowledged write set \(ackedTarget.short)")
                } else if later.allSatisfy({ if case .unacked(let t) = $0 { t != nil } else { false } }) {
                    let allowed = Set([ackedTarget] + later.compactMap { if case .unacked(let t) = $0 { t } else { nil } })
                    f.check(final.map(allowed.contains) == true, "run \(run): \(key) is \(final?.short ?? "unset"), not one of the writes issued")
                } else if let final {
                    f.check(try store.version(final).file == file, "run \(run): \(key) points at another file's version")
                }
            }

            // Reads work and agree.
            for path in model.ackedVersions.keys {
                let shown = try sandbox.runBinary(["show", path, "--json"])
                f.check(shown.succeeded, "run \(run): show \(path): \(shown)")
            }

            // Interrupted writes leave temp files (and maybe a lock file); gc clears them
            // and keeps everything reachable.
            leftoverCount = sandbox.leftovers().count
            let gc = try sandbox.runBinary(["gc", "--prune-now"])
            f.check(gc.succeeded, "run \(run): \(gc)")
            f.check(sandbox.leftovers().isEmpty, "run \(run): left behind after gc --prune-now: \(sandbox.leftovers())")
            let reverify = try sandbox.runBinary(["verify"])
            f.check(reverify.succeeded, "run \(run) after gc: \(reverify)")
            let after = try sandbox.open()
            for (path, versions) in model.ackedVersions {
                for (id, _) in versions { f.check((try? after.version(id)) != nil, "run \(run): gc removed \(id.short) of \(path)") }
            }
        }
    }
}

extension ReliabilitySuite {
    @Suite("Crash safety: flowstore serve under kill -9")
    struct ServerCrashTests {
        /// A write the server answered with 2xx.
        enum Ack: Sendable {
            /// Humanloop upsert: the `flv_` id's 24 hex digits.
            case flowVersion(path: String, hex24: String)
            /// PromptLayer create: version number and integer version id.
            case agentVersion(path: String, number: Int, integerID: Int)
            case label(path: String, label: String, number: Int)
        }

        static let flowPaths = ["srv/flow-a", "srv/flow-b"]
        static let agent = "srv-agent"

        @Test("Acknowledged HTTP writes survive kill -9 of the server", .timeLimit(.minutes(Reliability.minutes(5))))
        func killedServer() async throws {
            let rounds = Reliability.scale(ci: 12, soak: 120)
            let clients = 4
            var generator = Reliability.generator("server-crash")
            let sandbox = try StoreSandbox.initialized("server-crash")
            var acks: [Ack] = []
            var requests = 0
            for round in 0..<rounds {
                let server = try await onThread { try ServerProcess(sandbox: sandbox) }
                if round == 0 {
                    let created = try await onThread {
                        try httpOnce(port: server.port, "POST", "/rest/workflows", key: Keys.writer, json: Bodies.agent(name: Self.agent, seq: 0))
                    }
                    try #require(created.status == 201, "\(created)")
                }
                let delay = Double.random(in: 0.15...0.5, using: &generator)
                let seeds = (0..<clients).map { _ in generator.next() }
                let results = try await withThrowingTaskGroup(of: (acks: [Ack], requests: Int).self) { group in
                    for client in 0..<clients {
                        let seed = seeds[client]
                        group.addTask {
                            try await onThread { Self.client(port: server.port, seed: seed, tag: round * 100 + client) }
                        }
                    }
                    group.addTask {
                        try await onThread {
                            sleepSeconds(delay)
                            _ = server.kill9()
                            return ([], 0)
                        }
                    }
                    var all: [(acks: [Ack], requests: Int)] = []
                    for try await result in group { all.append(result) }
                    return all
                }
                for r in results {
                    acks += r.acks
                    requests += r.requests
                }
            }
            // Every acknowledged write is there, the store verifies, leftovers go with gc.
            let failures = Failures()
            let allAcks = acks
            try await onThread { try Self.check(sandbox, acks: allAcks, failures) }
            failures.flush()
            report("server crash: \(rounds) kill -9s of flowstore serve, \(requests) requests by \(clients) concurrent clients, \(acks.count) acknowledged writes all present, verify clean")
            #expect(acks.count > rounds)
        }

        /// One client: keep-alive requests until the server dies under it.
        static func client(port: Int, seed: UInt64, tag: Int) -> (acks: [Ack], requests: Int) {
            var random = SeededGenerator(seed: seed)
            var acks: [Ack] = []
            var numbers: [Int] = []
            var requests = 0
            guard let connection = try? HTTPConnection(port: port) else { return ([], 0) }
            defer { connection.close() }
            var seq = tag * 10_000
            while true {
                seq += 1
                requests += 1
                do {
                    switch Int.random(in: 0..<10, using: &random) {
                    case 0..<6:
                        let path = flowPaths.randomElement(using: &random)!
                        let r = try connection.send("POST", "/v5/flows", key: Keys.writer, json: Bodies.flow(path: path, seq: seq))
                        guard r.status == 200, let id = r["version_id"]?.stringValue, id.hasPrefix("flv_") else { continue }
                        acks.append(.flowVersion(path: path, hex24: String(id.dropFirst(4))))
                    case 6..<9:
                        let r = try connection.send(
                            "POST", "/rest/workflows", key: Keys.writer, json: Bodies.agentVersion(workflowName: agent, seq: seq))
                        guard r.status == 201, let number = r["version_number"]?.intValue,
                            let id = r["workflow_version_id"]?.intValue
                        else { continue }
                        numbers.append(number)
                        acks.append(.agentVersion(path: agent, number: number, integerID: id))
                    default:
                        guard let number = numbers.randomElement(using: &random) else { continue }
                        let r = try connection.send(
                            "PATCH", "/rest/workflows/\(agent)/labels/production", key: Keys.writer,
                            json: "{\"version_number\": \(number)}")
                        guard r.status == 200 else { continue }
                        acks.append(.label(path: agent, label: "production", number: number))
                    }
                } catch {
                    return (acks, requests)  // the server is gone
                }
            }
        }

        static func check(_ sandbox: StoreSandbox, acks: [Ack], _ f: Failures) throws {
            let verify = try sandbox.runBinary(["verify"])
            f.check(verify.succeeded, "verify after server crashes: \(verify)")
            let store = try sandbox.open()
            let (chains, problems) = try Invariants.chains(store)
            f.check(problems.isEmpty, "chains: \(problems)")
            var lines: [String: [ObjectID]] = [:]
            for path in flowPaths + [agent] {
                let file = try f.require(try store.fileID(at: FlowPath(path)), "\(path) is gone")
                let (line, lineProblems) = try Invariants.versionLine(store, file: file, chains: chains)
                f.check(lineProblems.isEmpty, "\(path): \(lineProblems)")
                lines[path] = line
            }
            for ack in acks {
                switch ack {
                case .flowVersion(let path, let hex24):
                    let found = lines[path]?.contains { $0.hex.hasPrefix(hex24) } ?? false
                    f.check(found, "acknowledged flow version flv_\(hex24) of \(path) is not in its history")
                case .agentVersion(let path, let number, let integerID):
                    let line = lines[path] ?? []
                    let id = line.indices.contains(number - 1) ? line[number - 1] : nil
                    f.check(id.map { Int($0.hex.prefix(12), radix: 16) == integerID } == true,
                            "acknowledged agent version \(number) (\(integerID)) of \(path) is not in its history")
                case .label(let path, let label, let number):
                    // Concurrent clients move the same label, so only its chain can be checked:
                    // the version it was set to is one the label has pointed at.
                    let file = try store.fileID(at: FlowPath(path))!
                    let chain = chains[RefNames.named(file, .labels, try RefLabel(label)).rawValue] ?? []
                    let line = lines[path] ?? []
                    let target = line.indices.contains(number - 1) ? line[number - 1] : nil
                    f.check(target != nil && chain.contains { $0.event.to == target },
                            "acknowledged label \(label) → version \(number) of \(path) is not in the label's chain")
                }
            }
            let gc = try sandbox.runBinary(["gc", "--prune-now"])
            f.check(gc.succeeded, "gc: \(gc)")
            f.check(sandbox.leftovers().isEmpty, "left behind after gc --prune-now: \(sandbox.leftovers())")
            let reverify = try sandbox.runBinary(["verify"])
            f.check(reverify.succeeded, "verify after gc: \(reverify)")
        }
    }
}
