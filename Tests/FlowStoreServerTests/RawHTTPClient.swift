import Foundation
import FlowStoreCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A response as read off the socket.
struct HTTPResult: Sendable, CustomStringConvertible {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    /// The body parsed by FlowStore's own strict parser (`nil` when empty or not JSON).
    var json: JSONValue? { body.isEmpty ? nil : try? JSONParser.parse(body) }
    var description: String { "\(status) \(text)" }

    subscript(_ key: String) -> JSONValue? { json?[key] }
}

enum HTTPClientError: Error, CustomStringConvertible {
    case system(String)
    case malformed(String)
    var description: String {
        switch self {
        case .system(let s), .malformed(let s): s
        }
    }
}

/// A deliberately small HTTP/1.1 client over a blocking loopback socket: one request per
/// connection, bounded by socket timeouts, run on its own thread so it never blocks the
/// concurrency pool the in-process server needs. Real bytes over a real listener.
enum RawHTTPClient {
    static let timeoutSeconds = 15

    static func send(port: Int, request: [UInt8], bodyChunks: [[UInt8]] = []) async throws -> HTTPResult {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try blockingSend(port: port, request: request, bodyChunks: bodyChunks) })
            }
            thread.start()
        }
    }

    /// Builds request bytes: `Host`, `Connection: close`, `Content-Length` when a body is given.
    static func requestBytes(
        method: String, path: String, headers: [(String, String)], body: [UInt8]?
    ) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body, !headers.contains(where: { $0.0.lowercased() == "content-length" || $0.0.lowercased() == "transfer-encoding" }) {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }

    private static func blockingSend(port: Int, request: [UInt8], bodyChunks: [[UInt8]]) throws -> HTTPResult {
        let fd = try connectedSocket(port: port)
        defer { close(fd) }
        // A server may answer (413) and stop reading before the whole body is sent: a failed
        // write just ends sending, and the response is read as usual.
        if writeAll(fd, request) {
            for chunk in bodyChunks where !writeAll(fd, chunk) { break }
        }
        return try readResponse(fd)
    }

    /// A loopback TCP socket connected to `port`, its reads and writes bounded by `timeoutSeconds`.
    private static func connectedSocket(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPClientError.system("socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw HTTPClientError.system("connect: \(reason)")
        }
        return fd
    }

    /// Sends each request on one connection once the previous response has been read.
    static func sendSequence(port: Int, requests: [[UInt8]]) async throws -> [HTTPResult] {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result {
                    let fd = try connectedSocket(port: port)
                    defer { close(fd) }
                    return try requests.map { request throws -> HTTPResult in
                        guard writeAll(fd, request) else {
                            throw HTTPClientError.system("send: \(String(cString: strerror(errno)))")
                        }
                        return try readResponse(fd)
                    }
                })
            }
            thread.start()
        }
    }

    /// How a client orders writing a large body and reading the answer.
    enum BodyWriting: Sendable {
        /// The whole body first, then the response, as Python's `urllib` does.
        case beforeReading
        /// On a second thread while the response is read, as a client that watches for an early answer does.
        case whileReading
    }

    /// What a client that sends a large body sees of a server that may answer before reading it.
    struct LargeBodyExchange: Sendable {
        var response: HTTPResult
        /// The server closed the connection after the response: a clean EOF, not a reset or a time-out.
        var closedAfterResponse: Bool
        var bodyBytesSent: Int
        /// Why writing stopped before the whole body was sent (`EPIPE`, `ECONNRESET`, or
        /// `EAGAIN` for a send time-out: the server neither read nor closed); `nil` when it all went out.
        var writeError: String?
    }

    /// Sends `head` (which announces `bodyLength` bytes) and then that many bytes of spaces,
    /// reads one response, then waits for the server's EOF. Every wait is bounded by `timeoutSeconds`.
    static func sendLargeBody(port: Int, head: [UInt8], bodyLength: Int, writing: BodyWriting) async throws
        -> LargeBodyExchange
    {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result {
                    try blockingSendLargeBody(port: port, head: head, bodyLength: bodyLength, writing: writing)
                })
            }
            thread.start()
        }
    }

    private static func blockingSendLargeBody(port: Int, head: [UInt8], bodyLength: Int, writing: BodyWriting) throws
        -> LargeBodyExchange
    {
        let fd = try connectedSocket(port: port)
        defer { close(fd) }
        guard writeAll(fd, head) else { throw HTTPClientError.system("send: \(String(cString: strerror(errno)))") }
        let response: HTTPResult
        let closed: Bool
        let written: (sent: Int, error: String?)
        switch writing {
        case .beforeReading:
            written = writeSpaces(fd, count: bodyLength)
            response = try readResponse(fd)
            closed = readsEOF(fd)
        case .whileReading:
            let outcome = WriteOutcome()
            let done = DispatchSemaphore(value: 0)
            Thread {
                let result = writeSpaces(fd, count: bodyLength)
                outcome.value.withLock { $0 = result }
                done.signal()
            }.start()
            let read = Result { () throws -> (HTTPResult, Bool) in (try readResponse(fd), readsEOF(fd)) }
            // The writer stops within its own send time-out; the socket must outlive it either way.
            done.wait()
            (response, closed) = try read.get()
            written = outcome.value.withLock { $0 }
        }
        return LargeBodyExchange(
            response: response, closedAfterResponse: closed, bodyBytesSent: written.sent, writeError: written.error)
    }

    private final class WriteOutcome: Sendable {
        let value = Mutex<(sent: Int, error: String?)>((0, nil))
    }

    /// Writes `count` spaces, stopping at the first failed write (named as in `LargeBodyExchange`).
    private static func writeSpaces(_ fd: Int32, count: Int) -> (sent: Int, error: String?) {
        let chunk = [UInt8](repeating: UInt8(ascii: " "), count: 64 * 1024)
        var sent = 0
        while sent < count {
            let n = chunk.withUnsafeBytes { buf in
                Glibc.send(fd, buf.baseAddress, min(buf.count, count - sent), Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                let name = switch errno {
                case EAGAIN, EWOULDBLOCK: "EAGAIN"
                case EPIPE: "EPIPE"
                case ECONNRESET: "ECONNRESET"
                default: String(cString: strerror(errno))
                }
                return (sent, name)
            }
            sent += n
        }
        return (sent, nil)
    }

    /// Whether the next read is a clean EOF (anything read before it, a reset or a time-out is not).
    private static func readsEOF(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            return n == 0
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                Glibc.send(fd, buf.baseAddress! + sent, buf.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            sent += n
        }
        return true
    }

    /// Reads until the response is complete (by Content-Length or chunked framing) or EOF.
    private static func readResponse(_ fd: Int32) throws -> HTTPResult {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var head: (status: Int, headers: [String: String], bodyStart: Int)?
        while true {
            if head == nil, let end = find(Array("\r\n\r\n".utf8), in: data) {
                head = try parseHead(Array(data[..<end]), bodyStart: end + 4)
            }
            if let head, let result = try complete(head, data) { return result }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw HTTPClientError.system("recv: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                guard let head else { throw HTTPClientError.malformed("connection closed before a response") }
                return HTTPResult(status: head.status, headers: head.headers, body: Array(data[head.bodyStart...]))
            }
            data.append(contentsOf: buffer[0..<n])
        }
    }

    private static func parseHead(_ bytes: [UInt8], bodyStart: Int) throws -> (Int, [String: String], Int) {
        let lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw HTTPClientError.malformed("bad status line \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers, bodyStart)
    }

    private static func complete(_ head: (status: Int, headers: [String: String], bodyStart: Int), _ data: [UInt8])
        throws -> HTTPResult?
    {
        let body = Array(data[head.bodyStart...])
        if let length = head.headers["content-length"].flatMap({ Int($0) }) {
            return body.count >= length ? HTTPResult(status: head.status, headers: head.headers, body: Array(body.prefix(length))) : nil
        }
        if head.headers["transfer-encoding"]?.lowercased() == "chunked" {
            var out: [UInt8] = []
            var i = 0
            while let lineEnd = find(Array("\r\n".utf8), in: Array(body[i...])) {
                let sizeText = String(decoding: body[i..<(i + lineEnd)], as: UTF8.self)
                guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else {
                    throw HTTPClientError.malformed("bad chunk size")
                }
                let start = i + lineEnd + 2
                if size == 0 { return HTTPResult(status: head.status, headers: head.headers, body: out) }
                guard body.count >= start + size + 2 else { return nil }
                out += body[start..<(start + size)]
                i = start + size + 2
            }
            return nil
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }
}
