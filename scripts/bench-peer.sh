#!/usr/bin/env bash
# The queue's own cost against the best Rust peer (issue #22): apalis-postgres 1.0 and Syllabus's
# job runtime on ONE throwaway PostgreSQL (scripts/pg-lib.sh's: fsync, synchronous_commit and
# full_page_writes off; pg_stat_statements loaded), in the same run, ROUNDS (default 3) rounds,
# each round running in turn:
#   1. apalis-postgres (benches/peer-apalis: default config, one worker, LISTEN/NOTIFY wake-up,
#      a no-op handler), on its own database `peer` as the superuser:
#      - burn-down: JOBS (default 10,000) due tasks pushed at once, then the worker started;
#        jobs/s until every task is `Done` in the table;
#      - pick-up: PICKUPS (default 1,000) tasks pushed one at a time, 10 ms apart, into the idle
#        worker's queue; enqueue (the client's clock before the push) → handler start;
#   2. Syllabus (crates/syllabus-jobs/benches/queue_noop.rs: the real runtime, a handler that
#      only ends its run, fenced), on database `syllabus` as the application role (row-level
#      security applies, as in production):
#      - burn-down: JOBS due jobs inserted at once, then the runtime at each WORKER_CONCURRENCY
#        of LEVELS (default "8 64 256"), as scripts/bench-queue.sh;
#      - pick-up: PICKUPS jobs inserted one per transaction, 10 ms apart (psql, as
#        scripts/bench-jobs.sh does), into the idle runtime (WORKER_CONCURRENCY=8); the job row's
#        `created_at` (the inserting transaction's start) → handler start.
# Each figure is printed with the 1-minute load average before it (the machine has 2 cores).
# STATEMENTS=1 also prints, after Syllabus's burn-down at the first level, the statements the
# application role ran per job (pg_stat_statements calls, BEGIN/COMMIT included), as
# scripts/bench-inflight.sh reads them.
# Needs the PostgreSQL binaries (as scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-lib.sh # the pinned Rust (rust-toolchain.toml)
source scripts/bench-lib.sh
rounds="${ROUNDS:-3}"
jobs="${JOBS:-10000}"
pickups="${PICKUPS:-1000}"
levels="${LEVELS:-8 64 256}"

pg_require_bindir
export CARGO_INCREMENTAL=0
cargo bench --quiet -p syllabus-jobs --bench queue_noop --no-run
cargo build --quiet --release -p syllabus-bench-apalis
peer="target/release/syllabus-bench-apalis"
pids=()
trap bench_cleanup EXIT
export PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=1000"
pg_throwaway syllabus-bench-peer
pg_app_database "$PG_PORT" syllabus
tmp="$PG_TMP"
port="$PG_PORT"
tools="$(dirname "$(readlink -f "$PG_BINDIR/pg_ctl")")"
export BENCH_CLK_TCK="$(getconf CLK_TCK)" RUST_LOG=warn
peer_url="postgres://postgres@127.0.0.1:$port/peer"
"$tools/psql" -qX -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE peer"
noop() { cargo bench --quiet -p syllabus-jobs --bench queue_noop; }
load() { cut -d' ' -f1 /proc/loadavg; }

BENCH_JOBS=0 noop # migrations only
psql -c "CREATE EXTENSION pg_stat_statements"
psql -c "INSERT INTO users (id) VALUES ('bench')"
fresh_jobs() {
    psql -c "DELETE FROM jobs"
    psql -c "INSERT INTO jobs (id, user_id, job_type, payload, max_attempts)
             SELECT gen_random_uuid(), 'bench', 'skill_tree', '{}', 3 FROM generate_series(1, $jobs)"
    psql -c "VACUUM (ANALYZE) jobs"
}
statements() { # the application role's statements per job since the last reset
    psql -At -F ' | ' -c "
        SELECT round(s.calls::numeric / $1, 3), round(s.total_exec_time::numeric * 1000 / $1, 1) || ' µs',
               regexp_replace(left(s.query, 110), '\s+', ' ', 'g')
        FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
        WHERE r.rolname = '$PG_APP_ROLE' ORDER BY s.calls DESC, s.total_exec_time DESC LIMIT 25"
    psql -At -c "
        SELECT 'total: ' || round(sum(s.calls)::numeric / $1, 2) || ' statements/job, '
               || round(sum(s.total_exec_time)::numeric * 1000 / $1, 1) || ' µs executing/job'
        FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
        WHERE r.rolname = '$PG_APP_ROLE'"
}
python3 - "$pickups" > "$tmp/pickups.sql" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print("INSERT INTO jobs (id, user_id, job_type, payload, max_attempts) "
          "VALUES (gen_random_uuid(), 'bench', 'skill_tree', '{}', 3);")
    print("SELECT pg_sleep(0.01);")
PY

for round in $(seq "$rounds"); do
    echo "== round $round of $rounds"
    echo "-- apalis-postgres 1.0 (load $(load))"
    DATABASE_URL="$peer_url" BENCH_MODE=burn BENCH_JOBS="$jobs" "$peer"
    echo "   (load $(load))"
    DATABASE_URL="$peer_url" BENCH_MODE=pickup BENCH_PICKUPS="$pickups" "$peer"
    echo "-- Syllabus queue_noop (load $(load))"
    first=1
    for c in $levels; do
        fresh_jobs
        [[ -n "${STATEMENTS:-}" && -n "$first" ]] && psql -q -c "SELECT pg_stat_statements_reset()" >/dev/null
        WORKER_CONCURRENCY="$c" BENCH_JOBS="$jobs" noop
        if [[ -n "${STATEMENTS:-}" && -n "$first" ]]; then
            echo "   statements per job (calls/job | execution µs/job | statement):"
            statements "$jobs" | sed 's/^/   /'
        fi
        first=
        echo "   (load $(load))"
    done
    psql -c "DELETE FROM jobs"
    psql -c "VACUUM (ANALYZE) jobs"
    WORKER_CONCURRENCY=8 BENCH_JOBS="$pickups" BENCH_PICKUP=1 noop & runtime=$!; pids+=($runtime)
    sleep 2 # its LISTEN is in place
    psql -o /dev/null -f "$tmp/pickups.sql"
    wait "$runtime"
    echo "   (load $(load))"
done
