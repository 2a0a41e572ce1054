//! The store's own queries against a table full of another user's rows: each one reads an index
//! and a handful of rows, whatever the table holds (issue #10: lists scanned the whole table).
//! `EXPLAIN (ANALYZE)` runs the very query values the store builds, in the app's transactions.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Json};
use diesel::{ExpressionMethods, QueryDsl, QueryResult, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use syllabus_domain::{JobType, PlanStatus, UserId};
use syllabus_testkit::TestDb;

use crate::error::StoreError;
use crate::pool::{Database, PoolOptions};
use crate::records::{JobFilter, PlanFilter};
use crate::sql::plan_reads::plans_page_query;
use crate::sql::progress::PROGRESS_SQL;
use crate::sql::study::{due_count_query, due_page_query};
use crate::stores::jobs::{OLDEST_READY_SQL, jobs_page_query};
use crate::stores::queue::{CLAIM_SQL, NEXT_RUN_AT_SQL, PRUNE_SQL};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Rows the other user owns in each big table.
const OTHER_ROWS: i64 = 20_000;
/// The most rows one scan of a big table may read (an index range, never the table).
const MAX_READ: f64 = 200.0;
const BIG_TABLES: [&str; 8] = [
    "plans",
    "flashcards",
    "card_reviews_state",
    "jobs",
    "generation_attempts",
    "modules",
    "tasks",
    "task_progress",
];

/// `EXPLAIN (FORMAT JSON)` of a query, with its binds; `ANALYZE` runs it (reads only).
struct Explain<Q> {
    query: Q,
    analyze: bool,
}

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = Json;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql(if self.analyze {
            "EXPLAIN (ANALYZE, FORMAT JSON) "
        } else {
            "EXPLAIN (FORMAT JSON) "
        });
        self.query.walk_ast(out.reborrow())
    }
}

async fn explain<Q>(
    conn: &mut AsyncPgConnection,
    query: Q,
    analyze: bool,
) -> Result<Value, StoreError>
where
    Q: QueryFragment<Pg> + Send + 'static,
{
    Ok(Explain { query, analyze }.get_result(conn).await?)
}

/// Every scan of a big table in `plan`: its node, as `(table, node type, rows read)`.
fn big_scans(node: &Value, out: &mut Vec<(String, String, f64, Value)>) {
    if let Some(table) = node["Relation Name"].as_str()
        && BIG_TABLES.contains(&table)
    {
        let f = |k: &str| node[k].as_f64().unwrap_or(0.0);
        let read = f("Actual Rows") * f("Actual Loops").max(1.0)
            + f("Rows Removed by Filter")
            + f("Rows Removed by Index Recheck");
        out.push((
            table.to_owned(),
            node["Node Type"].as_str().unwrap_or("").to_owned(),
            read,
            node.clone(),
        ));
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        big_scans(child, out);
    }
}

