#!/usr/bin/env python3
"""Canonicalise + SHA-256 a corpus with the Python packages users would otherwise pick.

usage: canon.py LIST_FILE BUDGET_SECONDS

LIST_FILE names one JSON document per line (the files flowstore-bench wrote, so Python reads
exactly the bytes FlowStore does). Each package is timed over the documents already in memory:
json.loads, canonicalise, hashlib.sha256, as FlowStore parses, canonicalises and hashes. A
package stops after BUDGET_SECONDS (rates stay per byte and per document). Prints one JSON
object: per package, objects, bytes, seconds and the hex digest of each document's output, so
flowstore-bench can check the bytes against its own.
"""
import hashlib
import json
import sys
import time


def run(name, canonicalise, documents, budget):
    done = 0
    total = 0
    digests = []
    start = time.perf_counter()
    for text in documents:
        out = canonicalise(json.loads(text))
        digests.append(hashlib.sha256(out).hexdigest())
        done += 1
        total += len(text)
        if time.perf_counter() - start > budget:
            break
    seconds = time.perf_counter() - start
    return {"objects": done, "bytes": total, "seconds": seconds, "digests": digests}


def main():
    list_file, budget = sys.argv[1], float(sys.argv[2])
    with open(list_file, encoding="utf-8") as f:
        paths = [line.strip() for line in f if line.strip()]
    documents = []
    for path in paths:
        with open(path, "rb") as f:
            documents.append(f.read())
    results = {"python": sys.version.split()[0]}
    try:
        import rfc8785

        results["rfc8785"] = run("rfc8785", rfc8785.dumps, documents, budget)
        results["rfc8785_version"] = getattr(rfc8785, "__version__", "?")
    except ImportError as error:
        results["rfc8785_error"] = str(error)
    try:
        import canonicaljson

        results["canonicaljson"] = run("canonicaljson", canonicaljson.encode_canonical_json, documents, budget)
        results["canonicaljson_version"] = getattr(canonicaljson, "__version__", "?")
    except ImportError as error:
        results["canonicaljson_error"] = str(error)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
