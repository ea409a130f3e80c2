#!/usr/bin/env bash
# An end-to-end tour on a throwaway store: a Humanloop-style flow and a PromptLayer-style agent
# are versioned, labelled, deployed, promoted, diffed, audited and verified.
set -euo pipefail
flowstore=${1:-flowstore}
here=$(cd "$(dirname "$0")/.." && pwd)
export FLOWSTORE_DIR=$(mktemp -d)/store
export FLOWSTORE_AUTHOR=demo
trap 'rm -rf "$(dirname "$FLOWSTORE_DIR")"' EXIT
run() { printf '\n$ flowstore %s\n' "$*"; "$flowstore" "$@"; }

run init
run put "$here/examples/medqa-flow.json"
run put "$here/examples/medqa-flow-v2.json"
run put "$here/examples/medqa-flow-v2.json"          # identical: nothing new is stored
run deploy "Personal Projects/MedQA Flow" production "Personal Projects/MedQA Flow#1"
run log "Personal Projects/MedQA Flow"
run diff "Personal Projects/MedQA Flow~1" "Personal Projects/MedQA Flow"

run put "$here/examples/routing-agent.json"          # release_labels: ["staging"]
run put "$here/examples/routing-agent-v2.json" --label staging
run label set routing-agent production routing-agent#1
run promote routing-agent --from staging --to production
run label ls routing-agent
run show routing-agent@production
run diff routing-agent#1 routing-agent#2
run audit routing-agent
run ls
run verify
