//! A standalone fake OpenAI-compatible server for benchmarks. Prints its base URL, then serves
//! until killed; requests are not recorded (a benchmark makes thousands).
//!
//! - `fake-llm` answers every chat completion at once with a valid streamed 3 × 4 learning plan;
//! - `fake-llm skill_tree` with a two-node skill tree;
//! - `fake-llm plan-stream [--modules 12] [--tasks 4] [--over 10s] [--chunks-per-module 1]
//!   [--key-prefix bench-] [--log FILE]` streams a plan module by module, evenly over `--over`
//!   (see `PacedPlan`), and appends `EPOCH_MICROSECONDS KEY INDEX` to FILE as each module's last
//!   byte is written: KEY is the word starting with `--key-prefix` in the request's messages
//!   (e.g. a plan topic `bench-42`), INDEX counts modules from 0;
//! - `fake-llm app [--over 3s] [--fail-while FILE]` answers what each request asks for, as the
//!   web app's browser test needs: a 4 × 3 plan streamed module by module over `--over`, a
//!   regenerated module (`learning_module`) streamed task by task over `--over`, three
//!   flashcards, three distractors, a two-level skill tree. While FILE exists, every flashcards,
//!   distractors and skill-tree call answers `500` (a provider failure), so a test can make a job
//!   fail and then let its retry succeed. A plan whose prompt contains `always-invalid` gets a
//!   plan without modules (a `validation` failure) every time; one whose prompt contains
//!   `always-stall` gets no answer at all (the connection stays open), so a run outlasts a
//!   shutdown's grace period (scripts/container-test.sh).

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use syllabus_testkit::fake_llm::{PacedPlan, Responder, module_json, plan_json};
use syllabus_testkit::{FakeLlm, Reply};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reply = match args.first().map(String::as_str) {
        Some("skill_tree") => {
            let document = json!({"skills": [{"title": "Basics", "description": null, "children": [
            {"title": "Next", "description": null, "children": []}]}]})
            .to_string();
            Reply::stream(&document, 4, Duration::ZERO)
        }
        Some("plan-stream") => Reply::Paced(paced(args.get(1..).unwrap_or_default())?),
        Some("app") => {
            let llm = FakeLlm::start().await?;
            llm.set_recording(false);
            llm.set_responder(app(args.get(1..).unwrap_or_default())?);
            writeln!(std::io::stdout().lock(), "{}", llm.base_url())?;
            std::future::pending::<()>().await;
            return Ok(());
        }
        Some(other) => return Err(format!("unknown mode {other:?}").into()),
        None => Reply::stream(&plan_json(3, 4, 90), 4, Duration::ZERO),
    };
    let llm = FakeLlm::start().await?;
    llm.set_recording(false);
    llm.set_default(reply);
    writeln!(std::io::stdout().lock(), "{}", llm.base_url())?;
    std::future::pending::<()>().await;
    Ok(())
}

/// The `app` mode's replies, by the schema each request names.
fn app(args: &[String]) -> Result<Responder, Box<dyn std::error::Error>> {
    let mut over = Duration::from_secs(3);
    let mut fail_while: Option<std::path::PathBuf> = None;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--over" => over = duration(value)?,
            "--fail-while" => fail_while = Some(value.into()),
            _ => return Err(format!("unknown option {flag}").into()),
        }
    }
    let plan = PacedPlan {
        modules: 4,
        tasks: 3,
        over,
        chunks_per_module: 1,
        key_prefix: "bench-".to_owned(),
        log: None,
    };
    let flashcards = json!({"flashcards": [
        {"question": "What does a learning plan order?", "answer": "Modules and their tasks."},
        {"question": "How long may a task take?", "answer": "Between 5 and 120 minutes."},
        {"question": "How many attempts may a plan use?", "answer": "Three."},
    ]})
    .to_string();
    let distractors =
        json!({"distractors": ["Only the tasks.", "Nothing at all.", "The flashcards."]})
            .to_string();
    let tree = json!({"skills": [
        {"title": "Foundations", "description": "What everything else builds on.", "children": [
            {"title": "Vocabulary", "description": null, "children": []},
            {"title": "First exercises", "description": null, "children": []}]},
        {"title": "Practice", "description": null, "children": [
            {"title": "Projects", "description": "Small ones first.", "children": []}]}]})
    .to_string();
    let invalid = json!({"modules": []}).to_string();
    let module = module_json("A module written anew", 4, 120);
    Ok(Arc::new(move |request| {
        let failing = fail_while.as_ref().is_some_and(|f| f.exists());
        let content = match FakeLlm::schema_name(request)? {
            "learning_plan" if request.body.to_string().contains("always-stall") => {
                return Some(Reply::StallBeforeHeaders);
            }
            "learning_plan" if request.body.to_string().contains("always-invalid") => &invalid,
            "learning_plan" => return Some(Reply::Paced(plan.clone())),
            "learning_module" => return Some(Reply::stream(&module, 8, over / 8)),
            _ if failing => return Some(Reply::openai_error(500, "the fake provider is failing")),
            "flashcards" => &flashcards,
            "distractors" => &distractors,
            "skill_tree" => &tree,
            _ => return None,
        };
        Some(Reply::stream(content, 4, Duration::ZERO))
    }))
}

/// The `plan-stream` options.
fn paced(args: &[String]) -> Result<PacedPlan, Box<dyn std::error::Error>> {
    let mut plan = PacedPlan {
        modules: 12,
        tasks: 4,
        over: Duration::from_secs(10),
        chunks_per_module: 1,
        key_prefix: "bench-".to_owned(),
        log: None,
    };
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--modules" => plan.modules = value.parse()?,
            "--tasks" => plan.tasks = value.parse()?,
            "--over" => plan.over = duration(value)?,
            "--chunks-per-module" => plan.chunks_per_module = value.parse()?,
            "--key-prefix" => plan.key_prefix.clone_from(value),
            "--log" => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(value)?;
                plan.log = Some(Arc::new(Mutex::new(file)));
            }
            _ => return Err(format!("unknown option {flag}").into()),
        }
    }
    Ok(plan)
}

/// `10s`, `500ms` or a number of seconds.
fn duration(text: &str) -> Result<Duration, Box<dyn std::error::Error>> {
    Ok(if let Some(ms) = text.strip_suffix("ms") {
        Duration::from_millis(ms.parse()?)
    } else {
        Duration::try_from_secs_f64(text.strip_suffix('s').unwrap_or(text).parse()?)?
    })
}
