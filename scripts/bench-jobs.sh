#!/usr/bin/env bash
# Job runtime benchmark (issue #5), against a throwaway PostgreSQL and the fake provider
# (`fake-llm skill_tree`, which answers at once):
#   1. pick-up latency: PICKUPS (default 1,000) skill_tree jobs inserted one per transaction,
#      10 ms apart, into an idle queue worked by one `syllabus worker` (8 workers); the worker logs
#      each job's `since_created_ms` (job row creation → handler start);
#   2. burn-down: JOBS (default 10,000) skill_tree jobs over 1,000 plans inserted at once, then
#      one `syllabus worker` with WORKER_CONCURRENCY=8 and then 32 works them; the time until none
#      is pending or processing gives the throughput.
# Needs the PostgreSQL binaries (as scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
pickups="${PICKUPS:-1000}"
jobs="${JOBS:-10000}"

bench_setup syllabus-bench-jobs skill_tree
export JOB_BACKOFF_BASE_MS=100
"$bin/syllabus" migrate 2>/dev/null

# 1,000 plans of 100 users (as the superuser: setup bypasses row-level security).
psql <<'SQL'
INSERT INTO users (id) SELECT 'bench-' || u FROM generate_series(1, 100) u;
INSERT INTO plans (id, user_id, topic, topic_truncated, topic_original_length, skill_level, weekly_hours, learning_style)
SELECT gen_random_uuid(), 'bench-' || (p % 100 + 1), 'Benchmark topic ' || p, false, 18, 'beginner', 5, 'practice'
FROM generate_series(1, 1000) p;
SQL
insert_jobs() { # N: skill_tree jobs spread over the plans, all due now
    psql -c "INSERT INTO jobs (id, user_id, job_type, plan_id, payload, max_attempts)
             SELECT gen_random_uuid(), p.user_id, 'skill_tree', p.id, json_build_object('plan_id', p.id), 3
             FROM generate_series(1, $1) g
             JOIN (SELECT id, user_id, row_number() OVER () AS n FROM plans) p ON p.n = g % 1000 + 1"
}
left() { psql -At -c "SELECT count(*) FROM jobs WHERE status IN ('pending', 'processing')"; }

# 1. Pick-up latency on an idle queue.
WORKER_CONCURRENCY=8 "$bin/syllabus" worker 2> "$tmp/pickup.log" & worker=$!; pids+=($worker)
sleep 1
python3 - "$pickups" > "$tmp/pickups.sql" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print("INSERT INTO jobs (id, user_id, job_type, plan_id, payload, max_attempts) "
          f"SELECT gen_random_uuid(), user_id, 'skill_tree', id, json_build_object('plan_id', id), 3 FROM plans OFFSET {i % 1000} LIMIT 1;")
    print("SELECT pg_sleep(0.01);")
PY
psql -o /dev/null -f "$tmp/pickups.sql"
while [[ "$(left)" != 0 ]]; do sleep 0.2; done
kill -TERM "$worker"; wait "$worker" || true
python3 - "$tmp/pickup.log" <<'PY'
import json, sys
v = sorted(e["since_created_ms"] for e in map(json.loads, filter(lambda l: l.startswith("{"), open(sys.argv[1])))
           if e.get("message") == "job started")
p = lambda q: v[min(len(v) - 1, int(q * len(v)))]
print(f"pick-up latency over {len(v)} jobs: p50 {p(0.5)} ms, p95 {p(0.95)} ms, p99 {p(0.99)} ms, max {v[-1]} ms")
PY

# 2. Burn-down at 8 and 32 workers.
for workers in 8 32; do
    psql -c "DELETE FROM jobs; DELETE FROM skill_trees"
    insert_jobs "$jobs"
    start="$(date +%s.%N)"; l0="$(cpu_of "$llm")"; g0="$(cpu_pg)"
    WORKER_CONCURRENCY="$workers" "$bin/syllabus" worker 2> "$tmp/burn-$workers.log" & worker=$!; pids+=($worker)
    while [[ "$(left)" != 0 ]]; do sleep 0.1; done
    end="$(date +%s.%N)"; w1="$(cpu_of "$worker")"; l1="$(cpu_of "$llm")"; g1="$(cpu_pg)"
    kill -TERM "$worker"; wait "$worker" || true
    completed="$(psql -At -c "SELECT count(*) FROM jobs WHERE status = 'completed'")"
    python3 -c "e = $end - $start; n = $completed; print(f'burn-down, WORKER_CONCURRENCY=$workers: {n} of $jobs jobs completed in {e:.1f} s = {n / e:.0f} jobs/s; CPU ms per job: worker {$w1 * 1000 / n:.2f}, postgres {($g1 - $g0) * 1000 / n:.2f}, fake provider {($l1 - $l0) * 1000 / n:.2f}')"
done
