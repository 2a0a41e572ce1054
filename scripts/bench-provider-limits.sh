#!/usr/bin/env bash
# Provider limits benchmark (issue #22): does the fleet keep a provider account's quota, use it
# fully, and keep a late user's first plan out of the backlog's queue?
#
# A throwaway PostgreSQL; one API-only `syllabus serve` and WORKERS_N (default 3) `syllabus worker`
# processes (release builds, default concurrency); the fake provider in `quota` mode enforcing
# its own account's PROVIDER_RPM (60) requests and PROVIDER_TPM (20,000) tokens per window (429
# with `Retry-After` above them; tokens are the request's JSON length / 4 plus the answer's / 4,
# reported as usage). USERS (50) users each import one ready plan, then queue PLANS (14) plan
# generations, FLASHCARDS (3) flashcards jobs and SKILL_TREES (3) skill-tree jobs: 1,000 jobs.
# LATE_AFTER (default 3 windows) after the backlog started, one more user creates its first plan.
#
# Two runs on emptied tables, each with a fresh fake provider:
#   `limited`: the service's LLM_REQUESTS_PER_MINUTE / LLM_TOKENS_PER_MINUTE set 10 % under the
#              account's (54 and 18,000), over the same window;
#   `unset`:   no service limits (only the shared 429 pause).
#
# Time is compressed: WINDOW (default 6s) is the length of the provider's and the service's
# "minute" (LLM_LIMIT_WINDOW_MS), so 1,000 jobs take minutes, not hours; the fake streams each
# answer over OVER (default 300ms, a tenth of a real model's seconds). Set WINDOW=60s OVER=3s for
# real time. Per run it prints one JSON line: jobs completed and failed (by type), the provider's
# accepted calls and 429s, the most requests and tokens it accepted in any sliding window,
# requests and tokens per window over the run, the backlog's wait from creation to its first
# provider call (p50, p95) and the late user's.
# MAX_TOKENS sets the service's LLM_MAX_TOKENS (the output budget every call reserves whole until
# its usage corrects it; default: derived per schema, at most 4,096).
# Needs the PostgreSQL binaries (as scripts/test.sh) and python3. KEEP=1 keeps the run directory.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
window="${WINDOW:-6s}"
over="${OVER:-300ms}"
workers="${WORKERS_N:-3}"
users="${USERS:-50}"
provider_rpm="${PROVIDER_RPM:-60}"
provider_tpm="${PROVIDER_TPM:-20000}"
run_timeout="${RUN_TIMEOUT:-1200}"
runs="${RUNS:-limited unset}"
window_ms="$(duration_in ms "$window")"
late_after="${LATE_AFTER:-$(python3 -c "print($window_ms * 3 / 1000)")}"

ulimit -n "$(ulimit -Hn)"
bench_setup syllabus-bench-provider-limits
db() { psql "$@"; }
"$bin/syllabus" migrate 2>/dev/null

export AUTH_JWT_SECRET="bench-secret-bench-secret-bench-secret" RATE_LIMIT_PER_HOUR=1000000
for i in $(seq "$users"); do "$bin/syllabus" token --sub "bench-user-$i" --ttl 4h; done > "$tmp/tokens.txt"
"$bin/syllabus" token --sub "bench-late" --ttl 4h >> "$tmp/tokens.txt"
left() { db -At -c "SELECT count(*) FROM jobs WHERE status IN ('pending', 'processing')"; }

run() {
    local name="$1" dir="$tmp/$1" llm_pid serve_pid http_port url
    local -a run_pids=()
    mkdir -p "$dir"
    db -c "SET client_min_messages = warning" -c "TRUNCATE users, provider_state, provider_reservations CASCADE"
    "$bin/fake-llm" quota --rpm "$provider_rpm" --tpm "$provider_tpm" --window "$window" \
        --over "$over" --log "$dir/llm.log" > "$dir/llm.url" & llm_pid=$!; pids+=($llm_pid)
    for _ in $(seq 100); do [[ -s "$dir/llm.url" ]] && break; sleep 0.05; done
    url="$(cat "$dir/llm.url")"
    local -a limits=(LLM_LIMIT_WINDOW_MS="$window_ms")
    [[ -n "${MAX_TOKENS:-}" ]] && limits+=(LLM_MAX_TOKENS="$MAX_TOKENS")
    if [[ "$name" == limited ]]; then
        limits+=(LLM_REQUESTS_PER_MINUTE="$((provider_rpm * 9 / 10))"
                 LLM_TOKENS_PER_MINUTE="$((provider_tpm * 9 / 10))")
    fi
    http_port="$(pg_free_port)"
    env "${limits[@]}" OPENAI_BASE_URL="$url" WORKERS=false BIND_ADDR="127.0.0.1:$http_port" \
        "$bin/syllabus" serve 2> "$dir/serve.log" & serve_pid=$!; run_pids+=($serve_pid)
    for w in $(seq "$workers"); do
        env "${limits[@]}" OPENAI_BASE_URL="$url" "$bin/syllabus" worker 2> "$dir/worker-$w.log" &
        run_pids+=($!)
    done
    pids+=("${run_pids[@]}")
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null && break; sleep 0.05; done
    kill -0 "$serve_pid" 2>/dev/null || { echo "error: syllabus serve did not start:" >&2; cat "$dir/serve.log" >&2; exit 1; }

    python3 scripts/bench-provider-limits.py load --base "http://127.0.0.1:$http_port" \
        --tokens "$tmp/tokens.txt" --plans "${PLANS:-14}" --flashcards "${FLASHCARDS:-3}" \
        --skill-trees "${SKILL_TREES:-3}" --late-after "$late_after" --out "$dir/times.json"
    local deadline=$((SECONDS + run_timeout))
    while [[ "$(left)" != 0 ]]; do
        if ((SECONDS > deadline)); then
            echo "error: $name: jobs left after ${run_timeout}s:" >&2
            db -c "SELECT status, count(*) FROM jobs GROUP BY 1" >&2
            exit 1
        fi
        sleep 1
    done
    db -At -F , -c "
        SELECT j.id, j.user_id, j.job_type, j.status,
               (extract(epoch FROM j.created_at) * 1000)::bigint,
               (SELECT (extract(epoch FROM min(c.created_at - c.duration_ms * interval '1 ms')) * 1000)::bigint
                  FROM llm_calls c WHERE c.job_id = j.id),
               (SELECT count(*) FROM llm_calls c WHERE c.job_id = j.id AND c.classification = 'rate_limit')
          FROM jobs j" > "$dir/jobs.csv"
    for p in "${run_pids[@]}" "$llm_pid"; do kill "$p" 2>/dev/null || true; done
    wait "${run_pids[@]}" "$llm_pid" 2>/dev/null || true
    echo "$name: $(python3 scripts/bench-provider-limits.py report --llm-log "$dir/llm.log" \
        --jobs-csv "$dir/jobs.csv" --times "$dir/times.json" --window-ms "$window_ms" --late-user bench-late)"
}

echo "provider account: $provider_rpm requests and $provider_tpm tokens per ${window}; service 10 % under; $workers workers; LLM_MAX_TOKENS=${MAX_TOKENS:-derived}; $(nproc) CPUs"
for r in $runs; do run "$r"; done
if [[ "${KEEP:-}" == 1 ]]; then
    cp -r "$tmp" "${tmp}-kept"
    echo "kept: ${tmp}-kept"
fi
