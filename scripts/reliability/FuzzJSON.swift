// libFuzzer entry point for FlowStore's JSON front door (JSONParser, CanonicalJSON).
// Not part of the package build or CI: scripts/reliability/fuzz-json.sh compiles it together
// with Sources/FlowStoreCore/JSON/*.swift using `-sanitize=fuzzer,address`.
//
// Properties checked on every input (a violation is a crash, which libFuzzer reports and saves):
// - parsing never crashes or hangs (libFuzzer's -timeout catches hangs);
// - the fast canonicaliser and the tree path agree: both refuse, with the same error, or both
//   produce the same bytes;
// - canonicalisation is idempotent and preserves the value.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let tree: JSONValue
    do {
        tree = try JSONParser.parse(bytes)
    } catch {
        do {
            _ = try CanonicalJSON.canonicalize(bytes)
            fatalError("canonicalize accepts what the parser refuses (\(error))")
        } catch let fastError {
            precondition(fastError == error, "different errors: \(fastError) vs \(error)")
        }
        return 0
    }
    do {
        let viaTree = try CanonicalJSON.encode(tree)
        let fast = try CanonicalJSON.canonicalize(bytes)
        precondition(fast == viaTree, "fast and tree canonical forms differ")
        let again = try CanonicalJSON.canonicalize(viaTree)
        precondition(again == viaTree, "canonicalize is not idempotent")
        let reparsed = try JSONParser.parse(viaTree)
        precondition(reparsed == tree, "the canonical form is a different value")
    } catch {
        fatalError("accepted, but canonicalising failed: \(error)")
    }
    return 0
}
