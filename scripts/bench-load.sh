#!/usr/bin/env bash
# Load benchmark of the create path (issue #4): POST /api/v1/plans with wrk at 1, 16 and 64
# concurrent connections against a release `syllabus serve` (WORKERS=false, so generation does
# not compete for the 2 cores), next to a raw single-row INSERT measured with pgbench on the same
# database in the same run; the server's peak RSS; then the pick-up latency of a `syllabus worker`
# (job commit → handler start) over sequential creations on an idle queue, against the fake
# provider (`fake-llm`, which answers at once). Requests rotate over 1,000 users with a rate limit of
# 100 per user and hour, so no request is limited and each window check reads at most 100 rows.
#
# Needs the PostgreSQL binaries (as scripts/test.sh) and wrk (`apt-get install wrk`).
# DURATION (default 10s) sets each wrk/pgbench run; PICKUPS (default 100) the pick-up sample.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
command -v wrk >/dev/null || { echo "error: wrk is not installed: apt-get install wrk" >&2; exit 1; }
duration="${DURATION:-10s}"
pickups="${PICKUPS:-100}" # at most the rate limit of one user

bench_setup syllabus-bench
http_port="$(pg_free_port)"
export AUTH_JWT_SECRET="bench-secret-bench-secret-bench-secret" RATE_LIMIT_PER_HOUR=100 BIND_ADDR="127.0.0.1:$http_port"
WORKERS=false "$bin/syllabus" serve 2> "$tmp/serve.log" & serve=$!; pids+=($serve)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null && break; sleep 0.05; done
kill -0 "$serve" 2>/dev/null || { echo "error: syllabus serve did not start:" >&2; cat "$tmp/serve.log" >&2; exit 1; }
for i in $(seq 1000); do "$bin/syllabus" token --sub "bench-user-$i" --ttl 2h; done > "$tmp/tokens.txt"

psql -c "CREATE TABLE bench_raw (id uuid PRIMARY KEY, user_id text NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
echo "INSERT INTO bench_raw (id, user_id, payload) VALUES (gen_random_uuid(), 'u', '{\"plan_id\": 1}');" > "$tmp/raw.sql"
percentiles() { # files with the latency in µs in column 3 → "p50 p95 p99" in ms
    python3 - "$@" <<'PY'
import sys
v = sorted(int(l.split()[2]) for f in sys.argv[1:] for l in open(f))
p = lambda q: v[min(len(v) - 1, int(q * len(v)))] / 1000
print(f"{p(0.50):.2f} {p(0.95):.2f} {p(0.99):.2f} {len(v)}")
PY
}

echo "| clients | POST /plans p50 / p95 / p99 (ms) | req/s | raw INSERT p50 / p95 / p99 (ms) | inserts/s | p95 gap (ms) | CPU ms per POST: serve / postgres |"
echo "|---|---|---|---|---|---|---|"
for c in 1 16 64; do
    threads=$(( c < 2 ? 1 : 2 ))
    s0="$(cpu_of "$serve")"; g0="$(cpu_pg)"
    line="$(wrk -t"$threads" -c"$c" -d"$duration" -s scripts/bench/post_plan.lua "http://127.0.0.1:$http_port/api/v1/plans" -- "$tmp/tokens.txt" | grep '^RESULT')"
    s1="$(cpu_of "$serve")"; g1="$(cpu_pg)"
    [[ $c == 64 ]] && rss_kb="$(awk '/VmHWM/ {print $2}' "/proc/$serve/status")"
    read -r p50 p95 p99 rps errors < <(echo "$line" | sed -E 's/.*p50_ms=([0-9.]+) p95_ms=([0-9.]+) p99_ms=([0-9.]+) rps=([0-9]+) requests=[0-9]+ errors=([0-9]+).*/\1 \2 \3 \4 \5/')
    [[ "$errors" == 0 ]] || { echo "error: $errors failed requests at $c clients" >&2; exit 1; }
    mkdir -p "$tmp/pgb-$c"
    (cd "$tmp/pgb-$c" && "$tools/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c "$c" -j "$threads" -T "${duration%s}" -l -f "$tmp/raw.sql" syllabus > pgbench.out 2>&1)
    read -r r50 r95 r99 rn < <(percentiles "$tmp"/pgb-"$c"/pgbench_log.*)
    rrate=$(( rn / ${duration%s} ))
    gap="$(python3 -c "print(f'{$p95 - $r95:.2f}')")"
    total="$(echo "$line" | sed -E 's/.*requests=([0-9]+).*/\1/')"
    cpu="$(python3 -c "print(f'{($s1 - $s0) * 1000 / $total:.2f} / {($g1 - $g0) * 1000 / $total:.2f}')")"
    echo "| $c | $p50 / $p95 / $p99 | $rps | $r50 / $r95 / $r99 | $rrate | $gap | $cpu |"
done
echo
echo "serve peak RSS after the 64-client run: $(( rss_kb / 1024 )) MiB (VmHWM $rss_kb kB)"

# Pick-up latency: an idle queue, one worker process, sequential creations.
psql -c "UPDATE jobs SET status = 'cancelled', completed_at = now() WHERE status = 'pending'"
"$bin/syllabus" worker 2> "$tmp/worker.log" & pids+=($!)
sleep 1
token="$("$bin/syllabus" token --sub pickup-user --ttl 1h)"
for i in $(seq "$pickups"); do
    curl -s -o /dev/null -X POST "http://127.0.0.1:$http_port/api/v1/plans" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -H "X-Request-Id: pickup-$i" \
        -d '{"topic":"Pick-up latency","skill_level":"beginner","weekly_hours":5,"learning_style":"practice"}'
    sleep 0.02
done
sleep 1
python3 - "$tmp/worker.log" <<'PY'
import json, sys
v = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("message") == "job started" and str(e.get("span", {}).get("request_id", "")).startswith("pickup-"):
        v.append(e["since_created_ms"])
v.sort()
p = lambda q: v[min(len(v) - 1, int(q * len(v)))]
print(f"pick-up latency (job insert → handler start) over {len(v)} jobs: p50 {p(0.5)} ms, p95 {p(0.95)} ms, max {v[-1]} ms")
PY
