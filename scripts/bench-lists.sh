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
# Since issue #24 the due list: OTHER_CARDS flashcards of 100 other users (bob and 99 more, 10
# plans of OTHER_CARDS/1000 cards each), every one with a review state, 60% of them due; alice has
# ALICE_CARDS cards over 6 of her plans, one in NEW_EVERY never reviewed (so due from its
# creation), the others reviewed, half of them due. GET /reviews/due's statement
# (crates/syllabus-store/src/sql/study.rs, due_page_query, read from the source) is timed for
# alice's first page and the cursor's second, without and with plan_id, and GET /reviews/due/count's
# (due_count_query), each as a prepared statement with the store's parameter types and a custom
# plan (the store sends them unnamed, so PostgreSQL plans them with the values), and EXPLAINed once.
#
#   scripts/bench-lists.sh [OTHER_PLANS] [OTHER_CARDS] [ALICE_CARDS] [NEW_EVERY]
#                                                       (defaults 300000, 100000, 300, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-lib.sh
other="${1:-300000}"
cards="${2:-100000}"
alice_cards="${3:-300}"
new_every="${4:-3}"

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
-- Issue #24: other users' reviewed cards, 60% due (up to 30 days overdue), the rest due within
-- 60 days; each user's cards created over the last 180 days.
INSERT INTO users (id) SELECT 'other' || g FROM generate_series(1, 99) AS g;
CREATE TEMP TABLE card_owners AS
  SELECT u AS user_id, gen_random_uuid() AS plan_id
  FROM (SELECT 'bob' AS u UNION ALL SELECT 'other' || g FROM generate_series(1, 99) AS g) AS us,
       generate_series(1, 10);
INSERT INTO plans (id, user_id, topic, topic_truncated, topic_original_length, skill_level, weekly_hours, learning_style)
  SELECT plan_id, user_id, 'Cards', false, 5, 'beginner', 5, 'practice' FROM card_owners;
INSERT INTO flashcards (id, plan_id, user_id, job_id, question, answer, created_at)
  SELECT gen_random_uuid(), o.plan_id, o.user_id, o.plan_id, 'Question ' || g, 'Answer ' || g,
         now() - interval '180 days' * random()
  FROM card_owners o, generate_series(1, GREATEST($cards / 1000, 1)) AS g;
INSERT INTO card_reviews_state (flashcard_id, plan_id, user_id, stability, difficulty, due_at, reps, lapses, last_review_at)
  SELECT id, plan_id, user_id, 5, 5, due, 3, 1, LEAST(due, now()) - interval '4 days'
  FROM (SELECT f.*, CASE WHEN random() < 0.6 THEN now() - interval '30 days' * random()
                         ELSE now() + interval '1 minute' + interval '60 days' * random() END AS due
        FROM flashcards f WHERE user_id <> 'alice') AS f;
-- Alice: ALICE_CARDS cards over 6 of her plans, created over the last 60 days: one in NEW_EVERY
-- never reviewed; of the others half due (up to 10 days overdue), half due within 30 days.
INSERT INTO flashcards (id, plan_id, user_id, job_id, question, answer, created_at)
  SELECT gen_random_uuid(), p.id, 'alice', p.id, 'Question ' || g, 'Answer ' || g,
         now() - interval '60 days' * random()
  FROM (SELECT id FROM plans WHERE user_id = 'alice' ORDER BY id LIMIT 6) AS p,
       generate_series(1, GREATEST($alice_cards / 6, 1)) AS g;
INSERT INTO card_reviews_state (flashcard_id, plan_id, user_id, stability, difficulty, due_at, reps, lapses, last_review_at)
  SELECT id, plan_id, user_id, 5, 5, due, 2, 0, LEAST(due, now()) - interval '3 days'
  FROM (SELECT f.*, CASE WHEN n % 2 = 1 THEN now() - interval '10 days' * random()
                         ELSE now() + interval '1 minute' + interval '30 days' * random() END AS due
        FROM (SELECT f.*, row_number() OVER (ORDER BY f.id) AS n FROM flashcards f
              WHERE user_id = 'alice') AS f
        WHERE n % $new_every <> 0) AS f;
VACUUM ANALYZE;
SQL