fn assert_bounded(what: &str, explained: &Value) {
    let plan = &explained[0]["Plan"];
    let mut scans = Vec::new();
    big_scans(plan, &mut scans);
    assert!(!scans.is_empty(), "{what}: no big table in {plan:#}");
    for (table, kind, read, node) in scans {
        assert!(
            !kind.contains("Seq Scan"),
            "{what}: scans all of {table}: {plan:#}"
        );
        assert!(
            read <= MAX_READ,
            "{what}: reads {read} rows of {table} ({node:#})"
        );
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Bob owns `OTHER_ROWS` plans, attempts and jobs (half pending later, half completed), and each
/// plan a module, a task and its progress; alice a few of each.
async fn crowded_database(db: &TestDb) -> TestResult {
    let mut admin = AsyncPgConnection::establish(db.admin_url()).await?;
    for sql in [
        "INSERT INTO users (id) VALUES ('alice'), ('bob')".to_owned(),
        format!(
            "INSERT INTO plans (id, user_id, topic, topic_truncated, topic_original_length,
                                skill_level, weekly_hours, learning_style)
             SELECT gen_random_uuid(), CASE WHEN i <= 3 THEN 'alice' ELSE 'bob' END,
                    'Rust ownership', false, 14, 'beginner', 5, 'practice'
             FROM generate_series(1, {}) AS i",
            OTHER_ROWS + 3
        ),
        "INSERT INTO generation_attempts (id, plan_id, user_id, number, status, classification)
         SELECT gen_random_uuid(), id, user_id, 1, 'failure', 'timeout' FROM plans"
            .to_owned(),
        "INSERT INTO modules (id, plan_id, user_id, position, title, estimated_minutes)
         SELECT gen_random_uuid(), id, user_id, 1, 'Basics', 60 FROM plans"
            .to_owned(),
        "INSERT INTO tasks (id, module_id, user_id, position, title, estimated_minutes)
         SELECT gen_random_uuid(), id, user_id, 1, 'Read', 30 FROM modules"
            .to_owned(),
        "INSERT INTO task_progress (task_id, plan_id, user_id, status, completed_at)
         SELECT t.id, m.plan_id, t.user_id, 'completed', now()
         FROM tasks t JOIN modules m ON m.id = t.module_id"
            .to_owned(),
        format!(
            "INSERT INTO jobs (id, user_id, job_type, status, payload, max_attempts, run_at,
                               started_at, completed_at)
             SELECT gen_random_uuid(), CASE WHEN i <= 3 THEN 'alice' ELSE 'bob' END,
                    'flashcards', CASE WHEN i % 2 = 0 THEN 'completed' ELSE 'pending' END,
                    '{{}}', 1, now() + interval '1 hour',
                    CASE WHEN i % 2 = 0 THEN now() - interval '1 second' END,
                    CASE WHEN i % 2 = 0 THEN now() END
             FROM generate_series(1, {}) AS i",
            OTHER_ROWS + 3
        ),
        // Issue #24: a card per plan; bob reviewed every other one (all due, yesterday),
        // alice her first.
        "INSERT INTO flashcards (id, plan_id, user_id, job_id, question, answer)
         SELECT gen_random_uuid(), id, user_id, gen_random_uuid(), 'Q', 'A' FROM plans"
            .to_owned(),
        "INSERT INTO card_reviews_state (flashcard_id, plan_id, user_id, stability, difficulty,
                                         due_at, reps, lapses, last_review_at)
         SELECT id, plan_id, user_id, 2.3, 5, now() - interval '1 day', 1, 0,
                now() - interval '3 days'
         FROM (SELECT f.*, row_number() OVER (PARTITION BY user_id ORDER BY id) AS i
               FROM flashcards f) AS x
         WHERE i % 2 = 1"
            .to_owned(),
        "ANALYZE".to_owned(),
    ] {
        diesel::sql_query(sql).execute(&mut admin).await?;
    }
    let n: Count = diesel::sql_query("SELECT count(*) AS n FROM plans WHERE user_id = 'bob'")
        .get_result(&mut admin)
        .await?;
    assert_eq!(n.n, OTHER_ROWS);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_list_and_queue_query_reads_an_index_not_the_table() -> TestResult {
    let db = TestDb::new().await?;
    crowded_database(&db).await?;
    let store = Database::connect(db.url(), PoolOptions::default())?;
    let alice = UserId::parse("alice").ok_or("bad user")?;

    let owner = alice.clone();
    let user_plans = store
        .as_user(&alice, move |conn| {
            Box::pin(async move {
                let mut out = Vec::new();
                let all = PlanFilter::default();
                let failed = PlanFilter {
                    status: Some(PlanStatus::Failed),
                };
                let cursor = Some(uuid::Uuid::max());
                for (what, filter, after) in [
                    ("GET /plans", all, None),
                    ("GET /plans?status=failed", failed, None),
                    ("GET /plans?cursor=…", all, cursor),
                ] {
                    let q = plans_page_query(&owner, filter, after, 21);
                    out.push((what, explain(conn, q, true).await?));
                }
                let typed = JobFilter {
                    job_type: Some(JobType::Flashcards),
                    status: None,
                };
                for (what, filter, after) in [
                    ("GET /jobs", JobFilter::default(), None),
                    ("GET /jobs?type=flashcards", typed, None),
                    ("GET /jobs?cursor=…", JobFilter::default(), cursor),
                ] {
                    let q = jobs_page_query(&owner, filter, after, 21);
                    out.push((what, explain(conn, q, true).await?));
                }
                // Issue #24: the due list (user-wide and per plan, first and later pages) and
                // its count.
                let plan = crate::schema::plans::table
                    .filter(crate::schema::plans::user_id.eq(owner.as_str()))
                    .select(crate::schema::plans::id)
                    .first::<uuid::Uuid>(conn)
                    .await?;
                let plan = Some(syllabus_domain::PlanId::from_uuid(plan));
                let now = chrono::Utc::now();
                let due_cursor = Some(crate::records::DueCursor {
                    due_at: now - chrono::Duration::days(30),
                    id: uuid::Uuid::nil(),
                });
                for (what, plan, after) in [
                    ("GET /reviews/due", None, None),
                    ("GET /reviews/due?cursor=…", None, due_cursor),
                    ("GET /reviews/due?plan_id=…", plan, None),
                    ("GET /reviews/due?plan_id=…&cursor=…", plan, due_cursor),
                ] {
                    let q = due_page_query(&owner, plan, after, now, 21);
                    out.push((what, explain(conn, q, true).await?));
                }
                for (what, plan) in [
                    ("GET /reviews/due/count", None),
                    ("GET /reviews/due/count?plan_id=…", plan),
                ] {
                    let q = due_count_query(&owner, plan, now);
                    out.push((what, explain(conn, q, true).await?));
                }
                // The progress of a page of plans (GET /plans, GET /plans/{id}).
                let ids: Vec<uuid::Uuid> = crate::schema::plans::table
                    .filter(crate::schema::plans::user_id.eq(owner.as_str()))
                    .select(crate::schema::plans::id)
                    .load(conn)
                    .await?;
                let q = diesel::sql_query(PROGRESS_SQL)
                    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
                    .bind::<diesel::sql_types::Text, _>(owner.as_str().to_owned());
                out.push(("progress of a page", explain(conn, q, true).await?));
                Ok(out)
            })
        })
        .await?;
    for (what, plan) in &user_plans {
        assert_bounded(what, plan);
    }

    let system = store
        .as_system(|conn| {
            Box::pin(async move {
                let mut out = Vec::new();
                for (what, sql) in [
                    ("next due", NEXT_RUN_AT_SQL),
                    ("oldest ready", OLDEST_READY_SQL),
                ] {
                    out.push((what, explain(conn, diesel::sql_query(sql), true).await?));
                }
                let day = 86_400_000_i64;
                let prune = diesel::sql_query(PRUNE_SQL)
                    .bind::<BigInt, _>(day)
                    .bind::<BigInt, _>(day);
                // A DELETE: planned, not run.
                out.push(("prune", explain(conn, prune, false).await?));
                // An UPDATE: planned, not run.
                let claim = diesel::sql_query(CLAIM_SQL)
                    .bind::<diesel::sql_types::Text, _>("w")
                    .bind::<BigInt, _>(64_i64);
                out.push(("claim", explain(conn, claim, false).await?));
                Ok(out)
            })
        })
        .await?;
    for (what, plan) in &system {
        if *what == "claim" {
            // Planned, not run (it writes): an index, never the table (issue #22's fair order
            // has `jobs_fair_claim_idx`; with few jobs due the planner sorts those instead).
            let mut scans = Vec::new();
            big_scans(&plan[0]["Plan"], &mut scans);
            assert!(!scans.is_empty(), "claim: {plan:#}");
            for (table, kind, _, _) in scans {
                assert!(
                    !kind.contains("Seq Scan"),
                    "claim scans all of {table}: {plan:#}"
                );
            }
        } else if *what == "prune" {
            let mut scans = Vec::new();
            big_scans(&plan[0]["Plan"], &mut scans);
            for (table, kind, _, _) in scans {
                assert!(
                    !kind.contains("Seq Scan"),
                    "prune scans all of {table}: {plan:#}"
                );
            }
        } else {
            assert_bounded(what, plan);
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Unindexed {
    #[diesel(sql_type = diesel::sql_types::Text)]
    fk: String,
}

/// Deleting a parent row looks its children up by the foreign key: every foreign key has an
/// index that starts with its columns. The keys to `users` are exempt (users are never deleted).
#[tokio::test(flavor = "multi_thread")]
async fn every_foreign_key_but_the_owner_is_indexed() -> TestResult {
    let db = TestDb::new().await?;
    let mut conn = AsyncPgConnection::establish(db.url()).await?;
    let missing: Vec<Unindexed> = diesel::sql_query(
        "SELECT c.conrelid::regclass::text || '(' || array_to_string(
                    ARRAY(SELECT attname FROM pg_attribute
                          WHERE attrelid = c.conrelid AND attnum = ANY (c.conkey)), ',')
                || ')' AS fk
         FROM pg_constraint c
         WHERE c.contype = 'f' AND c.confrelid <> 'users'::regclass
           AND NOT EXISTS (
               SELECT 1 FROM pg_index i
               WHERE i.indrelid = c.conrelid
                 AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
                 AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
         ORDER BY 1",
    )
    .load(&mut conn)
    .await?;
    let missing: Vec<String> = missing.into_iter().map(|m| m.fk).collect();
    assert!(
        missing.is_empty(),
        "foreign keys without an index: {missing:?}"
    );
    Ok(())
}
