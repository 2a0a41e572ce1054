#!/usr/bin/env bash
# In-flight generations and live events benchmark (issue #11), against a throwaway PostgreSQL
# (started with pg_stat_statements) and the fake provider in `plan-stream` mode: every call
# streams a 12-module plan evenly over 10 s and logs when each module's last byte was written.
#
# For each level of IN_FLIGHT (default "100 500 2000"), a separate run on emptied tables with a
# fresh fake provider and worker:
#   - one API-only `syllabus serve` (WORKERS=false, kept for all levels) and one
#     `syllabus worker` with WORKER_CONCURRENCY = the level, both release builds;
#   - scripts/bench-inflight.py creates LEVEL plans at once through POST /api/v1/plans (64
#     connections, 100 users, RATE_LIMIT_PER_HOUR=1000000) with unique topics `bench-LEVEL-I`,
#     and follows GET /api/v1/plans/{id}/events for the first SUBSCRIBE (default 100) of them
#     from its own process;
#   - the run ends when no job is pending or processing (at most LEVEL_TIMEOUT, default 300 s).
# ARRIVAL=steady (default burst): instead of creating the level's plans at once, create them at a
# constant rate of LEVEL per generation time (LEVEL / 10 s) for STEADY_S seconds (default 20), so
# that LEVEL generations are in flight from the first 10 s on and plans start and finish
# continuously, as in a service; the worker's WORKER_CONCURRENCY is LEVEL + 25 % (a generation
# takes a little more than the provider's 10 s), and the SUBSCRIBE followed plans are spread over
# the plans created after the first 10 s (the steady state).
# Figures per level (scripts/bench-inflight.py report): plans ready per second over the wall time
# from the first create to the last "job finished"; worker RSS sampled every second (the sample
# with the most jobs processing) and VmHWM; worker and PostgreSQL CPU (bench-lib's cpu_of and
# cpu_pg) over the run; statements per second from pg_stat_statements (the application role's,
# BEGIN and COMMIT included; and those matching HEARTBEAT_SQL), commits per second from
# pg_stat_database.xact_commit (which also counts this script's one query a second); pick-up p50/p95 from the worker's "job started" since_created_ms;
# module event latency (fake provider wrote the module's last byte → the client received its
# `module` event) and commit → `ready` event latency (the worker's "job finished" log line, written
# right after the finishing commit returns → the client received the `ready` status).
#
# Needs the PostgreSQL binaries (as scripts/test.sh) and python3. Results: a Markdown table on
# stdout; per-level files under the run directory (kept with KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
levels="${IN_FLIGHT:-100 500 2000}"
subscribe="${SUBSCRIBE:-100}"
level_timeout="${LEVEL_TIMEOUT:-300}"
modules="${MODULES:-12}"
over="${OVER:-10s}"
chunks="${CHUNKS_PER_MODULE:-1}"
users="${USERS:-100}"
arrival="${ARRIVAL:-burst}"
steady_s="${STEADY_S:-20}"
over_s="$(duration_in s "$over")"
# The heartbeat statement(s) as pg_stat_statements shows them (a LIKE pattern on the query).
heartbeat_sql="${HEARTBEAT_SQL:-UPDATE jobs j SET heartbeat_at%}"

ulimit -n "$(ulimit -Hn)"
export PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=1000"
bench_setup syllabus-bench-inflight
# As in production (and the tests), bench_setup has the application connect as a role without
# SUPERUSER or BYPASSRLS that owns its database, so row-level security applies; this script's own
# queries run as the superuser, which keeps superuser_reserved_connections for itself when the
# application takes every other connection.
db() { psql "$@"; }
"$bin/syllabus" migrate 2>/dev/null
db -c "CREATE EXTENSION pg_stat_statements"

http_port="$(pg_free_port)"
export AUTH_JWT_SECRET="bench-secret-bench-secret-bench-secret" RATE_LIMIT_PER_HOUR=1000000
WORKERS=false BIND_ADDR="127.0.0.1:$http_port" "$bin/syllabus" serve 2> "$tmp/serve.log" & serve=$!; pids+=($serve)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null && break; sleep 0.05; done
kill -0 "$serve" 2>/dev/null || { echo "error: syllabus serve did not start:" >&2; cat "$tmp/serve.log" >&2; exit 1; }
for i in $(seq "$users"); do "$bin/syllabus" token --sub "bench-user-$i" --ttl 2h; done > "$tmp/tokens.txt"

left() { db -At -c "SELECT count(*) FROM jobs WHERE status IN ('pending', 'processing')"; }
# Every second: time, jobs processing, jobs pending, worker VmRSS (kB).
sampler() {
    while kill -0 "$1" 2>/dev/null; do
        local counts rss
        counts="$(db -At -F ' ' -c "SELECT count(*) FILTER (WHERE status = 'processing'), count(*) FILTER (WHERE status = 'pending') FROM jobs" 2>/dev/null || echo "0 0")"
        rss="$(awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || true)"
        echo "$(date +%s.%N) $counts ${rss:-}"
        sleep 1
    done
}

