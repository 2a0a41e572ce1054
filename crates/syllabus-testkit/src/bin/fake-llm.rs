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
//!   fail and then let its retry succeed. A skill tree whose prompt contains `slow-tree` streams
//!   three top-level skills one by one over `--over` (a live tree, issue #24); while FILE exists
//!   its third skill has no title (the answer fails validation after two good skills). A plan
//!   whose prompt contains `always-invalid` gets a plan without modules (a `validation` failure)
//!   every time; one whose prompt contains `always-stall` gets no answer at all (the connection
//!   stays open), so a run outlasts a shutdown's grace period (scripts/container-test.sh).
//! - `fake-llm quota [--rpm N] [--tpm N] [--window 60s] [--over 300ms] [--log FILE]` answers
//!   as `app` does (a 4 × 3 plan, a module, flashcards, distractors, a skill tree; each streamed
//!   in 4 chunks over `--over`) while enforcing a provider account's quota over a sliding
//!   `--window`: at most `--rpm` requests and `--tpm` tokens (the request's JSON length / 4 as
//!   prompt tokens, the answer's length / 4 as completion tokens, both reported in the usage
//!   chunk) are accepted in any window; a request beyond either gets `429` with `Retry-After`
//!   (whole seconds until the window has room) and counts toward neither. Each request appends
//!   `EPOCH_MILLISECONDS STATUS TOKENS SCHEMA` to FILE (scripts/bench-provider-limits.sh).

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use syllabus_testkit::fake_llm::{
    End, PacedPlan, Responder, content_chunk, content_events, finish_chunk, module_json, plan_json,
    usage_chunk,
};
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
        Some("quota") => {
            let llm = FakeLlm::start().await?;
            llm.set_recording(false);
            llm.set_responder(quota(args.get(1..).unwrap_or_default())?);
            writeln!(std::io::stdout().lock(), "{}", llm.base_url())?;
            std::future::pending::<()>().await;
            return Ok(());
        }
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
    let Texts {
        flashcards,
        distractors,
        tree,
    } = texts();
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
            "skill_tree" if request.body.to_string().contains("slow-tree") => {
                return Some(slow_tree(failing, over));
            }
            _ if failing => return Some(Reply::openai_error(500, "the fake provider is failing")),
            "flashcards" => &flashcards,
            "distractors" => &distractors,
            "skill_tree" => &tree,
            _ => return None,
        };
        Some(Reply::stream(content, 4, Duration::ZERO))
    }))
}

/// A skill tree of three top-level skills, each completed in a chunk of its own `over / 3` after
/// the previous one; when `failing`, the third has an empty title (invalid).
fn slow_tree(failing: bool, over: Duration) -> Reply {
    let third = if failing { "" } else { "Review" };
    let roots = [
        json!({"title": "Foundations", "description": "What everything else builds on.", "children": [
            {"title": "Vocabulary", "description": null, "children": []},
            {"title": "First exercises", "description": null, "children": []}]}),
        json!({"title": "Practice", "description": null, "children": [
            {"title": "Projects", "description": "Small ones first.", "children": []}]}),
        json!({"title": third, "description": "Looking back at what was learned.", "children": []}),
    ];
    let pieces = [
        format!("{{\"skills\": [{}", roots[0]),
        format!(", {}", roots[1]),
        format!(", {}]}}", roots[2]),
    ];
    let mut events: Vec<(Duration, String)> = pieces
        .iter()
        .map(|p| (over / 3, content_chunk(p)))
        .collect();
    events.push((Duration::ZERO, finish_chunk("stop")));
    events.push((Duration::ZERO, usage_chunk(120, 480)));
    Reply::Sse {
        events,
        end: End::Done,
    }
}

/// The answers of the `app` and `quota` modes to flashcards, distractors and skill-tree calls.
struct Texts {
    flashcards: String,
    distractors: String,
    tree: String,
}

