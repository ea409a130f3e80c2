import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// How much work the reliability suite does.
///
/// By default (CI) every test is bounded to a few seconds; `FLOWSTORE_SOAK=1` multiplies
/// iterations and durations for a long run. `FLOWSTORE_SEED=N` replays one seed (every
/// random choice below derives from it, so a failure report's seed reproduces the run).
enum Reliability {
    static let soak: Bool = {
        guard let value = ProcessInfo.processInfo.environment["FLOWSTORE_SOAK"] else { return false }
        return !value.isEmpty && value != "0"
    }()

    /// The base seed: fixed in CI so runs are reproducible.
    static let seed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["FLOWSTORE_SEED"], let n = UInt64(text) { return n }
        return 0x466C_6F77_5374_6F72  // "FlowStor"
    }()

    /// `ci` in CI, `soak` under `FLOWSTORE_SOAK=1`.
    static func scale<T>(ci: T, soak: T) -> T { self.soak ? soak : ci }

    /// A generator for one test: the base seed mixed with the test's own tag, so tests do not
    /// share a random stream (and adding a test does not change the others).
    static func generator(_ tag: String) -> SeededGenerator {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in tag.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return SeededGenerator(seed: seed ^ hash)
    }
}

/// SplitMix64: small, fast, and the same sequence on every platform for a given seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }

    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }
}

/// Runs blocking work (waitpid, sockets, sleeps) on its own thread, so the cooperative
/// pool stays free for the in-process server and other tests (2 cores: 2 pool threads).
func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// Monotonic seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Sleeps the calling thread (never call from the cooperative pool for long).
func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
}

/// A one-line figure for the report, printed so CI logs show what was survived.
func report(_ line: String) {
    print("[reliability] \(line)")
}

/// A temp directory removed when the value goes away.
final class TempDirectory: @unchecked Sendable {
    let path: String

    init(_ tag: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("flowstore-rel-\(tag)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }
}

/// Failures found on a plain thread (where Swift Testing cannot attribute an `#expect` to
/// the running test), recorded as issues of the test once the thread is done.
final class Failures: @unchecked Sendable {
    struct Fatal: Error, CustomStringConvertible {
        var description: String
    }

    private let lock = NSLock()
    private var items: [String] = []

    func record(_ message: String) { lock.withLock { items.append(message) } }

    func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { record(message()) }
    }

    /// Stops the thread's work: what follows would make no sense without it.
    func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw Fatal(description: message()) }
    }

    func require<T>(_ value: T?, _ message: @autoclosure () -> String) throws -> T {
        guard let value else { throw Fatal(description: message()) }
        return value
    }

    var all: [String] { lock.withLock { items } }

    /// Records every failure as an issue of the current test (at most `limit`, then a count).
    func flush(limit: Int = 25, sourceLocation: SourceLocation = #_sourceLocation) {
        let found = all
        for message in found.prefix(limit) { Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation) }
        if found.count > limit {
            Issue.record(Comment(rawValue: "… and \(found.count - limit) more failures"), sourceLocation: sourceLocation)
        }
    }
}

/// A value shared between threads, behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

extension Reliability {
    /// A test's time limit in minutes: `ci` in CI, an hour under soak.
    static func minutes(_ ci: Int) -> Int { soak ? 60 : ci }
}
