#!/usr/bin/env bash
# Queue-only benchmark (issue #11): the job runtime's own cost per job, against a bare-SQL floor
# on the same machine and the same throwaway PostgreSQL.
#   1. no-op burn-down: JOBS (default 10,000) due jobs inserted at once, then worked by the real
#      `Runtime` (batch claims, leases, the batched heartbeat, NOTIFY wake-ups, fenced finishes)
#      whose handler does nothing but end the run (`crates/syllabus-jobs/benches/queue_noop.rs`,
#      compiled only into that bench), at each WORKER_CONCURRENCY of LEVELS (default "8 64 256");
#   2. the floor: pgbench running the same claim (`LIMIT 1 FOR UPDATE SKIP LOCKED`, same order)
#      and the same fenced completion, as two transactions per job, with FLOOR_CLIENTS (default
#      "8 64") connections.
# Prints jobs/s, µs of worker (or pgbench) CPU per job and µs of PostgreSQL CPU per job.
# Each burn-down ends within BENCH_DEADLINE_S (default 300) or fails printing the jobs table's
# counts by status (a lost count shows as all jobs completed; a stuck queue as jobs left pending).
# Needs the PostgreSQL binaries (as scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-lib.sh # the pinned Rust (rust-toolchain.toml)
source scripts/bench-lib.sh
jobs="${JOBS:-10000}"
levels="${LEVELS:-8 64 256}"
floor_clients="${FLOOR_CLIENTS:-8 64}"

pg_require_bindir
cargo bench --quiet -p syllabus-jobs --bench queue_noop --no-run
pids=()
trap bench_cleanup EXIT
pg_throwaway syllabus-bench-queue
pg_app_database "$PG_PORT" syllabus
tmp="$PG_TMP"
port="$PG_PORT"
tools="$(dirname "$(readlink -f "$PG_BINDIR/pg_ctl")")"
export BENCH_CLK_TCK="$(getconf CLK_TCK)" RUST_LOG=warn
noop() { cargo bench --quiet -p syllabus-jobs --bench queue_noop; }

BENCH_JOBS=0 noop # migrations only
psql -c "INSERT INTO users (id) VALUES ('bench')"
fresh_jobs() {
    psql -c "DELETE FROM jobs"
    psql -c "INSERT INTO jobs (id, user_id, job_type, payload, max_attempts)
             SELECT gen_random_uuid(), 'bench', 'skill_tree', '{}', 3 FROM generate_series(1, $jobs)"
    psql -c "VACUUM (ANALYZE) jobs"
}
# CPU seconds of this cluster: its live processes, plus the postmaster's exited children (the
# backends of connections already closed, which cpu_pg would miss), not other clusters'.
cpu_cluster() {
    local pm
    pm="$(head -1 "$tmp/data/postmaster.pid")"
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v t="$(getconf CLK_TCK)" -v pm="$pm" '
        $1 == pm {s += $14 + $15 + $16 + $17} $4 == pm && $1 != pm {s += $14 + $15} END {print s / t}'
}
completed() { psql -At -c "SELECT count(*) FROM jobs WHERE status = 'completed'"; }
per_job() { python3 -c "print(f'{($2 - $1) * 1e6 / $3:.0f}')"; }

echo "== no-op handler in the real runtime, $jobs jobs"
for c in $levels; do
    fresh_jobs
    g0="$(cpu_cluster)"
    WORKER_CONCURRENCY="$c" BENCH_JOBS="$jobs" noop
    g1="$(cpu_cluster)"
    n="$(completed)"
    echo "   completed $n; PostgreSQL CPU $(per_job "$g0" "$g1" "$n") µs/job"
done

echo "== bare SQL floor (pgbench: claim + fenced completion, two transactions per job), $jobs jobs"
cat > "$tmp/floor.sql" <<'SQL'
BEGIN;
WITH next AS (
    SELECT id FROM jobs WHERE status = 'pending' AND run_at <= now()
    ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
UPDATE jobs j SET status = 'processing', lease_token = gen_random_uuid(), locked_by = 'floor',
       heartbeat_at = now(), attempts = j.attempts + 1,
       started_at = coalesce(j.started_at, now()), updated_at = now()
FROM next WHERE j.id = next.id RETURNING j.id AS id, j.lease_token AS token \gset
COMMIT;
BEGIN;
UPDATE jobs SET status = 'completed', result = '{}', lease_token = NULL, locked_by = NULL,
       heartbeat_at = NULL, updated_at = now(), completed_at = now()
WHERE id = :id AND lease_token = :token AND status = 'processing';
COMMIT;
SQL
for c in $floor_clients; do
    fresh_jobs
    g0="$(cpu_cluster)"
    TIMEFORMAT="%R %U %S"
    { time "$tools/pgbench" -n -M extended -f "$tmp/floor.sql" -c "$c" -j 2 -t $((jobs / c)) \
        -h 127.0.0.1 -p "$port" -U postgres syllabus > "$tmp/pgbench-$c.log" 2>&1; } 2> "$tmp/time-$c"
    g1="$(cpu_cluster)"
    n="$(completed)"
    read -r real user sys < "$tmp/time-$c"
    tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$tmp/pgbench-$c.log" | head -1)"
    python3 -c "print(f'pgbench, {$c} clients: {$n} jobs in {$real:.2f} s = {$n / $real:.0f} jobs/s (pgbench tps {$tps:.0f}); pgbench CPU {($user + $sys) * 1e6 / $n:.0f} µs/job')"
    echo "   PostgreSQL CPU $(per_job "$g0" "$g1" "$n") µs/job"
done
