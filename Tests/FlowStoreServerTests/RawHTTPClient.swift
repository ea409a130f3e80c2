import Foundation
import FlowStoreCore

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
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPClientError.system("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
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
        guard connected == 0 else { throw HTTPClientError.system("connect: \(String(cString: strerror(errno)))") }

        // A server may answer (413) and stop reading before the whole body is sent: a failed
        // write just ends sending, and the response is read as usual.
        if writeAll(fd, request) {
            for chunk in bodyChunks where !writeAll(fd, chunk) { break }
        }
        return try readResponse(fd)
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
