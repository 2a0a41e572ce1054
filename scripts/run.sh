#!/usr/bin/env bash
# Runs the syllabus binary against PostgreSQL.
#
# With DATABASE_URL set, that server is used. Without it, a local PostgreSQL is started from the
# machine's PostgreSQL binaries with its data under .data/postgres of the checkout (kept and
# reused across runs; `scripts/run.sh --stop-db` stops it), listening on 127.0.0.1:${SYLLABUS_PG_PORT:-55432}.
#
# Arguments go to the binary; the default is `serve` (see `scripts/run.sh --help`).
# Without AUTH_JWT_SECRET or AUTH_JWKS_URL, a development secret is generated once under .data/
# and used by both `serve` and `token`, so tokens minted with `scripts/run.sh token` are accepted.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-lib.sh

root="$(pwd)"
data="$root/.data/postgres"
if [[ "$(id -u)" == 0 ]] && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
    # The postgres user cannot reach the checkout (e.g. under /root): keep the data elsewhere.
    data="/var/lib/syllabus-dev/$(echo "$root" | md5sum | cut -c1-12)/postgres"
fi
port="${SYLLABUS_PG_PORT:-55432}"

if [[ "${1:-}" == "--stop-db" ]]; then
    pg_require_bindir
    pg_stop "$data"
    echo "run.sh: stopped the local PostgreSQL in $data"
    exit 0
fi

if [[ -z "${DATABASE_URL:-}" ]]; then
    pg_require_bindir
    if ! pg_as_owner "$PG_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        mkdir -p "$(dirname "$data")"
        [[ "$(id -u)" == 0 ]] && chmod 755 "$(dirname "$data")"
        if ! pg_start "$data" "$data/../sock" "$port" "$data/../postgres.log"; then
            echo "error: the local PostgreSQL did not start; see $data/../postgres.log" >&2
            exit 1
        fi
        echo "run.sh: local PostgreSQL started on 127.0.0.1:$port (data in $data)" >&2
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
fi

if [[ -z "${AUTH_JWT_SECRET:-}" && -z "${AUTH_JWKS_URL:-}" ]]; then
    secret_file="$root/.data/dev-jwt-secret"
    if [[ ! -s "$secret_file" ]]; then
        mkdir -p "$root/.data"
        (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' > "$secret_file")
    fi
    AUTH_JWT_SECRET="$(cat "$secret_file")"
    export AUTH_JWT_SECRET
    echo "run.sh: using the development token secret in $secret_file" >&2
fi

if [[ $# -eq 0 ]]; then
    set -- serve
fi
exec cargo run --quiet --release -p syllabus -- "$@"