results="$tmp/results.jsonl"
: > "$results"
for n in $levels; do
    dir="$tmp/level-$n"
    mkdir -p "$dir"
    db -c "SET client_min_messages = warning; TRUNCATE users, plans, jobs CASCADE"
    "$bin/fake-llm" plan-stream --modules "$modules" --over "$over" --chunks-per-module "$chunks" \
        --log "$dir/modules.log" > "$dir/llm.url" & llm=$!; pids+=($llm)
    for _ in $(seq 100); do [[ -s "$dir/llm.url" ]] && break; sleep 0.05; done
    if [[ "$arrival" == steady ]]; then
        count="$(python3 -c "print(round($n * $steady_s / $over_s))")"
        concurrency=$(( n + n / 4 ))
        load_args=(--rate "$(python3 -c "print($n / $over_s)")" --subscribe-from "$n")
    else
        count="$n"; concurrency="$n"; load_args=()
    fi
    OPENAI_BASE_URL="$(cat "$dir/llm.url")" WORKER_CONCURRENCY="$concurrency" "$bin/syllabus" worker 2> "$dir/worker.log" & worker=$!; pids+=($worker)
    for _ in $(seq 200); do grep -q '"workers started"' "$dir/worker.log" 2>/dev/null && break; kill -0 "$worker" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$worker" 2>/dev/null || { echo "error: the worker did not start at $n:" >&2; tail -n 5 "$dir/worker.log" >&2; exit 1; }

    db -o /dev/null -c "SELECT pg_stat_statements_reset(), pg_stat_reset()"
    x0="$(db -At -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'syllabus'")"
    start="$(date +%s.%N)"; w0="$(cpu_of "$worker")"; g0="$(cpu_pg)"; s0="$(cpu_of "$serve")"; l0="$(cpu_of "$llm")"
    sampler "$worker" > "$dir/samples.tsv" & sampler_pid=$!; pids+=($sampler_pid)
    python3 scripts/bench-inflight.py load --api "127.0.0.1:$http_port" --tokens "$tmp/tokens.txt" \
        --n "$count" --level "$n" --subscribe "$subscribe" "${load_args[@]}" --timeout "$level_timeout" --dir "$dir" & client=$!; pids+=($client)
    deadline=$(( $(date +%s) + level_timeout ))
    until [[ -e "$dir/created" ]] || ! kill -0 "$client" 2>/dev/null; do sleep 0.1; done
    while [[ "$(left)" != 0 ]]; do
        (( $(date +%s) < deadline )) || { echo "warning: jobs still pending or processing after ${level_timeout} s at $n" >&2; break; }
        kill -0 "$worker" 2>/dev/null || { echo "error: the worker exited at $n:" >&2; tail -n 5 "$dir/worker.log" >&2; break; }
        sleep 0.1
    done
    end="$(date +%s.%N)"; w1="$(cpu_of "$worker" 2>/dev/null || echo "$w0")"; g1="$(cpu_pg)"; s1="$(cpu_of "$serve")"; l1="$(cpu_of "$llm")"
    hwm="$(awk '/^VmHWM/ {print $2}' "/proc/$worker/status" 2>/dev/null || echo 0)"
    x1="$(db -At -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'syllabus'")"
    # The application's statements only (its role), BEGIN and COMMIT included.
    db -At -F $'\t' -c "SELECT calls, left(regexp_replace(query, '\s+', ' ', 'g'), 160) FROM pg_stat_statements
        WHERE userid = 'syllabus_app'::regrole ORDER BY calls DESC" > "$dir/statements.tsv"
    statements="$(awk -F '\t' '{s += $1} END {print s + 0}' "$dir/statements.tsv")"
    heartbeats="$(db -At -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
        WHERE userid = 'syllabus_app'::regrole AND query LIKE '$heartbeat_sql'")"
    wait "$client" || echo "warning: the client failed at $n" >&2
    kill "$sampler_pid" 2>/dev/null || true
    kill -TERM "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true
    kill "$llm" 2>/dev/null || true; wait "$llm" 2>/dev/null || true
    db -At -F $'\t' -c "SELECT id, plan_id, status, attempts FROM jobs" > "$dir/jobs.tsv"
    cat > "$dir/run.env" <<EOF
level=$n
window_s=$(python3 -c "print($end - $start)")
ready=$(db -At -c "SELECT count(DISTINCT plan_id) FROM generation_attempts WHERE status = 'success'")
failed_attempts=$(db -At -c "SELECT count(*) FROM generation_attempts WHERE status <> 'success'")
worker_cpu_s=$(python3 -c "print($w1 - $w0)")
pg_cpu_s=$(python3 -c "print($g1 - $g0)")
serve_cpu_s=$(python3 -c "print($s1 - $s0)")
llm_cpu_s=$(python3 -c "print($l1 - $l0)")
worker_hwm_kb=${hwm:-0}
statements=$statements
heartbeat_statements=$heartbeats
xact_commit=$((x1 - x0))
EOF
    python3 scripts/bench-inflight.py report --dir "$dir" | tee -a "$results" >&2
done

echo
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)), $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM; modules $modules over $over, $chunks chunk(s) per module; $subscribe event streams per level; arrival $arrival"
python3 scripts/bench-inflight.py table "$results"
echo
echo "the application's top statements by calls at the last level:"
head -n 8 "$dir/statements.tsv"
