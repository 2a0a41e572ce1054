#!/usr/bin/env bash
# Webhook delivery benchmark (issue #23), against a throwaway PostgreSQL, the fake provider
# (`fake-llm skill_tree`, which answers at once) and a receiver on 127.0.0.1 (a threaded Python
# HTTP server answering 204, recording when each request arrived):
#   USERS (default 100) users, each with one endpoint subscribed to `job.completed` at the
#   receiver; JOBS (default 2,000) skill_tree jobs over their plans inserted at once; then one
#   `syllabus worker` (WORKER_CONCURRENCY, default 32, WEBHOOK_ALLOW_LOOPBACK=true) works them:
#   each job's end queues its delivery in the same transaction, and the same runtime sends it.
# Reports deliveries per second (first to last receipt) and event → receipt latency (the
# event's `timestamp`, the job-ending transaction's time, to the receiver's clock: one machine).
# Needs the PostgreSQL binaries (as scripts/test.sh). Sends nothing beyond 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
users="${USERS:-100}"
jobs="${JOBS:-2000}"
concurrency="${WORKER_CONCURRENCY:-32}"

bench_setup syllabus-bench-webhooks skill_tree
"$bin/syllabus" migrate 2>/dev/null

# The receiver: one line per request, `arrival_unix_seconds event_timestamp`.
python3 - "$tmp/receiver.port" > "$tmp/received.txt" <<'PY' &
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        at = time.time()
        event = json.loads(body).get("timestamp", "")
        self.send_response(204)
        self.end_headers()
        sys.stdout.write(f"{at:.6f} {event}\n")
        sys.stdout.flush()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
server.daemon_threads = True
open(sys.argv[1], "w").write(str(server.server_address[1]))
server.serve_forever()
PY
pids+=($!)
for _ in $(seq 100); do [[ -s "$tmp/receiver.port" ]] && break; sleep 0.05; done
hook="http://127.0.0.1:$(cat "$tmp/receiver.port")/hook"

# Users, their plans (10 each) and one endpoint each (as the superuser: set-up bypasses
# row-level security). The secret is a fixed test value: the receiver does not verify.
psql <<SQL
INSERT INTO users (id) SELECT 'bench-' || u FROM generate_series(1, $users) u;
INSERT INTO plans (id, user_id, topic, topic_truncated, topic_original_length, skill_level, weekly_hours, learning_style)
SELECT gen_random_uuid(), 'bench-' || (p % $users + 1), 'Benchmark topic ' || p, false, 18, 'beginner', 5, 'practice'
FROM generate_series(1, $users * 10) p;
INSERT INTO webhook_endpoints (id, user_id, url, secret, events)
SELECT gen_random_uuid(), 'bench-' || u, '$hook', 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
       ARRAY['job.completed']
FROM generate_series(1, $users) u;
INSERT INTO jobs (id, user_id, job_type, plan_id, payload, max_attempts)
SELECT gen_random_uuid(), p.user_id, 'skill_tree', p.id, json_build_object('plan_id', p.id), 3
FROM generate_series(1, $jobs) g
JOIN (SELECT id, user_id, row_number() OVER () AS n FROM plans) p ON p.n = g % ($users * 10) + 1;
SQL

start="$(date +%s.%N)"; g0="$(cpu_pg)"
WEBHOOK_ALLOW_LOOPBACK=true WORKER_CONCURRENCY="$concurrency" "$bin/syllabus" worker \
    2> "$tmp/worker.log" & worker=$!; pids+=($worker)
while [[ "$(wc -l < "$tmp/received.txt")" -lt "$jobs" ]]; do
    kill -0 "$worker" 2>/dev/null || { echo "error: the worker exited" >&2; tail -n 5 "$tmp/worker.log" >&2; exit 1; }
    sleep 0.1
done
end="$(date +%s.%N)"; w1="$(cpu_of "$worker")"; g1="$(cpu_pg)"
kill -TERM "$worker"; wait "$worker" || true
failed="$(psql -At -c "SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'")"

python3 - "$tmp/received.txt" "$start" "$end" "$jobs" "$concurrency" "$w1" "$g0" "$g1" "$failed" <<'PY'
import datetime, sys
path, start, end, jobs, workers, w1, g0, g1, failed = sys.argv[1:]
rows = [line.split() for line in open(path) if line.strip()]
arrivals = sorted(float(a) for a, _ in rows)
lat = sorted(
    (float(a) - datetime.datetime.fromisoformat(e.replace("Z", "+00:00")).timestamp()) * 1000
    for a, e in rows
)
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
n = len(rows)
span = arrivals[-1] - arrivals[0]
total = float(end) - float(start)
print(f"{n} deliveries of {jobs} completed jobs (WORKER_CONCURRENCY={workers}); not succeeded: {failed}")
print(f"deliveries/s (first to last receipt): {n / span:.0f}; whole run (worker start to last receipt, "
      f"jobs and deliveries together): {total:.1f} s")
print(f"event -> receipt: p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, p99 {p(0.99):.0f} ms, max {lat[-1]:.0f} ms")
print(f"CPU ms per job and its delivery: worker {float(w1) * 1000 / n:.2f}, postgres {(float(g1) - float(g0)) * 1000 / n:.2f}")
PY
