import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The terminal a command talks to: its environment, working directory, standard streams.
///
/// Commands never touch the process's streams or environment directly; they go through
/// `Console.current`, so tests can run the CLI in-process with their own environment and
/// capture what it prints, in parallel, without spawning a process.
public struct Console: Sendable {
    public var environment: [String: String]
    public var workingDirectory: String
    /// Whether standard output is a terminal (colour is only used on one).
    public var stdoutIsTerminal: Bool
    private let writeStdout: @Sendable ([UInt8]) -> Void
    private let writeStderr: @Sendable ([UInt8]) -> Void
    private let readStdin: @Sendable () throws -> [UInt8]
    private let eraseVariable: @Sendable (String) -> Void

    public init(
        environment: [String: String],
        workingDirectory: String,
        stdoutIsTerminal: Bool = false,
        stdout: @escaping @Sendable ([UInt8]) -> Void,
        stderr: @escaping @Sendable ([UInt8]) -> Void,
        stdin: @escaping @Sendable () throws -> [UInt8] = { [] },
        eraseVariable: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.stdoutIsTerminal = stdoutIsTerminal
        self.writeStdout = stdout
        self.writeStderr = stderr
        self.readStdin = stdin
        self.eraseVariable = eraseVariable
    }

    /// The console of the running process.
    public static var process: Console {
        Console(
            environment: ProcessInfo.processInfo.environment,
            workingDirectory: FileManager.default.currentDirectoryPath,
            stdoutIsTerminal: isatty(1) == 1,
            stdout: { FileDescriptorIO.writeAll($0, to: 1) },
            stderr: { FileDescriptorIO.writeAll($0, to: 2) },
            stdin: { try FileDescriptorIO.readAll(fd: 0, name: "<stdin>") },
            eraseVariable: { ProcessEnvironment.erase($0) })
    }

    /// The console of the current task; `FlowStoreCommand.run(arguments:console:)` binds it.
    @TaskLocal public static var current: Console = .process

    // MARK: Output

    /// Writes a line (a newline is added) to standard output.
    public func print(_ line: String) {
        writeStdout(Array((line + "\n").utf8))
    }

    /// Writes bytes to standard output exactly as given.
    public func write(_ bytes: [UInt8]) {
        writeStdout(bytes)
    }

    /// Writes a line to standard error.
    public func printError(_ line: String) {
        writeStderr(Array((line + "\n").utf8))
    }

    public func readStandardInput() throws -> [UInt8] {
        try readStdin()
    }

    // MARK: Environment

    /// An environment variable, treating an empty value as unset.
    public func variable(_ name: String) -> String? {
        guard let value = environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// Removes a variable that holds a secret once it has been read (`FLOWSTORE_API_KEYS`), so
    /// the secret does not stay readable in the process (`/proc/PID/environ`, a core dump,
    /// child processes). A test console's environment is its own: only the process console
    /// touches the real one.
    public mutating func erase(variable name: String) {
        environment[name] = nil
        eraseVariable(name)
    }

    /// Colour only on a terminal, and never when `NO_COLOR` is set (https://no-color.org) or `TERM=dumb`.
    public var usesColor: Bool {
        stdoutIsTerminal && variable("NO_COLOR") == nil && variable("TERM") != "dumb"
    }

    /// `path` made absolute against the working directory, with `.` segments and repeated
    /// slashes removed (for messages and for opening files; `..` is kept as written).
    public func absolutePath(_ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : "\(workingDirectory)/\(path)"
        let segments = joined.split(separator: "/").filter { $0 != "." }
        return "/" + segments.joined(separator: "/")
    }
}

/// The process's own environment block.
enum ProcessEnvironment {
    /// Overwrites the variable's value in place, then unsets it. `unsetenv` alone only drops the
    /// pointer from `environ`: the bytes stay in the initial environment block, which
    /// `/proc/PID/environ` shows for the life of the process.
    static func erase(_ name: String) {
        if let value = getenv(name) { memset(value, Int32(UInt8(ascii: "x")), strlen(value)) }
        unsetenv(name)
    }
}

/// Whole-buffer reads and writes on file descriptors, retrying short transfers and `EINTR`.
enum FileDescriptorIO {
    static func writeAll(_ bytes: [UInt8], to fd: Int32) {
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count, let base = buffer.baseAddress {
                let n = write(fd, base + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return  // EPIPE and friends: the reader has gone away; nothing useful left to do
                }
                done += n
            }
        }
    }

    /// Reads until end of file, in chunks, so input of any size (a pipe, a large file) works.
    static func readAll(fd: Int32, name: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { buffer in read(fd, buffer.baseAddress, buffer.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot read \(name): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// Reads a whole file.
    static func readFile(_ path: String, name: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("cannot read \(name): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw CLIError("cannot read \(name): is a directory")
        }
        return try readAll(fd: fd, name: name)
    }
}
