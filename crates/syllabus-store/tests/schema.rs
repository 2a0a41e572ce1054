//! The migrated schema against a real PostgreSQL: migrations, a row round trip, constraints and
//! row-level security.

use diesel::sql_types::{Bool, Text};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use syllabus_domain::UserId;
use syllabus_store::{Database, PoolOptions, run_migrations};
use syllabus_testkit::TestDb;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> Result<i64, diesel::result::Error> {
    Ok(sql_query(sql).get_result::<Count>(conn).await?.n)
}

async fn act_as(conn: &mut AsyncPgConnection, user: &str) -> Result<(), diesel::result::Error> {
    sql_query("SELECT set_config('syllabus.user_id', $1, false)")
        .bind::<Text, _>(user)
        .execute(conn)
        .await
        .map(drop)
}

const PLAN_SQL: &str = "INSERT INTO plans (id, user_id, topic, topic_truncated, topic_original_length, skill_level, weekly_hours, learning_style)
    VALUES ($1::uuid, $2, 'Rust ownership', false, 14, 'beginner', 5, 'practice')";

async fn insert_plan(
    conn: &mut AsyncPgConnection,
    id: &str,
    user: &str,
) -> Result<usize, diesel::result::Error> {
    sql_query(PLAN_SQL)
        .bind::<Text, _>(id)
        .bind::<Text, _>(user)
        .execute(conn)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migrated_database_round_trips_a_user() -> TestResult {
    let db = TestDb::new().await?;
    let store = Database::connect(db.url(), PoolOptions::default())?;
    store.ping().await?;
    let alice = UserId::parse("alice").ok_or("bad user")?;
    let first = store.ensure_user(&alice).await?;
    let second = store.ensure_user(&alice).await?;
    assert_eq!(first, second, "a known user keeps its creation time");
    let mut admin = AsyncPgConnection::establish(db.admin_url()).await?;
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) AS n FROM users WHERE id = 'alice'"
        )
        .await?,
        1
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_run_once_even_when_instances_start_together() -> TestResult {
    let db = TestDb::empty().await?;
    let url = db.url().to_owned();
    let runs = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { run_migrations(&url).await })
    });
    let mut applied = Vec::new();
    for run in runs {
        applied.push(run.await??.len());
    }
    applied.sort_unstable();
    assert_eq!(
        applied.iter().min(),
        Some(&0),
        "later instances find nothing to do"
    );
    assert_eq!(
        applied.iter().filter(|n| **n > 0).count(),
        1,
        "exactly one instance migrates"
    );
    assert!(run_migrations(&url).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn order_is_unique_per_plan_and_per_module() -> TestResult {
    let db = TestDb::new().await?;
    let mut admin = AsyncPgConnection::establish(db.admin_url()).await?;
    sql_query("INSERT INTO users (id) VALUES ('alice')")
        .execute(&mut admin)
        .await?;
    let plan = "0190c4c2-0000-7000-8000-000000000001";
    insert_plan(&mut admin, plan, "alice").await?;
    let module = |id: &str, pos: i32| {
        format!(
            "INSERT INTO modules (id, plan_id, user_id, position, title, estimated_minutes) VALUES ('{id}', '{plan}', 'alice', {pos}, 'M', 60)"
        )
    };
    sql_query(module("0190c4c2-0000-7000-8000-0000000000a1", 1))
        .execute(&mut admin)
        .await?;
    let dup = sql_query(module("0190c4c2-0000-7000-8000-0000000000a2", 1))
        .execute(&mut admin)
        .await;
    let err = dup.expect_err("a second module at position 1 must be refused");
    assert!(
        err.to_string().contains("modules_plan_position_key"),
        "{err}"
    );

    let task = |id: &str, pos: i32| {
        format!(
            "INSERT INTO tasks (id, module_id, user_id, position, title, estimated_minutes) VALUES ('{id}', '0190c4c2-0000-7000-8000-0000000000a1', 'alice', {pos}, 'T', 10)"
        )
    };
    sql_query(task("0190c4c2-0000-7000-8000-0000000000b1", 1))
        .execute(&mut admin)
        .await?;
    let dup = sql_query(task("0190c4c2-0000-7000-8000-0000000000b2", 1))
        .execute(&mut admin)
        .await;
    assert!(
        dup.expect_err("duplicate task position")
            .to_string()
            .contains("tasks_module_position_key")
    );

    // Efforts outside the clamp bounds cannot be stored.
    let too_long =
        sql_query(task("0190c4c2-0000-7000-8000-0000000000b3", 2).replace(", 10)", ", 121)"))
            .execute(&mut admin)
            .await;
    assert!(too_long.is_err());

    // Deleting the plan cascades to its modules and tasks.
    sql_query(format!("DELETE FROM plans WHERE id = '{plan}'"))
        .execute(&mut admin)
        .await?;
    assert_eq!(
        count(&mut admin, "SELECT count(*) AS n FROM tasks").await?,
        0
    );
    assert_eq!(
        count(&mut admin, "SELECT count(*) AS n FROM modules").await?,
        0
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_attempt_cap_is_enforced_by_the_database() -> TestResult {
    let db = TestDb::new().await?;
    let mut admin = AsyncPgConnection::establish(db.admin_url()).await?;
    sql_query("INSERT INTO users (id) VALUES ('alice')")
        .execute(&mut admin)
        .await?;
    let plan = "0190c4c2-0000-7000-8000-000000000002";
    insert_plan(&mut admin, plan, "alice").await?;
    let attempt = |n: &str, class: &str| {
        format!(
            "INSERT INTO generation_attempts (id, plan_id, user_id, number, status, classification) VALUES (gen_random_uuid(), '{plan}', 'alice', {n}, 'failure', '{class}')"
        )
    };
    for n in ["1", "2", "3"] {
        sql_query(attempt(n, "timeout")).execute(&mut admin).await?;
    }
    assert!(
        sql_query(attempt("4", "timeout"))
            .execute(&mut admin)
            .await
            .is_err(),
        "no fourth attempt"
    );
    assert!(
        sql_query(attempt("3", "timeout"))
            .execute(&mut admin)
            .await
            .is_err(),
        "no second attempt 3"
    );
    // Capped records carry no number; a plan keeps one (repeats count on it).
    sql_query(attempt("NULL", "capped"))
        .execute(&mut admin)
        .await?;
    assert!(
        sql_query(attempt("NULL", "capped"))
            .execute(&mut admin)
            .await
            .is_err(),
        "one capped row per plan"
    );
    assert!(
        sql_query(attempt("NULL", "timeout"))
            .execute(&mut admin)
            .await
            .is_err(),
        "only capped rows lack a number"
    );
    Ok(())
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn row_level_security_isolates_users_even_when_a_query_forgets_the_filter() -> TestResult {
    let db = TestDb::new().await?;
    let mut admin = AsyncPgConnection::establish(db.admin_url()).await?;
    sql_query("INSERT INTO users (id) VALUES ('alice'), ('bob')")
        .execute(&mut admin)
        .await?;
    insert_plan(&mut admin, "0190c4c2-0000-7000-8000-00000000000a", "alice").await?;
    insert_plan(&mut admin, "0190c4c2-0000-7000-8000-00000000000b", "bob").await?;

    let mut app = AsyncPgConnection::establish(db.url()).await?;
    let superuser: Flag = sql_query(
        "SELECT rolsuper OR rolbypassrls AS flag FROM pg_roles WHERE rolname = current_user",
    )
    .get_result(&mut app)
    .await?;
    assert!(
        !superuser.flag,
        "the isolation test must run as a role that RLS applies to"
    );

    // No user set: nothing is visible.
    assert_eq!(count(&mut app, "SELECT count(*) AS n FROM plans").await?, 0);

    act_as(&mut app, "alice").await?;
    assert_eq!(count(&mut app, "SELECT count(*) AS n FROM plans").await?, 1);
    assert_eq!(
        count(
            &mut app,
            "SELECT count(*) AS n FROM plans WHERE user_id = 'bob'"
        )
        .await?,
        0
    );
    // Writing a row for someone else is refused; updating or deleting theirs touches nothing.
    let forged = insert_plan(&mut app, "0190c4c2-0000-7000-8000-00000000000c", "bob").await;
    assert!(forged.is_err(), "alice cannot create bob's plan");
    assert_eq!(
        sql_query("UPDATE plans SET topic = 'hijacked'")
            .execute(&mut app)
            .await?,
        1
    );
    assert_eq!(
        sql_query("DELETE FROM plans WHERE user_id = 'bob'")
            .execute(&mut app)
            .await?,
        0
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) AS n FROM plans WHERE topic = 'hijacked'"
        )
        .await?,
        1
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) AS n FROM plans WHERE user_id = 'bob' AND topic = 'Rust ownership'"
        )
        .await?,
        1
    );
    Ok(())
}