PSQL="$psqlbin" PG_PORT="$PG_PORT" OTHER="$other" CARDS="$cards" python3 - <<'PY'
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
def run(q, n=41, prelude=""):
    script = prelude + "".join(
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

# Issue #24: GET /reviews/due and its count. The statements are read from the store's source
# (due_page_query, due_count_query and scope of crates/syllabus-store/src/sql/study.rs), so the
# benchmark follows them; a change of their shape there fails here loudly.
import re
src = open("crates/syllabus-store/src/sql/study.rs").read()
def between(text, start, end):
    assert start in text, f"sql/study.rs changed: {start!r} not found"
    return text.split(start, 1)[1].split(end, 1)[0]
scope_plan, scope_user = re.findall(r'format!\("([^"]*)"\)', between(src, "fn scope(", "\n}\n"))
page_src = between(src, "pub(crate) fn due_page_query(", "\n}\n")
with_cursor, without_cursor = [re.findall(r'"([^"]*)"', part) for part in
                               between(page_src, "if after.is_some() {", "};").split("} else {")]
sql_start, sql_end = 'diesel::sql_query(format!(\n        "', '"\n    ))'
page_sql = between(page_src, sql_start, sql_end)
count_sql = between(between(src, "pub(crate) fn due_count_query(", "\n}\n"), sql_start, sql_end)
def scoped(sql, plan):
    s = scope_plan if plan else scope_user
    return sql.replace("{s}", s.replace("{alias}", "s")).replace("{f}", s.replace("{alias}", "f"))
def page(plan, cursor):
    cs, cf = with_cursor if cursor else without_cursor
    return scoped(page_sql, plan).replace("{cs}", cs).replace("{cf}", cf)
assert "{" not in page(True, True) + scoped(count_sql, True), "sql/study.rs changed: a placeholder is left"
# Each statement is prepared with the store's bind types ($1 text user, $2 uuid plan, $3
# timestamptz now, $4/$5 the cursor's timestamptz and uuid, $6 bigint rows: the page size + 1, the
# API's default page being 20) and planned with its values, like the store's unnamed statements.
def prepare(name, sql, types):
    return f"SET plan_cache_mode = force_custom_plan;\nPREPARE {name}({types}) AS {sql};\n"
due_types, count_types = "text, uuid, timestamptz, timestamptz, uuid, bigint", "text, uuid, timestamptz"
def as_alice(prelude, statement):
    return subprocess.run(psql, input=prelude + "BEGIN; SELECT set_config('syllabus.user_id', 'alice', true) \\g /dev/null\n"
                          f"{statement};\nCOMMIT;\n", capture_output=True, text=True, check=True).stdout.splitlines()
now = "'" + as_alice("", "SELECT now()")[0] + "'::timestamptz"
plan = "'" + as_alice("", "SELECT plan_id FROM flashcards ORDER BY created_at LIMIT 1")[0] + "'::uuid"
cards, new, due = as_alice("", "SELECT count(*), count(*) FILTER (WHERE s.flashcard_id IS NULL), "
                           "count(*) FILTER (WHERE s.due_at <= now()) FROM flashcards f "
                           "LEFT JOIN card_reviews_state s ON s.flashcard_id = f.id")[0].split("|")
print(f"alice: {cards} cards ({new} never reviewed, {due} reviewed and due); others' reviewed cards: {os.environ['CARDS']}")
def shape(plan_json):
    """The plan in one line: each node, a scan's index (or table) with the rows it read (returned
    + filtered out, over all its loops); and the total rows the scans read."""
    total = 0
    def walk(n):
        nonlocal total
        name = n["Node Type"] + (f" {n['Join Type']}" if n.get("Join Type", "Inner") != "Inner" else "")
        if "Relation Name" in n or "Index Name" in n:
            loops = n.get("Actual Loops", 1)
            read = (n.get("Actual Rows", 0) + n.get("Rows Removed by Filter", 0)) * loops
            # A bitmap's heap scan reads the rows its index scan found: counted once.
            total += 0 if n["Node Type"] == "Bitmap Index Scan" else read
            name += f" {n.get('Index Name', n.get('Relation Name'))} [{read}{f' in {loops} loops' if loops > 1 else ''}]"
        kids = [walk(c) for c in n.get("Plans", [])]
        return name + (f"({', '.join(kids)})" if kids else "")
    line = walk(plan_json)
    return total, line
def explain(prelude, execute):
    doc = json.loads("".join(as_alice(prelude, f"EXPLAIN (ANALYZE, FORMAT JSON) {execute}")))
    return shape(doc[0]["Plan"])
for plan_arg, label in (("NULL", "GET /reviews/due"), (plan, "GET /reviews/due?plan_id=")):
    first = prepare("due", page(plan_arg != "NULL", False), due_types)
    page1 = f"EXECUTE due('alice', {plan_arg}, {now}, NULL, NULL, 21)"
    runs = [(label, first, page1)]
    rows = as_alice(first, page1)
    if len(rows) > 20:  # a second page: after the first page's 20th row, as the store's cursor
        last_id, last_due = rows[19].split("|")
        second = prepare("due", page(plan_arg != "NULL", True), due_types)
        page2 = f"EXECUTE due('alice', {plan_arg}, {now}, '{last_due}'::timestamptz, '{last_id}'::uuid, 21)"
        runs.append((label + " page 2", second, page2))
    for what, prelude, execute in runs:
        med, p95, n = run(execute, prelude=prelude)
        read, detail = explain(prelude, execute)
        print(f"{what:28} median {med:8.3f} ms   p95 {p95:8.3f} ms   rows {n}   rows read {read}: {detail}")
for plan_arg, label in (("NULL", "GET /reviews/due/count"), (plan, "GET /reviews/due/count?plan_id=")):
    prelude = prepare("n", scoped(count_sql, plan_arg != "NULL"), count_types)
    execute = f"EXECUTE n('alice', {plan_arg}, {now})"
    med, p95, _ = run(execute, prelude=prelude)
    n = as_alice(prelude, execute)[0]
    read, detail = explain(prelude, execute)
    print(f"{label:28} median {med:8.3f} ms   p95 {p95:8.3f} ms   count {n}   rows read {read}: {detail}")
PY
