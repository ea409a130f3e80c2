import ArgumentParser
import FlowStoreCore

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
            in $FLOWSTORE_DIR, or in --store DIR. Running it on an existing store changes nothing.

            Examples:
              flowstore init
              flowstore init --store /srv/flowstore
            """)

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let directory = store.resolvedDirectory()
        let existed = access("\(directory)/\(VersionStore.configFileName)", F_OK) == 0
        try VersionStore.initialize(at: directory)
        Console.current.print(
            existed ? "Reinitialized existing FlowStore in \(directory)" : "Initialized empty FlowStore in \(directory)")
    }
}