/// The owned tables, each with one row per user (see [`owned_rows`]).
const OWNED: [&str; 16] = [
    "plans",
    "modules",
    "tasks",
    "jobs",
    "generation_attempts",
    "flashcards",
    "distractors",
    "skill_trees",
    "skill_nodes",
    "plan_previews",
    "rate_events",
    "module_drafts",
    "skill_previews",
    "card_reviews_state",
    "card_review_log",
    "user_settings",
];

/// One row of every owned table for `user`; `n` (1–9) keeps the ids apart.
/// A plan's previews are keyed by the plan, so each user's preview row has its own plan.
fn owned_rows(user: &str, n: u8) -> Vec<String> {
    let id = |kind: u8| format!("0190c4c2-0000-7000-8000-0000000{kind}{n:04}");
    let (plan, module, task, job, attempt, card, wrong, tree, node) = (
        id(1),
        id(2),
        id(3),
        id(4),
        id(5),
        id(6),
        id(7),
        id(8),
        id(9),
    );
    vec![
        PLAN_SQL
            .replace("$1::uuid", &format!("'{plan}'"))
            .replace("$2", &format!("'{user}'")),
        format!(
            "INSERT INTO modules (id, plan_id, user_id, position, title, estimated_minutes) VALUES ('{module}', '{plan}', '{user}', 1, 'M', 60)"
        ),
        format!(
            "INSERT INTO tasks (id, module_id, user_id, position, title, estimated_minutes) VALUES ('{task}', '{module}', '{user}', 1, 'T', 10)"
        ),
        format!(
            "INSERT INTO jobs (id, user_id, job_type, plan_id, payload, max_attempts) VALUES ('{job}', '{user}', 'skill_tree', '{plan}', '{{}}', 1)"
        ),
        format!(
            "INSERT INTO generation_attempts (id, plan_id, user_id, number, status, classification) VALUES ('{attempt}', '{plan}', '{user}', 1, 'failure', 'timeout')"
        ),
        format!(
            "INSERT INTO flashcards (id, plan_id, module_id, user_id, job_id, question, answer) VALUES ('{card}', '{plan}', '{module}', '{user}', '{job}', 'Q', 'A')"
        ),
        format!(
            "INSERT INTO distractors (id, flashcard_id, user_id, position, text) VALUES ('{wrong}', '{card}', '{user}', 0, 'W')"
        ),
        format!(
            "INSERT INTO skill_trees (id, plan_id, user_id, job_id, node_count, depth) VALUES ('{tree}', '{plan}', '{user}', '{job}', 1, 1)"
        ),
        format!(
            "INSERT INTO skill_nodes (id, tree_id, user_id, depth, path, title) VALUES ('{node}', '{tree}', '{user}', 1, '1', 'N')"
        ),
        format!(
            "INSERT INTO plan_previews (plan_id, attempt_number, position, user_id, module) VALUES ('{plan}', 1, 0, '{user}', '{{}}')"
        ),
        format!(
            "INSERT INTO rate_events (user_id, job_type, created_at) VALUES ('{user}', 'plan_generation', now())"
        ),
        format!(
            "INSERT INTO module_drafts (job_id, plan_id, module_id, position, user_id, seq, module) VALUES ('{job}', '{plan}', '{module}', 1, '{user}', 1, '{{}}')"
        ),
        format!(
            "INSERT INTO skill_previews (plan_id, job_id, position, run, user_id, skill) VALUES ('{plan}', '{job}', 0, 1, '{user}', '{{}}')"
        ),
        format!(
            "INSERT INTO card_reviews_state (flashcard_id, plan_id, user_id, stability, difficulty, due_at, reps, lapses, last_review_at) VALUES ('{card}', '{plan}', '{user}', 2.3, 5, now() + interval '2 days', 1, 0, now())"
        ),
        format!(
            "INSERT INTO card_review_log (id, user_id, flashcard_id, review_id, rating, reviewed_at, due_after, stability, difficulty, interval_days, reps, lapses, next) VALUES ('0190c4c2-0000-7000-8000-0000000a{n:04}', '{user}', '{card}', 'r1', 'good', now(), now() + interval '2 days', 2.3, 5, 2, 1, 0, '{{}}')"
        ),
        format!("INSERT INTO user_settings (user_id, desired_retention) VALUES ('{user}', 0.97)"),
    ]
}

