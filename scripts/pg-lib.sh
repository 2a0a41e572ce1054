# Helpers shared by scripts/test.sh and scripts/run.sh: find the local PostgreSQL server binaries
# and run them as the `postgres` OS user when we are root (PostgreSQL refuses to run as root).
# Sourced, not executed.

pg_find_bindir() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /usr/local/pgsql/bin; do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

pg_require_bindir() {
    PG_BINDIR="$(pg_find_bindir)" || {
        echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found; install them with 'apt-get install postgresql' or put their directory on PATH" >&2
        exit 1
    }
}

# Runs a PostgreSQL binary, as the postgres OS user when we are root, from / (postgres may not be
# able to read the current directory).
pg_as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# Makes a directory owned by whoever runs the server.
pg_own_dir() {
    mkdir -p "$1"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$1"
    fi
    chmod 700 "$1"
}

# Picks a free TCP port on 127.0.0.1.
pg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 20000))
}

# pg_start DATA_DIR SOCKET_DIR PORT LOGFILE: initializes the cluster if needed, then starts it.
pg_start() {
    local data="$1" sock="$2" port="$3" log="$4"
    if [[ ! -f "$data/PG_VERSION" ]]; then
        pg_own_dir "$data"
        pg_as_owner "$PG_BINDIR/initdb" --no-sync -A trust -U postgres -E UTF8 --locale=C -D "$data" >/dev/null
    fi
    pg_own_dir "$sock"
    touch "$log"
    [[ "$(id -u)" == 0 ]] && chown postgres: "$log"
    pg_as_owner "$PG_BINDIR/pg_ctl" -D "$data" -l "$log" -w -t 60 \
        -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null
}

pg_stop() {
    pg_as_owner "$PG_BINDIR/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1 || true
}

# pg_throwaway NAME: starts a throwaway cluster in a fresh directory under $TMPDIR on a free port;
# sets PG_TMP and PG_PORT and exports DATABASE_URL. pg_throwaway_cleanup stops and removes it
# (kept when KEEP is set). Needs pg_require_bindir first.
pg_throwaway() {
    PG_TMP="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
    chmod 755 "$PG_TMP"
    PG_PORT="$(pg_free_port)"
    if ! pg_start "$PG_TMP/data" "$PG_TMP/sock" "$PG_PORT" "$PG_TMP/postgres.log"; then
        echo "error: the throwaway PostgreSQL did not start; its log follows" >&2
        cat "$PG_TMP/postgres.log" >&2
        pg_throwaway_cleanup
        return 1
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

pg_throwaway_cleanup() {
    [[ -n "${PG_TMP:-}" ]] || return 0
    pg_stop "$PG_TMP/data"
    [[ -n "${KEEP:-}" ]] || rm -rf "$PG_TMP"
}
