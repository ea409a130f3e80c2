import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `flowstore`: the git-like face of the version store.
public struct FlowStoreCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flowstore",
        abstract: "A git-style, content-addressed version store for LLM flows and agents.",
        discussion: """
            Flows (Humanloop Flows) and agents (PromptLayer Workflows/Agents) are stored as \
            immutable, SHA-256-named objects; labels and environments name versions, and every \
            move of a name is recorded in an audit chain.

            Quick start:
              flowstore init
              flowstore put flow.json --path "Personal Projects/MedQA Flow"
              flowstore log "Personal Projects/MedQA Flow"
              flowstore label set "Personal Projects/MedQA Flow" production 1

            Revisions: PATH (the head), PATH@LABEL, PATH@environments/ENV, PATH#N (version N), \
            REV~K (K versions back), or an object id prefix (at least 4 hex characters).

            Environment: FLOWSTORE_STORE (the store: a directory or a postgres:// URL), \
            FLOWSTORE_DIR (store directory, default ./.flowstore), FLOWSTORE_AUTHOR \
            (author of changes, else USER), NO_COLOR (disable colour).

            Exit codes: 0 success, 1 error (or problems found by verify), 2 bad command line.
            """,
        subcommands: [
            InitCommand.self, HashCommand.self, PutCommand.self, ShowCommand.self, CatCommand.self,
            LogCommand.self, DiffCommand.self, ListCommand.self, MoveCommand.self, RemoveCommand.self,
            LabelCommand.self, DeployCommand.self, UndeployCommand.self, EnvironmentCommand.self,
            DeploymentsCommand.self, PromoteCommand.self, AuditCommand.self, VerifyCommand.self,
            GCCommand.self, ServeCommand.self,
            SyncCommand.self, SyncResolveCommand.self, BundleCommand.self, ImportCommand.self,
        ]
    )

    public init() {}

    /// The process entry point: runs `CommandLine.arguments`, reports errors as `error: …`
    /// and exits with the command's status.
    ///
    /// main.swift calls this rather than `main()`: in top-level code the compiler resolves
    /// `await FlowStoreCommand.main()` to ArgumentParser's synchronous `main()`, which cannot
    /// run async commands (apple/swift-argument-parser#662).
    public static func runProcess() async -> Never {
        let status = await run(arguments: Array(CommandLine.arguments.dropFirst()), console: .process)
        #if canImport(Glibc)
        Glibc.exit(status)
        #elseif canImport(Musl)
        Musl.exit(status)
        #else
        Darwin.exit(status)
        #endif
    }

    /// For `@main`-style callers: the same as `runProcess()`.
    public static func main() async {
        await runProcess()
    }

    /// Runs one command line against `console` and returns its exit status, without exiting:
    /// how tests drive the CLI in-process. Errors are reported on the console's standard error
    /// as one `error: …` line.
    public static func run(arguments: [String], console: Console) async -> Int32 {
        await Console.$current.withValue(console) {
            do {
                var command = try parseAsRoot(arguments)
                if var asyncCommand = command as? AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
                return ExitStatus.success
            } catch {
                return ErrorReporting.report(error, console: console)
            }
        }
    }
}