async fn visible(conn: &mut AsyncPgConnection, table: &str) -> Result<i64, diesel::result::Error> {
    count(conn, &format!("SELECT count(*) AS n FROM {table}")).await
}

/// Every owned table, under the setting the app uses (`set_config(…, true)` inside its
/// transaction): a user sees, changes and creates only their own rows.
#[tokio::test(flavor = "multi_thread")]
async fn row_level_security_isolates_every_owned_table_in_the_apps_transactions() -> TestResult {
    let db = TestDb::new().await?;
    let mut admin = AsyncPgConnection::establish(db.admin_url()).await?;
    sql_query("INSERT INTO users (id) VALUES ('alice'), ('bob')")
        .execute(&mut admin)
        .await?;
    for sql in owned_rows("alice", 1)
        .into_iter()
        .chain(owned_rows("bob", 2))
    {
        sql_query(sql).execute(&mut admin).await?;
    }
    let mut app = AsyncPgConnection::establish(db.url()).await?;
    app.transaction::<_, Box<dyn std::error::Error + Send + Sync>, _>(async |conn| {
        sql_query("SELECT set_config('syllabus.user_id', 'alice', true)")
            .execute(conn)
            .await?;
        for table in OWNED {
            assert_eq!(
                visible(conn, table).await?,
                1,
                "alice sees her {table} only"
            );
            let bobs = format!("SELECT count(*) AS n FROM {table} WHERE user_id = 'bob'");
            assert_eq!(count(conn, &bobs).await?, 0, "{table}");
            let touched = sql_query(format!("UPDATE {table} SET user_id = user_id"))
                .execute(conn)
                .await?;
            assert_eq!(touched, 1, "alice updates her {table} only");
            let gone = sql_query(format!("DELETE FROM {table} WHERE user_id = 'bob'"))
                .execute(conn)
                .await?;
            assert_eq!(gone, 0, "alice deletes none of bob's {table}");
        }
        Ok(())
    })
    .await?;
    // Writing a row for someone else is refused, in every table (each in its own transaction;
    // bob's rows 3 reference alice's parents, so only the row-level check can refuse them).
    let forged = owned_rows("bob", 3);
    for (i, table) in OWNED.iter().enumerate() {
        let res = app
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                sql_query("SELECT set_config('syllabus.user_id', 'alice', true)")
                    .execute(conn)
                    .await?;
                // The parents this row needs, as alice's own rows 3 (all but the row itself).
                for sql in owned_rows("alice", 3).into_iter().take(i) {
                    sql_query(sql).execute(conn).await?;
                }
                sql_query(forged[i].clone()).execute(conn).await
            })
            .await;
        let err = res.expect_err("alice cannot create bob's row");
        assert!(
            err.to_string().contains("row-level security"),
            "{table}: refused by the policy, not by a key: {err}"
        );
    }
    // The setting ends with the transaction: the same connection sees nothing afterwards.
    for table in OWNED {
        assert_eq!(visible(&mut app, table).await?, 0, "{table} after commit");
    }
    for table in OWNED {
        let both = count(&mut admin, &format!("SELECT count(*) AS n FROM {table}")).await?;
        assert_eq!(both, 2, "nothing of {table} was lost or forged");
    }
    Ok(())
}
