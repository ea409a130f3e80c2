import FlowStoreCore
import Foundation
import NIOCore
import NIOPosix

/// A request as handlers see it: decoded path parameters and query, the parsed JSON body,
/// and the authenticated user. Handlers are synchronous functions of this, so they can run
/// off the event loop and be reasoned about without HTTP in the way.
struct APIRequest: Sendable {
    var parameters: [String: String]
    var query: [String: String]
    var body: JSONValue?
    var user: APIUser

    /// A path parameter (always present: the router matched it).
    func parameter(_ name: String) -> String { parameters[name] ?? "" }

    /// The body as an object; a missing body counts as `{}` only when `allowEmpty`.
    func bodyObject(allowEmpty: Bool = false) throws(APIError) -> JSONObject {
        guard let body else {
            if allowEmpty { return JSONObject() }
            throw .invalid("Field required", at: ["body"], type: "missing")
        }
        guard let object = body.objectValue else {
            throw .invalid("Input should be a valid dictionary or object", at: ["body"], type: "dict_type")
        }
        return object
    }
}

/// What a handler answers: a status and a JSON body, or no body at all.
struct APIResponse: Sendable {
    var status: Int
    var body: JSONValue?
    /// The body already encoded (a cached rendering, shared, not copied); when set, `body` is
    /// not encoded again.
    var encodedBody: ByteBuffer?

    init(status: Int, body: JSONValue?, encodedBody: ByteBuffer? = nil) {
        self.status = status
        self.body = body
        self.encodedBody = encodedBody
    }

    static func ok(_ body: JSONValue) -> APIResponse { APIResponse(status: 200, body: body) }
    static func ok(encoded: ByteBuffer) -> APIResponse { APIResponse(status: 200, body: nil, encodedBody: encoded) }
    static func created(_ body: JSONValue) -> APIResponse { APIResponse(status: 201, body: body) }
    /// Humanloop's deletes answer 200 with an empty body.
    static let empty = APIResponse(status: 200, body: nil)
}

/// Typed readers for members of a request body, each failing with the field's location.
struct BodyFields {
    let object: JSONObject

    /// `nil` when absent or JSON null.
    func value(_ key: String) -> JSONValue? {
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw .invalid("Input should be a valid string", at: ["body", .string(key)], type: "string_type") }
        return s
    }

    func nonEmptyString(_ key: String) throws(APIError) -> String? {
        guard let s = try string(key) else { return nil }
        guard !s.isEmpty else {
            throw .invalid("String should have at least 1 character", at: ["body", .string(key)], type: "string_too_short")
        }
        return s
    }

    func int(_ key: String) throws(APIError) -> Int? {
        guard let v = value(key) else { return nil }
        guard let n = v.intValue else { throw .invalid("\(key): must be an integer", at: ["body", .string(key)], type: "int_type") }
        return n
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.boolValue else { throw .invalid("\(key): must be a boolean", at: ["body", .string(key)], type: "bool_type") }
        return b
    }

    func object(_ key: String) throws(APIError) -> JSONObject? {
        guard let v = value(key) else { return nil }
        guard let o = v.objectValue else { throw .invalid("\(key): must be an object", at: ["body", .string(key)], type: "dict_type") }
        return o
    }

    func array(_ key: String) throws(APIError) -> [JSONValue]? {
        guard let v = value(key) else { return nil }
        guard let a = v.arrayValue else { throw .invalid("\(key): must be a list", at: ["body", .string(key)], type: "list_type") }
        return a
    }
}

/// URL pieces, decoded the way the Python SDKs (httpx) encode them.
enum URLDecoding {
    /// `a=1&b=two+words&c=%2F` → `["a": "1", "b": "two words", "c": "/"]`; the first of
    /// repeated keys wins. `nil` when an escape is malformed or not UTF-8.
    static func query(_ raw: String?) -> [String: String]? {
        var out: [String: String] = [:]
        guard let raw, !raw.isEmpty else { return out }
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = decode(String(parts[0]), plusIsSpace: true),
                let value = decode(parts.count > 1 ? String(parts[1]) : "", plusIsSpace: true)
            else { return nil }
            if out[key] == nil { out[key] = value }
        }
        return out
    }

    /// Percent-decodes; `+` becomes a space only in query strings.
    static func decode(_ text: String, plusIsSpace: Bool = false) -> String? {
        // Ids and most values have nothing to decode.
        if !text.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) {
            return text
        }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let b = utf8.popFirst() {
            switch b {
            case UInt8(ascii: "%"):
                guard utf8.count >= 2, let hi = Hex.value(ofDigit: utf8.removeFirst()), let lo = Hex.value(ofDigit: utf8.removeFirst())
                else { return nil }
                bytes.append(hi << 4 | lo)
            case UInt8(ascii: "+") where plusIsSpace: bytes.append(UInt8(ascii: " "))
            default: bytes.append(b)
            }
        }
        return String(bytes: bytes, encoding: .utf8)
    }
}

/// Runs blocking store work (file reads, fsyncs, database round trips) off the async
/// handlers, so they never hold a cooperative-pool thread or an event loop while the store
/// works.
///
/// A store on local disk mostly works on the CPU (reads hit the page cache), so Dispatch's
/// threads, about one per core, are right for it. A store behind a network (PostgreSQL) spends
/// a request's time waiting for answers: with one thread per core, two cores would keep two
/// queries in flight and the database idle. Such a store gets its own pool of `threads` that
/// may all wait at once.
final class BlockingWork: Sendable {
    private let threads: NIOThreadPool?

    /// `threads`: a pool of that many threads; `nil`: Dispatch's global queue.
    init(threads count: Int?) {
        if let count {
            let pool = NIOThreadPool(numberOfThreads: count)
            pool.start()
            threads = pool
        } else {
            threads = nil
        }
    }

    deinit { threads?.shutdownGracefully { _ in } }

    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            if let threads {
                // A pool shutting down still runs what it was given: every request is answered.
                threads.submit { _ in continuation.resume(returning: work()) }
            } else {
                DispatchQueue.global().async { continuation.resume(returning: work()) }
            }
        }
    }

    /// `run` for work that throws an `APIError`.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws(APIError) -> T) async throws(APIError) -> T {
        let result = await run { () -> Result<T, APIError> in
            do throws(APIError) { return .success(try work()) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
