#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A thread of its own that runs submitted jobs one after another, for work that blocks on the
/// disk and is on a latency-critical path (`GroupCommit`'s stages).
///
/// A Dispatch queue would do the same, but on a busy server its jobs wait in the global pool
/// behind every HTTP handler's task: measured, almost a millisecond between submitting a job
/// and its start, per group flush. A thread of one's own is woken by the kernel directly.
/// It starts on the first job and ends after `idleSeconds` without one, so an idle process
/// (or a test that made one and let it go) keeps no thread.
///
/// Unchecked `Sendable`: `jobs` and `running` are only touched under `mutex`.
final class WorkerThread: @unchecked Sendable {
    typealias Job = @Sendable () -> Void

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Signalled when a job arrives for a waiting thread.
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private var jobs: [Job] = []
    private var running = false
    private let idleSeconds: Int

    init(idleSeconds: Int = 2) {
        self.idleSeconds = idleSeconds
        mutex = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
    }

    deinit {
        // A running thread holds a reference to `self`: here, none is.
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        wake.deallocate()
        mutex.deallocate()
    }

    /// Runs `job` on the thread after the jobs submitted before it.
    func submit(_ job: @escaping Job) {
        pthread_mutex_lock(mutex)
        jobs.append(job)
        let start = !running
        running = true
        pthread_cond_signal(wake)
        pthread_mutex_unlock(mutex)
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
        pthread_mutex_lock(mutex)
        while true {
            if jobs.isEmpty, exitWhenIdle || !waitForJob() {
                // Idle: the thread ends; the next `submit` starts another.
                running = false
                pthread_mutex_unlock(mutex)
                return
            }
            let taken = jobs
            jobs = []
            pthread_mutex_unlock(mutex)
            for job in taken { job() }
            pthread_mutex_lock(mutex)
        }
    }

    /// With `mutex` held: waits up to `idleSeconds` for a job; false when none came.
    private func waitForJob() -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += idleSeconds
        while jobs.isEmpty {
            if pthread_cond_timedwait(wake, mutex, &deadline) == ETIMEDOUT { return !jobs.isEmpty }
        }
        return true
    }
}
