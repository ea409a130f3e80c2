#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowStoreCore

/// Objects as files: `objects/<first 2 hex>/<remaining 62 hex>`, each holding the canonical bytes.
///
/// The layout is git's, so copying or rsyncing `objects/` between stores is always safe: files
/// never change once written, and a union of two object directories is a valid one.
public struct FileObjectStore: ObjectStore {
    public let directory: String
    /// Temp files are written here (same file system, outside `objects/`) so that a copy of
    /// `objects/` never picks up a half-written file.
    public let tempDirectory: String

    public init(directory: String, tempDirectory: String) {
        self.directory = directory
        self.tempDirectory = tempDirectory
    }

    func path(of id: ObjectID) -> String {
        let hex = id.hex
        let split = hex.index(hex.startIndex, offsetBy: 2)
        return "\(directory)/\(hex[..<split])/\(hex[split...])"
    }

    public func get(_ id: ObjectID) throws(StoreError) -> [UInt8] {
        guard let bytes = try POSIXFile.read(path(of: id)) else { throw .objectNotFound(id) }
        return try id.verified(bytes)
    }

    @discardableResult
    public func put(_ canonicalBytes: [UInt8]) throws(StoreError) -> ObjectID {
        let id = ObjectID(hashing: canonicalBytes)
        let target = path(of: id)
        // An existing file is trusted only if it hashes right: a half-finished `cp -r` or a
        // flipped bit must not make us skip the write and then point at a broken object.
        if let existing = try? POSIXFile.read(target), ObjectID(hashing: existing) == id {
            POSIXFile.freshen(target)
            return id
        }
        try POSIXFile.makeDirectories(POSIXFile.parent(of: target))
        try POSIXFile.writeAtomically(canonicalBytes, to: target, tempDirectory: tempDirectory)
        return id
    }

    public func has(_ id: ObjectID) throws(StoreError) -> Bool {
        POSIXFile.exists(path(of: id))
    }

    public func list(_ body: (ObjectID) throws(StoreError) -> Void) throws(StoreError) {
        for fanout in try POSIXFile.list(directory).sorted() where Self.isFanout(fanout) {
            for rest in try POSIXFile.list("\(directory)/\(fanout)").sorted() {
                if let id = ObjectID(hex: fanout + rest) { try body(id) }
            }
        }
    }

    public func ids(withPrefix prefix: String) throws(StoreError) -> [ObjectID] {
        guard ObjectID.isPrefix(prefix), prefix.utf8.count >= 2 else { return [] }
        let fanout = String(prefix.prefix(2))
        let rest = prefix.dropFirst(2)
        return try POSIXFile.list("\(directory)/\(fanout)")
            .filter { $0.hasPrefix(rest) }
            .compactMap { ObjectID(hex: fanout + $0) }
            .sorted()
    }

    public func strayEntries() throws(StoreError) -> [String] {
        var stray: [String] = []
        for fanout in try POSIXFile.list(directory).sorted() {
            guard Self.isFanout(fanout), POSIXFile.isDirectory("\(directory)/\(fanout)") else {
                stray.append("objects/\(fanout)")
                continue
            }
            for rest in try POSIXFile.list("\(directory)/\(fanout)").sorted()
            where ObjectID(hex: fanout + rest) == nil {
                stray.append("objects/\(fanout)/\(rest)")
            }
        }
        return stray
    }

    public func storedAt(_ id: ObjectID) throws(StoreError) -> Int? {
        POSIXFile.modificationTime(path(of: id))
    }

    public func remove(_ id: ObjectID) throws(StoreError) {
        let target = path(of: id)
        try POSIXFile.remove(target)
        POSIXFile.removeDirectoryIfEmpty(POSIXFile.parent(of: target))
    }

    static func isFanout(_ name: String) -> Bool {
        name.utf8.count == 2 && name.utf8.allSatisfy(ObjectID.isLowerHex)
    }
}
