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
