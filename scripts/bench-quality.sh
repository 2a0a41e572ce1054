#!/usr/bin/env bash
# Degenerate answers of the embedded local model (issue #21, docs/benchmarks.md "Degenerate
# answers"): starts the local model (scripts/llm-lib.sh) and a `syllabus serve` on a throwaway
# PostgreSQL, generates plans on the 20 topics of scripts/bench-quality.py through the HTTP API,
# saves each plan and its attempts as JSON lines, and counts with the domain's degenerate-answer
# rules (`cargo run -p syllabus-provider --example quality_check`) how many `ready` plans still
# hold a defect, how many failed, and the attempts used.
#
#   scripts/bench-quality.sh [--bin PATH] [--plans N] [--out FILE]
#
# --bin: the binary to measure (default: a release build of this checkout); pass another
# checkout's binary to measure its rules and prompt ("before") with this checkout's counter.
# --plans: how many of the 20 topics (default 20); --out: the JSON lines (default
# target/bench-quality.jsonl). SYLLABUS_BENCH_INFLIGHT (default 2, the model's slots) plans
# are generated at once.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-lib.sh
source scripts/pg-lib.sh
export SYLLABUS_LLM_PORT="${SYLLABUS_LLM_PORT:-18093}"
source scripts/llm-lib.sh

bin="" plans=20 out="target/bench-quality.jsonl"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin) bin="$2"; shift 2 ;;
        --plans) plans="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "usage: $0 [--bin PATH] [--plans N] [--out FILE]" >&2; exit 2 ;;
    esac
done
if [[ -z "$bin" ]]; then
    echo "== building the release binary"
    cargo build --quiet --release -p syllabus --bin syllabus
    bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/syllabus"
fi
echo "== building the counter"
cargo build --quiet -p syllabus-provider --example quality_check

serve_pid=""
cleanup() {
    [[ -n "$serve_pid" ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    [[ "${LLM_STARTED:-0}" == 1 ]] && llm_stop
    pg_throwaway_cleanup
}
trap cleanup EXIT

pg_require_bindir
pg_throwaway syllabus-bench-quality-pg
pg_app_database "$PG_PORT" syllabus
llm_start
# Deadlines long enough that a loaded machine (other builds on its 2 cores) does not turn slow
# answers into timeouts: the figures are about what the model answers. Set them to measure the
# development defaults (60 s / 120 s) instead.
export GENERATION_TIMEOUT_MS="${GENERATION_TIMEOUT_MS:-300000}"
export GENERATION_EXTENDED_TIMEOUT_MS="${GENERATION_EXTENDED_TIMEOUT_MS:-600000}"
llm_export_settings
echo "== $bin against $LLM_MODEL at $OPENAI_BASE_URL (LLM_MAX_TOKENS=$LLM_MAX_TOKENS, deadlines ${GENERATION_TIMEOUT_MS}/${GENERATION_EXTENDED_TIMEOUT_MS} ms)"

port="$(pg_free_port)"
log="$PG_TMP/serve.log"
AUTH_JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
export AUTH_JWT_SECRET
# Backoff base 1 s as in production; the rate limit is raised so 20 plans of one user all run.
RATE_LIMIT_PER_HOUR=1000 BIND_ADDR="127.0.0.1:$port" LOG_FORMAT=json RUST_LOG=info "$bin" serve 2>"$log" &
serve_pid=$!
for _ in $(seq 1 150); do
    http_ok "http://127.0.0.1:$port/readyz" && break
    kill -0 "$serve_pid" 2>/dev/null || { echo "error: serve exited; its log:" >&2; tail -n 20 "$log" >&2; exit 1; }
    sleep 0.2
done
token="$("$bin" token --sub bench-quality --ttl 12h)"

mkdir -p "$(dirname "$out")"
SMOKE_BASE_URL="http://127.0.0.1:$port" SMOKE_TOKEN="$token" \
    python3 scripts/bench-quality.py --plans "$plans" --inflight "${SYLLABUS_BENCH_INFLIGHT:-2}" --out "$out"
echo "== counted with this checkout's rules"
"$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples/quality_check" < "$out"
