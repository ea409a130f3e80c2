#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests of FlowStorePostgres (`make test` runs it).
#
#   scripts/postgres-test-server.sh start  [STATE_DIR]   start one; prints FLOWSTORE_TEST_POSTGRES=URL
#   scripts/postgres-test-server.sh url    [STATE_DIR]   prints the URL of the running one
#   scripts/postgres-test-server.sh halt   [STATE_DIR]   stops the server, keeping its data
#   scripts/postgres-test-server.sh resume [STATE_DIR]   starts a halted server again, same port
#   scripts/postgres-test-server.sh stop   [STATE_DIR]   stops it and deletes its data
#
# STATE_DIR (default .build/postgres-test) holds the URL and where the data is. The cluster
# itself is made with initdb in a new temp directory owned by the `postgres` user (PostgreSQL
# refuses to run as root, and CI runs as root), listens on 127.0.0.1 on a free port and on a
# unix socket in its data directory, and trusts local connections: it holds nothing but test
# databases. For speed it runs with fsync off (a test cluster need not survive a power cut;
# sessions still ask for synchronous commits, so the code paths are the real ones), unless
# FLOWSTORE_POSTGRES_DURABLE=1 is set, as the benchmarks set it.
# With FLOWSTORE_TEST_POSTGRES_TLS=1, `start` also turns TLS on (a self-signed certificate,
# DATA/server.crt). Installs Debian's postgresql with apt-get when no server is installed.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
command="${1:-}"
state="${2:-$repo/.build/postgres-test}"

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

find_bin() {
    local dir
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return
        fi
    done
    return 1
}

install_postgres() {
    echo "postgres-test-server: installing PostgreSQL (Debian's postgresql)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
}

# Runs a PostgreSQL program as the user that owns the cluster.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    else
        echo $((20000 + RANDOM % 20000))
    fi
}

start_server() {
    local bin="$1" data="$2" port="$3"
    as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$data" start >/dev/null
}

case "$command" in
start)
    if [ -f "$state/url" ] && [ -f "$state/bin" ] && [ -f "$state/data" ]; then
        if as_owner "$(cat "$state/bin")/pg_ctl" -D "$(cat "$state/data")" status >/dev/null 2>&1; then
            echo "FLOWSTORE_TEST_POSTGRES=$(cat "$state/url")"
            exit 0
        fi
        "$0" stop "$state"  # left by a run that was killed: start afresh
    fi
    bin="$(find_bin)" || { install_postgres; bin="$(find_bin)"; }
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    mkdir -p "$state"
    data="$(mktemp -d "${TMPDIR:-/tmp}/flowstore-postgres.XXXXXX")"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$data"
    chmod 700 "$data"
    as_owner "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$state/initdb.log" 2>&1 \
        || { cat "$state/initdb.log" >&2; exit 1; }
    cat >>"$data/postgresql.conf" <<'CONF'
max_connections = 400
log_min_messages = warning
CONF
    # FLOWSTORE_POSTGRES_DURABLE=1 (the benchmarks): a server that flushes, as in production.
    if [ -z "${FLOWSTORE_POSTGRES_DURABLE:-}" ]; then
        printf 'fsync = off\nfull_page_writes = off\n' >>"$data/postgresql.conf"
    fi
    if [ -n "${FLOWSTORE_TEST_POSTGRES_TLS:-}" ]; then
        # TLS too, with a self-signed certificate for localhost and 127.0.0.1 (data/server.crt
        # is also the CA a client verifying it needs).
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$data/server.key" -out "$data/server.crt" >/dev/null 2>&1
        chmod 600 "$data/server.key"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$data/server.key" "$data/server.crt"
        printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >>"$data/postgresql.conf"
    fi
    port=""
    for _ in 1 2 3 4 5; do
        port="$(free_port)"
        if start_server "$bin" "$data" "$port"; then break; fi
        port=""
    done
    [ -n "$port" ] || { cat "$data/server.log" >&2; rm -rf "$data" "$state"; exit 1; }
    url="postgres://postgres@127.0.0.1:$port/postgres"
    echo "$url" >"$state/url"
    echo "$data" >"$state/data"
    echo "$port" >"$state/port"
    echo "$bin" >"$state/bin"
    echo "FLOWSTORE_TEST_POSTGRES=$url"
    ;;
url)
    [ -f "$state/url" ] || { echo "postgres-test-server: none running (state in $state)" >&2; exit 1; }
    cat "$state/url"
    ;;
halt)
    [ -f "$state/data" ] || exit 0
    as_owner "$(cat "$state/bin")/pg_ctl" -D "$(cat "$state/data")" -m fast -w stop >/dev/null
    ;;
resume)
    [ -f "$state/data" ] || { echo "postgres-test-server: nothing to resume in $state" >&2; exit 1; }
    start_server "$(cat "$state/bin")" "$(cat "$state/data")" "$(cat "$state/port")"
    ;;
stop)
    [ -f "$state/data" ] || exit 0
    data="$(cat "$state/data")"
    if [ -f "$data/postmaster.pid" ]; then
        as_owner "$(cat "$state/bin")/pg_ctl" -D "$data" -m immediate -w stop >/dev/null || true
    fi
    case "$data" in
    */flowstore-postgres.*) rm -rf "$data" ;;
    esac
    rm -rf "$state"
    ;;
*)
    usage
    ;;
esac
