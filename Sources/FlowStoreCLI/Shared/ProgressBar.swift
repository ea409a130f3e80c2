import FlowStoreCore

#if canImport(Glibc)
import Glibc
#endif

/// `checking objects: 1234` / `importing bodies: 45/120 [=====>    ] 37%` on standard error,
/// redrawn in place; only on a terminal, so logs and pipes never see it.
final class ProgressBar {
    let enabled: Bool
    private var shown = false
    private var lastDraw = 0
    private var lastPhase: String?

    init(enabled: Bool) { self.enabled = enabled }

    /// A terminal on standard error, and a real one (`TERM` set, not `dumb`).
    static func isAvailable(_ console: Console) -> Bool {
        isatty(2) == 1 && console.variable("TERM") != nil && console.variable("TERM") != "dumb"
    }

    func update(_ progress: ObjectTransfer.Progress) {
        update("\(progress.phase.rawValue) objects", done: progress.done, total: progress.total)
    }

    /// `what: done` or `what: done/total [====>   ] 40%`, redrawn every 25 steps, at the end,
    /// and whenever `what` changes.
    func update(_ what: String, done: Int, total: Int?) {
        guard enabled else { return }
        guard done - lastDraw >= 25 || done == total || what != lastPhase else { return }
        lastDraw = done
        lastPhase = what
        var line = "\(what): \(done)"
        if let total, total > 0 {
            let width = 30
            let filled = min(width, done * width / total)
            line += "/\(total) [\(String(repeating: "=", count: filled))\(String(repeating: " ", count: width - filled))] \(done * 100 / total)%"
        }
        FileDescriptorIO.writeAll(Array("\r\u{1b}[K\(line)".utf8), to: 2)
        shown = true
    }

    /// Ends the bar's line, if one was drawn.
    func finish() {
        guard shown else { return }
        FileDescriptorIO.writeAll(Array("\n".utf8), to: 2)
        shown = false
        lastDraw = 0
        lastPhase = nil
    }
}
