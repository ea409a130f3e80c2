import ArgumentParser
import FlowStoreCore
import FlowStoreDirectory
import FlowStoreServer

/// `flowstore serve`: the Humanloop Flows and PromptLayer Workflows APIs over HTTP, on the
/// same store, refs and audit chain as every other command.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the Humanloop Flows and PromptLayer Workflows APIs over HTTP.",
        discussion: """
            Serves Humanloop's /v5/flows… and PromptLayer's /rest/workflows… (plus the SDK's \
            GET /workflows/{id_or_name}) over the store, creating it if it does not exist. \
            Stops gracefully on SIGINT or SIGTERM.

            Clients authenticate with the X-API-KEY header. Keys come from --keys-file, a JSON \
            file:
              {"keys": [{"key": "…", "user": {"email_address": "ada@example.com",
                         "full_name": "Ada Lovelace"}, "read_only": false}]}
            or, without --keys-file, from FLOWSTORE_API_KEYS ("key=user,key2=user2", a user being \
            "Name <email>", an email address or a name). With neither, the server refuses to start unless \
            --insecure-no-auth is given, which is only allowed on a loopback address.

            Examples:
              FLOWSTORE_API_KEYS='s3cret=ada@example.com' flowstore serve --store /srv/flowstore
              flowstore serve --host 0.0.0.0 --port 8080 --keys-file keys.json
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(name: .customLong("keys-file"), help: ArgumentHelp("JSON file of API keys and their users.", valueName: "file"))
    var keysFile: String?

    @Flag(name: .customLong("insecure-no-auth"), help: "Accept requests without an API key (loopback addresses only).")
    var insecureNoAuth = false

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted (413 beyond).")
    var maxBodyBytes = ServerConfiguration.defaultMaxBodyBytes

    @Option(name: .customLong("max-body-values"), help: "Most JSON values a request body may hold (413 beyond).")
    var maxBodyValues = ServerConfiguration.defaultMaxBodyValues

    func run() async throws {
        // Only the keys' digests are kept (SECURITY.md A4): the variable is erased from the
        // process once read, whichever way the keys are configured.
        var current = Console.current
        let keysVariable = current.variable("FLOWSTORE_API_KEYS")
        current.erase(variable: "FLOWSTORE_API_KEYS")
        let console = current
        let authentication: AuthenticationMode
        do {
            if let keysFile {
                authentication = .keys(try APIKeyring.load(file: console.absolutePath(keysFile)))
            } else if let text = keysVariable, !text.isEmpty {
                authentication = .keys(try APIKeyring.parse(environment: text))
            } else if insecureNoAuth {
                authentication = .disabled
            } else {
                throw ServerConfigurationError(
                    "no API keys: pass --keys-file FILE or set FLOWSTORE_API_KEYS (or --insecure-no-auth on loopback)")
            }
        } catch let error as ServerConfigurationError {
            throw CLIError(error.description)
        }
        guard maxBodyBytes > 0 else { throw CLIError("--max-body-bytes must be positive") }
        guard maxBodyValues > 0 else { throw CLIError("--max-body-values must be positive") }

        let location = store.resolved()
        let host = self.host
        let keys: String = if case .keys(let ring) = authentication { "\(ring.count) API key(s)" } else { "NO AUTHENTICATION" }
        var configuration = ServerConfiguration(
            host: host, port: port, authentication: authentication, maxBodyBytes: maxBodyBytes,
            onServerRunning: { port in
                console.print("FlowStore serving \(location) on http://\(host):\(port) (\(keys))")
            })
        configuration.maxBodyValues = maxBodyValues
        do {
            // Refuse a bad configuration before creating anything on disk.
            try configuration.validate()
            let versionStore = try location.initialize()
            try await serve(configuration: configuration, store: versionStore)
        } catch let error as ServerConfigurationError {
            throw CLIError(error.description)
        }
    }
}
