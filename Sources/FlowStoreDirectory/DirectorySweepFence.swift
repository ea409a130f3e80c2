#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowStoreCore

/// The fence of a directory store: two lock files in the store's root, taken with `flock`.
///
/// `gc.lock` is the fence itself, shared by writers and exclusive to a sweep. `gc.turnstile`
/// gives the sweep its turn: a writer passes it (shared, for a moment) before taking the fence,
/// and a sweep holds it exclusively from before it waits for the fence until it is done, so
/// writers that arrive while it waits queue behind it. Waits are bounded by `timeout`, then
/// `lockTimeout`, as ref locks are; a writer or sweep killed at any point loses its locks to
/// the kernel, so nothing stays stuck.
public struct DirectorySweepFence: SweepFence {
    public let root: String
    public let timeout: Duration

    public init(root: String, timeout: Duration = FileRefStore.defaultLockTimeout) {
        self.root = root
        self.timeout = timeout
    }

    var fencePath: String { "\(root)/gc.lock" }
    var turnstilePath: String { "\(root)/gc.turnstile" }

    /// Creates both lock files, so a new store has them from the start (a store made before
    /// the fence gets them from its first write or gc).
    public func createLockFiles() throws(StoreError) {
        for path in [fencePath, turnstilePath] { close(try Self.open(path)) }
    }

    public func acquireWindow() throws(StoreError) -> WriteWindow {
        let turnstile = try Self.open(turnstilePath)
        defer { close(turnstile) }
        try lock(turnstile, LOCK_SH, path: turnstilePath)
        let fence = try Self.open(fencePath)
        do {
            try lock(fence, LOCK_SH, path: fencePath)
        } catch {
            close(fence)
            throw error
        }
        return WriteWindow { closeLockFile(fence) }
    }

    public func whileSweeping<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        let turnstile = try Self.open(turnstilePath)
        defer { close(turnstile) }
        try lock(turnstile, LOCK_EX, path: turnstilePath)
        let fence = try Self.open(fencePath)
        defer { close(fence) }
        try lock(fence, LOCK_EX, path: fencePath)
        return try body()
    }

    private static func open(_ path: String) throws(StoreError) -> Int32 {
        let fd = openLockFile(path)
        guard fd >= 0 else { throw .io(path: path, message: POSIXFile.lastError()) }
        return fd
    }

    /// Polls with `LOCK_NB` so the wait is bounded: from 50 µs between tries, doubling to 20 ms.
    private func lock(_ fd: Int32, _ operation: Int32, path: String) throws(StoreError) {
        let deadline = ContinuousClock.now + timeout
        var pause: UInt32 = 50
        while flock(fd, operation | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            guard errno == EWOULDBLOCK else { throw .io(path: path, message: POSIXFile.lastError()) }
            guard ContinuousClock.now < deadline else {
                throw .lockTimeout(operation == LOCK_EX ? "gc.lock (writers kept the store busy; nothing was removed: run gc again)" : "gc.lock (a gc was sweeping the store)")
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }
}

// Outside the types, whose own `open` and `close` would shadow the system calls.
private func openLockFile(_ path: String) -> Int32 { open(path, O_CREAT | O_RDONLY | O_CLOEXEC, 0o644) }

private func closeLockFile(_ fd: Int32) { close(fd) }
