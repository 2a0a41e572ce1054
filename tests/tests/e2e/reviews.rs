//! Spaced review (issue #24) end to end: the due list's order and pages, idempotent reviews,
//! owners only, settings, and a replayed rating sequence compared with the `fsrs` crate's own
//! answers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Timestamptz};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use syllabus_e2e::{App, Options, plan_json};
use syllabus_testkit::Reply;

type TestResult = Result<(), syllabus_e2e::Error>;

/// A ready plan of `user` (two modules) and the admin connection.
pub(crate) async fn ready_plan(
    app: &App,
    user: &str,
    topic: &str,
) -> Result<String, syllabus_e2e::Error> {
    app.llm
        .push(Reply::stream(&plan_json(2, 2, 60), 2, Duration::ZERO));
    let id = app.create_plan(user, topic).await?;
    let plan = app.settle(user, &id, Duration::from_secs(30)).await?;
    if plan["status"] != "ready" {
        return Err(format!("plan not ready: {plan}").into());
    }
    Ok(id)
}

pub(crate) async fn admin(app: &App) -> Result<AsyncPgConnection, syllabus_e2e::Error> {
    Ok(AsyncPgConnection::establish(app.admin_url().ok_or("no admin url")?).await?)
}

/// Inserts a card of `user` in `plan` created `age` ago; returns its id.
pub(crate) async fn card(
    admin: &mut AsyncPgConnection,
    user: &str,
    plan: &str,
    id: &str,
    age: &str,
) -> Result<String, syllabus_e2e::Error> {
    sql_query(format!(
        "INSERT INTO flashcards (id, plan_id, user_id, job_id, question, answer, created_at)
         VALUES ('{id}', '{plan}', '{user}', gen_random_uuid(), 'Q {id}', 'A', now() - interval '{age}')"
    ))
    .execute(admin)
    .await?;
    Ok(id.to_owned())
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(admin: &mut AsyncPgConnection, sql: &str) -> Result<i64, syllabus_e2e::Error> {
    Ok(sql_query(sql).get_result::<N>(admin).await?.n)
}

async fn review(
    app: &App,
    user: &str,
    card: &str,
    body: &Value,
) -> Result<syllabus_e2e::Answer, syllabus_e2e::Error> {
    app.post(&format!("/api/v1/flashcards/{card}/reviews"), user, body)
        .await
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Ids that sort as written (the ties of due dates are broken by id).
fn card_id(n: u8) -> String {
    format!("0190c4c2-0000-7000-8000-0000000000{n:02}")
}

#[tokio::test(flavor = "multi_thread")]
async fn due_cards_come_by_due_date_then_id_in_pages_owner_only() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "ana", "Rust for services").await?;
    let other = ready_plan(&app, "ana", "SQL joins").await?;
    let bobs = ready_plan(&app, "bob", "Go channels").await?;
    let mut db = admin(&app).await?;
    let a = card(&mut db, "ana", &plan, &card_id(1), "3 days").await?;
    let b = card(&mut db, "ana", &plan, &card_id(2), "2 days").await?;
    let c = card(&mut db, "ana", &plan, &card_id(3), "1 day").await?;
    let d = card(&mut db, "ana", &plan, &card_id(4), "4 hours").await?;
    let e = card(&mut db, "ana", &other, &card_id(5), "5 hours").await?;
    let bob_card = card(&mut db, "bob", &bobs, &card_id(6), "9 days").await?;

    // A reviewed card leaves the list until it is due; moved back by 1.5 days it is due again,
    // between b and c. Another reviewed card stays out (due later).
    assert_eq!(
        review(&app, "ana", &a, &json!({"rating": "good"}))
            .await?
            .status,
        200
    );
    let res = review(&app, "ana", &c, &json!({"rating": "easy"})).await?;
    assert_eq!(res.status, 200, "{}", res.body);
    sql_query(format!(
        "UPDATE card_reviews_state SET due_at = now() - interval '36 hours',
                last_review_at = now() - interval '40 hours' WHERE flashcard_id = '{a}'"
    ))
    .execute(&mut db)
    .await?;

    let first = app
        .get(
            &format!("/api/v1/reviews/due?plan_id={plan}&limit=2"),
            "ana",
        )
        .await?;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(ids(&first.body), [b.clone(), a.clone()]);
    assert_eq!(first.body["items"][0]["question"], format!("Q {b}"));
    assert_eq!(first.body["items"][0]["mode"], "question_answer");
    let cursor = first.body["next_cursor"].as_str().ok_or("a next page")?;
    let second = app
        .get(
            &format!("/api/v1/reviews/due?plan_id={plan}&limit=2&cursor={cursor}"),
            "ana",
        )
        .await?;
    assert_eq!(ids(&second.body), std::slice::from_ref(&d));
    assert_eq!(second.body["next_cursor"], Value::Null);
    // Due dates: a's from its state, the others' from their creation.
    let a_due: DateTime<Utc> = serde_json::from_value(first.body["items"][1]["due_at"].clone())?;
    let b_due: DateTime<Utc> = serde_json::from_value(first.body["items"][0]["due_at"].clone())?;
    assert!(b_due < a_due && a_due < Utc::now());

    // Every plan of the caller's, without plan_id; counts agree.
    let all = app.get("/api/v1/reviews/due", "ana").await?;
    assert_eq!(ids(&all.body), [b.clone(), a.clone(), e.clone(), d.clone()]);
    let n = app
        .get(&format!("/api/v1/reviews/due/count?plan_id={plan}"), "ana")
        .await?;
    assert_eq!(n.body, json!({"due": 3}));
    assert_eq!(
        app.get("/api/v1/reviews/due/count", "ana").await?.body,
        json!({"due": 4})
    );

    // Owners only: bob sees his card only, and ana's plan, card and reviews are 404 to him.
    assert_eq!(
        ids(&app.get("/api/v1/reviews/due", "bob").await?.body),
        [bob_card]
    );
    for path in [
        format!("/api/v1/reviews/due?plan_id={plan}"),
        format!("/api/v1/reviews/due/count?plan_id={plan}"),
    ] {
        assert_eq!(app.get(&path, "bob").await?.status, 404, "{path}");
    }
    let res = review(&app, "bob", &b, &json!({"rating": "good"})).await?;
    assert_eq!(res.status, 404);
    assert_eq!(
        count(
            &mut db,
            &format!("SELECT count(*) AS n FROM card_review_log WHERE flashcard_id = '{b}'")
        )
        .await?,
        0
    );
    // Bad input names its field.
    for (query, field) in [
        ("plan_id=nope", "plan_id"),
        ("plan_id=", "plan_id"),
        (
            "cursor=d7000000000000000000000000000000000000000000000000",
            "cursor",
        ),
        ("cursor=c0", "cursor"),
        ("limit=0", "limit"),
    ] {
        let res = app
            .get(&format!("/api/v1/reviews/due?{query}"), "ana")
            .await?;
        assert_eq!(res.status, 400, "{query}");
        assert_eq!(res.body["errors"][0]["field"], field, "{query}");
    }
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ties_page_by_id_and_until_reaches_the_rest_of_the_day() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "ana", "Rust for services").await?;
    let mut db = admin(&app).await?;
    // Five cards due at the very same instant: four never reviewed (due from their creation)
    // and one reviewed (due from its state), so the tie crosses both halves of the list.
    for n in 1..=5 {
        sql_query(format!(
            "INSERT INTO flashcards (id, plan_id, user_id, job_id, question, answer, created_at)
             VALUES ('{}', '{plan}', 'ana', gen_random_uuid(), 'Q', 'A', '2026-01-01T00:00:00Z')",
            card_id(n)
        ))
        .execute(&mut db)
        .await?;
    }
    assert_eq!(
        review(&app, "ana", &card_id(3), &json!({"rating": "good"}))
            .await?
            .status,
        200
    );
    sql_query(format!(
        "UPDATE card_reviews_state SET due_at = '2026-01-01T00:00:00Z',
                last_review_at = '2025-12-30T00:00:00Z' WHERE flashcard_id = '{}'",
        card_id(3)
    ))
    .execute(&mut db)
    .await?;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(
                &format!("/api/v1/reviews/due?plan_id={plan}&limit=2&cursor={cursor}"),
                "ana",
            )
            .await?;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(ids(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, (1..=5).map(card_id).collect::<Vec<_>>());

    // A card due in six hours is not due now, but is by the end of a day from now.
    assert_eq!(
        review(&app, "ana", &card_id(1), &json!({"rating": "good"}))
            .await?
            .status,
        200
    );
    sql_query(format!(
        "UPDATE card_reviews_state SET due_at = now() + interval '6 hours' WHERE flashcard_id = '{}'",
        card_id(1)
    ))
    .execute(&mut db)
    .await?;
    let count = |q: String| {
        let app = &app;
        async move {
            let res = app
                .get(&format!("/api/v1/reviews/due/count?{q}"), "ana")
                .await?;
            assert_eq!(res.status, 200, "{q}: {}", res.body);
            Ok::<_, syllabus_e2e::Error>(res.body["due"].clone())
        }
    };
    let tonight =
        (Utc::now() + chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(count(format!("plan_id={plan}")).await?, 4);
    assert_eq!(count(format!("plan_id={plan}&until={tonight}")).await?, 5);
    // An offset's `+` sent bare (decoded as a space) is still read as `+`.
    let bare = (Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string();
    assert!(bare.contains('+'));
    assert_eq!(count(format!("plan_id={plan}&until={bare}")).await?, 5);
    let later = app
        .get(
            &format!("/api/v1/reviews/due?plan_id={plan}&until={tonight}"),
            "ana",
        )
        .await?;
    assert_eq!(ids(&later.body).last(), Some(&card_id(1)));
    assert!(!ids(&app.get("/api/v1/reviews/due", "ana").await?.body).contains(&card_id(1)));
    for bad in ["tomorrow", "2026-13-01T00:00:00Z", ""] {
        for path in ["/api/v1/reviews/due", "/api/v1/reviews/due/count"] {
            let res = app.get(&format!("{path}?until={bad}"), "ana").await?;
            assert_eq!(res.status, 400, "{path} {bad}");
            assert_eq!(res.body["errors"][0]["field"], "until", "{path} {bad}");
        }
    }
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_review_sent_again_with_its_id_counts_once_and_answers_the_same() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "ana", "Rust for services").await?;
    let mut db = admin(&app).await?;
    let c = card(&mut db, "ana", &plan, &card_id(1), "1 day").await?;

    let first = review(
        &app,
        "ana",
        &c,
        &json!({"rating": "good", "review_id": "tap-1"}),
    )
    .await?;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["reps"], 1);
    assert_eq!(first.body["lapses"], 0);
    assert_eq!(first.body["flashcard_id"], c);
    assert_eq!(first.body["next"]["good"]["due_at"], first.body["due_at"]);
    assert_eq!(first.body["rating"], "good");
    // Sent again, twice at once: the first answer each time, nothing recorded.
    let body = json!({"rating": "good", "review_id": "tap-1"});
    let (again, twice) = tokio::join!(
        review(&app, "ana", &c, &body),
        review(&app, "ana", &c, &body)
    );
    let (again, twice) = (again?, twice?);
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);
    assert_eq!(twice.body, first.body);
    let logged = format!("SELECT count(*) AS n FROM card_review_log WHERE flashcard_id = '{c}'");
    assert_eq!(count(&mut db, &logged).await?, 1);
    // The same id with another rating is refused, naming it: the first rating counted.
    let other = review(
        &app,
        "ana",
        &c,
        &json!({"rating": "easy", "review_id": "tap-1"}),
    )
    .await?;
    assert_eq!(other.status, 422, "{}", other.body);
    assert_eq!(other.body["errors"][0]["field"], "review_id");
    assert!(
        other.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"good\"")),
        "{}",
        other.body
    );
    assert_eq!(count(&mut db, &logged).await?, 1);
    // Two first reviews at once with one new id: one counts, both answer it.
    let fresh = json!({"rating": "hard", "review_id": "tap-0"});
    let (x, y) = tokio::join!(
        review(&app, "ana", &c, &fresh),
        review(&app, "ana", &c, &fresh)
    );
    let (x, y) = (x?, y?);
    assert_eq!((x.status, y.status), (200, 200), "{} {}", x.body, y.body);
    assert_eq!(x.body, y.body);
    assert_eq!(x.body["reps"], 2);
    assert_eq!(count(&mut db, &logged).await?, 2);
    // A new id is a new review; so is a review without one.
    let second = review(
        &app,
        "ana",
        &c,
        &json!({"rating": "again", "review_id": "tap-2"}),
    )
    .await?;
    assert_eq!(second.body["reps"], 3);
    assert_eq!(second.body["lapses"], 1);
    let third = review(&app, "ana", &c, &json!({"rating": "hard"})).await?;
    assert_eq!(third.body["reps"], 4);
    assert_eq!(count(&mut db, &logged).await?, 4);
    // The first id still answers the first review.
    let replay = review(
        &app,
        "ana",
        &c,
        &json!({"rating": "good", "review_id": "tap-1"}),
    )
    .await?;
    assert_eq!(replay.body, first.body);

    // Bad input names its field; an unknown card is 404.
    for (body, field) in [
        (json!({"rating": "perfect"}), "rating"),
        (json!({}), "rating"),
        (json!({"rating": "good", "review_id": ""}), "review_id"),
        (json!({"rating": "good", "review_id": "a b"}), "review_id"),
        (
            json!({"rating": "good", "review_id": "x".repeat(101)}),
            "review_id",
        ),
    ] {
        let res = review(&app, "ana", &c, &body).await?;
        assert_eq!(res.status, 400, "{body}");
        assert_eq!(res.body["errors"][0]["field"], field, "{body}");
    }
    let res = review(&app, "ana", &card_id(99), &json!({"rating": "good"})).await?;
    assert_eq!(res.status, 404);
    assert_eq!(count(&mut db, &logged).await?, 4);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_hold_the_desired_retention_within_its_bounds() -> TestResult {
    let app = App::start(Options::default()).await?;
    let got = app.get("/api/v1/me/settings", "ana").await?;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, json!({"desired_retention": 0.9}));
    for ok in [0.97, 0.7, 0.85] {
        let res = app
            .send(
                "PUT",
                "/api/v1/me/settings",
                Some("ana"),
                Some(&json!({"desired_retention": ok})),
                &[],
            )
            .await?;
        assert_eq!(res.status, 200, "{ok}: {}", res.body);
        assert_eq!(res.body, json!({"desired_retention": ok}));
    }
    for bad in [
        json!({"desired_retention": 0.69}),
        json!({"desired_retention": 0.98}),
        json!({"desired_retention": 1}),
        json!({"desired_retention": "0.9"}),
        json!({}),
    ] {
        let res = app
            .send("PUT", "/api/v1/me/settings", Some("ana"), Some(&bad), &[])
            .await?;
        assert_eq!(res.status, 400, "{bad}: {}", res.body);
        assert_eq!(res.body["errors"][0]["field"], "desired_retention", "{bad}");
    }
    assert_eq!(
        app.get("/api/v1/me/settings", "ana").await?.body,
        json!({"desired_retention": 0.85})
    );
    // Another user's settings are their own.
    assert_eq!(
        app.get("/api/v1/me/settings", "bob").await?.body,
        json!({"desired_retention": 0.9})
    );
    app.stop().await;
    Ok(())
}

