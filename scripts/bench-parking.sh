#!/usr/bin/env bash
# One user cannot park the pool (issue #18): a release `syllabus serve` (WORKERS=false, pool 32)
# answers another user's `GET /api/v1/plans` (wrk, 4 connections, its latency) while one user
# loops `POST /plans/{id}/regenerate` on a capped plan from FLOOD connections (default 400), and
# alone for comparison. PostgreSQL's backends in a `Lock` wait are sampled every 100 ms.
#
# Needs the PostgreSQL binaries (as scripts/test.sh) and wrk (`apt-get install wrk`).
# DURATION (default 20s) sets each run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
command -v wrk >/dev/null || { echo "error: wrk is not installed: apt-get install wrk" >&2; exit 1; }
duration="${DURATION:-20s}"
flood="${FLOOD:-400}"

bench_setup syllabus-parking
http_port="$(pg_free_port)"
export AUTH_JWT_SECRET="bench-secret-bench-secret-bench-secret" BIND_ADDR="127.0.0.1:$http_port"
# The flood must not end at the hourly limit before the run does: the point is the locks.
export RATE_LIMIT_PER_HOUR=1000000 MAX_CONNECTIONS=10000
WORKERS=false "$bin/syllabus" serve 2> "$tmp/serve.log" & serve=$!; pids+=($serve)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null && break; sleep 0.05; done
kill -0 "$serve" 2>/dev/null || { echo "error: syllabus serve did not start:" >&2; cat "$tmp/serve.log" >&2; exit 1; }
"$bin/syllabus" token --sub flooder --ttl 2h > "$tmp/flooder"
"$bin/syllabus" token --sub reader --ttl 2h > "$tmp/reader"

# A plan of the flooder with its three attempts used: every regenerate is refused at the cap.
plan="$(curl -s -X POST "http://127.0.0.1:$http_port/api/v1/plans" -H "Authorization: Bearer $(cat "$tmp/flooder")" \
    -H 'Content-Type: application/json' \
    -d '{"topic":"Capped plan","skill_level":"beginner","weekly_hours":5,"learning_style":"practice"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
psql -c "UPDATE jobs SET status = 'failed', completed_at = now() WHERE plan_id = '$plan';
         INSERT INTO generation_attempts (id, plan_id, user_id, number, status, classification)
         SELECT gen_random_uuid(), '$plan', 'flooder', n, 'failure', 'provider_error' FROM generate_series(1, 3) n"
for i in $(seq 50); do
    curl -s -X POST "http://127.0.0.1:$http_port/api/v1/plans" -H "Authorization: Bearer $(cat "$tmp/reader")" \
        -H 'Content-Type: application/json' \
        -d '{"topic":"Reader plan '"$i"'","skill_level":"beginner","weekly_hours":5,"learning_style":"practice"}' >/dev/null
done

sample_locks() { # prints the most backends seen in a Lock wait at once, until killed
    local most=0 n
    trap 'echo "$most"; exit 0' TERM
    while :; do
        n="$(psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")"
        (( n > most )) && most=$n
        sleep 0.1
    done
}
reader() {
    wrk -t1 -c4 -d"$duration" -s scripts/bench/request.lua "http://127.0.0.1:$http_port/api/v1/plans" \
        -- GET "$tmp/reader" | grep '^RESULT'
}

echo "| run | reader GET /plans p50 / p95 / p99 / max (ms) | reader req/s | flood requests (req/s) | most backends in a Lock wait |"
echo "|---|---|---|---|---|"
line="$(reader)"
read -r p50 p95 p99 max rps < <(echo "$line" | sed -E 's/.*p50_ms=([0-9.]+) p95_ms=([0-9.]+) p99_ms=([0-9.]+) max_ms=([0-9.]+) rps=([0-9]+).*/\1 \2 \3 \4 \5/')
echo "| alone | $p50 / $p95 / $p99 / $max | $rps | — | — |"

sample_locks > "$tmp/locks" & sampler=$!
wrk -t2 -c"$flood" -d"$duration" --timeout 30s -s scripts/bench/request.lua \
    "http://127.0.0.1:$http_port/api/v1/plans/$plan/regenerate" -- POST "$tmp/flooder" > "$tmp/flood.out" & flooder=$!
sleep 1
line="$(reader)"
wait "$flooder"
kill -TERM "$sampler"; wait "$sampler" || true
read -r p50 p95 p99 max rps < <(echo "$line" | sed -E 's/.*p50_ms=([0-9.]+) p95_ms=([0-9.]+) p99_ms=([0-9.]+) max_ms=([0-9.]+) rps=([0-9]+).*/\1 \2 \3 \4 \5/')
fl="$(grep '^RESULT' "$tmp/flood.out" | sed -E 's/.*rps=([0-9]+) requests=([0-9]+).*/\2 (\1)/')"
echo "| with $flood clients flooding regenerate | $p50 / $p95 / $p99 / $max | $rps | $fl | $(cat "$tmp/locks") |"
