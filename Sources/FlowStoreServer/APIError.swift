import FlowStoreCore

/// The two API dialects the server speaks; they differ in error bodies and some statuses.
public enum APIDialect: String, Sendable {
    /// Humanloop v5: FastAPI-style `{"detail": …}`; validation errors are 422.
    case humanloop
    /// PromptLayer: `{"success": false, "message": …}`; validation errors are 400.
    case promptlayer
}

/// An error a handler returns to the client. The kind decides the status per dialect, so one
/// handler helper can serve both APIs.
struct APIError: Error, Sendable {
    enum Kind: Sendable {
        /// The request does not validate: Humanloop 422, PromptLayer 400.
        case invalid
        /// Malformed beyond validation (e.g. mutually exclusive fields): 400 in both dialects.
        case badRequest
        case unauthorized
        case forbidden
        case notFound
        /// Duplicate names, taken paths: Humanloop 409, PromptLayer 400 ("duplicate name").
        case conflict
        case tooLarge
        case unsupportedMediaType
        case unavailable
        case `internal`
    }

    var kind: Kind
    var message: String
    /// Humanloop's `loc` for validation errors, e.g. `["body", "attributes"]`.
    var location: [JSONValue]
    var type: String
    /// What the server log gets for internal errors (never sent to the client).
    var logDetail: String?

    init(_ kind: Kind, _ message: String, location: [JSONValue] = ["body"], type: String = "value_error") {
        self.kind = kind
        self.message = message
        self.location = location
        self.type = type
    }

    static func invalid(_ message: String, at location: [JSONValue] = ["body"], type: String = "value_error") -> APIError {
        APIError(.invalid, message, location: location, type: type)
    }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }
    static func conflict(_ message: String) -> APIError { APIError(.conflict, message) }

    func status(_ dialect: APIDialect) -> Int {
        switch kind {
        case .invalid: dialect == .humanloop ? 422 : 400
        case .badRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .conflict: dialect == .humanloop ? 409 : 400
        case .tooLarge: 413
        case .unsupportedMediaType: 415
        case .unavailable: 503
        case .internal: 500
        }
    }

    func body(_ dialect: APIDialect) -> JSONValue {
        switch dialect {
        case .humanloop:
            if kind == .invalid {
                return ["detail": [["loc": .array(location), "msg": .string(message), "type": .string(type)]]]
            }
            return ["detail": .string(message)]
        case .promptlayer:
            return ["success": false, "message": .string(message)]
        }
    }

    /// Maps a store error to what the client should see. Internal failures (I/O, corrupt
    /// objects) get a generic message: their details go to the server log, not to clients.
    init(_ error: StoreError, location: [JSONValue] = ["body"]) {
        switch error {
        case .invalidJSON(let e): self = .invalid(e.description, at: location, type: "json_invalid")
        case .invalidInput(let m): self = .invalid(m, at: location)
        case .invalidPath, .invalidName, .ambiguousPrefix: self = .invalid(error.description, at: location)
        case .fileNotFound, .versionNotFound, .refNotFound, .objectNotFound, .unknownObjectPrefix:
            self = .notFound(error.description)
        case .fileExists, .versionNameTaken, .kindMismatch, .refConflict, .caseClash: self = .conflict(error.description)
        case .lockTimeout: self = APIError(.unavailable, error.description)
        case .unavailable:
            // The database's own words may name hosts and users: they go to the log only.
            self = APIError(.unavailable, "the store is unavailable; retry later")
            logDetail = error.description
        case .notAStore, .io, .corruptObject, .wrongObjectType:
            self = APIError(.internal, "internal error")
            logDetail = error.description
        }
    }
}

extension APIError.Kind: Equatable {}
