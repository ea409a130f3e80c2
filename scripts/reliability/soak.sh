#!/usr/bin/env bash
# The long run of the reliability suite (issue 6): the same tests as CI, scaled up.
#
#   scripts/reliability/soak.sh                  # a fresh random seed, printed first
#   FLOWSTORE_SEED=1234 scripts/reliability/soak.sh   # replay one seed
#
# Under FLOWSTORE_SOAK=1: 2,400 kill -9s of CLI writers and 120 of `flowstore serve`;
# 8 processes × 250 commands and 32 connections × 200 requests racing on one flow and label;
# 400 bit flips; 5,000,000 fuzzed JSON inputs; a 100 MB single-string `put`; 120 s of load on
# 64 connections, then 60 s of `wrk -c64` if Debian's wrk is installed (apt-get install wrk).
# Expect 20–40 minutes on two cores in debug. Figures are printed as `[reliability] …` lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
seed="${FLOWSTORE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
echo "FLOWSTORE_SEED=$seed"
swift build --build-tests
FLOWSTORE_SOAK=1 FLOWSTORE_SEED="$seed" swift test --skip-build --filter FlowStoreReliabilityTests 2>&1 | tee .build/soak.log
grep '^\[reliability\]' .build/soak.log || true
