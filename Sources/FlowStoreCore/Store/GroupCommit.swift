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
///
/// Rounds are pipelined in two stages. The *preparer* checks and stages a round's versions,
/// locks its refs and writes its objects to temp files (CPU work); the *completer* makes them
/// durable, renames them into place and moves the refs (mostly waiting for the disk). While the
/// completer finishes one round, the preparer gets the next one ready. So that the next round
/// never builds on refs the current one has yet to move, a round skips the versions of paths
/// still in flight — and every later version of such a path, so each path's versions commit in
/// arrival order; they go in a round after. Only one round completes at a time: two sets of
/// barriers running side by side were measured slower than one. A barrier that began after a
/// round's files were written also makes them durable, so the completer skips that round's
/// first barrier when the previous round's last one covered it (`BatchWriter`).
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
        var preparing = false
        /// Paths with versions in a round being prepared or completed.
        var inFlight: Set<FlowPath> = []
        var flushing = 0
        var flushes = 0
        var committed = 0

        /// Takes the next round: waiting versions in order, skipping the paths in flight (and,
        /// once one version of a path is skipped, every later one). Marks its paths in flight.
        mutating func takeRound(max: Int) -> [Request] {
            var round: [Request] = []
            var kept: [Request] = []
            var skipped: Set<FlowPath> = []
            for request in waiting {
                let path = request.version.path
                if round.count < max, !inFlight.contains(path), !skipped.contains(path) {
                    round.append(request)
                } else {
                    skipped.insert(path)
                    kept.append(request)
                }
            }
            waiting = kept
            for request in round { inFlight.insert(request.version.path) }
            flushing += round.count
            return round
        }

        /// Marks the preparer as running when it is not and a round taken now would not be
        /// empty; true when the caller must start it.
        mutating func claimPreparer() -> Bool {
            guard !preparing, waiting.contains(where: { !inFlight.contains($0.version.path) }) else { return false }
            preparing = true
            return true
        }
    }

    private let queue = Mutex(Queue())
    /// Threads of their own, not Dispatch's: on a busy server a job queued in the global pool
    /// waits behind the HTTP handlers' tasks (see `WorkerThread`).
    private let preparer = WorkerThread()
    private let completer = WorkerThread()
    /// Rounds handed to the completer: one completing and one queued behind it, so that it goes
    /// from one round to the next without waiting for the preparer to wake up; a third waits.
    private let completerFree = DispatchSemaphore(value: 2)

    public init(store: VersionStore, maxVersionsPerFlush: Int = 512) {
        self.store = store
        self.maxVersionsPerFlush = max(1, maxVersionsPerFlush)
    }

    /// Commits `version` as `store.commit(version, author:)` would, durably, sharing the flush
    /// with whatever other commits are queued at the time.
    public func commit(_ version: NewVersion, author: String) async throws(StoreError) -> CommitResult {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<CommitResult, StoreError>, Never>) in
            let startPreparer = queue.withLock { q in
                q.waiting.append(Request(version: version, author: author, continuation: continuation))
                return q.claimPreparer()
            }
            // Flushes block on the disk: never on a Swift concurrency thread.
            if startPreparer { preparer.submit { self.prepareRounds() } }
        }
        return try result.get()
    }

    /// What the group commit has done so far, and is doing now.
    public struct Statistics: Sendable, Equatable {
        /// Flushes finished; `committed / flushes` is the mean group size.
        public var flushes: Int
        /// Commits (accepted or refused) whose flush has finished.
        public var committed: Int
        /// Commits queued for a later round.
        public var waiting: Int
        /// Commits in the rounds being prepared or completed now.
        public var flushing: Int
    }

    public var statistics: Statistics {
        queue.withLock { Statistics(flushes: $0.flushes, committed: $0.committed, waiting: $0.waiting.count, flushing: $0.flushing) }
    }

    /// The preparer: prepares rounds and hands each to the completer, until a round would be
    /// empty (nothing waiting, or only versions of paths in flight: the completer restarts it).
    private func prepareRounds() {
        while true {
            let round: [Request] = queue.withLock { q in
                let round = q.takeRound(max: maxVersionsPerFlush)
                if round.isEmpty { q.preparing = false }
                return round
            }
            if round.isEmpty { return }
            let prepared = PreparedRound(prepare(round))
            completerFree.wait()
            completer.submit { self.complete(round, prepared.value) }
        }
    }

    private func complete(_ round: [Request], _ prepared: Prepared) {
        let results = finish(prepared, count: round.count)
        let restartPreparer = queue.withLock { q in
            for request in round { q.inFlight.remove(request.version.path) }
            q.flushes += 1
            q.committed += round.count
            q.flushing -= round.count
            return q.claimPreparer()
        }
        completerFree.signal()
        for (request, result) in zip(round, results) { request.continuation.resume(returning: result) }
        if restartPreparer { preparer.submit { self.prepareRounds() } }
    }

    /// A round checked and written, not yet durable: each version's position in the batch or
    /// why it was refused, and the batch's prepared flush (or why preparing it failed).
    private enum Prepared {
        /// No batch could be made: every version of the round fails with this.
        case failed(StoreError)
        case ready(VersionBatch, positions: [Result<Int, StoreError>], flush: Result<VersionBatch.PreparedFlush?, StoreError>)
    }

    /// Hands a prepared round from the preparer to the completer. Unchecked because the batch
    /// is not thread-safe: it is used by one thread at a time, the preparer until it hands it
    /// over here and the completer after.
    private struct PreparedRound: @unchecked Sendable {
        var value: Prepared
        init(_ value: Prepared) { self.value = value }
    }

    /// One batch for the whole round: each version is checked as it is added (a refused one
    /// fails alone and leaves no trace); the flush makes all accepted ones durable together.
    private func prepare(_ round: [Request]) -> Prepared {
        let batch: VersionBatch
        do {
            batch = try store.batch(author: round[0].author)
        } catch {
            return .failed(error)
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
        do {
            return .ready(batch, positions: positions, flush: .success(try batch.prepareFlush()))
        } catch {
            return .ready(batch, positions: positions, flush: .failure(error))
        }
    }

    private func finish(_ prepared: Prepared, count: Int) -> [Result<CommitResult, StoreError>] {
        switch prepared {
        case .failed(let error):
            return Array(repeating: .failure(error), count: count)
        case .ready(let batch, let positions, let flush):
            let committed: [CommitResult]
            var failures: [Int: StoreError] = [:]
            do throws(StoreError) {
                if let flush = try flush.get() { failures = try batch.completeFlush(flush) }
                committed = try batch.finish()
            } catch {
                // Nothing of the round was acknowledged: every version fails.
                return positions.map { position in
                    if case .failure(let refused) = position { return .failure(refused) }
                    return .failure(error)
                }
            }
            // Once refs moved, each version has its own outcome: a client told "failed" retries,
            // and a retry of a version that was in fact committed is a duplicate.
            return positions.map { position in
                position.flatMap { index in
                    if let failure = failures[index] { return .failure(failure) }
                    return .success(committed[index])
                }
            }
        }
    }
}

