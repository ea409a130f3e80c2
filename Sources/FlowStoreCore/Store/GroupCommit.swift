import Dispatch
import Synchronization

/// Group commit: versions that concurrent callers commit at the same moment share one durable
/// flush (a few file-system barriers) instead of paying about ten `fsync`s each.
///
/// A server taking many writes at once is limited by how often the disk can make something
/// durable, not by how much it writes; databases solve this by letting every transaction that
/// arrives while one flush is running join the next one. `GroupCommit` does the same over
/// `VersionBatch`: the first caller starts a flusher; whoever arrives while it works waits for
/// the next round, which takes everything queued (up to `maxVersionsPerFlush`). Each caller
/// returns only after its version is durable, with exactly the result — or the error — that
/// `VersionStore.commit` would have given it, so callers cannot tell the difference but in
/// throughput. One caller alone gets one flush of one version: no added latency.
public final class GroupCommit: Sendable {
    public let store: VersionStore
    public let maxVersionsPerFlush: Int

    private struct Request: Sendable {
        var version: NewVersion
        var author: String
        var continuation: CheckedContinuation<Result<CommitResult, StoreError>, Never>
    }

    private struct Queue: ~Copyable {
        var waiting: [Request] = []
        var flusherRunning = false
        var flushing = 0
        var flushes = 0
        var committed = 0
    }

    private let queue = Mutex(Queue())

    public init(store: VersionStore, maxVersionsPerFlush: Int = 512) {
        self.store = store
        self.maxVersionsPerFlush = max(1, maxVersionsPerFlush)
    }

    /// Commits `version` as `store.commit(version, author:)` would, durably, sharing the flush
    /// with whatever other commits are queued at the time.
    public func commit(_ version: NewVersion, author: String) async throws(StoreError) -> CommitResult {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<CommitResult, StoreError>, Never>) in
            let startFlusher = queue.withLock { q in
                q.waiting.append(Request(version: version, author: author, continuation: continuation))
                if q.flusherRunning { return false }
                q.flusherRunning = true
                return true
            }
            // Flushes block on the disk: never on a Swift concurrency thread.
            if startFlusher { DispatchQueue.global().async { self.drain() } }
        }
        return try result.get()
    }

    /// What the group commit has done so far, and is doing now.
    public struct Statistics: Sendable, Equatable {
        /// Flushes finished; `committed / flushes` is the mean group size.
        public var flushes: Int
        /// Commits (accepted or refused) whose flush has finished.
        public var committed: Int
        /// Commits queued for the next flush.
        public var waiting: Int
        /// Commits in the flush running now.
        public var flushing: Int
    }

    public var statistics: Statistics {
        queue.withLock { Statistics(flushes: $0.flushes, committed: $0.committed, waiting: $0.waiting.count, flushing: $0.flushing) }
    }

    /// Runs rounds until nobody is waiting.
    private func drain() {
        while true {
            let round: [Request] = queue.withLock { q in
                let n = min(q.waiting.count, maxVersionsPerFlush)
                let taken = Array(q.waiting.prefix(n))
                q.waiting.removeFirst(n)
                q.flushing = n
                if taken.isEmpty { q.flusherRunning = false }
                return taken
            }
            if round.isEmpty { return }
            let results = flush(round)
            queue.withLock { q in
                q.flushes += 1
                q.committed += round.count
                q.flushing = 0
            }
            for (request, result) in zip(round, results) { request.continuation.resume(returning: result) }
        }
    }

    /// One batch for the whole round: each version is checked as it is added (a refused one
    /// fails alone and leaves no trace); the flush makes all accepted ones durable together.
    private func flush(_ round: [Request]) -> [Result<CommitResult, StoreError>] {
        let batch: VersionBatch
        do {
            batch = try store.batch(author: round[0].author)
        } catch {
            return round.map { _ in .failure(error) }
        }
        var positions: [Result<Int, StoreError>] = []
        positions.reserveCapacity(round.count)
        for request in round {
            do {
                positions.append(.success(try batch.add(request.version, author: request.author)))
            } catch {
                positions.append(.failure(error))
            }
        }
        let committed: [CommitResult]
        do {
            committed = try batch.finish()
        } catch {
            return positions.map { position in
                if case .failure(let refused) = position { return .failure(refused) }
                return .failure(error)
            }
        }
        return positions.map { position in position.map { committed[$0] } }
    }
}
