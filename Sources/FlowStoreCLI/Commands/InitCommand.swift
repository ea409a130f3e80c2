import ArgumentParser
import FlowStoreCore
import FlowStoreDirectory

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create an empty store (safe to run again).",
        discussion: """
            Creates the store layout (objects/, refs/, tmp/, flowstore.json) in ./.flowstore, \
            in $FLOWSTORE_DIR, or in --store DIR; with a postgres:// URL (--store or \
            $FLOWSTORE_STORE), creates the schema in that database instead. Running it on an \
            existing store changes nothing.

            A new store is private: its directories are mode 0700, so other users can read \
            nothing in it (flows, templates and logs may hold secrets). --shared keeps the \
            modes your umask gives, for a store a group works in.

            Examples:
              flowstore init
              flowstore init --store /srv/flowstore
              flowstore init --shared --store /srv/team-store
              flowstore init --store postgres://flowstore@db.internal:5432/flowstore
            """)

    @OptionGroup var store: StoreOptions

    @Flag(help: "Keep the umask's modes (group/other-readable) instead of making the store private.")
    var shared = false

    func run() async throws {
        let location = store.resolved()
        let existed = location.holdsStore()
        try location.initialize(shared: shared)
        Console.current.print(
            existed ? "Reinitialized existing FlowStore in \(location)" : "Initialized empty FlowStore in \(location)")
    }
}
