//! Degenerate answers end to end (issue #21): an answer that passes the schema but breaks one of
//! the domain's degenerate-answer rules is a `validation` attempt, the plan is re-asked with the
//! reasons (never the model's text) and becomes `ready` with the second answer; flashcards,
//! distractors and skill-tree jobs run again and complete with a good one.

use std::time::Duration;

use serde_json::{Value, json};
use syllabus_e2e::{App, Options, plan_json};
use syllabus_testkit::Reply;

type TestResult = Result<(), syllabus_e2e::Error>;

const SETTLE: Duration = Duration::from_secs(30);

fn stream(v: &Value) -> Reply {
    Reply::stream(&v.to_string(), 3, Duration::ZERO)
}

fn task(title: &str, minutes: u32, description: Option<&str>) -> Value {
    json!({"title": title, "estimated_minutes": minutes, "description": description})
}

fn module(title: &str, minutes: u32, tasks: Vec<Value>) -> Value {
    json!({"title": title, "estimated_minutes": minutes, "description": null, "tasks": tasks})
}

/// The fake answers `degenerate` first and a good plan second: the plan must be `ready` with 2
/// attempts, the first a `validation` failure, and the re-ask must name `path` without quoting
/// `secret`, a text of the degenerate answer.
async fn reasked(degenerate: &Value, path: &str, secret: &str) -> TestResult {
    let app = App::start(Options::default()).await?;
    app.llm.push(stream(degenerate));
    app.llm
        .set_default(Reply::stream(&plan_json(2, 2, 60), 2, Duration::ZERO));
    let id = app.create_plan("quinn", "Rust ownership").await?;
    let plan = app.settle("quinn", &id, SETTLE).await?;
    assert_eq!(plan["status"], "ready", "{plan}");
    assert_eq!(plan["attempts_used"], 2, "{plan}");
    assert_eq!(
        plan["modules"][0]["title"], "Module 1",
        "the good answer is stored"
    );
    let attempts = app
        .get(&format!("/api/v1/plans/{id}/attempts"), "quinn")
        .await?;
    let items = attempts.body["items"].as_array().ok_or("items")?;
    let first = items.iter().find(|a| a["number"] == 1).ok_or("attempt 1")?;
    assert_eq!(first["classification"], "validation", "{first}");
    assert_eq!(first["status"], "failure", "{first}");
    let requests = app.llm.requests();
    assert_eq!(requests.len(), 2);
    let reask = requests[1].body.to_string();
    assert!(reask.contains(path), "the re-ask names {path}: {reask}");
    assert!(
        !requests[0]
            .body
            .to_string()
            .contains("previous answer was rejected"),
        "the first ask is no re-ask"
    );
    let reasons = reask
        .split("previous answer was rejected")
        .nth(1)
        .unwrap_or_default();
    assert!(
        !reasons.to_lowercase().contains(&secret.to_lowercase()),
        "the reasons never quote the answer: {reasons}"
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_repeating_a_task_title_is_reasked() -> TestResult {
    // Photosynthesis, issue #21: 16 of 20 tasks titled "The first task in the list.".
    let same = || task("The first task in the list.", 10, None);
    reasked(
        &json!({"modules": [module("Light reactions", 40, vec![task("Read the chapter", 10, None), same(), same(), same()])]}),
        "modules[0].tasks[2].title",
        "first task in the list",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_whose_description_loops_is_reasked() -> TestResult {
    let looping = "The n-th ideas are the first ideas of the n-th ideas. ".repeat(8);
    reasked(
        &json!({"modules": [module("Vectors", 30, vec![task("Add two vectors", 30, Some(&looping))])]}),
        "modules[0].tasks[0].description",
        "n-th ideas",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_copying_the_prompts_example_is_reasked() -> TestResult {
    // The first module of the plan prompt's worked example (crates/syllabus-provider/src/prompt.rs).
    reasked(
        &json!({"modules": [module("Inside the hive", 50, vec![
            task("Label the parts of a frame", 20, Some("Name comb, brood and honey cells on a diagram.")),
            task("Watch an inspection video", 30, None),
        ])]}),
        "modules[0].title",
        "hive",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_far_from_its_tasks_minutes_is_reasked() -> TestResult {
    // A 15-minute module holding 270 minutes of tasks (issue #21).
    reasked(
        &json!({"modules": [module("Photosynthesis", 15, vec![task("Read", 90, None), task("Draw", 90, None), task("Quiz", 90, None)])]}),
        "modules[0].estimated_minutes",
        "Photosynthesis",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_only_out_of_bounds_is_clamped_not_reasked() -> TestResult {
    let app = App::start(Options::default()).await?;
    // 600 minutes of 300 + 300: consistent, only beyond the bounds (SPEC section 1).
    app.llm.push(stream(&json!({"modules": [module(
        "Long module",
        600,
        vec![task("Long task", 300, None), task("Other long task", 300, None)],
    )]})));
    let id = app.create_plan("quinn", "Rust ownership").await?;
    let plan = app.settle("quinn", &id, SETTLE).await?;
    assert_eq!(plan["status"], "ready", "{plan}");
    assert_eq!(plan["attempts_used"], 1);
    assert_eq!(plan["modules"][0]["estimated_minutes"], 480);
    assert_eq!(plan["modules"][0]["tasks"][0]["estimated_minutes"], 120);
    assert_eq!(plan["latest_attempt"]["modules_clamped"], 1);
    app.stop().await;
    Ok(())
}

/// A ready plan for `user`.
async fn ready_plan(app: &App, user: &str) -> Result<String, syllabus_e2e::Error> {
    app.llm
        .push(Reply::stream(&plan_json(2, 2, 60), 2, Duration::ZERO));
    let id = app.create_plan(user, "Git for beginners").await?;
    let plan = app.settle(user, &id, SETTLE).await?;
    if plan["status"] != "ready" {
        return Err(format!("plan not ready: {plan}").into());
    }
    Ok(id)
}

/// The reasons the newest request to the fake gave (empty when it was no re-ask).
fn newest_reasons(app: &App) -> String {
    let requests = app.llm.requests();
    let newest = requests
        .last()
        .map(|r| r.body.to_string())
        .unwrap_or_default();
    newest
        .split("previous answer was rejected")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// Posts a job and waits until it is terminal.
async fn run_job(app: &App, user: &str, path: &str) -> Result<Value, syllabus_e2e::Error> {
    let res = app.post(path, user, &json!({})).await?;
    if res.status != 202 {
        return Err(format!("{path}: {} {}", res.status, res.body).into());
    }
    let job = res.body["id"].as_str().ok_or("job id")?.to_owned();
    app.wait_until(&format!("/api/v1/jobs/{job}"), user, SETTLE, |b| {
        ["completed", "failed", "cancelled"]
            .iter()
            .any(|s| b["status"] == *s)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn degenerate_cards_distractors_and_skill_trees_are_refused_and_run_again() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "rosa").await?;

    // Cards whose answers are their questions (a real answer of the local model), then good ones.
    app.llm.push(stream(&json!({"flashcards": [
        {"question": "1. Git for beginners.", "answer": "1. Git for Beginners."},
        {"question": "2. Git for beginners.", "answer": "2. Git for Beginners."},
    ]})));
    app.llm.push(stream(&json!({"flashcards": [
        {"question": "What does git commit do?", "answer": "Records a snapshot."},
        {"question": "What is a branch?", "answer": "A movable pointer to a commit."},
    ]})));
    let done = run_job(&app, "rosa", &format!("/api/v1/plans/{plan}/flashcards")).await?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    // The second run told the model what the first answer broke, without quoting it.
    let reasons = newest_reasons(&app);
    assert!(reasons.contains("flashcards[0].answer"), "{reasons}");
    assert!(!reasons.to_lowercase().contains("git for"), "{reasons}");
    let deck = app
        .get(&format!("/api/v1/plans/{plan}/flashcards"), "rosa")
        .await?;
    let items = deck.body["items"].as_array().ok_or("items")?;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["question"], "What does git commit do?");
    let card = items[1]["id"].as_str().ok_or("card")?.to_owned();

    // A distractor that is the question, then three good ones.
    app.llm.push(stream(
        &json!({"distractors": ["what is a BRANCH", "A tag", "A remote"]}),
    ));
    app.llm.push(stream(
        &json!({"distractors": ["A commit", "A tag", "A remote"]}),
    ));
    let done = run_job(
        &app,
        "rosa",
        &format!("/api/v1/flashcards/{card}/distractors"),
    )
    .await?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    let reasons = newest_reasons(&app);
    assert!(reasons.contains("distractors[0]"), "{reasons}");
    assert!(!reasons.to_lowercase().contains("branch"), "{reasons}");

    // Sibling skills with one title, then a tree whose siblings differ.
    app.llm.push(stream(&json!({"skills": [
        {"title": "Branches", "description": null, "children": []},
        {"title": "branches!", "description": null, "children": []},
    ]})));
    app.llm.push(stream(&json!({"skills": [
        {"title": "Branches", "description": null, "children": []},
        {"title": "Commits", "description": null, "children": []},
    ]})));
    let done = run_job(&app, "rosa", &format!("/api/v1/plans/{plan}/skill-tree")).await?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    let reasons = newest_reasons(&app);
    assert!(reasons.contains("skills[1].title"), "{reasons}");
    let tree = app
        .get(&format!("/api/v1/plans/{plan}/skill-tree"), "rosa")
        .await?;
    assert_eq!(tree.body["skills"][1]["title"], "Commits", "{}", tree.body);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_content_job_is_reasked_with_the_failed_jobs_reasons() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "sid").await?;
    let echo = json!({"flashcards": [
        {"question": "Git for beginners", "answer": "git for beginners"},
    ]});
    // Every run of the job gets the same degenerate cards: it fails for good as `validation`.
    app.llm.set_default(stream(&echo));
    let failed = run_job(&app, "sid", &format!("/api/v1/plans/{plan}/flashcards")).await?;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["classification"], "validation", "{failed}");
    let runs = app.llm.requests().len();

    app.llm.set_default(stream(&json!({"flashcards": [
        {"question": "What does git add do?", "answer": "Stages changes."},
    ]})));
    let id = failed["id"].as_str().ok_or("job id")?;
    let retry = app
        .post(&format!("/api/v1/jobs/{id}/retry"), "sid", &json!({}))
        .await?;
    assert_eq!(retry.status, 202, "{}", retry.body);
    let job = retry.body["id"].as_str().ok_or("retry id")?.to_owned();
    let done = app
        .wait_until(&format!("/api/v1/jobs/{job}"), "sid", SETTLE, |b| {
            b["status"] == "completed" || b["status"] == "failed"
        })
        .await?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["attempts"], 1, "{done}");
    let requests = app.llm.requests();
    assert_eq!(requests.len(), runs + 1);
    // The retry's first ask already says what the failed job's last answer broke.
    let reasons = newest_reasons(&app);
    assert!(reasons.contains("flashcards[0].answer"), "{reasons}");
    app.stop().await;
    Ok(())
}
