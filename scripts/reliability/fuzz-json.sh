#!/usr/bin/env bash
# Coverage-guided fuzzing of FlowStore's JSON parser and canonicaliser with libFuzzer.
# Not run in CI (it runs until stopped or until it finds a crash); the seeded, bounded
# property test in Tests/FlowStoreReliabilityTests/FuzzTests.swift is the CI counterpart.
#
#   scripts/reliability/fuzz-json.sh                 # fuzz for 5 minutes
#   scripts/reliability/fuzz-json.sh -max_total_time=3600 -jobs=2
#   scripts/reliability/fuzz-json.sh crash-<hash>    # replay a saved crash
#
# Needs the Swift toolchain's libFuzzer runtime (swift.org Linux toolchains ship it).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.build/fuzz
mkdir -p "$out/corpus"
# Seed corpus: the spec's canonical-JSON vectors and the example bodies.
for f in spec/vectors/*.json examples/*.json; do [ -f "$f" ] && cp "$f" "$out/corpus/" ; done
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name FuzzJSON \
  Sources/FlowStoreCore/JSON/*.swift scripts/reliability/FuzzJSON.swift -o "$out/fuzz-json"
if [ $# -gt 0 ] && [ -f "$1" ]; then
  exec "$out/fuzz-json" "$@"
fi
exec "$out/fuzz-json" -max_total_time=300 -timeout=10 -rss_limit_mb=2048 -max_len=65536 "$@" "$out/corpus"