fn texts() -> Texts {
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
    Texts {
        flashcards,
        distractors,
        tree,
    }
}

/// The `quota` mode: `app`'s answers under a provider account's request and token quota.
fn quota(args: &[String]) -> Result<Responder, Box<dyn std::error::Error>> {
    let mut rpm = u64::MAX;
    let mut tpm = u64::MAX;
    let mut window = Duration::from_secs(60);
    let mut over = Duration::from_millis(300);
    let mut log: Option<std::fs::File> = None;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rpm" => rpm = value.parse()?,
            "--tpm" => tpm = value.parse()?,
            "--window" => window = duration(value)?,
            "--over" => over = duration(value)?,
            "--log" => {
                log = Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(value)?,
                );
            }
            _ => return Err(format!("unknown option {flag}").into()),
        }
    }
    let Texts {
        flashcards,
        distractors,
        tree,
    } = texts();
    let plan = plan_json(4, 3, 120);
    let module = module_json("A module written anew", 4, 120);
    // The accepted requests of the last window: when, and their tokens.
    let accepted: Mutex<std::collections::VecDeque<(Instant, u64)>> = Mutex::default();
    let log = log.map(Mutex::new);
    Ok(Arc::new(move |request| {
        let schema = FakeLlm::schema_name(request)?;
        let content = match schema {
            "learning_plan" => &plan,
            "learning_module" => &module,
            "flashcards" => &flashcards,
            "distractors" => &distractors,
            "skill_tree" => &tree,
            _ => return None,
        };
        let prompt = request.body.to_string().len().div_ceil(4);
        let completion = content.len().div_ceil(4);
        let tokens = u64::try_from(prompt + completion).unwrap_or(u64::MAX);
        let now = Instant::now();
        let refused_for = {
            let mut accepted = accepted.lock().ok()?;
            while accepted.front().is_some_and(|(at, _)| now - *at >= window) {
                accepted.pop_front();
            }
            let count = u64::try_from(accepted.len()).unwrap_or(u64::MAX);
            let used: u64 = accepted.iter().map(|(_, t)| t).sum();
            if count < rpm && used.saturating_add(tokens) <= tpm {
                accepted.push_back((now, tokens));
                None
            } else {
                // The wait until the oldest requests leave the window and leave room for this
                // one (by count and by tokens), in whole seconds as `Retry-After` gives it.
                let mut freed_requests = count.saturating_sub(rpm.saturating_sub(1));
                let mut freed_tokens = used.saturating_add(tokens).saturating_sub(tpm);
                let mut until = now;
                for (at, t) in accepted.iter() {
                    if freed_requests == 0 && freed_tokens == 0 {
                        break;
                    }
                    until = *at + window;
                    freed_requests = freed_requests.saturating_sub(1);
                    freed_tokens = freed_tokens.saturating_sub(*t);
                }
                Some((until - now).as_secs_f64().ceil().max(1.0))
            }
        };
        if let Some(log) = &log
            && let Ok(mut file) = log.lock()
        {
            let millis = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let status = if refused_for.is_some() { 429 } else { 200 };
            let _ = writeln!(file, "{millis} {status} {tokens} {schema}");
        }
        if let Some(seconds) = refused_for {
            let mut reply = Reply::openai_error(429, "Rate limit reached for requests");
            if let Reply::Status { headers, .. } = &mut reply {
                headers.push(("Retry-After".to_owned(), format!("{seconds:.0}")));
            }
            return Some(reply);
        }
        let mut events = content_events(content, 4, over / 4);
        events.push((Duration::ZERO, finish_chunk("stop")));
        events.push((
            Duration::ZERO,
            usage_chunk(
                u32::try_from(prompt).unwrap_or(u32::MAX),
                u32::try_from(completion).unwrap_or(u32::MAX),
            ),
        ));
        Some(Reply::Sse {
            events,
            end: End::Done,
        })
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
