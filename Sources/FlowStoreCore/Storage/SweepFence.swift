#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Keeps `gc`'s sweep out of every writer's *window*: the time from a writer's first object
/// write (or its finding an object already stored) to its last ref move.
///
/// Inside a window, the objects a writer has written or re-used are reachable from no ref yet.
/// A grace period protects them from an ordinary `gc`, because they are new or freshened; but
/// `gc --prune-now` has no grace, and a window longer than the grace (a slow sync) outlives it.
/// So writers hold the fence shared for their windows, and `gc` sweeps holding it exclusively:
/// then every window that began before the sweep has ended, its refs are visible to gc's
/// re-mark, and what they reach is kept.
///
/// Writers never wait for each other here, only for a sweep. A sweep waits for the windows
/// open when it asks, but not for windows opened after: new writers wait behind it, so a
/// steady stream of overlapping windows (a busy server's group commit) cannot starve it.
public protocol SweepFence: Sendable {
    /// Waits until no sweep runs or waits, and opens a write window. Callers use `openWindow`
    /// or `whileWriting`, which join a window the thread is already in instead.
    func acquireWindow() throws(StoreError) -> WriteWindow
    /// Runs `body` once no write window is open, keeping new ones from opening until it returns.
    func whileSweeping<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T
}

extension SweepFence {
    /// Opens a window that outlives one call, for writers whose window spans calls and threads
    /// (a batch: from its first staged object to the end of its flush). Inside a window of this
    /// thread, that one covers it: waiting for a turn behind a sweep that waits for the outer
    /// window would stall until a timeout.
    public func openWindow() throws(StoreError) -> WriteWindow {
        if WindowDepth.current > 0 { return WriteWindow {} }
        return try acquireWindow()
    }

    /// Runs `body` in a write window on this thread. Re-entrant: a window opened on a thread
    /// already in one (a commit that creates a file that moves a ref) is that one.
    public func whileWriting<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        if WindowDepth.current > 0 { return try body() }
        let window = try acquireWindow()
        defer { window.close() }
        return try window.adopt(body)
    }
}

/// An open write window; closed by `close()` or when the last reference to it goes away.
public final class WriteWindow: Sendable {
    private let release: @Sendable () -> Void
    private let closed = Atomic<Bool>(false)

    /// `release` ends the window; it runs once.
    public init(release: @escaping @Sendable () -> Void) {
        self.release = release
    }

    /// Runs `body` on this thread as part of the window, so writes it makes through
    /// `SweepFence.whileWriting` join this window instead of opening one. Opening one would
    /// wait behind a sweep that itself waits for this window to close.
    public func adopt<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        WindowDepth.enter()
        defer { WindowDepth.leave() }
        return try body()
    }

    public func close() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { release() }
    }

    deinit { close() }
}

/// How many windows this thread is in: writes nest (a commit moves refs, which write events),
/// and only the outermost opens and closes the window.
enum WindowDepth {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var current: Int { Int(bitPattern: pthread_getspecific(key)) }

    static func enter() { pthread_setspecific(key, UnsafeRawPointer(bitPattern: current + 1)) }

    static func leave() { pthread_setspecific(key, UnsafeRawPointer(bitPattern: current - 1)) }
}

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
