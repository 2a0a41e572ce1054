//! What every provider call used and cost (issue #22 items 4 and 5), end to end: each job type's
//! calls recorded exactly from the fake provider's reported usage (failures too), `GET /usage`
//! by type and day for its owner only, the counters in `/metrics`, the monthly token budget's
//! 429, and the retention pass folding calls into aggregates that answer the same.

use std::time::Duration;

use chrono::{Datelike, TimeZone, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Jsonb};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use syllabus_domain::usage::{PriceTable, nanos_to_units};
use syllabus_e2e::{App, Options, plan_body, plan_json};
use syllabus_store::records::Retention;
use syllabus_store::{JobStore, QueueStore};
use syllabus_testkit::Reply;
use syllabus_testkit::fake_llm::module_json;

type TestResult = Result<(), syllabus_e2e::Error>;

const SETTLE: Duration = Duration::from_secs(30);

/// `fake-model` at 0.15 / 0.60 per million tokens: a call costs `150·p + 600·c` nano units.
fn options() -> Options {
    Options {
        prices: PriceTable::parse("fake-model=0.15/0.60").unwrap_or_default(),
        ..Options::default()
    }
}

fn cost(prompt: i64, completion: i64) -> i64 {
    150 * prompt + 600 * completion
}

fn id_of(v: &Value) -> Result<String, syllabus_e2e::Error> {
    Ok(v["id"].as_str().ok_or("no id")?.to_owned())
}

async fn ready_plan(app: &App, user: &str, p: u32, c: u32) -> Result<Value, syllabus_e2e::Error> {
    app.llm
        .push(Reply::stream_with_usage(&plan_json(2, 2, 60), p, c));
    let plan = app.create_plan(user, "Usage topic").await?;
    let body = app.settle(user, &plan, SETTLE).await?;
    assert_eq!(body["status"], "ready", "{body}");
    Ok(body)
}

/// Posts a job and waits until it is terminal; returns the job.
async fn run_job(
    app: &App,
    user: &str,
    path: &str,
    body: &Value,
) -> Result<Value, syllabus_e2e::Error> {
    let res = app.post(path, user, body).await?;
    assert_eq!(res.status, 202, "{path}: {}", res.body);
    let job = id_of(&res.body)?;
    app.wait_until(&format!("/api/v1/jobs/{job}"), user, SETTLE, |b| {
        ["completed", "failed", "cancelled"]
            .iter()
            .any(|s| b["status"] == *s)
    })
    .await
}

/// Queues `answer` as the provider's next reply, reporting `prompt` and `completion` tokens,
/// posts the job at `path` and waits until it is terminal: it completed. Returns the job.
async fn run_with_usage(
    app: &App,
    user: &str,
    path: &str,
    answer: &str,
    (prompt, completion): (u32, u32),
) -> Result<Value, syllabus_e2e::Error> {
    app.llm
        .push(Reply::stream_with_usage(answer, prompt, completion));
    let done = run_job(app, user, path, &json!({})).await?;
    assert_eq!(done["status"], "completed", "{done}");
    Ok(done)
}

#[derive(QueryableByName)]
struct Rows {
    #[diesel(sql_type = Jsonb)]
    rows: Value,
}

