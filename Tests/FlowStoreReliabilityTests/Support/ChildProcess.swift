import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended.
struct ChildResult: CustomStringConvertible, Sendable {
    /// The exit code, when the process exited by itself.
    var exitCode: Int32?
    /// The signal that ended it (SIGKILL when we killed it).
    var signal: Int32?
    var stdout: [UInt8]
    var stderr: [UInt8]
    /// Seconds from spawn to reaping.
    var elapsed: Double

    /// The process exited 0 by itself: what "acknowledged" means for a CLI write.
    var succeeded: Bool { exitCode == 0 }
    var killed: Bool { signal != nil }
    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }

    var description: String {
        let how = exitCode.map { "exit \($0)" } ?? "signal \(signal ?? -1)"
        return "\(how) after \(String(format: "%.1f", elapsed * 1000)) ms\n--- stdout\n\(out)--- stderr\n\(err)"
    }
}

/// A child process started with `posix_spawn`, its standard output and error going to files
/// (no pipes: nothing can block however much it writes), reaped only by its owner so a pid
/// is never reused under us before we kill it.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let started: Double
    private let outPath: String
    private let errPath: String
    private var reaped = false

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts `executable` with `arguments` and exactly `environment`. Standard input is
    /// `stdinPath` (or /dev/null); output files are made in `scratch`.
    init(
        _ executable: String, _ arguments: [String], environment: [String: String], stdinPath: String? = nil,
        scratch: String
    ) throws {
        let token = UUID().uuidString
        outPath = "\(scratch)/.out-\(token)"
        errPath = "\(scratch)/.err-\(token)"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else { throw SpawnError(description: "posix_spawn \(executable): \(String(cString: strerror(rc)))") }
        self.pid = pid
        self.started = now()
    }

    deinit {
        if !reaped {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        unlink(outPath)
        unlink(errPath)
    }

    /// The raw wait status if the child has ended (reaping it), else nil. Never blocks.
    func poll() -> Int32? {
        guard !reaped else { return nil }
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        guard rc == pid else { return nil }
        reaped = true
        return status
    }

    /// Waits for the child to end and returns the raw wait status.
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        reaped = true
        return status
    }

    /// SIGKILL: the child gets no chance to clean up, exactly like a crash or power cut of
    /// the process (the kernel still holds its written data).
    func kill9() {
        if !reaped { kill(pid, SIGKILL) }
    }

    func terminate() {
        if !reaped { kill(pid, SIGTERM) }
    }

    var isRunning: Bool { !reaped }

    /// Everything the child wrote so far to standard output (it may still be running).
    func currentOutput() -> [UInt8] {
        Array(FileManager.default.contents(atPath: outPath) ?? Data())
    }

    func currentError() -> [UInt8] {
        Array(FileManager.default.contents(atPath: errPath) ?? Data())
    }

    func result(status: Int32) -> ChildResult {
        let low = status & 0x7f
        return ChildResult(
            exitCode: low == 0 ? (status >> 8) & 0xff : nil, signal: low == 0 ? nil : low,
            stdout: currentOutput(), stderr: currentError(), elapsed: now() - started)
    }

    /// Waits for the child, killing it with SIGKILL once `killAfter` seconds have passed
    /// since it started (nil: never). If it exits by itself first, that exit is what counts.
    func finish(killAfter: Double? = nil) -> ChildResult {
        guard let killAfter else { return result(status: wait()) }
        while true {
            if let status = poll() { return result(status: status) }
            let left = started + killAfter - now()
            if left <= 0 {
                kill9()  // not reaped yet, so the pid is still this child (a zombie at worst)
                return result(status: wait())
            }
            sleepSeconds(min(left, 0.0002))
        }
    }
}

/// The built `flowstore` executable: next to the test bundle, else `.build/debug`.
enum FlowStoreBinary {
    struct Missing: Error, CustomStringConvertible {
        var candidates: [String]
        var description: String {
            "the flowstore executable was not found (looked at \(candidates.joined(separator: ", "))); run `swift build` first"
        }
    }

    static func path() throws -> String {
        var candidates: [String] = []
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("flowstore").path)
        }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("flowstore").path)
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/flowstore").path)
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Missing(candidates: candidates)
        }
        return found
    }
}
