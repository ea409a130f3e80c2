import ArgumentParser
import Foundation
import FlowStoreCore

/// A failure the CLI itself detects (an unreadable input file, a missing `--path`): reported
/// like a `StoreError`, as one `error: …` line and exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Exit codes, in one place: documented in `flowstore --help`.
enum ExitStatus {
    static let success: Int32 = 0
    /// A command failed (bad input, a missing file or version, a conflict) or `verify` found problems.
    static let failure: Int32 = 1
    /// The command line itself was wrong (unknown option, missing argument).
    static let usage: Int32 = 2
}

/// Turns anything a command throws into what a person sees: exactly one `error: …` line on
/// standard error and an exit code (help and `--version` go to standard output with code 0).
enum ErrorReporting {
    static func report(_ error: any Error, console: Console) -> Int32 {
        switch error {
        case let error as StoreError:
            console.printError("error: \(oneLine(error.description))")
            return ExitStatus.failure
        case let error as CLIError:
            console.printError("error: \(oneLine(error.description))")
            return ExitStatus.failure
        case let error as JSONError:
            console.printError("error: \(oneLine(error.description))")
            return ExitStatus.failure
        case let code as ExitCode:
            return code.rawValue  // the command already said what it had to say
        default:
            break
        }
        let code = FlowStoreCommand.exitCode(for: error)
        if code == .success {  // --help, help, --version
            console.print(FlowStoreCommand.fullMessage(for: error))
            return ExitStatus.success
        }
        let message = lowercasedFirst(oneLine(FlowStoreCommand.message(for: error)))
        guard code == .validationFailure else {
            console.printError("error: \(message)")
            return code.rawValue
        }
        if let hint = helpHint(for: error) {
            console.printError("error: \(message) (see '\(hint)')")
        } else {
            console.printError("error: \(message)")
        }
        return ExitStatus.usage
    }

    /// `flowstore put --help`, taken from ArgumentParser's own usage text for this error.
    private static func helpHint(for error: any Error) -> String? {
        let full = FlowStoreCommand.fullMessage(for: error, columns: 10_000)
        guard let start = full.range(of: "See '")?.upperBound,
            let end = full[start...].firstIndex(of: "'")
        else { return nil }
        return String(full[start..<end])
    }

    /// ArgumentParser's "Missing expected argument" reads as "missing expected argument" after
    /// `error: `; acronyms ("JSON …") are left alone.
    private static func lowercasedFirst(_ text: String) -> String {
        let chars = Array(text)
        guard chars.count > 1, chars[0].isUppercase, chars[1].isLowercase else { return text }
        return chars[0].lowercased() + String(chars[1...])
    }

    /// Messages are single lines, whatever a description contains.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }
}