async fn query(admin: &str, sql: &str) -> Result<Value, syllabus_e2e::Error> {
    let mut conn = AsyncPgConnection::establish(admin).await?;
    let r: Rows = diesel::sql_query(format!(
        "SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]'::jsonb) AS rows FROM ({sql}) t"
    ))
    .get_result(&mut conn)
    .await?;
    Ok(r.rows)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(admin: &str, sql: &str) -> Result<i64, syllabus_e2e::Error> {
    let mut conn = AsyncPgConnection::establish(admin).await?;
    Ok(diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await?
        .n)
}

async fn exec(admin: &str, sql: &str) -> TestResult {
    let mut conn = AsyncPgConnection::establish(admin).await?;
    diesel::sql_query(sql).execute(&mut conn).await?;
    Ok(())
}

/// Sums of one job type: calls, prompt, completion, cost in nano units.
fn sums(calls: i64, prompt: i64, completion: i64, nanos: i64) -> Value {
    json!({
        "calls": calls,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost": nanos_to_units(nanos),
    })
}

/// One call of each job type, then failures: every call's row, the report and the counters.
#[tokio::test(flavor = "multi_thread")]
async fn every_job_types_calls_are_recorded_and_reported_exactly() -> TestResult {
    let app = App::start(options()).await?;
    let admin = app.admin_url().ok_or("no admin url")?.to_owned();

    let plan = ready_plan(&app, "uma", 100, 200).await?;
    let plan_id = id_of(&plan)?;
    run_with_usage(
        &app,
        "uma",
        &format!("/api/v1/plans/{plan_id}/flashcards"),
        &json!({"flashcards": [{"question": "Q1?", "answer": "A1"}]}).to_string(),
        (11, 22),
    )
    .await?;
    let card = app
        .get(&format!("/api/v1/plans/{plan_id}/flashcards"), "uma")
        .await?
        .body["items"][0]["id"]
        .as_str()
        .ok_or("card")?
        .to_owned();
    run_with_usage(
        &app,
        "uma",
        &format!("/api/v1/flashcards/{card}/distractors"),
        &json!({"distractors": ["B", "C", "D"]}).to_string(),
        (13, 26),
    )
    .await?;
    run_with_usage(
        &app,
        "uma",
        &format!("/api/v1/plans/{plan_id}/skill-tree"),
        &json!({"skills": [{"title": "Ownership", "description": null, "children": []}]})
            .to_string(),
        (17, 34),
    )
    .await?;
    let module = id_of(&plan["modules"][1])?;
    run_with_usage(
        &app,
        "uma",
        &format!("/api/v1/plans/{plan_id}/modules/{module}/regenerate"),
        &module_json("Regenerated middle", 2, 60),
        (19, 38),
    )
    .await?;

    // Failures are calls too: three runs answered 500 (no usage), three refused answers with
    // usage.
    for _ in 0..3 {
        app.llm.push(Reply::openai_error(500, "boom"));
    }
    let done = run_job(
        &app,
        "uma",
        &format!("/api/v1/plans/{plan_id}/flashcards"),
        &json!({}),
    )
    .await?;
    assert_eq!(done["status"], "failed", "{done}");
    for _ in 0..3 {
        app.llm.push(Reply::stream_with_usage(
            &json!({"skills": []}).to_string(),
            5,
            7,
        ));
    }
    let done = run_job(
        &app,
        "uma",
        &format!("/api/v1/plans/{plan_id}/skill-tree"),
        &json!({}),
    )
    .await?;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["classification"], "validation", "{done}");

    // Every call's row: type, class, tokens and cost at the price in force.
    let calls = query(
        &admin,
        "SELECT job_type, classification, prompt_tokens, completion_tokens, cost_nanos, priced,
                model, plan_id::text AS plan_id
         FROM llm_calls ORDER BY created_at",
    )
    .await?;
    let calls = calls.as_array().ok_or("rows")?;
    assert_eq!(calls.len(), 11, "{calls:?}");
    // A distractors job names its card, not a plan.
    let row = |t: &str, class: Value, p: Value, c: Value, nanos: Value| {
        let plan = if t == "distractors" {
            Value::Null
        } else {
            json!(plan_id)
        };
        json!({"job_type": t, "classification": class, "prompt_tokens": p,
               "completion_tokens": c, "cost_nanos": nanos, "priced": true,
               "model": "fake-model", "plan_id": plan})
    };
    let expected = [
        row(
            "plan_generation",
            Value::Null,
            json!(100),
            json!(200),
            json!(cost(100, 200)),
        ),
        row(
            "flashcards",
            Value::Null,
            json!(11),
            json!(22),
            json!(cost(11, 22)),
        ),
        row(
            "distractors",
            Value::Null,
            json!(13),
            json!(26),
            json!(cost(13, 26)),
        ),
        row(
            "skill_tree",
            Value::Null,
            json!(17),
            json!(34),
            json!(cost(17, 34)),
        ),
        row(
            "module_regeneration",
            Value::Null,
            json!(19),
            json!(38),
            json!(cost(19, 38)),
        ),
    ];
    for (got, want) in calls.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    for got in &calls[5..8] {
        assert_eq!(
            got,
            &row(
                "flashcards",
                json!("provider_error"),
                Value::Null,
                Value::Null,
                Value::Null
            )
        );
    }
    for got in &calls[8..11] {
        assert_eq!(
            got,
            &row(
                "skill_tree",
                json!("validation"),
                json!(5),
                json!(7),
                json!(cost(5, 7))
            )
        );
    }

    // The report: by type, by day (all today) and in total.
    let today = Utc::now().date_naive();
    let report = app.get("/api/v1/usage", "uma").await?;
    assert_eq!(report.status, 200, "{}", report.body);
    let first = today.with_day(1).ok_or("day")?;
    assert_eq!(report.body["from"], first.to_string());
    assert_eq!(report.body["to"], today.to_string());
    assert_eq!(report.body["currency"], "USD");
    let total_nanos = cost(100 + 11 + 13 + 17 + 19 + 15, 200 + 22 + 26 + 34 + 38 + 21);
    let by_type = |t: &str, s: Value| {
        let mut v = s;
        v["job_type"] = json!(t);
        v
    };
    let mut want_types = vec![
        by_type("distractors", sums(1, 13, 26, cost(13, 26))),
        by_type("flashcards", sums(4, 11, 22, cost(11, 22))),
        by_type("module_regeneration", sums(1, 19, 38, cost(19, 38))),
        by_type("plan_generation", sums(1, 100, 200, cost(100, 200))),
        by_type("skill_tree", sums(4, 32, 55, cost(32, 55))),
    ];
    want_types.sort_by(|a, b| a["job_type"].as_str().cmp(&b["job_type"].as_str()));
    assert_eq!(report.body["by_job_type"], json!(want_types));
    let total = sums(11, 175, 341, total_nanos);
    assert_eq!(report.body["total"], total);
    let mut day = total.clone();
    day["day"] = json!(today.to_string());
    assert_eq!(report.body["by_day"], json!([day]));

    // Owner only: another user has no calls.
    let other = app.get("/api/v1/usage", "vic").await?;
    assert_eq!(other.status, 200);
    assert_eq!(other.body["total"], sums(0, 0, 0, 0));
    assert_eq!(other.body["by_day"], json!([]));

    // The counters, by provider, model and job type (and class for calls).
    let metrics = app.send("GET", "/metrics", None, None, &[]).await?.text;
    for line in [
        r#"model="fake-model",job_type="flashcards",class="provider_error"} 3"#,
        r#"model="fake-model",job_type="skill_tree",class="validation"} 3"#,
        r#"model="fake-model",job_type="plan_generation",class="success"} 1"#,
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("syllabus_llm_calls_total{") && l.ends_with(line)),
            "{line}\n{metrics}"
        );
    }
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("syllabus_llm_prompt_tokens_total{")
                && l.ends_with(r#"model="fake-model",job_type="skill_tree"} 32"#)),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("syllabus_llm_cost_total{")
                && l.ends_with(&format!(
                    r#"model="fake-model",job_type="module_regeneration"}} {}"#,
                    nanos_to_units(cost(19, 38))
                ))),
        "{metrics}"
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_without_prices_has_null_costs_and_bad_ranges_name_the_field() -> TestResult {
    let app = App::start(Options::default()).await?;
    ready_plan(&app, "wes", 3, 4).await?;
    let report = app.get("/api/v1/usage", "wes").await?;
    assert_eq!(report.body["total"]["total_tokens"], 7);
    assert_eq!(
        report.body["total"]["cost"],
        Value::Null,
        "no price: no cost"
    );
    assert_eq!(report.body["by_job_type"][0]["cost"], Value::Null);

    let today = Utc::now().date_naive();
    let tomorrow = today.succ_opt().ok_or("day")?;
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        (&*format!("from={tomorrow}&to={today}"), "to"),
        ("from=2024-01-01&to=2025-01-01", "to"),
    ] {
        let res = app.get(&format!("/api/v1/usage?{query}"), "wes").await?;
        assert_eq!(res.status, 400, "{query}: {}", res.body);
        assert_eq!(
            res.body["errors"][0]["field"], field,
            "{query}: {}",
            res.body
        );
    }
    // 366 days, both ends included, is the longest range.
    let res = app
        .get("/api/v1/usage?from=2024-01-01&to=2024-12-31", "wes")
        .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = app.get("/api/v1/usage", "").await;
    assert!(res.is_err() || res.is_ok_and(|r| r.status == 401));
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_monthly_budget_refuses_new_jobs_with_when_it_resets() -> TestResult {
    let app = App::start(Options {
        monthly_token_budget: Some(1_000),
        ..options()
    })
    .await?;
    let admin = app.admin_url().ok_or("no admin url")?.to_owned();
    // Under the budget: created. 600 + 400 tokens reach it.
    let plan = ready_plan(&app, "bea", 300, 300).await?;
    let plan_id = id_of(&plan)?;
    run_with_usage(
        &app,
        "bea",
        &format!("/api/v1/plans/{plan_id}/flashcards"),
        &json!({"flashcards": [{"question": "Q?", "answer": "A"}]}).to_string(),
        (200, 200),
    )
    .await?;

    let snapshot = async || -> Result<(i64, i64, i64), syllabus_e2e::Error> {
        Ok((
            count(&admin, "SELECT count(*) AS n FROM plans").await?,
            count(&admin, "SELECT count(*) AS n FROM jobs").await?,
            count(&admin, "SELECT count(*) AS n FROM rate_events").await?,
        ))
    };
    let before = snapshot().await?;
    let now = Utc::now();
    let next = if now.month() == 12 {
        Utc.with_ymd_and_hms(now.year() + 1, 1, 1, 0, 0, 0)
    } else {
        Utc.with_ymd_and_hms(now.year(), now.month() + 1, 1, 0, 0, 0)
    }
    .single()
    .ok_or("next month")?;
    let module = id_of(&plan["modules"][0])?;
    let refused: [(&str, String, Value); 5] = [
        ("POST", "/api/v1/plans".into(), plan_body("Over budget")),
        (
            "POST",
            format!("/api/v1/plans/{plan_id}/flashcards"),
            json!({}),
        ),
        (
            "POST",
            format!("/api/v1/plans/{plan_id}/regenerate"),
            json!({}),
        ),
        (
            "POST",
            format!("/api/v1/plans/{plan_id}/modules/{module}/regenerate"),
            json!({}),
        ),
        (
            "POST",
            "/api/v1/jobs".into(),
            json!({"type": "skill_tree", "payload": {"plan_id": plan_id}}),
        ),
    ];
    for (method, path, body) in &refused {
        let res = app.send(method, path, Some("bea"), Some(body), &[]).await?;
        assert_eq!(res.status, 429, "{path}: {}", res.body);
        assert_eq!(res.body["code"], "BUDGET_EXCEEDED", "{path}: {}", res.body);
        assert_eq!(
            res.body["resets_at"],
            next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "{path}"
        );
        let retry: i64 = res.header("retry-after").ok_or("retry-after")?.parse()?;
        let expected = (next - now).num_seconds();
        assert!((retry - expected).abs() <= 120, "{retry} vs {expected}");
    }
    assert_eq!(
        snapshot().await?,
        before,
        "nothing created, nothing counted"
    );

    // An import calls no model: not refused. Another user has a budget of their own.
    let mut import = plan_body("Imported");
    import["modules"] = json!([{"title": "One", "description": null, "estimated_minutes": 60,
        "tasks": [{"title": "Read", "description": null, "estimated_minutes": 60}]}]);
    assert_eq!(app.post("/api/v1/plans", "bea", &import).await?.status, 201);
    app.llm
        .push(Reply::stream_with_usage(&plan_json(2, 2, 60), 1, 1));
    let res = app
        .post("/api/v1/plans", "cal", &plan_body("Fresh"))
        .await?;
    assert_eq!(res.status, 201, "{}", res.body);
    app.stop().await;
    Ok(())
}

