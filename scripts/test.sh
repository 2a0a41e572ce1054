#!/usr/bin/env bash
# Runs the whole workspace's tests against a real PostgreSQL.
#
# With DATABASE_URL set, tests use that server (its role must be able to create roles and
# databases). Without it, a throwaway cluster is started from the local PostgreSQL binaries on a
# private port and socket, with trust auth, and removed afterwards.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p syllabus-domain`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-lib.sh

if [[ -z "${DATABASE_URL:-}" ]]; then
    pg_require_bindir
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/syllabus-test-pg.XXXXXX")"
    chmod 755 "$tmp"
    port="$(pg_free_port)"
    cleanup() {
        pg_stop "$tmp/data"
        rm -rf "$tmp"
    }
    trap cleanup EXIT
    if ! pg_start "$tmp/data" "$tmp/sock" "$port" "$tmp/postgres.log"; then
        echo "error: the throwaway PostgreSQL did not start; its log follows" >&2
        cat "$tmp/postgres.log" >&2
        exit 1
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "test.sh: throwaway PostgreSQL on 127.0.0.1:$port ($PG_BINDIR)"
fi

# The end-to-end tests run the real binary: build it first.
cargo build -p syllabus --bin syllabus
cargo test --workspace "$@"