#[derive(QueryableByName)]
struct ReviewedAt {
    #[diesel(sql_type = Timestamptz)]
    reviewed_at: DateTime<Utc>,
}

/// The crate's whole-day interval, as the API documents it (rounded, at least a day).
fn days(interval: f32) -> i64 {
    // Small positive values in these tests.
    #[allow(clippy::cast_possible_truncation)]
    let d = interval.round().max(1.0) as i64;
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_rating_sequence_is_scheduled_as_the_fsrs_crate_schedules_it() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "ana", "Rust for services").await?;
    let mut db = admin(&app).await?;
    // A retention inside the bounds and both bounds (read back from a `real` column, 0.97
    // lies just above 0.97: it must not turn into the default).
    for (n, retention) in [(1, 0.85), (2, 0.97), (3, 0.7)] {
        let c = card(&mut db, "ana", &plan, &card_id(n), "1 day").await?;
        replay_sequence(&app, &mut db, &c, retention).await?;
    }
    app.stop().await;
    Ok(())
}

/// Sets the retention, replays a rating sequence on card `c` and compares every answer with
/// the `fsrs` crate's for the same history.
async fn replay_sequence(
    app: &App,
    db: &mut AsyncPgConnection,
    c: &str,
    retention: f64,
) -> TestResult {
    let res = app
        .send(
            "PUT",
            "/api/v1/me/settings",
            Some("ana"),
            Some(&json!({"desired_retention": retention})),
            &[],
        )
        .await?;
    assert_eq!(res.status, 200);
    assert_eq!(
        app.get("/api/v1/me/settings", "ana").await?.body,
        json!({"desired_retention": retention})
    );
    #[allow(clippy::cast_possible_truncation)]
    let retention = retention as f32;

    let fsrs = fsrs::FSRS::new(&[])?;
    let mut memory: Option<fsrs::MemoryState> = None;
    // (rating, whole days since the previous review): time passes by moving the card's stored
    // state back, as if the review had been that long ago.
    let sequence: [(&str, u32); 8] = [
        ("good", 0),
        ("good", 2),
        ("again", 9),
        ("hard", 1),
        ("good", 0),
        ("easy", 4),
        ("good", 30),
        ("hard", 65),
    ];
    for (step, (rating, elapsed)) in sequence.into_iter().enumerate() {
        if elapsed > 0 {
            sql_query(format!(
                "UPDATE card_reviews_state SET last_review_at = last_review_at - interval '{elapsed} days',
                        due_at = due_at - interval '{elapsed} days' WHERE flashcard_id = '{c}'"
            ))
            .execute(&mut *db)
            .await?;
        }
        let res = review(app, "ana", c, &json!({"rating": rating})).await?;
        assert_eq!(res.status, 200, "step {step}: {}", res.body);
        let at: ReviewedAt = sql_query(format!(
            "SELECT reviewed_at FROM card_review_log WHERE flashcard_id = '{c}'
             ORDER BY reviewed_at DESC LIMIT 1"
        ))
        .get_result(&mut *db)
        .await?;

        // The crate's own answer for the same history.
        let states = fsrs.next_states(memory, retention, elapsed)?;
        let due = |s: &fsrs::ItemState| at.reviewed_at + chrono::Duration::days(days(s.interval));
        for (name, s) in [
            ("again", &states.again),
            ("hard", &states.hard),
            ("good", &states.good),
            ("easy", &states.easy),
        ] {
            let said: DateTime<Utc> =
                serde_json::from_value(res.body["next"][name]["due_at"].clone())?;
            assert_eq!(said, due(s), "{retention} step {step}: next.{name}");
            assert_eq!(
                res.body["next"][name]["interval_days"],
                days(s.interval),
                "step {step}"
            );
        }
        let chosen = match rating {
            "again" => states.again,
            "hard" => states.hard,
            "good" => states.good,
            _ => states.easy,
        };
        let said: DateTime<Utc> = serde_json::from_value(res.body["due_at"].clone())?;
        assert_eq!(said, due(&chosen), "{retention} step {step}: due_at");
        #[allow(clippy::cast_possible_truncation)]
        let (stability, difficulty) = (
            res.body["stability"].as_f64().ok_or("stability")? as f32,
            res.body["difficulty"].as_f64().ok_or("difficulty")? as f32,
        );
        assert_eq!(stability, chosen.memory.stability, "step {step}");
        assert_eq!(difficulty, chosen.memory.difficulty, "step {step}");
        memory = Some(chosen.memory);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn review_state_stays_with_its_card_through_new_content_and_goes_with_it() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "ana", "Rust for services").await?;
    let cards = |n: usize| json!({"flashcards": (1..=n).map(|i| json!({"question": format!("Question {i}?"), "answer": format!("Answer {i}")})).collect::<Vec<_>>()});
    let run = |body: Value, path: String| {
        let app = &app;
        async move {
            app.llm
                .push(Reply::stream(&body.to_string(), 2, Duration::ZERO));
            let res = app.post(&path, "ana", &json!({})).await?;
            let job = res.body["id"].as_str().ok_or("job id")?.to_owned();
            let done = app
                .wait_until(
                    &format!("/api/v1/jobs/{job}"),
                    "ana",
                    Duration::from_secs(30),
                    |b| b["status"] == "completed" || b["status"] == "failed",
                )
                .await?;
            Ok::<Value, syllabus_e2e::Error>(done)
        }
    };
    let done = run(cards(2), format!("/api/v1/plans/{plan}/flashcards")).await?;
    assert_eq!(done["status"], "completed", "{done}");
    let first = done["result"]["flashcard_ids"][0]
        .as_str()
        .ok_or("card")?
        .to_owned();
    let reviewed = review(&app, "ana", &first, &json!({"rating": "good"})).await?;
    assert_eq!(reviewed.status, 200);

    // More cards, and new distractors for the reviewed one: its state is kept.
    run(cards(1), format!("/api/v1/plans/{plan}/flashcards")).await?;
    let wrong = json!({"distractors": ["Wrong one", "Wrong two", "Wrong three"]});
    let done = run(wrong, format!("/api/v1/flashcards/{first}/distractors")).await?;
    assert_eq!(done["status"], "completed", "{done}");
    let mut db = admin(&app).await?;
    let state = format!(
        "SELECT count(*) AS n FROM card_reviews_state WHERE flashcard_id = '{first}' AND reps = 1"
    );
    assert_eq!(count(&mut db, &state).await?, 1);
    let due = app
        .get(&format!("/api/v1/reviews/due?plan_id={plan}"), "ana")
        .await?;
    assert_eq!(
        ids(&due.body).len(),
        2,
        "the reviewed card is not due: {}",
        due.body
    );
    assert!(!ids(&due.body).contains(&first));

    // A deleted plan takes its cards' state and log with it.
    let res = app
        .send(
            "DELETE",
            &format!("/api/v1/plans/{plan}"),
            Some("ana"),
            None,
            &[],
        )
        .await?;
    assert_eq!(res.status, 204);
    assert_eq!(
        count(&mut db, "SELECT count(*) AS n FROM card_reviews_state").await?,
        0
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) AS n FROM card_review_log").await?,
        0
    );
    app.stop().await;
    Ok(())
}
