#!/usr/bin/env bash
# Fuzzes the served OpenAPI document with schemathesis: installs the version pinned (with hashes)
# in scripts/schemathesis-requirements.txt into a throwaway venv, starts a throwaway PostgreSQL
# (scripts/pg-lib.sh) and `syllabus serve` with WORKERS=false (no provider is called: the API
# only queues jobs), mints a token, and runs every check (the defaults plus
# negative_data_rejection) with a fixed seed and bounded examples. Fails on any failure, error or
# "schema validation mismatch" warning (the document's constraints not matching what the API
# accepts).
#
# The two event streams (planEvents, jobEvents) are left out: with no worker a stream stays open
# until the request timeout, many times over; the end-to-end suite checks their answers and every
# event's data against the document instead.
#
# scripts/schemathesis_hooks.py holds the two adjustments for what the document cannot say (a
# lazily built sub-resource; the order of two dates).
#
# SCHEMATHESIS_SEED (default 20260101), SCHEMATHESIS_MAX_EXAMPLES (default 40) and
# SCHEMATHESIS_TIMEOUT_S (default 240, for the whole run) bound it; KEEP=1 keeps the work
# directory (the serve log and schemathesis's output) for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-lib.sh # the pinned Rust (rust-toolchain.toml)
source scripts/pg-lib.sh
root="$(pwd)"

seed="${SCHEMATHESIS_SEED:-20260101}"
examples="${SCHEMATHESIS_MAX_EXAMPLES:-40}"
limit="${SCHEMATHESIS_TIMEOUT_S:-240}"

work="$(mktemp -d "${TMPDIR:-/tmp}/syllabus-schemathesis.XXXXXX")"
serve_pid=""
cleanup() {
    [[ -n "$serve_pid" ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    pg_throwaway_cleanup
    [[ -n "${KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT

venv_install scripts/schemathesis-requirements.txt "$work/venv" || exit 1

echo "== building the binary"
cargo build --quiet -p syllabus --bin syllabus
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
# The target directory may be shared with another checkout: run a copy of this build.
bin="$work/syllabus"
cp "$target/debug/syllabus" "$bin"

pg_require_bindir
pg_throwaway syllabus-schemathesis-pg
pg_app_database "$PG_PORT" syllabus
echo "== PostgreSQL on 127.0.0.1:$PG_PORT ($PG_BINDIR)"

port="$(pg_free_port)"
log="$work/serve.log"
AUTH_JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
export AUTH_JWT_SECRET
# A rate limit high enough that generated requests reach the logic behind it.
BIND_ADDR="127.0.0.1:$port" WORKERS=false RATE_LIMIT_PER_HOUR=100000 LOG_FORMAT=json \
    RUST_LOG="${RUST_LOG:-warn}" "$bin" serve 2>"$log" &
serve_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
    kill -0 "$serve_pid" 2>/dev/null || { echo "error: serve exited; its log:" >&2; tail -n 20 "$log" >&2; exit 1; }
    sleep 0.2
done
token="$("$bin" token --sub schemathesis --ttl 2h)"

echo "== schemathesis against $base/api/v1/openapi.json (seed $seed, at most $examples examples per operation)"
out="$work/schemathesis.txt"
status=0
(cd "$work" && SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$root/scripts" \
    timeout "$limit" "$work/venv/bin/st" run "$base/api/v1/openapi.json" \
    --url "$base" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --exclude-operation-id planEvents \
    --exclude-operation-id jobEvents \
    --seed "$seed" \
    --max-examples "$examples" \
    --workers 1 \
    --request-timeout 10 \
    --no-color \
    --report junit --report-dir "$work/report") >"$out" 2>&1 || status=$?
cat "$out"
if [[ $status == 124 ]]; then
    echo "schemathesis: FAILED: not finished within $limit s" >&2
    exit 1
fi
if grep -qi "schema validation mismatch" "$out"; then
    echo "schemathesis: FAILED: a schema validation mismatch warning (see above)" >&2
    status=1
fi
if [[ $status != 0 ]]; then
    echo "== last lines of the serve log" >&2
    tail -n 20 "$log" >&2
    exit "$status"
fi
echo "schemathesis: passed"
