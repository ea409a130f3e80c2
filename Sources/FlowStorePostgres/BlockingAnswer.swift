import Dispatch
import NIOCore
import NIOPosix
import Synchronization

/// Where the sync store protocols meet PostgresNIO's event loops.
///
/// Every store protocol is synchronous (`throws(StoreError)`), and its callers are plain
/// threads: the CLI's main thread, the HTTP server's Dispatch work items, group-commit worker
/// threads, and test functions, which run on Swift's cooperative pool (two threads on a
/// two-core machine). So the design is:
///
/// - Connections live on an event loop group of our own (`eventLoopGroup`), never the one the
///   HTTP server runs on: nothing of ours ever blocks one of its loops, and no store call made
///   on one of our loops could deadlock it (none is: they only run NIO's own callbacks).
/// - The calling thread blocks on a semaphore that the query's future signals from the event
///   loop (`wait`). No `Task {}` and no `async` bridge is in the path: such a bridge needs a
///   cooperative thread to make progress, and when the blocked callers *are* the cooperative
///   threads (two of them here) it deadlocks. A blocked caller here needs only an event loop
///   thread, which nothing else blocks.
/// - The wait has a deadline, so a server that stops answering (stopped, or a network that
///   drops packets) costs a caller a bounded wait and an `unavailable` error, never a hang.
///
/// The cost is a thread hop each way per statement on top of the round trip. Measured on
/// loopback, one thread, two cores: a ref `read` takes 0.28 ms in a release build, where
/// pgbench runs the same query in 0.15 ms (so about 0.13 ms is PostgresNIO and the two hops);
/// an object `get` 0.22–0.31 ms, a `compareAndSwap` 0.5 ms (the test cluster has fsync off).
/// A debug build (`PostgresBackendTests.perCallLatency`) takes 0.7–1 ms per read, nearly all
/// of it CPU in unoptimised generic code, not waiting.
enum BlockingAnswer {
    /// One group for every PostgreSQL store of the process, made on first use and never shut
    /// down (like `NIOSingletons`): a backend per test must not cost threads per test. One
    /// thread per core, at most two: each loop only moves bytes and decodes rows.
    static let eventLoopGroup: MultiThreadedEventLoopGroup = MultiThreadedEventLoopGroup(
        numberOfThreads: max(1, min(2, System.coreCount)))

    /// Blocks the calling thread until `future` completes or `timeout` passes (then nil).
    static func wait<T: Sendable>(_ future: EventLoopFuture<T>, timeout: Duration) -> Result<T, any Error>? {
        precondition(!future.eventLoop.inEventLoop, "a store call on one of PostgreSQL's own event loops would deadlock it")
        let done = DispatchSemaphore(value: 0)
        let box = Mutex<Result<T, any Error>?>(nil)
        future.whenComplete { result in
            box.withLock { $0 = result }
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout.dispatchInterval) == .success else { return nil }
        return box.withLock { $0 }
    }
}

extension Duration {
    var dispatchInterval: DispatchTimeInterval {
        let (seconds, attoseconds) = components
        let nanoseconds = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !nanoseconds.overflow, nanoseconds.partialValue < Int64(Int.max) else { return .never }
        return .nanoseconds(Int(nanoseconds.partialValue + attoseconds / 1_000_000_000))
    }

    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Whole milliseconds, for PostgreSQL's `lock_timeout` (0 means "wait for ever" there, so
    /// a zero timeout becomes one millisecond).
    var postgresMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
