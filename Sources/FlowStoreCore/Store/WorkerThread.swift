#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A thread of its own that runs submitted jobs one after another, for work that blocks on the
/// disk and is on a latency-critical path (`GroupCommit`'s stages).
///
/// A Dispatch queue would do the same, but on a busy server its jobs wait in the global pool
/// behind every HTTP handler's task: measured, almost a millisecond between submitting a job
/// and its start, per group flush. A thread of one's own is woken by the kernel directly.
/// It starts on the first job and ends after `idleSeconds` without one, so an idle process
/// (or a test that made one and let it go) keeps no thread.
/// Unchecked: the condition variable and its mutex are only touched through pthread calls.
final class WorkerThread: @unchecked Sendable {
    typealias Job = @Sendable () -> Void

    private struct State: ~Copyable {
        var jobs: [Job] = []
        var running = false
    }

    private let state = Mutex(State())
    /// Signalled (under `wakeMutex`) when a job arrives for a waiting thread.
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private let wakeMutex: UnsafeMutablePointer<pthread_mutex_t>
    private let idleSeconds: Int

    init(idleSeconds: Int = 2) {
        self.idleSeconds = idleSeconds
        wake = .allocate(capacity: 1)
        wakeMutex = .allocate(capacity: 1)
        pthread_cond_init(wake, nil)
        pthread_mutex_init(wakeMutex, nil)
    }

    deinit {
        // A running thread holds a reference to `self`: here, none is.
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(wakeMutex)
        wake.deallocate()
        wakeMutex.deallocate()
    }

    /// Runs `job` on the thread after the jobs submitted before it.
    func submit(_ job: @escaping Job) {
        pthread_mutex_lock(wakeMutex)
        let start = state.withLock { s in
            s.jobs.append(job)
            if s.running { return false }
            s.running = true
            return true
        }
        pthread_cond_signal(wake)
        pthread_mutex_unlock(wakeMutex)
        if start { startThread() }
    }

    private func startThread() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<WorkerThread>.fromOpaque(context).takeRetainedValue().run()
            return nil
        }, context)
        if result == 0 {
            pthread_detach(thread)
        } else {
            // No thread to be had: run the jobs here rather than lose them.
            Unmanaged<WorkerThread>.fromOpaque(context).takeRetainedValue().run(exitWhenIdle: true)
        }
    }

    private func run(exitWhenIdle: Bool = false) {
        while true {
            let jobs: [Job] = state.withLock { s in
                let jobs = s.jobs
                s.jobs = []
                return jobs
            }
            for job in jobs { job() }
            if !jobs.isEmpty { continue }
            if exitWhenIdle || !waitForJob() {
                // Idle: end the thread, unless a job slipped in; the next `submit` starts another.
                let done = state.withLock { s in
                    if !s.jobs.isEmpty { return false }
                    s.running = false
                    return true
                }
                if done { return }
            }
        }
    }

    /// Waits up to `idleSeconds` for a job; false when none came.
    private func waitForJob() -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += idleSeconds
        pthread_mutex_lock(wakeMutex)
        defer { pthread_mutex_unlock(wakeMutex) }
        while state.withLock({ $0.jobs.isEmpty }) {
            if pthread_cond_timedwait(wake, wakeMutex, &deadline) == ETIMEDOUT {
                return !state.withLock { $0.jobs.isEmpty }
            }
        }
        return true
    }
}
