#!/usr/bin/env bash
# `make bench`: the whole benchmark, FlowStore beside the tools users would otherwise pick, in
# one run (docs/performance.md).
#
# Installs what the comparisons need when it is missing — git, rsync and wrk from Debian, the
# Python packages rfc8785 and canonicaljson from PyPI into a venv under .build/bench-venv —
# builds flowstore-bench in release mode and runs it. Arguments are passed on, e.g.
#   scripts/bench/compare.sh --only canon,ingest
#   scripts/bench/compare.sh --lookup-large 1000000 --verify-objects 1000000   # the issue's full sizes
# A comparison whose tool cannot be installed is skipped and says so; the rest still runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
for tool in git rsync wrk; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null || echo "warning: could not install ${missing[*]}" >&2
fi

venv=.build/bench-venv
python_args=()
if ! "$venv/bin/python" -c "import rfc8785, canonicaljson" >/dev/null 2>&1; then
    echo "setting up $venv (rfc8785, canonicaljson from PyPI)" >&2
    if python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check rfc8785 canonicaljson; then :; else
        echo "warning: no Python comparison (could not set up $venv)" >&2
    fi
fi
if "$venv/bin/python" -c "import rfc8785, canonicaljson" >/dev/null 2>&1; then
    python_args=(--python "$venv/bin/python")
fi

scripts/install-deps.sh
swift build -c release --product flowstore-bench

# The PostgreSQL rows run against a throwaway local server that flushes (fsync on), started
# here and stopped on the way out (scripts/postgres-test-server.sh, its own state directory).
pg_state=.build/postgres-bench
if [ -z "${FLOWSTORE_BENCH_POSTGRES:-}" ]; then
    if FLOWSTORE_POSTGRES_DURABLE=1 scripts/postgres-test-server.sh start "$pg_state" >/dev/null; then
        trap 'scripts/postgres-test-server.sh stop "$pg_state" >/dev/null 2>&1 || true' EXIT
        FLOWSTORE_BENCH_POSTGRES="$(scripts/postgres-test-server.sh url "$pg_state")"
        export FLOWSTORE_BENCH_POSTGRES
    else
        echo "warning: no PostgreSQL server for the postgres rows" >&2
    fi
fi
.build/release/flowstore-bench "${python_args[@]}" "$@"
