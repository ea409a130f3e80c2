#!/usr/bin/env python3
"""Regenerates spec/vectors/objects.json: one example of every object type, with its canonical
bytes and SHA-256, computed independently of the Swift code (Python's json with sorted keys and
no whitespace equals RFC 8785 for these values: ASCII/BMP keys, integers, short decimals)."""
import hashlib, json, pathlib

def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

def oid(value):
    return hashlib.sha256(canonical(value)).hexdigest()

file_obj = {"type": "file", "kind": "flow", "path": "Personal Projects/MedQA Flow", "author": "raza",
            "created_at": "2026-11-23T10:00:00.000Z", "nonce": "00112233445566778899aabbccddeeff"}
content_flow = {"type": "content", "kind": "flow", "attributes": {
    "prompt": {"template": "You are a helpful medical assistant helping with medical anamnesis. Answer {{question}}",
               "model": "gpt-4o", "temperature": 0.8},
    "tool": {"name": "retrieval_tool_v3", "description": "Retrieval tool for MedQA.",
             "source_code": "def retrieval_tool(question: str) -> str:\n pass\n"}}}
content_agent = {"type": "content", "kind": "agent",
                 "nodes": [{"name": "greeting", "node_type": "VARIABLE", "is_output_node": True,
                            "configuration": {"value": {"type": "string", "value": "Hello, World!"}},
                            "dependencies": []}],
                 "edges": [], "required_input_variables": {}}
version = {"type": "version", "file": oid(file_obj), "kind": "flow", "path": "Personal Projects/MedQA Flow",
           "content": oid(content_flow), "parents": [], "number": 1, "name": "medqa-flow-v1",
           "message": "Initial version", "author": "raza", "created_at": "2026-11-23T10:00:00.001Z"}
version2 = dict(version, parents=[oid(version)], number=2, name="medqa-flow-v2", message="Warmer",
                created_at="2026-11-23T10:05:00.000Z")
head_event = {"type": "event", "ref": "files/%s/head" % oid(file_obj), "action": "create", "to": oid(version),
              "author": "raza", "time": "2026-11-23T10:00:00.002Z", "message": "Initial version"}
label_event = {"type": "event", "ref": "files/%s/labels/production" % oid(file_obj), "action": "move",
               "from": oid(version), "to": oid(version2), "prev": oid(head_event),
               "author": "raza", "time": "2026-11-23T10:06:00.000Z", "message": "promote staging to production"}
log_obj = {"type": "log", "file": oid(file_obj), "version": oid(version), "log_id": "log_example",
           "created_at": "2026-11-23T10:07:00.000Z", "author": "raza",
           "data": {"inputs": {"question": "What is anamnesis?"}, "output": "A patient's history.",
                    "log_status": "complete"}}

objects = [("file", file_obj), ("content (flow)", content_flow), ("content (agent)", content_agent),
           ("version (root)", version), ("version (child)", version2), ("event (create head)", head_event),
           ("event (move label)", label_event), ("log", log_obj)]
out = {"description": "One example of every FlowStore object type (spec/FORMAT.md). `object` is the "
                      "decoded JSON, `canonical` its exact canonical text, `sha256` the object id.",
       "objects": [{"name": n, "type": o["type"], "object": o, "canonical": canonical(o).decode("utf-8"),
                    "sha256": oid(o)} for n, o in objects]}
path = pathlib.Path(__file__).with_name("objects.json")
path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
print("wrote", path)
