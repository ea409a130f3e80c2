import FlowStoreCore
@testable import FlowStoreServer
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The API keys every server in this suite accepts.
enum Keys {
    static let writer = "rel-writer-9f3c1e7a5b2d4c6e8a0b"
    static let reader = "rel-reader-2b4d6f8a0c1e3a5c7e9b"
    static let other = "rel-other-7e5c3a1f9d8b6a4c2e0f"
    static let all = [writer, reader, other]

    static let keysFile = """
        {"keys": [
          {"key": "\(writer)", "user": {"email_address": "writer@example.com", "full_name": "Writer"}},
          {"key": "\(reader)", "user": {"email_address": "reader@example.com"}, "read_only": true},
          {"key": "\(other)", "user": {"full_name": "Other"}}
        ]}
        """

    static func keyring() throws -> APIKeyring {
        try APIKeyring([
            (writer, APIUser(email: "writer@example.com", fullName: "Writer")),
            (reader, APIUser(email: "reader@example.com", readOnly: true)),
            (other, APIUser(fullName: "Other")),
        ])
    }
}

/// `flowstore serve` as a child process on a free loopback port.
final class ServerProcess: @unchecked Sendable {
    let child: ChildProcess
    let port: Int

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts the binary on `store` and waits (up to 20 s) for its "serving … on http://127.0.0.1:PORT" line.
    /// Blocking: call from a plain thread.
    init(sandbox: StoreSandbox, arguments extra: [String] = [], environment: [String: String] = [:]) throws {
        let keys = try sandbox.dir.write("keys.json", Array(Keys.keysFile.utf8))
        // A keys file others may read is refused, as ssh refuses such a key.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keys)
        child = try sandbox.spawn(
            ["serve", "--store", sandbox.store, "--port", "0", "--keys-file", keys] + extra, environment: environment)
        let deadline = now() + 20
        while true {
            let text = String(decoding: child.currentOutput(), as: UTF8.self)
            if let range = text.range(of: "http://127.0.0.1:") {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), text[range.upperBound...].dropFirst(digits.count).first == " " {
                    self.port = port
                    return
                }
            }
            if let status = child.poll() {
                throw StartError(description: "flowstore serve exited: \(child.result(status: status))")
            }
            if now() > deadline {
                child.kill9()
                throw StartError(description: "flowstore serve did not start in 20 s")
            }
            sleepSeconds(0.005)
        }
    }

    /// Resident memory of the server process in KiB (VmRSS from /proc/PID/status).
    var residentKiB: Int? { residentMemoryKiB(pid: child.pid) }

    func kill9() -> ChildResult {
        child.kill9()
        return child.result(status: child.wait())
    }

    /// SIGTERM and wait: a graceful stop.
    func stop() -> ChildResult {
        child.terminate()
        return child.result(status: child.wait())
    }
}

/// VmHWM (peak resident memory) of a process in KiB.
func highWaterKiB(pid: pid_t) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    return nil
}

/// VmRSS of a process in KiB.
func residentMemoryKiB(pid: pid_t? = nil) -> Int? {
    let path = pid.map { "/proc/\($0)/status" } ?? "/proc/self/status"
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    return nil
}

/// The server in-process (`startServer`) over a sandbox's store.
struct InProcessServer: Sendable {
    let server: RunningServer
    var port: Int { server.port }

    static func start(
        _ sandbox: StoreSandbox, maxBodyBytes: Int = ServerConfiguration.defaultMaxBodyBytes,
        idleTimeout: Duration? = nil
    ) async throws -> InProcessServer {
        var configuration = ServerConfiguration(
            host: "127.0.0.1", port: 0, authentication: .keys(try Keys.keyring()), maxBodyBytes: maxBodyBytes,
            logLevel: .critical)
        if let idleTimeout { configuration.idleTimeout = idleTimeout }
        return InProcessServer(server: try await startServer(configuration: configuration, store: try sandbox.open()))
    }

    func stop() async { await server.stop() }
}

/// Request bodies.
enum Bodies {
    static func quote(_ s: String) -> String {
        (try? JSONValue.string(s).canonicalString) ?? "\"\""
    }

    static func flow(path: String, seq: Int, extra: String = "") -> String {
        #"{"path": \#(quote(path)), "attributes": {"prompt": {"template": "Answer {{question}} #\#(seq)", "model": "gpt-4o", "temperature": 0.5}, "seq": \#(seq)}\#(extra)}"#
    }

    static func agentNodes(_ seq: Int) -> String {
        #""nodes": [{"name": "greeting", "node_type": "VARIABLE", "is_output_node": true, "configuration": {"value": {"type": "string", "value": "Hello #\#(seq)"}}, "dependencies": []}]"#
    }

    static func agent(name: String, seq: Int) -> String { "{\"name\": \(quote(name)), \(agentNodes(seq))}" }
    static func agentVersion(workflowName: String, seq: Int) -> String {
        "{\"workflow_name\": \(quote(workflowName)), \(agentNodes(seq))}"
    }
}