/// The report's answer and the ledger's sums, before and after a retention pass.
#[tokio::test(flavor = "multi_thread")]
async fn retention_folds_old_calls_into_aggregates_that_answer_the_same() -> TestResult {
    let app = App::start(options()).await?;
    let admin = app.admin_url().ok_or("no admin url")?.to_owned();
    let plan = ready_plan(&app, "dan", 100, 50).await?;
    let plan_id = id_of(&plan)?;
    for (p, c) in [(10, 20), (30, 40)] {
        app.llm.push(Reply::stream_with_usage(
            &json!({"flashcards": [{"question": "Q?", "answer": "A"}]}).to_string(),
            p,
            c,
        ));
        run_job(
            &app,
            "dan",
            &format!("/api/v1/plans/{plan_id}/flashcards"),
            &json!({}),
        )
        .await?;
    }
    for _ in 0..3 {
        app.llm.push(Reply::openai_error(500, "boom"));
    }
    run_job(
        &app,
        "dan",
        &format!("/api/v1/plans/{plan_id}/skill-tree"),
        &json!({}),
    )
    .await?;
    let module = id_of(&plan["modules"][0])?;
    app.llm.push(Reply::stream_with_usage(
        &module_json("Fresh start", 2, 60),
        7,
        9,
    ));
    run_job(
        &app,
        "dan",
        &format!("/api/v1/plans/{plan_id}/modules/{module}/regenerate"),
        &json!({}),
    )
    .await?;
    ready_plan(&app, "eve", 1, 2).await?;

    // Everything happened 40 days ago (and the attempts with it).
    exec(
        &admin,
        "UPDATE llm_calls SET created_at = created_at - interval '40 days'",
    )
    .await?;
    exec(
        &admin,
        "UPDATE generation_attempts SET created_at = created_at - interval '40 days'",
    )
    .await?;
    let old = (Utc::now() - chrono::Duration::days(40)).date_naive();
    let range = format!(
        "/api/v1/usage?from={}&to={}",
        old - chrono::Days::new(1),
        Utc::now().date_naive()
    );
    let report_before = app.get(&range, "dan").await?.body;
    assert_eq!(report_before["total"]["calls"], 7, "{report_before}");
    let key = "concat_ws('|', user_id, (created_at AT TIME ZONE 'UTC')::date, job_type, provider, model, coalesce(classification, ''))";
    let before = query(
        &admin,
        &format!(
            "SELECT {key} AS k, count(*)::bigint AS calls,
                    coalesce(sum(prompt_tokens), 0)::bigint AS p,
                    coalesce(sum(completion_tokens), 0)::bigint AS c,
                    coalesce(sum(cost_nanos), 0)::bigint AS cost, max(duration_ms) AS max
             FROM llm_calls GROUP BY 1 ORDER BY 1"
        ),
    )
    .await?;
    let numbered_before = count(
        &admin,
        "SELECT count(*) AS n FROM generation_attempts WHERE module_id IS NULL",
    )
    .await?;
    let used_before = app
        .get(&format!("/api/v1/plans/{plan_id}"), "dan")
        .await?
        .body["attempts_used"]
        .clone();

    // One process at a time: a pass that finds the lock taken does nothing.
    let mut holder = AsyncPgConnection::establish(&admin).await?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(syllabus_store::USAGE_RETENTION_LOCK_KEY)
        .execute(&mut holder)
        .await?;
    let retention = |now| Retention {
        calls_days: 30,
        aggregates_days: 365,
        rate_window: Duration::from_secs(3_600),
        now,
    };
    let report = app.store.retain_usage(retention(Utc::now())).await?;
    assert!(report.skipped && report.calls_folded == 0, "{report:?}");
    // Unlocked explicitly: a dropped connection's session (and its lock) can outlive the drop
    // for a moment on a loaded machine, and the next pass would find the lock still taken.
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(syllabus_store::USAGE_RETENTION_LOCK_KEY)
        .execute(&mut holder)
        .await?;
    drop(holder);

    let counters_before = app.store.queue_stats().await?.usage;
    assert_eq!(
        counters_before.iter().map(|c| c.totals.calls).sum::<u64>(),
        8
    );
    let report = app.store.retain_usage(retention(Utc::now())).await?;
    assert_eq!(report.calls_folded, 8, "dan's 7 and eve's 1: {report:?}");
    assert_eq!(
        report.attempts_deleted, 1,
        "the module's attempt: {report:?}"
    );
    assert_eq!(
        count(&admin, "SELECT count(*) AS n FROM llm_calls").await?,
        0
    );
    let after = query(
        &admin,
        "SELECT concat_ws('|', user_id, day, job_type, provider, model, class) AS k,
                calls, prompt_tokens AS p, completion_tokens AS c, cost_nanos AS cost,
                duration_max_ms AS max
         FROM llm_usage_daily ORDER BY 1",
    )
    .await?;
    assert_eq!(
        after, before,
        "the aggregates sum exactly the rows they replaced"
    );
    assert_eq!(app.get(&range, "dan").await?.body, report_before);
    // The cap's count is untouched: numbered attempts stay while their plan exists.
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) AS n FROM generation_attempts WHERE module_id IS NULL"
        )
        .await?,
        numbered_before
    );
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan_id}"), "dan")
            .await?
            .body["attempts_used"],
        used_before
    );
    // The counters (what /metrics shows) did not move; nothing is left to fold.
    assert_eq!(app.store.queue_stats().await?.usage, counters_before);
    let again = app.store.retain_usage(retention(Utc::now())).await?;
    assert_eq!((again.calls_folded, again.skipped), (0, false), "{again:?}");

    // Aggregates past their own retention go.
    exec(&admin, "UPDATE llm_usage_daily SET day = day - 400").await?;
    let aggregates = count(&admin, "SELECT count(*) AS n FROM llm_usage_daily").await?;
    let gone = app.store.retain_usage(retention(Utc::now())).await?;
    assert_eq!(
        i64::try_from(gone.aggregates_deleted)?,
        aggregates,
        "{gone:?}"
    );
    assert_eq!(
        count(&admin, "SELECT count(*) AS n FROM llm_usage_daily").await?,
        0
    );
    app.stop().await;
    Ok(())
}
