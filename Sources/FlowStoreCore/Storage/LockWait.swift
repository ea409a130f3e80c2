#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How long a writer waits for a lock (a ref's, the sweep fence, a database row or advisory
/// lock) before it gives up with `StoreError.lockTimeout`: a stopped process (SIGSTOP, a
/// debugger) holding a lock must not stall every writer, the server's group commit among them,
/// for ever. The same bound on every backend.
public enum LockWait {
    /// 10 seconds, or `FLOWSTORE_LOCK_TIMEOUT` (seconds, fractions allowed) when set.
    public static let defaultTimeout: Duration = {
        if let text = getenv("FLOWSTORE_LOCK_TIMEOUT").map({ String(cString: $0) }), let seconds = Double(text),
            seconds >= 0, seconds <= 86_400
        {
            return .milliseconds(Int64(seconds * 1000))
        }
        return .seconds(10)
    }()
}
