import FlowStoreCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A response as read off the socket.
struct HTTPResponse: Sendable, CustomStringConvertible {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue? { body.isEmpty ? nil : try? JSONParser.parse(body) }
    var description: String { "\(status) \(text.prefix(500))" }
    subscript(_ key: String) -> JSONValue? { json?[key] }
}

struct HTTPError: Error, CustomStringConvertible {
    var description: String
}

/// A small blocking HTTP/1.1 client over one loopback TCP connection, kept alive across
/// requests. Bounded by socket timeouts; use it from plain threads (`onThread`), never from
/// the cooperative pool an in-process server needs.
final class HTTPConnection: @unchecked Sendable {
    let port: Int
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 20) throws {
        self.port = port
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPError(description: "socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            fd = -1
            throw HTTPError(description: "connect to \(port): \(message)")
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Request bytes with `Host` and, for a body, `Content-Length` (unless given).
    static func requestBytes(
        method: String, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil, close: Bool = false
    ) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if close { head += "Connection: close\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let lower = headers.map { $0.0.lowercased() }
        if let body, !lower.contains("content-length"), !lower.contains("transfer-encoding") {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }

    /// Sends one request and reads its response.
    func send(
        _ method: String, _ path: String, key: String? = nil, json: String? = nil, headers: [(String, String)] = []
    ) throws -> HTTPResponse {
        var all = headers
        if let key { all.append(("X-API-KEY", key)) }
        if json != nil { all.append(("Content-Type", "application/json")) }
        return try send(raw: Self.requestBytes(method: method, path: path, headers: all, body: json.map { Array($0.utf8) }))
    }

    /// Sends raw bytes (then `more`) and reads one response. Like curl, it stops sending as
    /// soon as the server answers early (a 413 before the body is read) or stops reading.
    func send(raw: [UInt8], more: [[UInt8]] = []) throws -> HTTPResponse {
        guard fd >= 0 else { throw HTTPError(description: "connection closed") }
        if writeAll(raw) {
            for chunk in more where !writeAll(chunk) { break }
        }
        return try readResponse()
    }

    /// Whether the server has something to say (or hung up) right now.
    private func answered(waitingMilliseconds: Int32 = 0) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, waitingMilliseconds) > 0
    }

    /// Writes unless the server answers first; false when it did (or the write failed).
    private func writeAll(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            if answered() { return false }
            var p = pollfd(fd: fd, events: Int16(POLLOUT) | Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 20_000) > 0, p.revents & Int16(POLLIN) == 0 else { return false }
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + sent, min(1 << 16, $0.count - sent), Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return false
            }
            sent += n
        }
        return true
    }

    /// After a response, whether the server has closed the connection completely (not just
    /// its sending half): a write then fails with a reset or broken pipe.
    func serverHasClosed() -> Bool {
        guard fd >= 0 else { return true }
        var probe: UInt8 = 0x20
        for _ in 0..<3 {
            let n = Glibc.send(fd, &probe, 1, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if n < 0, errno == EPIPE || errno == ECONNRESET { return true }
            sleepSeconds(0.05)
        }
        var p = pollfd(fd: fd, events: 0, revents: 0)
        return poll(&p, 1, 0) > 0 && p.revents & (Int16(POLLERR) | Int16(POLLHUP)) != 0
    }

    /// Reads more bytes into the buffer; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw HTTPError(description: "recv: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
    }

    private func readResponse() throws -> HTTPResponse {
        var headEnd: Int?
        while headEnd == nil {
            headEnd = Self.find([13, 10, 13, 10], in: buffer)
            if headEnd == nil, try !fill() { throw HTTPError(description: "connection closed before a response") }
        }
        let lines = String(decoding: buffer[..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        buffer.removeFirst(headEnd! + 4)
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw HTTPError(description: "bad status line \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body: [UInt8] = []
        if let length = headers["content-length"].flatMap({ Int($0) }) {
            while buffer.count < length {
                if try !fill() { throw HTTPError(description: "connection closed inside a body") }
            }
            body = Array(buffer[..<length])
            buffer.removeFirst(length)
        } else if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                var lineEnd = Self.find([13, 10], in: buffer)
                while lineEnd == nil {
                    if try !fill() { throw HTTPError(description: "connection closed inside a chunk") }
                    lineEnd = Self.find([13, 10], in: buffer)
                }
                let sizeText = String(decoding: buffer[..<lineEnd!], as: UTF8.self)
                guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else {
                    throw HTTPError(description: "bad chunk size \(sizeText)")
                }
                buffer.removeFirst(lineEnd! + 2)
                while buffer.count < size + 2 {
                    if try !fill() { throw HTTPError(description: "connection closed inside a chunk") }
                }
                body += buffer[..<size]
                buffer.removeFirst(size + 2)
                if size == 0 { break }
            }
        } else if status != 204, status != 304 {
            while try fill() {}
            body = buffer
            buffer = []
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// One request on a fresh connection (closed afterwards).
func httpOnce(
    port: Int, _ method: String, _ path: String, key: String? = nil, json: String? = nil,
    headers: [(String, String)] = []
) throws -> HTTPResponse {
    let connection = try HTTPConnection(port: port)
    defer { connection.close() }
    return try connection.send(method, path, key: key, json: json, headers: headers + [("Connection", "close")])
}

/// Percent-encodes one path segment.
func segment(_ s: String) -> String {
    s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
}
