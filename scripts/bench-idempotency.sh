#!/usr/bin/env bash
# The cost of an `Idempotency-Key` on POST /api/v1/plans (issue #23): wrk at 1 and 16 connections
# against a release `syllabus serve` (WORKERS=false), without a key, with a fresh key on every
# request (the key is claimed, and the answer stored, in the create's transaction), and with one
# key per user sent again and again (after each user's first create, every request is a replay of
# the stored answer). The three modes alternate within each round (ROUNDS, default 3), so a
# machine that gets busier disturbs all of them alike. Requests rotate over 1,000 users whose
# limit is high enough that none is rate-limited.
#
# Needs the PostgreSQL binaries (as scripts/test.sh) and wrk (`apt-get install wrk`).
# DURATION (default 10s) sets each wrk run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
command -v wrk >/dev/null || { echo "error: wrk is not installed: apt-get install wrk" >&2; exit 1; }
duration="${DURATION:-10s}"
rounds="${ROUNDS:-3}"

bench_setup syllabus-bench-idem
http_port="$(pg_free_port)"
export AUTH_JWT_SECRET="bench-secret-bench-secret-bench-secret" RATE_LIMIT_PER_HOUR=1000000 BIND_ADDR="127.0.0.1:$http_port"
WORKERS=false "$bin/syllabus" serve 2> "$tmp/serve.log" & serve=$!; pids+=($serve)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null && break; sleep 0.05; done
kill -0 "$serve" 2>/dev/null || { echo "error: syllabus serve did not start:" >&2; cat "$tmp/serve.log" >&2; exit 1; }
for i in $(seq 1000); do "$bin/syllabus" token --sub "bench-user-$i" --ttl 2h; done > "$tmp/tokens.txt"

echo "| round | clients | key | p50 / p95 / p99 (ms) | req/s | plans created |"
echo "|---|---|---|---|---|---|"
for round in $(seq "$rounds"); do
    for c in 1 16; do
        threads=$(( c < 2 ? 1 : 2 ))
        for mode in none fresh replay; do
            before="$(psql -At -c "SELECT count(*) FROM plans")"
            line="$(wrk -t"$threads" -c"$c" -d"$duration" -s scripts/bench/post_plan.lua "http://127.0.0.1:$http_port/api/v1/plans" -- "$tmp/tokens.txt" "$([[ $mode == none ]] || echo "$mode")" | grep '^RESULT')"
            after="$(psql -At -c "SELECT count(*) FROM plans")"
            read -r p50 p95 p99 rps errors < <(echo "$line" | sed -E 's/.*p50_ms=([0-9.]+) p95_ms=([0-9.]+) p99_ms=([0-9.]+) rps=([0-9]+) requests=[0-9]+ errors=([0-9]+).*/\1 \2 \3 \4 \5/')
            [[ "$errors" == 0 ]] || { echo "error: $errors failed requests ($mode, $c clients)" >&2; exit 1; }
            echo "| $round | $c | $mode | $p50 / $p95 / $p99 | $rps | $(( after - before )) |"
        done
    done
done
echo
echo "idempotency keys stored: $(psql -At -c "SELECT count(*) FROM idempotency_keys")"
