#!/usr/bin/env bash
# The plan list against a table full of another user's plans (issue #10: lists scanned the
# whole table). A throwaway cluster, the migrations, OTHER plans for bob and one for alice; then
# alice's first page as a non-superuser role under row-level security, in the app's kind of
# transaction (transaction-local syllabus.user_id), with the list's SQL before the fix (no
# user_id predicate: RLS's `OR scope = 'system'` keeps user_id out of the index condition) and
# after it (p.user_id = $1, served by plans (user_id, id DESC)). Prints the median and p95
# execution time of 41 runs of each. Since issue #20 every plan of a page also carries its
# progress: every other plan has a module, a task and a completed progress row, alice has 500 plans
# of 20 tasks each (10,000 tasks, half completed), and the summary's statement
# (crates/syllabus-store/src/sql/progress.rs, PROGRESS_SQL) is timed over her first page's plans.
#
#   scripts/bench-lists.sh [OTHER_PLANS]      (default 300000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-lib.sh
other="${1:-300000}"

pg_require_bindir
trap 'pg_throwaway_cleanup' EXIT
pg_throwaway syllabus-bench-lists
psqlbin="$PG_BINDIR/psql"; [[ -x "$psqlbin" ]] || psqlbin="$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)"
psql=("$psqlbin" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
for m in migrations/*/up.sql; do "${psql[@]}" -f "$m" >/dev/null; done
"${psql[@]}" <<SQL >/dev/null
CREATE ROLE bench LOGIN NOSUPERUSER NOBYPASSRLS;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO bench;
INSERT INTO users (id) VALUES ('alice'), ('bob');
INSERT INTO plans (id, user_id, topic, topic_truncated, topic_original_length, skill_level, weekly_hours, learning_style)
  SELECT gen_random_uuid(), 'bob', 'Topic ' || g, false, 10, 'beginner', 5, 'practice'
  FROM generate_series(1, $other) AS g;
INSERT INTO plans (id, user_id, topic, topic_truncated, topic_original_length, skill_level, weekly_hours, learning_style)
  VALUES (gen_random_uuid(), 'alice', 'Alice topic', false, 11, 'beginner', 5, 'practice');
-- Every other plan: one module, one task, completed.
INSERT INTO modules (id, plan_id, user_id, position, title, estimated_minutes)
  SELECT gen_random_uuid(), id, user_id, 1, 'Module', 60 FROM plans WHERE user_id = 'bob';
INSERT INTO tasks (id, module_id, user_id, position, title, estimated_minutes)
  SELECT gen_random_uuid(), id, user_id, 1, 'Task', 30 FROM modules WHERE user_id = 'bob';
INSERT INTO task_progress (task_id, plan_id, user_id, status, completed_at)
  SELECT t.id, m.plan_id, t.user_id, 'completed', now() FROM tasks t JOIN modules m ON m.id = t.module_id
  WHERE t.user_id = 'bob';
-- Alice: 500 more plans of one module with 20 tasks (10,000 tasks), every other task completed.
INSERT INTO plans (id, user_id, topic, topic_truncated, topic_original_length, skill_level, weekly_hours, learning_style)
  SELECT gen_random_uuid(), 'alice', 'Alice topic ' || g, false, 14, 'beginner', 5, 'practice'
  FROM generate_series(1, 500) AS g;
INSERT INTO modules (id, plan_id, user_id, position, title, estimated_minutes)
  SELECT gen_random_uuid(), id, user_id, 1, 'Module', 400 FROM plans WHERE user_id = 'alice';
INSERT INTO tasks (id, module_id, user_id, position, title, estimated_minutes)
  SELECT gen_random_uuid(), m.id, m.user_id, g, 'Task ' || g, 20
  FROM modules m, generate_series(1, 20) AS g WHERE m.user_id = 'alice';
INSERT INTO task_progress (task_id, plan_id, user_id, status, completed_at)
  SELECT t.id, m.plan_id, t.user_id, 'completed', now() FROM tasks t JOIN modules m ON m.id = t.module_id
  WHERE t.user_id = 'alice' AND t.position % 2 = 0;
VACUUM ANALYZE;
SQL

PSQL="$psqlbin" PG_PORT="$PG_PORT" OTHER="$other" python3 - <<'PY'
import json, os, statistics, subprocess
psql = [os.environ["PSQL"], "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
        "-h", "127.0.0.1", "-p", os.environ["PG_PORT"], "-U", "bench", "-d", "postgres"]
# The list's statement as the store builds it (crates/syllabus-store/src/plans.rs), first page,
# no status filter, without and with its own user_id predicate.
columns = """p.id, p.topic, p.created_at,
  EXISTS (SELECT 1 FROM modules m WHERE m.plan_id = p.id) AS has_modules,
  (SELECT count(*) FROM generation_attempts a WHERE a.plan_id = p.id AND a.number IS NOT NULL
     AND a.status = 'failure') AS failed_attempts"""
def query(own_predicate):
    where = "p.user_id = 'alice' AND " if own_predicate else ""
    return (f"SELECT * FROM (SELECT {columns} FROM plans p WHERE {where}(NULL::uuid IS NULL OR p.id < NULL)) AS x "
            "ORDER BY x.id DESC LIMIT 21")
def run(q, n=41):
    script = "".join(
        "BEGIN; SELECT set_config('syllabus.user_id', 'alice', true) \\g /dev/null\n"
        f"EXPLAIN (ANALYZE, FORMAT JSON) {q};\nCOMMIT;\n" for _ in range(n))
    out = subprocess.run(psql, input=script, capture_output=True, text=True, check=True).stdout
    times, rows = [], None
    dec = json.JSONDecoder()
    i = out.find("[")
    while i != -1:
        doc, end = dec.raw_decode(out, i)
        times.append(doc[0]["Execution Time"])
        rows = doc[0]["Plan"].get("Actual Rows")
        i = out.find("[", end)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], rows
for label, own in (("before (RLS only)", False), ("after (user_id predicate)", True)):
    med, p95, rows = run(query(own))
    print(f"{label:28} median {med:8.3f} ms   p95 {p95:8.3f} ms   rows {rows}   other plans {os.environ['OTHER']}")
# The progress summary of alice's first page (20 plans), as the store runs it after the page.
src = open("crates/syllabus-store/src/sql/progress.rs").read()
progress_sql = src.split('PROGRESS_SQL: &str = "', 1)[1].split('";', 1)[0]
ids = subprocess.run(psql, input="BEGIN; SELECT set_config('syllabus.user_id', 'alice', true) \\g /dev/null\n"
                     "SELECT id FROM plans WHERE user_id = 'alice' ORDER BY id DESC LIMIT 20;\nCOMMIT;\n",
                     capture_output=True, text=True, check=True).stdout.split()
array = "ARRAY[" + ",".join(f"'{i}'" for i in ids) + "]::uuid[]"
med, p95, rows = run(progress_sql.replace("$1", array).replace("$2", "'alice'"))
print(f"{'progress of the first page':28} median {med:8.3f} ms   p95 {p95:8.3f} ms   rows {rows}   (alice: 10,000 tasks)")
PY
