import Foundation
import Testing
@testable import FlowStoreCore
@testable import FlowStoreDirectory

/// Issue 15, item 1: agent graphs are validated in linear time, within documented limits,
/// once per version.
@Suite("Agent graphs: linear validation, limits, checked once")
struct GraphLimitsTests {
    /// An agent whose node `b` lists `a` `repeats` times (the issue's reproduction).
    static func repeatedDependency(_ repeats: Int) -> String {
        let deps = Array(repeating: "\"a\"", count: repeats).joined(separator: ",")
        return """
            {"nodes": [
              {"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": false},
              {"name": "b", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true, "dependencies": [\(deps)]}
            ]}
            """
    }

    /// `count` nodes in a chain, each depending on the one before, with an edge along each link.
    static func chain(_ count: Int, conditionalsPerEdge: Int = 1) -> String {
        var nodes: [String] = []
        var edges: [String] = []
        let conditional = #"{"position": 0, "operator": "is_null", "left_config": {}}"#
        let conditionals = Array(repeating: conditional, count: conditionalsPerEdge).joined(separator: ",")
        for i in 0..<count {
            let deps = i == 0 ? "[]" : "[\"n\(i - 1)\"]"
            nodes.append(
                #"{"name": "n\#(i)", "node_type": "VARIABLE", "configuration": {}, "is_output_node": \#(i == count - 1), "dependencies": \#(deps)}"#)
            if i > 0 {
                edges.append(
                    #"{"source_node_name": "n\#(i - 1)", "target_node_name": "n\#(i)", "is_and": true, "conditionals": [\#(conditionals)]}"#)
            }
        }
        return "{\"nodes\": [\(nodes.joined(separator: ","))], \"edges\": [\(edges.joined(separator: ","))]}"
    }

    static func refusal(_ body: String) throws -> String? {
        let value = try JSONParser.parse(body)
        do throws(StoreError) {
            _ = try SeedBody.parse(value, kind: .agent)
            return nil
        } catch {
            guard case .invalidInput(let text) = error else { return "wrong error \(error)" }
            return text
        }
    }

    @Test("20,000 repeats of one dependency validate at once (quadratic before: 7 s at 10,000)")
    func repeatedDependenciesAreLinear() throws {
        let value = try JSONParser.parse(Self.repeatedDependency(20_000))
        let started = ContinuousClock.now
        let body = try SeedBody.parse(value, kind: .agent)
        // Generous for a debug build on a shared machine; the quadratic check took minutes here.
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(body.definition["nodes"]?.arrayValue?.count == 2)
    }

    @Test("A long chain (the deepest graph the limits allow) validates, and a cycle through it is found")
    func longChain() throws {
        #expect(try Self.refusal(Self.chain(Definition.maxNodes)) == nil)
        // Close the chain into a cycle: n0 depends on the last node.
        let cyclic = Self.chain(200).replacingOccurrences(
            of: #""name": "n0", "node_type": "VARIABLE", "configuration": {}, "is_output_node": false, "dependencies": []"#,
            with: #""name": "n0", "node_type": "VARIABLE", "configuration": {}, "is_output_node": false, "dependencies": ["n199"]"#)
        let text = try #require(try Self.refusal(cyclic))
        #expect(text.hasSuffix("dependency cycle"), "\(text)")
    }

    @Test("Each limit is enforced and named in the refusal")
    func limits() throws {
        let nodes = try #require(try Self.refusal(Self.chain(Definition.maxNodes + 1)))
        #expect(nodes == "nodes: \(Definition.maxNodes + 1) is more than the limit of \(Definition.maxNodes) (Definition.maxNodes)")

        let deps = try #require(try Self.refusal(Self.repeatedDependency(Definition.maxDependencies + 1)))
        #expect(deps.contains("(Definition.maxDependencies)"), "\(deps)")
        #expect(try Self.refusal(Self.repeatedDependency(Definition.maxDependencies)) == nil)

        // A chain cannot have more edges than nodes - 1: the count is checked before the edges are.
        let edge = #"{"source_node_name": "a", "target_node_name": "b", "is_and": true, "conditionals": [{"position": 0, "operator": "is_null", "left_config": {}}]}"#
        let edges = String(Self.repeatedDependency(1).dropLast(1))
            + ", \"edges\": [" + Array(repeating: edge, count: Definition.maxEdges + 1).joined(separator: ",") + "]}"
        let edgeText = try #require(try Self.refusal(edges))
        #expect(edgeText.contains("(Definition.maxEdges)"), "\(edgeText)")

        let perEdge = Definition.maxConditionals / 999 + 1
        let conditionals = try #require(try Self.refusal(Self.chain(1_000, conditionalsPerEdge: perEdge)))
        #expect(conditionals.contains("(Definition.maxConditionals)"), "\(conditionals)")
        #expect(try Self.refusal(Self.chain(1_000, conditionalsPerEdge: Definition.maxConditionals / 999)) == nil)
    }

    @Test("Long unknown names are cut short in messages")
    func longNamesInMessages() throws {
        let ghost = String(repeating: "g", count: 100_000)
        let body = #"{"nodes": [{"name": "a", "node_type": "VARIABLE", "configuration": {}, "is_output_node": true, "dependencies": ["\#(ghost)"]}]}"#
        let text = try #require(try Self.refusal(body))
        #expect(text.contains("is neither a node nor a required input variable"))
        #expect(text.utf8.count < 300)
    }

    @Test("A version made from a checked definition is not validated again; changing it undoes that")
    func checkedOnce() throws {
        let body = try SeedBody.parse(try JSONParser.parse(Self.repeatedDependency(3)))
        var new = NewVersion(path: try FlowPath("agents/a"), definition: body.checked)
        #expect(new.isChecked)
        #expect(new.kind == .agent)
        #expect(!NewVersion(path: try FlowPath("agents/a"), kind: .agent, definition: body.definition).isChecked)

        // Any change to the definition (or kind) means it is checked again, and refused if bad.
        new.definition["nodes"] = .array([])
        #expect(!new.isChecked)
        let t = try TestStore()
        #expect(throws: StoreError.invalidInput("nodes: at least one node is required")) {
            try t.store.commit(new, author: "t")
        }
        let batch = try t.store.batch(author: "t")
        #expect(throws: StoreError.invalidInput("nodes: at least one node is required")) { try batch.add(new) }
        var other = NewVersion(path: try FlowPath("agents/a"), definition: body.checked)
        other.kind = .flow
        #expect(!other.isChecked)
        #expect(throws: StoreError.self) { try t.store.commit(other, author: "t") }
        try batch.finish()
    }
}
