import FlowStoreCore

/// Reads the `FILE|-` argument of `put` and `hash`: a file, or standard input for `-`.
enum JSONInput {
    static func bytes(_ argument: String, console: Console = .current) throws -> [UInt8] {
        if argument == "-" { return try console.readStandardInput() }
        return try FileDescriptorIO.readFile(console.absolutePath(argument), name: argument)
    }

    /// Reads and parses strictly (duplicate keys, lone surrogates and trailing data are errors).
    static func read(_ argument: String, console: Console = .current) throws -> JSONValue {
        let bytes = try bytes(argument, console: console)
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw CLIError("\(argument == "-" ? "<stdin>" : argument): \(error.description)")
        }
    }
}
