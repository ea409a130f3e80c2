import Foundation
import Synchronization
import Testing
import FlowStoreCLI
import FlowStoreCore
import FlowStoreDirectory

@Suite("flowstore serve")
struct ServeCommandTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func runCLI(_ arguments: [String], environment: [String: String] = [:]) async -> (status: Int32, stderr: String) {
        let err = Mutex<[UInt8]>([])
        let console = Console(
            environment: environment, workingDirectory: FileManager.default.currentDirectoryPath,
            stdout: { _ in }, stderr: { bytes in err.withLock { $0 += bytes } })
        let status = await FlowStoreCommand.run(arguments: arguments, console: console)
        return (status, String(decoding: err.withLock { $0 }, as: UTF8.self))
    }

    @Test("Refuses to start without keys, and without auth off loopback, creating nothing")
    func refusals() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-serve-\(UUID().uuidString)").path
        let noKeys = await runCLI(["serve", "--store", dir, "--port", "0"])
        #expect(noKeys.status == 1)
        #expect(noKeys.stderr.contains("no API keys"))
        let open = await runCLI(["serve", "--store", dir, "--host", "0.0.0.0", "--insecure-no-auth"])
        #expect(open.status == 1)
        #expect(open.stderr.contains("loopback"))
        let badEnv = await runCLI(["serve", "--store", dir], environment: ["FLOWSTORE_API_KEYS": "just-a-key"])
        #expect(badEnv.status == 1)
        #expect(badEnv.stderr.contains("key=user"))
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test("The built binary serves, creates its store, and exits 0 on SIGTERM", .timeLimit(.minutes(1)))
    func binaryLifecycle() async throws {
        let binary = Self.packageRoot.appendingPathComponent(".build/debug/flowstore").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { return }  // `swift test` builds it
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-serve-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--store", dir, "--port", "0"]
        process.environment = ["FLOWSTORE_API_KEYS": "bin-key=Bin User <bin@example.com>", "PATH": "/usr/bin:/bin"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // "FlowStore serving DIR on http://127.0.0.1:PORT (1 API key(s))"
        let line = try await Task.detached { () throws -> String in
            var data = Data()
            while !data.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                data += chunk
            }
            return String(decoding: data, as: UTF8.self)
        }.value
        let portText = try #require(line.split(separator: ":").last?.split(separator: " ").first, "\(line)")
        let port = try #require(Int(portText), "\(line)")

        let request = RawHTTPClient.requestBytes(
            method: "POST", path: "/rest/workflows", headers: [("X-API-KEY", "bin-key"), ("Content-Type", "application/json")],
            body: Array("{\"name\": \"bin-agent\", \(Bodies.greetingNodes)}".utf8))
        let response = try await RawHTTPClient.send(port: port, request: request)
        #expect(response.status == 201)
        // Only the keys' digests stay (SECURITY.md A4): not even the process's environment
        // block, which /proc shows for the life of the process, still holds the key.
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(process.processIdentifier)/environ"))
        #expect(!String(decoding: environ, as: UTF8.self).contains("bin-key"))
        #expect(String(decoding: environ, as: UTF8.self).contains("PATH=/usr/bin:/bin"))
        // The store serve created is private.
        let mode = try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int
        #expect(mode == 0o700)

        process.terminate()  // SIGTERM
        let status = await Task.detached { () -> Int32 in
            process.waitUntilExit()
            return process.terminationStatus
        }.value
        #expect(status == 0)
        let store = try VersionStore.open(at: dir)
        #expect(try store.files().map(\.path.rawValue) == ["bin-agent"])
        #expect(try store.audit().allSatisfy { $0.event.author == "Bin User <bin@example.com>" })
    }
}
